package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	mcpgo "github.com/mark3labs/mcp-go/mcp"

	"github.com/aimx-dev/aimx/pgstore"
	"github.com/aimx-dev/aimx/pgstore/pgmessages"
	"github.com/aimx-dev/aimx/storage"
)

// pgList loads Total messages (Big in the largest mailbox, the rest spread
// over the other mailboxes, as the files phase seeds them) straight into
// the tables of pgstore/pgmessages with COPY, then times email_list on the
// largest mailbox: through the store's List in this process, and over MCP
// through a node.
func (s *session) pgList(ctx context.Context, pg *pgCluster) error {
	dsn, err := pg.database(ctx, "million")
	if err != nil {
		return err
	}
	db, err := pgstore.Open(ctx, dsn, pgstore.Options{Node: "bench-load"})
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer db.Close()
	store := pgmessages.New(db, pgmessages.Options{})
	boxes := append([]fixtureBox{{Local: bigBox, N: s.o.Big}}, s.rest...)
	label := count(s.o.Total)

	progress("postgres: loading %s messages in %d mailboxes with COPY", label, len(boxes))
	t := time.Now()
	if err := copyBoxes(ctx, db, store, boxes, s.seedProgress(s.o.Total)); err != nil {
		return err
	}
	loaded := time.Since(t)
	progress("postgres: loaded in %s; VACUUM ANALYZE", secs(loaded))
	if _, err := db.Pool.Exec(ctx, "VACUUM ANALYZE aimx.messages"); err != nil {
		return fmt.Errorf("postgres: vacuum: %w", err)
	}
	var size string
	if err := db.Pool.QueryRow(ctx, "SELECT pg_size_pretty(pg_database_size(current_database()))").Scan(&size); err != nil {
		return fmt.Errorf("postgres: size: %w", err)
	}
	big := storage.MailboxRef{Domain: benchDomain, Local: bigBox}
	first, err := store.List(ctx, storage.ListQuery{Mailbox: big, Limit: 50})
	if err != nil {
		return fmt.Errorf("postgres: list: %w", err)
	}
	if first.Total != s.o.Big || len(first.Messages) != 50 {
		return fmt.Errorf("postgres: the largest mailbox lists %d of %d messages, want 50 of %d", len(first.Messages), first.Total, s.o.Big)
	}

	progress("postgres: timing the store's List in process (after one untimed pass of the same calls)")
	page, err := timeWarm(s.o.Calls, func(i int) error {
		_, err := store.List(ctx, storage.ListQuery{Mailbox: big, Limit: 50, Offset: (i * 37) % 5000})
		return err
	})
	if err != nil {
		return err
	}
	filt, err := timeWarm(s.o.Calls, func(int) error {
		_, err := store.List(ctx, storage.ListQuery{Mailbox: big, Limit: 50, From: "alice", Subject: "invoice"})
		return err
	})
	if err != nil {
		return err
	}
	s.add(info(fmt.Sprintf("postgres: COPY of %s messages, then VACUUM ANALYZE", label), fmt.Sprintf("%s, database %s", secs(loaded), size)),
		check("postgres: store List p99, page of 50, "+label+" stored (in process)", p50p99(page), "< 50 ms", page.percentile(0.99) < listP99),
		check("postgres: store List p99, from + subject filters, "+label+" stored (in process)", p50p99(filt), "< 50 ms", filt.percentile(0.99) < listP99))
	return s.pgListMCP(ctx, dsn, label)
}

// pgListMCP starts one node over the loaded database and times email_list
// over MCP (aimx.sock, as the owner).
func (s *session) pgListMCP(ctx context.Context, dsn, label string) error {
	progress("postgres: starting a node over the loaded database")
	nodes, err := s.startNodes("pglist", dsn, 1, s.rest)
	if err != nil {
		return err
	}
	defer stopAll(nodes)
	c, err := dialMCPUnix(ctx, nodes[0].Listen["mcp_unix"])
	if err != nil {
		return err
	}
	defer c.close()
	box := bigBox + "@" + benchDomain
	var lr listResult
	if err := c.call(ctx, "email_list", map[string]any{"mailbox": box, "limit": 50}, &lr); err != nil {
		return err
	}
	if lr.Total != s.o.Big {
		return fmt.Errorf("postgres: email_list total %d, want %d", lr.Total, s.o.Big)
	}
	measure := func(when string) error {
		progress("postgres: timing email_list over MCP %s (after one untimed pass of the same calls)", when)
		page, err := timeWarm(s.o.Calls, func(i int) error {
			return c.call(ctx, "email_list", map[string]any{"mailbox": box, "limit": 50, "offset": (i * 37) % 5000}, nil)
		})
		if err != nil {
			return err
		}
		filt, err := timeWarm(s.o.Calls, func(int) error {
			return c.call(ctx, "email_list", map[string]any{"mailbox": box, "limit": 50, "from": "alice", "subject": "invoice"}, nil)
		})
		if err != nil {
			return err
		}
		s.add(check("postgres: email_list p99, page of 50, "+label+" stored (MCP, aimx.sock), "+when, p50p99(page), "< 50 ms", page.percentile(0.99) < listP99),
			check("postgres: email_list p99, from + subject filters, "+label+" stored (MCP, aimx.sock), "+when, p50p99(filt), "< 50 ms", filt.percentile(0.99) < listP99))
		return nil
	}
	// The node's start-up work (the hook recovery scan, ...) runs beside
	// the first calls, as the files phase's index warm-up does.
	if err := measure("right after the start"); err != nil {
		return err
	}
	busy, err := nodes[0].waitIdle(10 * time.Minute)
	if err != nil {
		return err
	}
	s.note("With %s messages in PostgreSQL the node was busy for %s after the first timing (the files backend's warm-up is in its own run's table).", label, secs(busy))
	return measure("once the node is idle")
}

// messageColumns are the columns of aimx.messages the load fills, in the
// order of pgmessages' insert (pgstore/pgmessages/put.go).
var messageColumns = []string{"mailbox", "folder", "id", "skey", "ord", "at_sec", "received_at",
	"message_id", "thread_id", "from_lc", "subject_lc", "trusted", "read", "labels", "outbound", "delivery_status",
	"deleted_at", "size_bytes", "files", "frontmatter", "body", "raw"}

// copyBoxes creates each mailbox's row through the store, then COPYs its
// messages in, two mailboxes at a time.
func copyBoxes(ctx context.Context, db *pgstore.DB, store *pgmessages.Store, boxes []fixtureBox, progress func(int)) error {
	owner := &storage.Owner{UID: os.Getuid(), GID: os.Getgid()}
	jobs := make(chan fixtureBox)
	errs := make(chan error, 2)
	var mu sync.Mutex
	done := 0
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for fb := range jobs {
				if err := copyBox(ctx, db, store, owner, fb); err != nil {
					select {
					case errs <- err:
					default:
					}
					continue
				}
				mu.Lock()
				done += fb.N
				progress(done)
				mu.Unlock()
			}
		}()
	}
	for _, fb := range boxes {
		jobs <- fb
	}
	close(jobs)
	wg.Wait()
	close(errs)
	for err := range errs {
		return err
	}
	return nil
}

func copyBox(ctx context.Context, db *pgstore.DB, store *pgmessages.Store, owner *storage.Owner, fb fixtureBox) error {
	ref := storage.MailboxRef{Domain: benchDomain, Local: fb.Local}
	if err := store.EnsureMailbox(ctx, ref, owner); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	var mbox int64
	if err := db.Pool.QueryRow(ctx, "SELECT id FROM aimx.mailboxes WHERE domain = $1 AND local = $2", ref.Domain, ref.Local).Scan(&mbox); err != nil {
		return fmt.Errorf("postgres: mailbox %s: %w", ref, err)
	}
	src := &rowSource{mbox: mbox, fb: fb, i: -1}
	n, err := db.Pool.CopyFrom(ctx, pgx.Identifier{"aimx", "messages"}, messageColumns, src)
	if err != nil {
		return fmt.Errorf("postgres: copy %s: %w", ref, err)
	}
	if int(n) != fb.N {
		return fmt.Errorf("postgres: copy %s: %d rows, want %d", ref, n, fb.N)
	}
	return nil
}

// rowSource is pgx.CopyFromSource over one mailbox's seeded messages: the
// frontmatter and body of seedRange's message i, and the filter columns
// as pgmessages' columnsOf derives them from it (pgstore/pgmessages/
// fields.go): lower-cased from and subject, the message and thread ids as
// bytes, the stem's second and its time prefix as the sort key, no place
// within the second (whole-second receipt times, no .eml).
type rowSource struct {
	mbox int64
	fb   fixtureBox
	i    int
	row  []any
}

func (r *rowSource) Next() bool {
	r.i++
	if r.i >= r.fb.N {
		return false
	}
	fm, body := seedMessage(r.fb, r.i)
	at := fm.ReceivedAt.Unix()
	r.row = []any{r.mbox, string(storage.Inbox), fm.ID, fm.ID[:len("2006-01-02-150405")], int64(0), at, fm.ReceivedAt,
		[]byte(fm.MessageID), []byte(fm.ThreadID), []byte(strings.ToLower(fm.From)), []byte(strings.ToLower(fm.Subject)),
		fm.Trusted, fm.Read, []string{}, false, "",
		nil, fm.SizeBytes, int32(1), storage.EncodeFrontmatter(&fm), []byte(body), nil}
	return true
}

func (r *rowSource) Values() ([]any, error) { return r.row, nil }

func (r *rowSource) Err() error { return nil }

// seedMessage is message i of a seeded mailbox: one a minute from
// 2024-01-01 on, every other one read. seedRange writes it as files, the
// postgres phase copies it into the tables (copyBox).
func seedMessage(fb fixtureBox, i int) (storage.Frontmatter, string) {
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute)
	subject := fmt.Sprintf(subjects[i%len(subjects)], i)
	fm := storage.Frontmatter{
		ID:          storage.BaseStem(at, subject),
		MessageID:   fmt.Sprintf("%d.%s@example.test", i, fb.Local),
		ThreadID:    fmt.Sprintf("%016x", uint64(i/3)*0x9e3779b97f4a7c15),
		From:        senders[i%len(senders)],
		To:          []string{fb.Local + "@" + benchDomain},
		DeliveredTo: fb.Local + "@" + benchDomain,
		Subject:     subject,
		Date:        at.Format(time.RFC3339),
		ReceivedAt:  at,
		SizeBytes:   1800,
		DKIM:        "none", SPF: "none", DMARC: "none", Trusted: "none",
		Mailbox: fb.Local + "@" + benchDomain,
		Read:    i%2 == 0,
	}
	if fm.Read {
		fm.ReadAt = at.Add(time.Hour)
	}
	body := "Hello,\n\nThis is message " + fm.MessageID + ", a short body of a few lines\nthat stands for the readable part of a real message.\n\n-- \nSender\n"
	return fm, body
}

// dialMCPUnix connects to aimx.sock (the caller is the mailboxes' owner,
// known by its peer credentials: no token) and initializes.
func dialMCPUnix(ctx context.Context, socket string) (*mcpConn, error) {
	var d net.Dialer
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return d.DialContext(ctx, "unix", socket)
	}}}
	tr, err := transport.NewStreamableHTTP("http://aimx.sock/mcp", transport.WithHTTPBasicClient(hc))
	if err != nil {
		return nil, fmt.Errorf("mcp: %w", err)
	}
	cl := client.NewClient(tr, client.WithProtocolVersion(mcpgo.ProtocolVersion20251125))
	if err := cl.Start(ctx); err != nil {
		return nil, fmt.Errorf("mcp start: %w", err)
	}
	init := mcpgo.InitializeRequest{}
	init.Params.ClientInfo = mcpgo.Implementation{Name: "aimx-bench", Version: "1"}
	init.Params.ProtocolVersion = mcpgo.ProtocolVersion20251125
	if _, err := cl.Initialize(ctx, init); err != nil {
		_ = cl.Close()
		return nil, fmt.Errorf("mcp initialize: %w", err)
	}
	return &mcpConn{cl: cl}, nil
}

// p50p99 is "p50 X, p99 Y".
func p50p99(l latencies) string {
	return fmt.Sprintf("p50 %s, p99 %s", ms(l.percentile(0.5)), ms(l.percentile(0.99)))
}

// timeWarm runs fn's n calls once untimed (the pages come into the
// database's cache, as they are for a mailbox in use), then times them.
func timeWarm(n int, fn func(i int) error) (latencies, error) {
	for i := range n {
		if err := fn(i); err != nil {
			return nil, err
		}
	}
	return timeCalls(n, fn)
}
