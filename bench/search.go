package main

import (
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aimx-dev/aimx/storage"
)

// The search phase (book/search.md, issue 14): a dev dir of its own seeded
// with SearchN messages of made-up but Zipf-distributed text
// (searchcorpus.go) in SearchN/1000 mailboxes; the daemon builds its index
// from the files at start; then email_search latencies over MCP, the
// index's size against the .md files it was built from, and whether
// indexing keeps up with SMTP intake.

// Search targets (issue 14).
const (
	searchP99      = 100 * time.Millisecond
	searchSizeMax  = 0.5
	searchKeepUpN  = 2000 // messages delivered at C=20 for the keep-up figure
	searchKeepUpAt = 20
)

// searchOffEnv is the daemon's switch (cmd/aimx/search.go). The other
// phases run with search off, so their figures stay comparable with the
// runs recorded before the index existed; this phase turns it on.
const searchOffEnv = "AIMX_SEARCH"

// searchOffElsewhere turns search off for the daemons of the other phases.
func searchOffElsewhere() { _ = os.Setenv(searchOffEnv, "off") }

// searchHits is the part of email_search's result the benchmark reads.
type searchHits struct {
	Hits     []struct{ ID string } `json:"hits"`
	Total    int                   `json:"total"`
	Indexing bool                  `json:"indexing"`
}

func (s *session) search(ctx context.Context) error {
	n := s.o.SearchN
	boxes := spreadBoxes(max(10, n/1000)+1, n)
	dir := filepath.Join(s.tmp, "search")
	if err := writeConfig(dir, s.owner, s.hookLog, boxes); err != nil {
		return err
	}
	progress("search: seeding %s messages in %d mailboxes", count(n), len(boxes))
	c := newCorpus(1, 60_000)
	mdBytes, err := seedSearch(filepath.Join(dir, "data"), boxes, c)
	if err != nil {
		return err
	}
	_ = os.Unsetenv(searchOffEnv)
	defer searchOffElsewhere()
	progress("search: starting the daemon; it builds the index from the files")
	d, err := startDaemon(s.bin, dir)
	if err != nil {
		return err
	}
	defer func() { _ = d.stop(120 * time.Second) }()
	if _, err := d.waitListen(120 * time.Second); err != nil {
		return err
	}
	tok, err := d.token()
	if err != nil {
		return err
	}
	conn, err := dialMCP(ctx, d.Listen["mcp_http"], tok)
	if err != nil {
		return err
	}
	defer conn.close()
	probe := map[string]any{"query": c.words[0], "limit": 1}
	var built time.Duration
	for {
		var r searchHits
		if err := conn.call(ctx, "email_search", probe, &r); err != nil {
			return err
		}
		if !r.Indexing && r.Total > 0 {
			built = time.Since(d.started)
			break
		}
		if time.Since(d.started) > 2*time.Hour {
			return fmt.Errorf("search: index not built after 2 h")
		}
		time.Sleep(200 * time.Millisecond)
	}
	_, hwm, err := d.memory()
	if err != nil {
		return err
	}
	size, err := dirBytes(filepath.Join(dir, "data", ".index", "search"))
	if err != nil {
		return err
	}
	label := count(n)
	ratio := float64(size) / float64(mdBytes)
	s.add(info("search index build from the files at start, "+label+" messages", fmt.Sprintf("%s: %.0f msg/s (RSS peak %s)", secs(built), float64(n)/built.Seconds(), mb(hwm))),
		check("search index size, "+label+" messages", fmt.Sprintf("%.1f MB = %.1f %% of %.1f MB of .md files", float64(size)/1e6, 100*ratio, float64(mdBytes)/1e6),
			"< 50 % of the stored text", ratio < searchSizeMax))
	qs := c.queries()
	var mixed []string
	for _, kind := range []string{"common", "medium", "rare", "two", "prefix", "subject"} {
		mixed = append(mixed, qs[kind]...)
	}
	for _, l := range []struct {
		name    string
		queries []string
		mailbox string
	}{
		{"mixed queries, every mailbox", mixed, ""},
		{"mixed queries, one mailbox", mixed, boxes[0].Local + "@" + benchDomain},
		{"common words, every mailbox", qs["common"], ""},
	} {
		progress("search: %d calls, %s", s.o.Calls, l.name)
		lat, err := timeCalls(s.o.Calls, func(i int) error {
			args := map[string]any{"query": l.queries[i%len(l.queries)], "limit": 20}
			if l.mailbox != "" {
				args["mailbox"] = l.mailbox
			}
			return conn.call(ctx, "email_search", args, nil)
		})
		if err != nil {
			return err
		}
		p99 := lat.percentile(0.99)
		s.add(check(fmt.Sprintf("email_search p99, %s, %s messages", l.name, label),
			fmt.Sprintf("p50 %s, p99 %s", ms(lat.percentile(0.5)), ms(p99)), "p99 < 100 ms", p99 < searchP99))
	}
	return s.searchKeepUp(ctx, d, conn)
}

// searchKeepUp delivers searchKeepUpN messages over SMTP at C=20 and
// measures how long after the last 250 the last of them is found.
func (s *session) searchKeepUp(ctx context.Context, d *daemonProc, conn *mcpConn) error {
	rcpt := intakeBox + "@" + benchDomain
	k := min(searchKeepUpN, max(100, s.o.SearchN/10))
	progress("search: %d messages over SMTP at C=%d, then until the last is found", k, searchKeepUpAt)
	r, err := runIntake(d.Listen["smtp"], rcpt, k, searchKeepUpAt, 4<<10)
	if err != nil {
		return err
	}
	end := time.Now()
	for {
		var h searchHits
		// Every intake message has "bench" in its subject (intake.go).
		if err := conn.call(ctx, "email_search", map[string]any{"query": "subject:bench", "mailbox": rcpt, "limit": 1}, &h); err != nil {
			return err
		}
		if h.Total >= k {
			break
		}
		if time.Since(end) > 5*time.Minute {
			return fmt.Errorf("search: %d of %d intake messages indexed after 5 min", h.Total, k)
		}
		time.Sleep(20 * time.Millisecond)
	}
	lag := time.Since(end)
	indexed := float64(k) / (r.Elapsed + lag).Seconds()
	s.add(check(fmt.Sprintf("search indexing during SMTP intake, 4 KiB, C=%d (%d msgs)", searchKeepUpAt, k),
		fmt.Sprintf("intake %.0f msg/s; last message found %s after its 250 (%.0f msg/s indexed)", r.rate(), ms(lag), indexed),
		"keeps up: found < 1 s after the last 250", lag < time.Second))
	return nil
}

// seedSearch writes the boxes' messages as .md files (as seedFixture
// does, without fsync) with the corpus's text and returns their bytes.
func seedSearch(data string, boxes []fixtureBox, c *corpus) (int64, error) {
	var total atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, len(boxes))
	sem := make(chan struct{}, 4)
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for bi, fb := range boxes {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			dir := filepath.Join(data, benchDomain, string(storage.Inbox), fb.Local)
			if err := os.MkdirAll(dir, 0o750); err != nil {
				errs <- err
				return
			}
			r := rand.New(rand.NewPCG(uint64(bi), 11))
			for i := range fb.N {
				at := base.Add(time.Duration(i*len(boxes)+bi) * time.Second)
				from, subject, body := c.message(r)
				fm := storage.Frontmatter{
					ID: storage.BaseStem(at, subject), MessageID: fmt.Sprintf("%d.%s@example.test", i, fb.Local),
					ThreadID: fmt.Sprintf("%016x", uint64(i)*0x9e3779b97f4a7c15), From: from,
					To: []string{fb.Local + "@" + benchDomain}, Subject: subject, Date: at.Format(time.RFC3339),
					ReceivedAt: at, SizeBytes: int64(len(body)) + 600, DKIM: "none", SPF: "none", DMARC: "none", Trusted: "none",
					Mailbox: fb.Local + "@" + benchDomain,
				}
				md := storage.EncodeMD(&fm, body)
				if err := os.WriteFile(filepath.Join(dir, fm.ID+".md"), md, 0o640); err != nil {
					errs <- err
					return
				}
				total.Add(int64(len(md)))
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return 0, fmt.Errorf("seed search: %w", err)
	}
	return total.Load(), nil
}

// dirBytes is the size of the files under dir.
func dirBytes(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		fi, err := de.Info()
		if err == nil {
			n += fi.Size()
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("index size: %w", err)
	}
	return n, nil
}
