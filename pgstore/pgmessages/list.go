package pgmessages

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/aimx-dev/aimx/storage"
)

// A cursor names the last row of a page by its place in the listing
// order, in the file store's format (book/storage.md, "Listing and
// counting"): version 1, the direction, the order within the second, the
// id, base64url. A cursor of either store continues a listing of the
// other (after `aimx storage export|import`, which keeps ids).
const cursorVersion = 1

func encodeCursor(oldest bool, order uint32, id string) string {
	b := make([]byte, 0, 6+len(id))
	var dir byte
	if oldest {
		dir = 1
	}
	b = append(b, cursorVersion, dir)
	b = binary.BigEndian.AppendUint32(b, order)
	b = append(b, id...)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(c string, oldest bool) (order int64, id string, err error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) < 7 || b[0] != cursorVersion || b[1] > 1 {
		return 0, "", storage.ErrBadCursor
	}
	if (b[1] == 1) != oldest {
		return 0, "", fmt.Errorf("%w: it belongs to a listing in the other order", storage.ErrBadCursor)
	}
	id = string(b[6:])
	if storage.ValidateID(id) != nil || !utf8.ValidString(id) {
		return 0, "", storage.ErrBadCursor
	}
	return int64(binary.BigEndian.Uint32(b[2:6])), id, nil
}

// maxListLimit bounds a page: more rows than any listing holds.
const maxListLimit = 1 << 30

// filter builds the WHERE clause of a listing from fixed fragments; every
// value the caller gave is a query parameter.
type filter struct {
	where []string
	args  []any
}

func (f *filter) add(cond string, v ...any) {
	for _, x := range v {
		f.args = append(f.args, x)
		cond = strings.Replace(cond, "?", "$"+strconv.Itoa(len(f.args)), 1)
	}
	f.where = append(f.where, cond)
}

func (f *filter) sql() string { return strings.Join(f.where, " AND ") }

// List returns one page of a folder in listing order with the number of
// messages matching in all. The page is a keyset scan of the listing
// index from the cursor's place; filters are columns of the message row.
// A mailbox with no storage lists as empty.
func (s *Store) List(ctx context.Context, q storage.ListQuery) (*storage.ListResult, error) {
	if q.Folder == "" {
		q.Folder = storage.Inbox
	}
	if err := checkRef(q.Mailbox, q.Folder); err != nil {
		return nil, err
	}
	if q.Limit < 0 || q.Offset < 0 {
		return nil, fmt.Errorf("list: limit and offset must not be negative")
	}
	if q.Limit == 0 {
		q.Limit = storage.DefaultListLimit
	}
	q.Limit = min(q.Limit, maxListLimit) // LIMIT limit+1 must not overflow
	res, err := s.list(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("list %s/%s: %w", q.Mailbox, q.Folder, err)
	}
	return res, nil
}

func (s *Store) list(ctx context.Context, q storage.ListQuery) (*storage.ListResult, error) {
	var label string
	if q.Label != "" {
		var err error
		if label, err = storage.NormalizeLabel(q.Label); err != nil {
			return nil, err
		}
	}
	curOrd, curID := int64(0), ""
	if q.Cursor != "" {
		var err error
		if curOrd, curID, err = decodeCursor(q.Cursor, q.Oldest); err != nil {
			return nil, err
		}
	}
	mbox, ok, err := mailboxID(ctx, s.db.Pool, q.Mailbox, false)
	if err != nil || !ok {
		return &storage.ListResult{}, err
	}
	f := &filter{}
	f.add("mailbox = ?", mbox)
	f.add("folder = ?", string(q.Folder))
	if q.Unread {
		f.add("NOT read")
	}
	if q.From != "" {
		f.add("position(? in from_lc) > 0", []byte(strings.ToLower(q.From)))
	}
	if q.Subject != "" {
		f.add("position(? in subject_lc) > 0", []byte(strings.ToLower(q.Subject)))
	}
	if !q.Since.IsZero() {
		f.add("(at_sec IS NULL OR at_sec >= ?)", q.Since.Truncate(time.Second).Unix())
	}
	if q.ThreadID != "" {
		f.add("thread_id = ?", []byte(q.ThreadID))
	}
	if q.MessageID != "" {
		f.add("message_id = ?", []byte(q.MessageID))
	}
	if q.Trusted != "" {
		f.add("trusted = ?", text(q.Trusted))
	}
	if label != "" {
		f.add("? = ANY (labels)", label)
	}
	countSQL := "SELECT count(*) FROM aimx.messages WHERE " + f.sql()
	countArgs := append([]any(nil), f.args...)
	dir, cmp := "DESC", "<"
	if q.Oldest {
		dir, cmp = "ASC", ">"
	}
	if curID != "" {
		f.add("(skey, ord, id) "+cmp+" (?, ?, ?)", sortKey(curID), curOrd, curID)
	}
	pageSQL := "SELECT id, ord, frontmatter FROM aimx.messages WHERE " + f.sql() +
		" ORDER BY skey " + dir + ", ord " + dir + ", id " + dir +
		" LIMIT " + strconv.Itoa(q.Limit+1) + " OFFSET " + strconv.Itoa(q.Offset)

	b := &pgx.Batch{}
	res := &storage.ListResult{}
	b.Queue(countSQL, countArgs...).QueryRow(func(row pgx.Row) error { return row.Scan(&res.Total) })
	b.Queue(pageSQL, f.args...).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var id string
			var ord int64
			var fmBytes []byte
			if err := rows.Scan(&id, &ord, &fmBytes); err != nil {
				return err
			}
			if len(res.Messages) == q.Limit {
				last := res.Messages[len(res.Messages)-1]
				res.NextCursor = encodeCursor(q.Oldest, last.Order, last.ID)
				continue
			}
			fm, err := storage.DecodeFrontmatter(fmBytes)
			if err != nil {
				return fmt.Errorf("message %s: %w", id, err)
			}
			res.Messages = append(res.Messages, storage.Summary{ID: id, Frontmatter: fm, Order: uint32(ord)})
		}
		return rows.Err()
	})
	if err := s.db.Pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, err
	}
	return res, nil
}

// Counts returns the inbox total, the inbox's unread count and the sent
// total.
func (s *Store) Counts(ctx context.Context, ref storage.MailboxRef) (storage.Counts, error) {
	if err := ref.Validate(); err != nil {
		return storage.Counts{}, err
	}
	var c storage.Counts
	err := s.db.Pool.QueryRow(ctx, `SELECT
		count(*) FILTER (WHERE m.folder = 'inbox'),
		count(*) FILTER (WHERE m.folder = 'inbox' AND NOT m.read),
		count(*) FILTER (WHERE m.folder = 'sent')
		FROM aimx.messages m JOIN aimx.mailboxes b ON b.id = m.mailbox
		WHERE b.domain = $1 AND b.local = $2 AND m.folder IN ('inbox', 'sent')`,
		ref.Domain, ref.Local).Scan(&c.Total, &c.Unread, &c.Sent)
	if err != nil {
		return storage.Counts{}, fmt.Errorf("count %s: %w", ref, err)
	}
	return c, nil
}
