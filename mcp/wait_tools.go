package mcp

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/internal/mailbus"
	"github.com/aimx-dev/aimx/storage"
)

// email_wait (book/mcp.md, "Waiting for mail"): a long poll over the
// new-mail broadcast (internal/mailbus) that intake publishes to before the
// `250`. The wait registers with the bus before it looks at the store, so
// a message stored between the look and the wait still wakes it; a cursor
// names the broadcast's place, so consecutive waits neither miss a message
// nor return one twice.

const (
	// defaultWaitSecs keeps a wait under the 60 s request timeout that
	// many MCP clients and reverse proxies apply.
	defaultWaitSecs = 50
	// maxWaitSecs caps timeout_secs. The daemon's transports have no
	// write timeout (book/mcp.md, "Limits"), so this is a bound on how
	// long one call holds a connection, not a transport limit.
	maxWaitSecs = 300
)

// WaitEmail is one email in email_wait's result: email_list's row and the
// mailbox it arrived in.
type WaitEmail struct {
	Mailbox string `json:"mailbox" jsonschema:"The mailbox it arrived in; pass it with id to email_read."`
	EmailSummary
}

// EmailWaitResult is email_wait's result.
type EmailWaitResult struct {
	Emails   []WaitEmail `json:"emails" jsonschema:"The matching emails, oldest first; empty when none arrived within timeout_secs."`
	Cursor   string      `json:"cursor" jsonschema:"Pass it as since_cursor to the next email_wait: that call returns only matching emails this one did not, and misses none stored in between."`
	TimedOut bool        `json:"timed_out" jsonschema:"True when no matching email arrived within timeout_secs (or the server is stopping); call again with the cursor."`
	More     bool        `json:"more" jsonschema:"True when more emails matched than limit: call again with the cursor at once for the later ones; emails found through since (or after a server restart) beyond the newest limit are left to email_list with since."`
}

func (s *Server) emailWaitTool() *toolDef {
	return &toolDef{
		name:  "email_wait",
		title: "Wait for new email",
		description: "Wait for new email: blocks until an email matching the filters is stored in one of your mailboxes (or the one named), or timeout_secs pass, and returns it with the fields email_list shows plus its mailbox, and a cursor. " +
			"Pass the cursor back as since_cursor on the next call, so no email is missed or returned twice between calls; pass since to also get emails already stored since then. " +
			"Use it instead of polling email_list when you expect a reply. It changes nothing and does not mark anything read.",
		readOnly: true, idempotent: true,
		in: object("",
			opt("mailbox", str("Only this mailbox: a full address or a bare local part. Left out, every mailbox you can use.")),
			opt("from", str("Only emails whose sender contains this text (case-insensitive), such as a domain or a name.")),
			opt("subject", str("Only emails whose subject contains this text (case-insensitive).")),
			opt("thread_id", str("Only emails of this conversation: a thread_id as email_list, email_read or an earlier email_wait returned it.")),
			opt("since", str("Also return, at once, matching emails already received at or after this time: a date (2026-10-07, from its start in UTC) or an RFC 3339 time. Without since or since_cursor only emails stored after the call count.")),
			opt("since_cursor", str("The cursor of your previous email_wait: return the matching emails stored since that answer (at once when there are any), else wait for the next one.")),
			opt("timeout_secs", integer("Seconds to wait when nothing matches yet, 0 to 300; 0 returns at once. Keep it under your client's request timeout (often 60 s).").with("minimum", 0, "maximum", maxWaitSecs, "default", defaultWaitSecs)),
			opt("limit", integer("At most this many emails in one answer, 1 to 200.").with("minimum", 1, "maximum", maxListLimit, "default", storage.DefaultListLimit)),
		),
		out:     resultSchema[EmailWaitResult]("The new emails and the cursor for the next wait."),
		example: map[string]any{"mailbox": "support", "from": "alice@example.com", "timeout_secs": 50},
		handle:  s.emailWait,
	}
}

// waitFilter is what an email must match besides its mailbox.
type waitFilter struct {
	from, subject string // lowercased substrings, as email_list's filters
	thread        string
	since         time.Time
}

func (f waitFilter) match(fm *storage.Frontmatter) bool {
	switch {
	case f.from != "" && !strings.Contains(strings.ToLower(fm.From), f.from),
		f.subject != "" && !strings.Contains(strings.ToLower(fm.Subject), f.subject),
		f.thread != "" && fm.ThreadID != f.thread,
		!f.since.IsZero() && fm.ReceivedAt.Before(f.since):
		return false
	}
	return true
}

// waiter is one email_wait call.
type waiter struct {
	s      *Server
	bus    *mailbus.Bus
	boxes  map[string]bool // the mailboxes waited on, by configured name
	names  []string
	filter waitFilter
	limit  int

	rows   []WaitEmail
	seen   map[string]bool      // "mailbox/id" of the rows
	listed map[string]time.Time // rows taken from the store: key → receipt time
	skip   map[string]bool      // the cursor's Skip
	last   uint64               // every event up to it is accounted for
	more   bool
}

func (s *Server) emailWait(ctx context.Context, c *call) (any, string, error) {
	var args struct {
		Mailbox     string `json:"mailbox"`
		From        string `json:"from"`
		Subject     string `json:"subject"`
		ThreadID    string `json:"thread_id"`
		Since       string `json:"since"`
		SinceCursor string `json:"since_cursor"`
		TimeoutSecs *int   `json:"timeout_secs"`
		Limit       *int   `json:"limit"`
	}
	if err := c.bind(&args); err != nil {
		return nil, "", err
	}
	names, err := waitMailboxes(c, args.Mailbox)
	if err != nil {
		return nil, "", err
	}
	if s.deps.NewMail == nil {
		return nil, "", errorf("waiting for mail is not available on this server; call email_list with since to look for new email instead.")
	}
	timeout := defaultWaitSecs
	if args.TimeoutSecs != nil {
		timeout = *args.TimeoutSecs
	}
	if timeout < 0 || timeout > maxWaitSecs {
		return nil, "", errorf("timeout_secs must be between 0 and %d, not %d.", maxWaitSecs, timeout)
	}
	limit := storage.DefaultListLimit
	if args.Limit != nil {
		limit = *args.Limit
	}
	if limit < 1 || limit > maxListLimit {
		return nil, "", errorf("limit must be between 1 and %d, not %d.", maxListLimit, limit)
	}
	f := waitFilter{from: strings.ToLower(args.From), subject: strings.ToLower(args.Subject), thread: strings.TrimSpace(args.ThreadID)}
	if args.Since != "" {
		if f.since, err = parseSince(args.Since); err != nil {
			return nil, "", err
		}
	}
	var cur *waitCursor
	if args.SinceCursor != "" {
		if cur, err = decodeCursor(strings.TrimSpace(args.SinceCursor)); err != nil {
			return nil, "", err
		}
	}
	w := &waiter{s: s, bus: s.deps.NewMail, names: names, boxes: map[string]bool{}, filter: f, limit: limit,
		seen: map[string]bool{}, listed: map[string]time.Time{}, skip: cur.skipSet()}
	for _, n := range names {
		w.boxes[n] = true
	}
	res, err := w.run(ctx, cur, time.Duration(timeout)*time.Second)
	if err != nil {
		return nil, "", err
	}
	return res, waitText(res, timeout), nil
}

// waitMailboxes returns the configured names of the mailboxes a wait
// covers: the named one (refused exactly like a missing one when the
// caller may not see it), or every mailbox the caller may see.
func waitMailboxes(c *call, input string) ([]string, error) {
	if strings.TrimSpace(input) != "" {
		m, err := visibleMailbox(c.cfg, c.caller, input)
		if err != nil {
			return nil, err
		}
		return []string{m.Name}, nil
	}
	var names []string
	for _, m := range c.cfg.Mailboxes {
		if c.caller.seesMailbox(m) {
			names = append(names, m.Name)
		}
	}
	if len(names) == 0 {
		return nil, errorf("you have no mailbox, so no email can arrive for you; create one with mailbox_create first.")
	}
	slices.Sort(names)
	return names, nil
}

// run is the wait: subscribe, take what is already there (the cursor's
// backlog, or the store since a time), then wait for the broadcast.
func (w *waiter) run(ctx context.Context, cur *waitCursor, timeout time.Duration) (*EmailWaitResult, error) {
	sub, registered := w.bus.Subscribe(w.names...)
	defer sub.Close()
	ctx, done := w.s.subs.bindWait(ctx)
	defer done()
	w.last = registered

	if err := w.backlog(ctx, cur, registered); err != nil {
		return nil, err
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	timedOut := false
	for first := true; len(w.rows) == 0 && !w.more; first = false {
		if !first {
			select {
			case <-sub.Ready():
			case <-timer.C:
				timedOut = true
			case <-w.bus.Done():
				timedOut = true // the daemon is stopping: answer now, the cursor stays good
			case <-ctx.Done():
				return nil, errorf("the wait was cancelled.")
			}
		}
		// The first pass takes what arrived while the backlog was read.
		evs, overflow := sub.Take()
		if err := w.take(ctx, evs); err != nil {
			return nil, err
		}
		if overflow {
			w.more = true // the rest are in the bus's ring: the next call reads them from the cursor
		}
		if timedOut {
			break
		}
	}
	return w.result(timedOut), nil
}

// backlog takes what a call returns at once: the events after the
// cursor's place up to registration, or, without a usable cursor, the
// store since a time (the since argument, or the cursor's time less the
// slack after a restart).
func (w *waiter) backlog(ctx context.Context, cur *waitCursor, registered uint64) error {
	var from time.Time
	switch {
	case cur != nil && cur.Epoch == w.bus.Epoch():
		if evs, ok := w.bus.Events(cur.Seq, registered, func(m string) bool { return w.boxes[m] }); ok {
			w.last = cur.Seq
			if err := w.take(ctx, evs); err != nil {
				return err
			}
			if !w.more {
				w.last = registered
			}
			return nil
		}
		from = time.Unix(cur.At, 0).Add(-cursorSlack) // more was published than the bus keeps
	case cur != nil:
		from = time.Unix(cur.At, 0).Add(-cursorSlack) // another epoch: the daemon restarted
	case !w.filter.since.IsZero():
		from = w.filter.since
	default:
		return nil
	}
	if !w.filter.since.IsZero() && w.filter.since.After(from) {
		from = w.filter.since
	}
	return w.list(ctx, from)
}

// list takes the matching inbox emails received at or after from, from
// the store: the newest limit of them, oldest first.
func (w *waiter) list(ctx context.Context, from time.Time) error {
	type found struct {
		mailbox string
		sum     storage.Summary
	}
	var all []found
	for _, name := range w.names {
		page, err := w.s.deps.Store.List(ctx, storage.ListQuery{Mailbox: domains.MailboxRef(name), Folder: storage.Inbox,
			Limit: maxListLimit, Since: from, From: w.filter.from, Subject: w.filter.subject, ThreadID: w.filter.thread})
		if errors.Is(err, storage.ErrNotFound) {
			continue // nothing stored yet
		}
		if err != nil {
			return fmt.Errorf("email_wait: list %s since %s: %w", name, from.Format(time.RFC3339), err)
		}
		if page.Total > len(page.Messages) {
			w.more = true
		}
		for _, m := range slices.Backward(page.Messages) { // oldest first, in the store's order
			if w.filter.match(m.Frontmatter) && !w.skip[name+"/"+m.ID] {
				all = append(all, found{name, m})
			}
		}
	}
	slices.SortStableFunc(all, func(a, b found) int {
		return a.sum.Frontmatter.ReceivedAt.Compare(b.sum.Frontmatter.ReceivedAt)
	})
	if len(all) > w.limit {
		all, w.more = all[len(all)-w.limit:], true
	}
	for _, f := range all {
		key := f.mailbox + "/" + f.sum.ID
		w.add(f.mailbox, f.sum.ID, f.sum.Frontmatter)
		w.listed[key] = f.sum.Frontmatter.ReceivedAt
	}
	return nil
}

// take turns broadcast events into rows, in order, until limit; w.last
// follows the events accounted for.
func (w *waiter) take(ctx context.Context, evs []mailbus.Event) error {
	for _, ev := range evs {
		if ev.Seq <= w.last {
			continue // accounted for already
		}
		key := ev.Mailbox + "/" + ev.ID
		switch {
		case w.seen[key]:
			delete(w.listed, key) // its broadcast came: no need to skip it later
		case w.skip[key], !w.filter.since.IsZero() && ev.ReceivedAt.Before(w.filter.since):
		default:
			if len(w.rows) >= w.limit {
				w.more = true
				return nil
			}
			fm, err := w.s.newMailFrontmatter(ctx, ev.Mailbox, ev.ID)
			if errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrInvalidID) {
				break // gone again (a hook moved or deleted it)
			}
			if err != nil {
				return fmt.Errorf("email_wait: read %s/%s: %w", ev.Mailbox, ev.ID, err)
			}
			if w.filter.match(fm) {
				w.add(ev.Mailbox, ev.ID, fm)
			}
		}
		w.last = ev.Seq
	}
	return nil
}

// add appends a row; header values are cleaned as email_list's are
// (sanitize.go).
func (w *waiter) add(mailbox, id string, fm *storage.Frontmatter) {
	w.seen[mailbox+"/"+id] = true
	w.rows = append(w.rows, WaitEmail{Mailbox: cleanHeader(mailbox), EmailSummary: EmailSummary{
		ID: cleanHeader(id), From: cleanHeader(fm.From), To: nonNil(cleanHeaders(fm.To)), Subject: cleanHeader(fm.Subject),
		Date: cleanHeader(fm.Date), Read: fm.Read, Trusted: cleanHeader(fm.Trusted), ThreadID: cleanHeader(fm.ThreadID),
	}})
}

// result is the answer: the rows and the cursor after them.
func (w *waiter) result(timedOut bool) *EmailWaitResult {
	now := time.Now()
	cur := waitCursor{Epoch: w.bus.Epoch(), Seq: w.last, At: now.Unix()}
	// Rows taken from the store whose broadcast has not come yet (stored
	// just before the look, published just after) must not come back.
	for key, at := range w.listed {
		if now.Sub(at) < cursorSlack {
			cur.Skip = append(cur.Skip, key)
		}
	}
	slices.Sort(cur.Skip)
	rows := w.rows
	if rows == nil {
		rows = []WaitEmail{}
	}
	return &EmailWaitResult{Emails: rows, Cursor: cur.encode(), TimedOut: timedOut && len(rows) == 0, More: w.more}
}

// waitText is the short text rendering of a wait's answer.
func waitText(r *EmailWaitResult, timeout int) string {
	var b strings.Builder
	switch {
	case len(r.Emails) == 0 && r.TimedOut:
		fmt.Fprintf(&b, "no new email within %d s; call email_wait again with since_cursor", timeout)
	case len(r.Emails) == 0:
		b.WriteString("no new email yet; call email_wait again with since_cursor")
	default:
		fmt.Fprintf(&b, "%d new emails, oldest first", len(r.Emails))
		if r.More {
			b.WriteString(" (more matched: call again with since_cursor)")
		}
	}
	for _, e := range r.Emails {
		state := "read"
		if !e.Read {
			state = "unread"
		}
		fmt.Fprintf(&b, "\n%s  %s  %s  %s  %q  [%s, trusted=%s]", e.Mailbox, e.ID, e.Date, e.From, e.Subject, state, e.Trusted)
	}
	fmt.Fprintf(&b, "\nsince_cursor: %s", r.Cursor)
	return b.String()
}
