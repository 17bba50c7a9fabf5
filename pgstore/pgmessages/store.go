// Package pgmessages is the message store of the postgres backend
// (book/scale-out.md, "Messages in PostgreSQL"): storage.MessageStore over
// the tables of pgstore/migrations/010_messages.sql, so several aimx
// nodes store, list and read the same mailboxes. The Markdown view
// (OpenMD) is rendered from the stored frontmatter and body with the
// storage package's own encoder, in the bytes the file store writes.
package pgmessages

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/aimx-dev/aimx/pgstore"
	"github.com/aimx-dev/aimx/storage"
)

// Options configures a Store.
type Options struct {
	// MaxFileBytes caps what one message may store and return: its .eml,
	// its .md and each attachment. A larger one is refused with
	// storage.ErrTooLarge, as the file store refuses such a file. Zero
	// means storage.DefaultMaxFileBytes.
	MaxFileBytes int64
	// Now is the clock for receipt times, read_at and trash stamps; nil
	// means time.Now.
	Now func() time.Time
}

// Store is storage.MessageStore in PostgreSQL. It is safe for concurrent
// use, by many goroutines and many nodes.
type Store struct {
	db      *pgstore.DB
	maxFile int64
	now     func() time.Time
	// stems are the ids this node's Puts are inserting, not committed yet
	// (stems.go).
	stems stemClaims
}

var _ storage.MessageStore = (*Store)(nil)

// New returns the message store over an open database (its migrations
// applied by pgstore.Open).
func New(db *pgstore.DB, opts Options) *Store {
	s := &Store{db: db, maxFile: opts.MaxFileBytes, now: opts.Now, stems: stemClaims{held: map[stemKey]bool{}}}
	if s.maxFile <= 0 {
		s.maxFile = storage.DefaultMaxFileBytes
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// NotifyChannel is the channel a Notice is sent on when mail is stored in
// inbox or sent, or moved into inbox: search and email_wait on every node
// listen to it (book/scale-out.md).
const NotifyChannel = "aimx_mail"

// Notice is the payload of a NotifyChannel notification, sent when the
// transaction that stored the message commits.
type Notice struct {
	Node    string         `json:"node"`    // the node that stored it
	Mailbox string         `json:"mailbox"` // local@domain, or *@domain for a catchall
	Folder  storage.Folder `json:"folder"`
	ID      string         `json:"id"`
}

// ParseNotice decodes and checks a NotifyChannel payload.
func ParseNotice(payload string) (Notice, error) {
	var n Notice
	if err := json.Unmarshal([]byte(payload), &n); err != nil {
		return Notice{}, fmt.Errorf("parse mail notice: %w", err)
	}
	if _, err := n.Ref(); err != nil {
		return Notice{}, fmt.Errorf("parse mail notice: %w", err)
	}
	if err := n.Folder.Validate(); err != nil {
		return Notice{}, fmt.Errorf("parse mail notice: %w", err)
	}
	if err := storage.ValidateID(n.ID); err != nil {
		return Notice{}, fmt.Errorf("parse mail notice: %w", err)
	}
	return n, nil
}

// Ref returns the notice's mailbox as a storage ref, checked.
func (n Notice) Ref() (storage.MailboxRef, error) {
	local, domain, ok := strings.Cut(n.Mailbox, "@")
	if !ok {
		return storage.MailboxRef{}, fmt.Errorf("%w: %q", storage.ErrInvalidMailbox, n.Mailbox)
	}
	if local == "*" {
		local = storage.CatchallLocal
	}
	ref := storage.MailboxRef{Domain: domain, Local: local}
	if err := ref.Validate(); err != nil {
		return storage.MailboxRef{}, err
	}
	return ref, nil
}

// notify queues a Notice for the transaction's commit.
// noticeTimeout bounds the notice after a Put: the message is stored, and
// its sender is waiting for the answer.
const noticeTimeout = 2 * time.Second

// noticeAfterCommit sends the new-mail notice of a committed Put, in a
// statement of its own. PostgreSQL takes one global lock on its notice
// queue from a notifying transaction's pre-commit to the end of its commit,
// WAL flush included: a NOTIFY inside Put's transaction made every Put's
// commit wait for the previous one's flush, one at a time (the intake
// bench's commits queued on `Lock: object`). A lone NOTIFY writes no WAL
// and holds the lock for a moment. The notice is best effort, as any
// notice is for a node that is not listening at that moment: one lost
// here (the node died between the commit and this call, or the database
// did not answer) wakes no wait on another node for that message, which
// is stored all the same (book/scale-out.md, "Messages in PostgreSQL").
func (s *Store) noticeAfterCommit(ctx context.Context, ref storage.MailboxRef, folder storage.Folder, id string) {
	b, err := json.Marshal(Notice{Node: s.db.Node, Mailbox: ref.String(), Folder: folder, ID: id})
	if err != nil {
		return
	}
	nctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), noticeTimeout)
	defer cancel()
	_ = s.db.Notify(nctx, NotifyChannel, string(b))
}

// notify sends the new-mail notice when tx commits (a Move into inbox).
func (s *Store) notify(ctx context.Context, tx pgx.Tx, ref storage.MailboxRef, folder storage.Folder, id string) error {
	b, err := json.Marshal(Notice{Node: s.db.Node, Mailbox: ref.String(), Folder: folder, ID: id})
	if err != nil {
		return fmt.Errorf("mail notice: %w", err)
	}
	return pgstore.NotifyTx(ctx, tx, NotifyChannel, string(b))
}

// checkRef validates a mailbox and a folder as the file store does.
func checkRef(ref storage.MailboxRef, folder storage.Folder) error {
	if err := ref.Validate(); err != nil {
		return err
	}
	return folder.Validate()
}

// checkMessage validates what names one message. An id that is not UTF-8
// passes storage.ValidateID but cannot be stored here: it names nothing.
func checkMessage(ref storage.MailboxRef, folder storage.Folder, id string) error {
	if err := checkRef(ref, folder); err != nil {
		return err
	}
	if err := storage.ValidateID(id); err != nil {
		return err
	}
	if !utf8.ValidString(id) {
		return notFound(ref, folder, id)
	}
	return nil
}

func notFound(ref storage.MailboxRef, folder storage.Folder, id string) error {
	return fmt.Errorf("%w: %s in %s/%s", storage.ErrNotFound, id, ref, folder)
}

// mailboxID returns the mailbox's row id, creating the row when create
// is set; ok is false when there is none.
func mailboxID(ctx context.Context, q querier, ref storage.MailboxRef, create bool) (id int64, ok bool, err error) {
	const sel = `SELECT id FROM aimx.mailboxes WHERE domain = $1 AND local = $2`
	err = q.QueryRow(ctx, sel, ref.Domain, ref.Local).Scan(&id)
	if err == nil {
		return id, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return 0, false, fmt.Errorf("mailbox %s: %w", ref, err)
	}
	if !create {
		return 0, false, nil
	}
	_, err = q.Exec(ctx, `INSERT INTO aimx.mailboxes (domain, local) VALUES ($1, $2) ON CONFLICT (domain, local) DO NOTHING`,
		ref.Domain, ref.Local)
	if err == nil {
		err = q.QueryRow(ctx, sel, ref.Domain, ref.Local).Scan(&id)
	}
	if err != nil {
		return 0, false, fmt.Errorf("create mailbox %s: %w", ref, err)
	}
	return id, true, nil
}

// querier is what a pool and a transaction share.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// isUniqueViolation reports a unique or primary key violation (23505).
func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// text makes a string storable in a text column: valid UTF-8, no NUL.
// Only the copies listing filters on go through it; the frontmatter
// itself is kept byte for byte.
func text(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}
