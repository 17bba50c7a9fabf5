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
	"time"

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
}

func (o *Options) pageSize() int {
	if o.PageSize <= 0 {
		return DefaultPageSize
	}
	return o.PageSize
}

// progressf writes one progress line, if anyone listens.
func (o *Options) progressf(format string, args ...any) {
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, format+"\n", args...)
	}
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
// an archived message shares from being in the way.
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
	res := &Result{}
	total := 0
	for _, mb := range opts.Mailboxes {
		if err := mb.Ref.Validate(); err != nil {
			return res, fmt.Errorf("copy mailbox %s: %w", mb.Ref, err)
		}
		if err := dst.EnsureMailbox(ctx, mb.Ref, mb.Owner); err != nil {
			return res, fmt.Errorf("copy mailbox %s: create it on the target: %w", mb.Ref, err)
		}
		c := &copier{ctx: ctx, src: src, dst: dst, mb: mb, opts: &opts, res: res}
		counts := map[storage.Folder]int{}
		for _, folder := range copyOrder {
			n, err := c.folder(folder)
			counts[folder] = n
			if err != nil {
				return res, err
			}
		}
		res.Mailboxes++
		n := counts[storage.Inbox] + counts[storage.Sent] + counts[storage.Archive] + counts[storage.Trash]
		total += n
		opts.progressf("%s: %d messages (inbox %d, sent %d, archive %d, trash %d); %d copied, %d skipped, %d failed so far; total %d",
			mb.Ref, n, counts[storage.Inbox], counts[storage.Sent], counts[storage.Archive], counts[storage.Trash],
			res.Copied, res.Skipped, len(res.Failed), total)
	}
	checks, verr := Verify(ctx, src, dst, opts)
	res.Folders = checks
	var ferr error
	if len(res.Failed) > 0 {
		ferr = &FailedError{Failures: res.Failed}
	}
	return res, errors.Join(ferr, verr)
}

// copyOrder is the order folders are copied in (see Copy).
var copyOrder = []storage.Folder{storage.Trash, storage.Archive, storage.Inbox, storage.Sent}

// copier copies one mailbox.
type copier struct {
	ctx      context.Context
	src, dst storage.MessageStore
	mb       storage.MailboxOwner
	opts     *Options
	res      *Result
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
				c.opts.progressf("%s: %s %d/%d", c.mb.Ref, folder, n, page.Total)
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
		c.res.Failed = append(c.res.Failed, f)
		c.opts.progressf("not copied: %s", f)
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
