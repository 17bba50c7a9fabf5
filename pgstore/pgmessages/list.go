package pgmessages

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/aimx-dev/aimx/storage"
)

// decodeCursor reads a cursor in the file store's format
// (storage.DecodeCursor; book/storage.md, "Listing and counting"): a
// cursor of either store continues a listing of the other (after `aimx
// storage export` or `import`, which keep ids).
func decodeCursor(c string, oldest bool) (order int64, id string, err error) {
	o, id, err := storage.DecodeCursor(c, oldest)
	if err != nil {
		return 0, "", err
	}
	if !utf8.ValidString(id) {
		return 0, "", storage.ErrBadCursor
	}
	return int64(o), id, nil
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
	// Without a filter (or with unread alone) the total is the folder's
	// counts; with one, a count of the matching rows.
	countSQL := "SELECT count(*) FROM aimx.messages WHERE " + f.sql()
	countArgs := append([]any(nil), f.args...)
	plain := q.From == "" && q.Subject == "" && q.Since.IsZero() && q.ThreadID == "" && q.MessageID == "" &&
		q.Trusted == "" && label == ""
	if plain {
		countSQL = countsSQL
		if q.Unread {
			countSQL = unreadSQL
		}
		countArgs = []any{mbox, string(q.Folder)}
	}
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

	// The count and the page run at once, on two connections: with a
	// filter both scan the folder.
	res := &storage.ListResult{}
	deltas := 0
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		row := s.db.Pool.QueryRow(gctx, countSQL, countArgs...)
		if plain {
			return row.Scan(&res.Total, &deltas)
		}
		return row.Scan(&res.Total)
	})
	type pageRow struct {
		id  string
		ord int64
		fm  []byte
	}
	var page []pageRow
	g.Go(func() error {
		rows, err := s.db.Pool.Query(gctx, pageSQL, f.args...)
		if err != nil {
			return err
		}
		page, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (pageRow, error) {
			var p pageRow
			err := r.Scan(&p.id, &p.ord, &p.fm)
			return p, err
		})
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if len(page) > q.Limit {
		page = page[:q.Limit]
		last := page[len(page)-1]
		res.NextCursor = storage.EncodeCursor(q.Oldest, uint32(last.ord), last.id)
	}
	res.Messages = make([]storage.Summary, len(page))
	dg := errgroup.Group{}
	dg.SetLimit(runtime.GOMAXPROCS(0))
	for i, p := range page {
		dg.Go(func() error {
			fm, err := storage.DecodeFrontmatter(p.fm)
			if err != nil {
				return fmt.Errorf("message %s: %w", p.id, err)
			}
			res.Messages[i] = storage.Summary{ID: p.id, Frontmatter: fm, Order: uint32(p.ord)}
			return nil
		})
	}
	if err := dg.Wait(); err != nil {
		return nil, err
	}
	s.compactIf(ctx, mbox, q.Folder, deltas)
	return res, nil
}

// The folder's counts, and how many delta rows they were summed from.
const (
	countsSQL = `SELECT coalesce(sum(total), 0), count(*) FROM aimx.folder_counts WHERE mailbox = $1 AND folder = $2`
	unreadSQL = `SELECT coalesce(sum(unread), 0), count(*) FROM aimx.folder_counts WHERE mailbox = $1 AND folder = $2`
)

// compactAt is how many delta rows of a folder's counts are folded into
// one when a listing or a count sums them.
const compactAt = 64

// compactIf folds a folder's count rows when there are many. It is an
// optimization: an error leaves the rows as they were, still right.
func (s *Store) compactIf(ctx context.Context, mbox int64, folder storage.Folder, deltas int) {
	if deltas >= compactAt {
		_, _ = s.db.Pool.Exec(ctx, `SELECT aimx.compact_folder_counts($1, $2)`, mbox, string(folder))
	}
}

// Counts returns the inbox total, the inbox's unread count and the sent
// total.
func (s *Store) Counts(ctx context.Context, ref storage.MailboxRef) (storage.Counts, error) {
	if err := ref.Validate(); err != nil {
		return storage.Counts{}, err
	}
	var c storage.Counts
	mbox, ok, err := mailboxID(ctx, s.db.Pool, ref, false)
	if err != nil || !ok {
		return c, err
	}
	rows, err := s.db.Pool.Query(ctx, `SELECT folder, coalesce(sum(total), 0), coalesce(sum(unread), 0), count(*)
		FROM aimx.folder_counts WHERE mailbox = $1 AND folder IN ('inbox', 'sent') GROUP BY folder`, mbox)
	if err != nil {
		return storage.Counts{}, fmt.Errorf("count %s: %w", ref, err)
	}
	deltas := map[storage.Folder]int{}
	for rows.Next() {
		var folder string
		var total, unread, n int
		if err := rows.Scan(&folder, &total, &unread, &n); err != nil {
			rows.Close()
			return storage.Counts{}, fmt.Errorf("count %s: %w", ref, err)
		}
		deltas[storage.Folder(folder)] = n
		if storage.Folder(folder) == storage.Inbox {
			c.Total, c.Unread = total, unread
		} else {
			c.Sent = total
		}
	}
	if err := rows.Err(); err != nil {
		return storage.Counts{}, fmt.Errorf("count %s: %w", ref, err)
	}
	for f, n := range deltas {
		s.compactIf(ctx, mbox, f, n)
	}
	return c, nil
}
