package main

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/aimx-dev/aimx/bench/hookstart"
)

// Targets (issue 9 and the issues it gathers; bench/README.md).
const (
	intakeP99       = 100 * time.Millisecond
	intakeRate      = 600.0
	hookP99         = time.Second
	listP99         = 50 * time.Millisecond
	mailboxListMax  = 100 * time.Millisecond
	readyMax        = time.Second
	rssIdleMaxKB    = 30_000 * 1000 / 1024
	rssIntakeMaxKB  = 100_000 * 1000 / 1024
	rssMillionMaxKB = 150_000 * 1000 / 1024
)

// intake measures SMTP intake, hook start latency and the daemon's memory
// on an empty store.
func (s *session) intake(ctx context.Context) error {
	progress("intake: starting the daemon on an empty store")
	d, err := s.startIntake()
	if err != nil {
		return err
	}
	defer func() { _ = d.stop(60 * time.Second) }()
	if _, err := d.waitIdle(30 * time.Second); err != nil {
		return err
	}
	idle, _, err := d.memory()
	if err != nil {
		return err
	}
	rcpt := intakeBox + "@" + benchDomain
	loads := []struct {
		size, conns int
	}{{4 << 10, 1}, {4 << 10, 20}, {100 << 10, 1}, {100 << 10, 20}}
	for i, l := range loads {
		progress("intake: %d messages of %d KiB over %d connections", s.o.Intake[i], l.size>>10, l.conns)
		r, err := runIntake(d.Listen["smtp"], rcpt, s.o.Intake[i], l.conns, l.size)
		if err != nil {
			return err
		}
		p99 := r.Lat.percentile(0.99)
		fig := fmt.Sprintf("%.0f msg/s, p50 %s, p99 %s", r.rate(), ms(r.Lat.percentile(0.5)), ms(p99))
		name := fmt.Sprintf("SMTP intake %d KiB, C=%d (%d msgs)", l.size>>10, l.conns, r.N)
		if l.size == 4<<10 && l.conns == 20 {
			s.add(check(name, fig, "≥ 600 msg/s, p99 < 100 ms", r.rate() >= intakeRate && p99 < intakeP99))
		} else {
			s.add(check(name, fig, "p99 < 100 ms", p99 < intakeP99))
		}
	}
	progress("hooks: %d messages at once, 4 workers", s.o.Hooks)
	lat, err := hookstart.Measure(d.Listen["smtp"], hookBox+"@"+benchDomain, s.hookLog, s.o.Hooks)
	if err != nil {
		return err
	}
	hl := latencies(lat)
	s.add(check(fmt.Sprintf("hook start after `250` (%d at once, 4 workers)", s.o.Hooks),
		fmt.Sprintf("p50 %s, p99 %s", ms(hl.percentile(0.5)), ms(hl.percentile(0.99))), "p99 < 1 s", hl.percentile(0.99) < hookP99))
	_, peak, err := d.memory()
	if err != nil {
		return err
	}
	s.add(check("RSS idle after start, empty store", mb(idle), "< 30 MB", idle < rssIdleMaxKB),
		check("RSS peak during intake and hooks", mb(peak), "< 100 MB", peak < rssIntakeMaxKB))
	return nil
}

// big seeds the largest mailbox and measures a cold and a warm start and
// the MCP latencies on it.
func (s *session) big(ctx context.Context) error {
	if err := s.seed(fmt.Sprintf("big-%d", s.o.Big), []fixtureBox{{Local: bigBox, N: s.o.Big}}, s.o.Big); err != nil {
		return err
	}
	label := count(s.o.Big)
	cold, err := s.startMeasured(ctx, "first start (no index cache)", s.o.Big, nil)
	if err != nil {
		return err
	}
	err = s.startMeasured2(ctx, s.o.Big, func(ctx context.Context, c *mcpConn, d *daemonProc) error {
		return s.mcpLatencies(ctx, c, label)
	}, func(warm readiness) {
		s.add(check("start → first email_list answered, "+label+" stored", readyFigure(warm.EmailList, warm, cold.EmailList),
			"< 1 s", warm.EmailList < readyMax))
	})
	return err
}

// million seeds the other mailboxes up to Total and measures starts,
// listing and memory with all of them.
func (s *session) million(ctx context.Context) error {
	if err := s.seed(fmt.Sprintf("rest-%d-%d", s.o.Boxes, s.o.Total-s.o.Big), s.rest, s.o.Total-s.o.Big); err != nil {
		return err
	}
	if err := writeConfig(s.dev, s.owner, s.hookLog, s.rest); err != nil {
		return err
	}
	label := count(s.o.Total)
	var coldPeak int64
	cold, err := s.startMeasured(ctx, "first start (no index cache)", s.o.Big, func(d *daemonProc) error {
		var err error
		_, coldPeak, err = d.memory()
		return err
	})
	if err != nil {
		return err
	}
	return s.startMeasured2(ctx, s.o.Big, func(ctx context.Context, c *mcpConn, d *daemonProc) error {
		rssReady, _, err := d.memory()
		if err != nil {
			return err
		}
		listBig := func(i int) error {
			return c.call(ctx, "email_list", map[string]any{"mailbox": bigBox + "@" + benchDomain, "limit": 50, "offset": (i * 37) % 5000}, nil)
		}
		progress("timing email_list on the largest mailbox while the warm-up runs")
		during, err := timeCalls(s.o.Calls, listBig)
		if err != nil {
			return err
		}
		idleFrom := time.Since(d.started)
		busy, err := d.waitIdle(10 * time.Minute)
		if err != nil {
			return err
		}
		warmUp := idleFrom + busy
		progress("timing email_list on the largest mailbox and mailbox_list after the warm-up")
		page, err := timeCalls(s.o.Calls, listBig)
		if err != nil {
			return err
		}
		mbl, err := timeCalls(max(10, s.o.Calls/4), func(int) error { return c.call(ctx, "mailbox_list", map[string]any{}, nil) })
		if err != nil {
			return err
		}
		rss, hwm, err := d.memory()
		if err != nil {
			return err
		}
		s.add(check("email_list p99, largest mailbox, "+label+" stored, during the start-up warm-up", ms(during.percentile(0.99)), "< 50 ms", during.percentile(0.99) < listP99),
			check("email_list p99, largest mailbox, "+label+" stored, after it", ms(page.percentile(0.99)), "< 50 ms", page.percentile(0.99) < listP99),
			check(fmt.Sprintf("mailbox_list p99, %d mailboxes", s.o.Boxes+2), ms(mbl.percentile(0.99)), "< 100 ms", mbl.percentile(0.99) < mailboxListMax),
			check("RSS, "+label+" stored: ready / after the warm-up / peak",
				fmt.Sprintf("%s / %s / %s", mb(rssReady), mb(rss), mb(hwm)), "< 150 MB", max(rssReady, rss, hwm) < rssMillionMaxKB),
			info("RSS peak, "+label+" stored, first start (no index cache)", mb(coldPeak)))
		s.note("With %s stored the start-up warm-up (every message checked against the index cache) was over %s after the start.", label, secs(warmUp))
		return nil
	}, func(warm readiness) {
		s.add(check("start → first email_list answered, "+label+" stored", readyFigure(warm.EmailList, warm, cold.EmailList),
			"< 1 s", warm.EmailList < readyMax),
			check("start → first mailbox_list answered, "+label+" stored", readyFigure(warm.MailboxList, warm, cold.MailboxList),
				"< 1 s", warm.MailboxList < readyMax))
	})
}

// startMeasured starts the daemon, measures its readiness, waits for its
// background work to end, runs after (if any) and stops it.
func (s *session) startMeasured(ctx context.Context, what string, want int, after func(*daemonProc) error) (readiness, error) {
	progress("%s", what)
	d, err := startDaemon(s.bin, s.dev)
	if err != nil {
		return readiness{}, err
	}
	defer func() { _ = d.stop(120 * time.Second) }()
	r, c, err := waitReady(ctx, d, bigBox+"@"+benchDomain, want)
	if err != nil {
		return r, err
	}
	defer c.close()
	progress("ready: listen %s, email_list %s, mailbox_list %s; waiting for the warm-up", secs(r.Listen), secs(r.EmailList), secs(r.MailboxList))
	busy, err := d.waitIdle(10 * time.Minute)
	if err != nil {
		return r, err
	}
	progress("idle after %s", secs(busy))
	if after != nil {
		return r, after(d)
	}
	return r, nil
}

// startMeasured2 is a second (warm) start: readiness is reported through
// ready, then measure runs on the same session.
func (s *session) startMeasured2(ctx context.Context, want int, measure func(context.Context, *mcpConn, *daemonProc) error, ready func(readiness)) error {
	progress("second start (index cache from the first)")
	d, err := startDaemon(s.bin, s.dev)
	if err != nil {
		return err
	}
	r, c, err := waitReady(ctx, d, bigBox+"@"+benchDomain, want)
	if err != nil {
		_ = d.stop(120 * time.Second)
		return err
	}
	progress("ready: listen %s, email_list %s, mailbox_list %s", secs(r.Listen), secs(r.EmailList), secs(r.MailboxList))
	ready(r)
	err = measure(ctx, c, d)
	c.close()
	if serr := d.stop(120 * time.Second); err == nil {
		err = serr
	}
	return err
}

// mcpLatencies times email_list (a page at spread offsets, and from plus
// subject filters over the whole mailbox) and email_read.
func (s *session) mcpLatencies(ctx context.Context, c *mcpConn, label string) error {
	progress("timing email_list and email_read on %s messages", label)
	box := bigBox + "@" + benchDomain
	page, err := timeCalls(s.o.Calls, func(i int) error {
		return c.call(ctx, "email_list", map[string]any{"mailbox": box, "limit": 50, "offset": (i * 37) % 5000}, nil)
	})
	if err != nil {
		return err
	}
	filt, err := timeCalls(s.o.Calls, func(int) error {
		return c.call(ctx, "email_list", map[string]any{"mailbox": box, "limit": 50, "from": "alice", "subject": "invoice"}, nil)
	})
	if err != nil {
		return err
	}
	var ids []string
	for k := range 10 {
		var lr listResult
		if err := c.call(ctx, "email_list", map[string]any{"mailbox": box, "limit": 200, "offset": k * (s.o.Big - 200) / 10}, &lr); err != nil {
			return err
		}
		for _, e := range lr.Emails {
			ids = append(ids, e.ID)
		}
	}
	if len(ids) == 0 {
		return errNoIDs
	}
	read, err := timeCalls(s.o.Calls, func(i int) error {
		return c.call(ctx, "email_read", map[string]any{"mailbox": box, "id": ids[(i*7919)%len(ids)]}, nil)
	})
	if err != nil {
		return err
	}
	s.add(check("email_list p99, page of 50, "+label+" in the mailbox", ms(page.percentile(0.99)), "< 50 ms", page.percentile(0.99) < listP99),
		check("email_list p99, from + subject filters, "+label, ms(filt.percentile(0.99)), "< 50 ms", filt.percentile(0.99) < listP99),
		check("email_read p99, "+label+" in the mailbox", ms(read.percentile(0.99)), "< 50 ms", read.percentile(0.99) < listP99))
	return nil
}

// seed writes boxes' messages, unless a kept fixture has them already.
func (s *session) seed(step string, boxes []fixtureBox, n int) error {
	if s.o.Fixture != "" && seeded(s.dev, step) {
		progress("reusing the %d messages seeded in %s", n, s.dev)
		return nil
	}
	progress("seeding %d messages in %d mailboxes", n, len(boxes))
	t := time.Now()
	if err := seedFixture(filepath.Join(s.dev, "data"), boxes, s.seedProgress(n)); err != nil {
		return err
	}
	progress("seeded in %s", secs(time.Since(t)))
	// Stored mail is older than the 2 s within which the index does not
	// trust a file's stamp (storage/indexload.go, stampSettle).
	time.Sleep(2500 * time.Millisecond)
	if s.o.Fixture != "" {
		return markSeeded(s.dev, step)
	}
	return nil
}

// seedProgress reports seeding every 10%; the workers call it at once.
func (s *session) seedProgress(total int) func(int) {
	step := max(1, total/10)
	next := step
	var mu sync.Mutex
	return func(done int) {
		mu.Lock()
		defer mu.Unlock()
		if done >= next {
			progress("seeded %d of %d", done, total)
			for next <= done {
				next += step
			}
		}
	}
}

// readyFigure shows a time to the first answer with when the daemon was
// listening and what the first start (no index cache) took.
func readyFigure(d time.Duration, r readiness, first time.Duration) string {
	return fmt.Sprintf("%s (listening at %s; first start %s)", secs(d), secs(r.Listen), secs(first))
}

// count formats a message count as "100,000".
func count(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
