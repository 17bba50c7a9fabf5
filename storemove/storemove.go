// Package storemove copies an install's mail from one storage.MessageStore
// to another (the files under data_dir into PostgreSQL, and back), for
// `aimx storage export|import` (book/scale-out.md, "Moving between
// backends").
//
// Every message of every folder of the mailboxes the caller names is
// copied with its id, its folder, its frontmatter (read state, labels,
// delivery state and unknown keys included), its raw .eml, its body and
// its attachments. A copy is resumable: what the target already holds is
// skipped, so an interrupted run is simply started again. It ends with a
// verification that compares, per mailbox and folder, the message counts
// and a digest of the sorted ids and of each message's raw bytes and body
// on both sides.
package storemove

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/aimx-dev/aimx/storage"
)

// DefaultPageSize is how many messages one List call of the source returns
// when Options.PageSize is zero.
const DefaultPageSize = 200

// progressEvery is how many messages of one folder pass between two
// progress lines inside a mailbox.
const progressEvery = 1000

// Options configures Copy and Verify.
type Options struct {
	// Mailboxes are the mailboxes to copy (the config's mailboxes with
	// their owners). Mail of a mailbox not listed stays where it is.
	Mailboxes []storage.MailboxOwner
	// Progress receives a line per mailbox with a running total, and a
	// line every 1000 messages of a large folder; nil shows nothing.
	Progress io.Writer
	// PageSize is how many messages one List call returns (0:
	// DefaultPageSize).
	PageSize int
	// Workers is how many mailboxes are copied (and verified) at once
	// (0: DefaultWorkers). The messages of one folder are copied one by
	// one, oldest first.
	Workers int
}

// DefaultWorkers is how many mailboxes are copied at once when
// Options.Workers is zero.
const DefaultWorkers = 4

func (o *Options) workers() int {
	if o.Workers <= 0 {
		return DefaultWorkers
	}
	return o.Workers
}

func (o *Options) pageSize() int {
	if o.PageSize <= 0 {
		return DefaultPageSize
	}
	return o.PageSize
}

// maxFailureLines caps the failures named on Progress; the rest are
// counted (Result.Failed has them all).
const maxFailureLines = 100

// progress writes whole lines to Options.Progress, one at a time.
type progress struct {
	mu       sync.Mutex
	w        io.Writer
	failures int
}

// failure names a message not copied, up to maxFailureLines of them.
func (p *progress) failure(f Failure) {
	p.mu.Lock()
	p.failures++
	n := p.failures
	p.mu.Unlock()
	switch {
	case n <= maxFailureLines:
		p.linef("not copied: %s", f)
	case n == maxFailureLines+1:
		p.linef("more messages not copied: counted in the summary, not named here")
	}
}

// linef writes one progress line, if anyone listens.
func (p *progress) linef(format string, args ...any) {
	if p == nil || p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, format+"\n", args...)
}

// Result says what a Copy did and what its verification found.
type Result struct {
	// Mailboxes is how many mailboxes were gone through.
	Mailboxes int
	// Copied counts the messages written to the target by this run.
	Copied int
	// Skipped counts the messages the target held already (an earlier,
	// interrupted run).
	Skipped int
	// Failed lists the messages that could not be copied; the run went on
	// without them, and Copy returns an error naming them.
	Failed []Failure
	// Folders is the verification: one row per mailbox and folder.
	Folders []FolderCheck
}

// Messages is how many messages the source holds in all (counted by the
// verification).
func (r *Result) Messages() int {
	n := 0
	for _, f := range r.Folders {
		n += f.Source
	}
	return n
}

// Failure is one message a Copy could not copy, and why.
type Failure struct {
	Mailbox storage.MailboxRef
	Folder  storage.Folder
	ID      string
	Err     error
}

func (f Failure) String() string {
	return fmt.Sprintf("%s/%s/%s: %v", f.Mailbox, f.Folder, f.ID, f.Err)
}

// FailedError is Copy's error when some messages could not be copied.
type FailedError struct {
	Failures []Failure
}

func (e *FailedError) Error() string {
	if len(e.Failures) == 1 {
		return "1 message not copied: " + e.Failures[0].String()
	}
	return fmt.Sprintf("%d messages not copied; the first: %s", len(e.Failures), e.Failures[0])
}

// Copy copies the mail of opts.Mailboxes from src to dst and then verifies
// the copy (Verify). Each mailbox is made on the target first
// (EnsureMailbox with its owner). Messages are copied oldest first, folder
// by folder: trash and archive before inbox and sent, because a message of
// those is stored through its home folder and then moved (Put stores
// into inbox or sent only), and doing them first keeps an inbox id that
// an archived message shares from being in the way. (The file store
// keeps an id it gave out taken until it is opened again, so there such
// an inbox message is refused with ErrExist and copied by the next run.)
//
// A message the target already holds in its folder is skipped, and one
// left halfway by an interrupted run (stored, not yet moved) is moved on,
// so a run that stopped is resumed by running it again. A message that
// cannot be copied (unreadable in the source, refused by the target) is
// reported on Progress and in Result.Failed, and the rest goes on; any
// other error of the target (the database went away, say) stops the run.
//
// The error is nil only when every message was copied and the
// verification found both sides equal.
func Copy(ctx context.Context, src, dst storage.MessageStore, opts Options) (*Result, error) {
	for _, mb := range opts.Mailboxes {
		if err := mb.Ref.Validate(); err != nil {
			return &Result{}, fmt.Errorf("copy mailbox %s: %w", mb.Ref, err)
		}
	}
	run := &run{opts: &opts, progress: &progress{w: opts.Progress}}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.workers())
	for _, mb := range opts.Mailboxes {
		g.Go(func() error { return run.mailbox(gctx, src, dst, mb) })
	}
	err := g.Wait()
	res := run.result()
	if err != nil {
		return res, err
	}
	checks, verr := Verify(ctx, src, dst, opts)
	res.Folders = checks
	var ferr error
	if len(res.Failed) > 0 {
		ferr = &FailedError{Failures: res.Failed}
	}
	return res, errors.Join(ferr, verr)
}

// run is one Copy's shared state: its counts, under mu.
type run struct {
	opts     *Options
	progress *progress

	mu  sync.Mutex
	res Result
	// total is the running total of messages gone through.
	total int
}

// result returns the counts, the failures sorted by place.
func (r *run) result() *Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	res := r.res
	res.Failed = slices.Clone(res.Failed)
	slices.SortFunc(res.Failed, func(a, b Failure) int {
		return strings.Compare(a.Mailbox.String()+"/"+string(a.Folder)+"/"+a.ID, b.Mailbox.String()+"/"+string(b.Folder)+"/"+b.ID)
	})
	return &res
}

// mailbox copies one mailbox, after making it on the target.
func (r *run) mailbox(ctx context.Context, src, dst storage.MessageStore, mb storage.MailboxOwner) error {
	if err := dst.EnsureMailbox(ctx, mb.Ref, mb.Owner); err != nil {
		return fmt.Errorf("copy mailbox %s: create it on the target: %w", mb.Ref, err)
	}
	c := &copier{ctx: ctx, src: src, dst: dst, mb: mb, opts: r.opts, progress: r.progress}
	counts := map[storage.Folder]int{}
	for _, folder := range copyOrder {
		n, err := c.folder(folder)
		counts[folder] = n
		if err != nil {
			r.add(c)
			return err
		}
	}
	n := counts[storage.Inbox] + counts[storage.Sent] + counts[storage.Archive] + counts[storage.Trash]
	r.mu.Lock()
	defer r.mu.Unlock()
	r.addLocked(c)
	r.res.Mailboxes++
	r.total += n
	r.progress.linef("%s: %d messages (inbox %d, sent %d, archive %d, trash %d); %d copied, %d skipped, %d failed so far; total %d",
		mb.Ref, n, counts[storage.Inbox], counts[storage.Sent], counts[storage.Archive], counts[storage.Trash],
		r.res.Copied, r.res.Skipped, len(r.res.Failed), r.total)
	return nil
}

// add counts what one mailbox's copier did.
func (r *run) add(c *copier) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.addLocked(c)
}

func (r *run) addLocked(c *copier) {
	r.res.Copied += c.copied
	r.res.Skipped += c.skipped
	r.res.Failed = append(r.res.Failed, c.failed...)
}

// copyOrder is the order folders are copied in (see Copy).
var copyOrder = []storage.Folder{storage.Trash, storage.Archive, storage.Inbox, storage.Sent}

// copier copies one mailbox.
type copier struct {
	ctx      context.Context
	src, dst storage.MessageStore
	mb       storage.MailboxOwner
	opts     *Options
	progress *progress

	copied, skipped int
	failed          []Failure
}

// folder copies one folder of the mailbox, oldest first, and returns how
// many messages the source listed.
func (c *copier) folder(folder storage.Folder) (int, error) {
	n := 0
	cursor := ""
	for {
		page, err := c.src.List(c.ctx, storage.ListQuery{
			Mailbox: c.mb.Ref, Folder: folder, Oldest: true, Limit: c.opts.pageSize(), Cursor: cursor,
		})
		if err != nil {
			return n, fmt.Errorf("copy %s/%s: list the source: %w", c.mb.Ref, folder, err)
		}
		for _, m := range page.Messages {
			if err := c.message(folder, m.ID); err != nil {
				return n, err
			}
			n++
			if n%progressEvery == 0 {
				c.progress.linef("%s: %s %d/%d", c.mb.Ref, folder, n, page.Total)
			}
		}
		if page.NextCursor == "" || len(page.Messages) == 0 {
			return n, nil
		}
		cursor = page.NextCursor
	}
}

// message copies one message, recording a failure that concerns it alone
// and returning the errors that stop the run.
func (c *copier) message(folder storage.Folder, id string) error {
	err := c.copyMessage(folder, id)
	if err == nil {
		return nil
	}
	if c.ctx.Err() != nil {
		return c.ctx.Err()
	}
	var se *sourceError
	if errors.As(err, &se) || messageFault(err) {
		f := Failure{Mailbox: c.mb.Ref, Folder: folder, ID: id, Err: err}
		c.failed = append(c.failed, f)
		c.progress.failure(f)
		return nil
	}
	return fmt.Errorf("copy %s/%s/%s: %w", c.mb.Ref, folder, id, err)
}

// messageFault reports a target's refusal that concerns one message, not
// the target as a whole.
func messageFault(err error) bool {
	for _, e := range []error{
		storage.ErrExist, storage.ErrIDTaken, storage.ErrMoveRefused, storage.ErrInvalidID,
		storage.ErrTooLarge, storage.ErrNotRegular, storage.ErrInvalidLabel, storage.ErrNotSent,
		storage.ErrNoAttachment, errConflict,
	} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// sourceError is a message the source could not give whole.
type sourceError struct{ err error }

func (e *sourceError) Error() string { return "read the source: " + e.err.Error() }
func (e *sourceError) Unwrap() error { return e.err }

// errConflict reports an id the target holds for another message.
var errConflict = errors.New("the target holds another message under this id")

// stemLayout is the receipt time at the start of an id (storage.BaseStem).
const stemLayout = "2006-01-02-150405"

// receivedAt is the time a copy is stored at: the frontmatter's receipt
// time, else the one its id starts with (sent copies), else zero (the
// target's clock; the kept id names the message anyway).
func receivedAt(fm *storage.Frontmatter, id string) time.Time {
	if !fm.ReceivedAt.IsZero() {
		return fm.ReceivedAt
	}
	if len(id) >= len(stemLayout) {
		if t, err := time.Parse(stemLayout, id[:len(stemLayout)]); err == nil {
			return t
		}
	}
	return time.Time{}
}
