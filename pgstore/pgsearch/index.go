// Package pgsearch is the search.Index of the postgres backend
// (book/search.md, "With the postgres backend"): PostgreSQL full-text
// search over tables every node shares, so a message indexed by the node
// that stored it is found through every node. It holds no text, like the
// SQLite index: each message's words by field as a tsvector, the fields'
// lengths and its receipt order; hits are read back from the store.
package pgsearch

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/aimx-dev/aimx/pgstore"
	"github.com/aimx-dev/aimx/search"
)

// Options configures New; the zero value is the default.
type Options struct {
	// Retries is how many times a write that lost a deadlock or a
	// serialization race is run again (0: 3).
	Retries int
	// Grace is how long IDs leaves out the documents other nodes indexed
	// (0: DefaultGrace).
	Grace time.Duration
}

// DefaultGrace is how long a document another node indexed stays out of
// IDs. A reconciliation lists the store, then the index; a message another
// node stored and indexed between the two would look like one gone from
// the store and be deleted (book/search.md, "With the postgres backend").
// Its own node reconciles it.
const DefaultGrace = time.Minute

// Index is search.Index over PostgreSQL. It is safe for concurrent use,
// and several nodes may write the same tables at once: Add of a message
// another node indexed is a no-op.
type Index struct {
	db      *pgstore.DB
	retries int
	grace   time.Duration
}

var _ search.Index = (*Index)(nil)

// New returns the index over db, whose migrations (050_search) must have
// run (pgstore.Open runs them). It checks the tables are there.
func New(db *pgstore.DB, opts Options) (*Index, error) {
	if db == nil || db.Pool == nil {
		return nil, errors.New("search index: no database")
	}
	if opts.Retries <= 0 {
		opts.Retries = 3
	}
	if opts.Grace <= 0 {
		opts.Grace = DefaultGrace
	}
	var ok bool
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := db.Pool.QueryRow(ctx, `SELECT to_regclass('aimx.search_docs') IS NOT NULL`).Scan(&ok); err != nil {
		return nil, fmt.Errorf("search index: %w", err)
	}
	if !ok {
		return nil, errors.New("search index: table aimx.search_docs missing (the database is not migrated)")
	}
	return &Index{db: db, retries: opts.Retries, grace: opts.Grace}, nil
}

// Open is New for search.Service.Open. reset is ignored: the index is
// shared by every node, and one node failing to open it is no reason to
// empty it for all; reconciliation repairs what is missing.
func Open(db *pgstore.DB, opts Options) func(ctx context.Context, reset bool) (search.Index, error) {
	return func(context.Context, bool) (search.Index, error) { return New(db, opts) }
}

// Close does nothing: the pool is the caller's.
func (ix *Index) Close() error { return nil }

// write runs fn in a transaction, again when it lost a deadlock or a
// serialization race (two nodes writing the same folders).
func (ix *Index) write(ctx context.Context, what string, fn func(tx pgx.Tx) error) error {
	var err error
	for range ix.retries + 1 {
		err = pgx.BeginFunc(ctx, ix.db.Pool, fn)
		var pe *pgconn.PgError
		if err == nil || !errors.As(err, &pe) || (pe.Code != "40P01" && pe.Code != "40001") {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("search index %s: %w", what, err)
	}
	return nil
}

// lockBoxes locks the folders' rows in (mailbox, folder) order, creating
// the missing ones when create, and returns their ids (a folder without a
// row is left out).
func lockBoxes(ctx context.Context, tx pgx.Tx, boxes []search.Box, create bool) (map[search.Box]int32, error) {
	boxes = sortedBoxes(boxes)
	mbs, fs := make([]string, len(boxes)), make([]string, len(boxes))
	for i, b := range boxes {
		mbs[i], fs[i] = b.Mailbox, string(b.Folder)
	}
	q := `SELECT id, mailbox, folder FROM aimx.search_boxes b
WHERE (mailbox, folder) IN (SELECT * FROM unnest($1::text[], $2::text[]))
ORDER BY mailbox, folder FOR UPDATE`
	if create {
		// DO UPDATE (not NOTHING) so the row is locked and returned when it
		// exists; rows are taken in the input's order.
		q = `INSERT INTO aimx.search_boxes (mailbox, folder)
SELECT * FROM unnest($1::text[], $2::text[]) ORDER BY 1, 2
ON CONFLICT (mailbox, folder) DO UPDATE SET docs = aimx.search_boxes.docs
RETURNING id, mailbox, folder`
	}
	rows, err := tx.Query(ctx, q, mbs, fs)
	if err != nil {
		return nil, err
	}
	out := make(map[search.Box]int32, len(boxes))
	var id int32
	var mb, f string
	_, err = pgx.ForEachRow(rows, []any{&id, &mb, &f}, func() error {
		out[boxOf(mb, f)] = id
		return nil
	})
	return out, err
}

// sortedBoxes returns the distinct boxes in (mailbox, folder) order.
func sortedBoxes(boxes []search.Box) []search.Box {
	out := slices.Clone(boxes)
	slices.SortFunc(out, func(a, b search.Box) int {
		if c := strings.Compare(a.Mailbox, b.Mailbox); c != 0 {
			return c
		}
		return strings.Compare(string(a.Folder), string(b.Folder))
	})
	return slices.Compact(out)
}

// Add indexes docs in one transaction (see search.Index): a key already
// indexed, by this node or another, is left as it is.
func (ix *Index) Add(ctx context.Context, docs []search.Doc) error {
	if len(docs) == 0 {
		return nil
	}
	docs = slices.Clone(docs)
	// One order for every writer, so two nodes adding the same keys wait
	// for each other instead of deadlocking.
	slices.SortFunc(docs, func(a, b search.Doc) int {
		if c := strings.Compare(a.Mailbox+"\x00"+string(a.Folder), b.Mailbox+"\x00"+string(b.Folder)); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	docs = slices.CompactFunc(docs, func(a, b search.Doc) bool { return a.Key == b.Key })
	boxes := make([]search.Box, len(docs))
	for i, d := range docs {
		boxes[i] = d.Box
	}
	n := len(docs)
	bids, ids, tsvs := make([]int32, n), make([]string, n), make([]string, n)
	ats := make([]time.Time, n)
	var lens [nFields][]int32
	for f := range lens {
		lens[f] = make([]int32, n)
	}
	for i, d := range docs {
		ids[i], ats[i] = d.ID, d.At
		if d.At.IsZero() {
			ats[i] = time.Unix(0, 0)
		}
		var l [nFields]int
		tsvs[i], l = docVector(d)
		for f := range lens {
			lens[f][i] = int32(min(l[f], 1<<30))
		}
	}
	return ix.write(ctx, "add", func(tx pgx.Tx) error {
		byBox, err := lockBoxes(ctx, tx, boxes, true)
		if err != nil {
			return err
		}
		for i, d := range docs {
			bids[i] = byBox[d.Box]
		}
		rows, err := tx.Query(ctx, `INSERT INTO aimx.search_docs (box, id, at, len_subject, len_sender, len_rcpt, len_body, tsv, node)
SELECT b, i, a, ls, lf, lt, lb, v::tsvector, $9
FROM unnest($1::int[], $2::text[], $3::timestamptz[], $4::int[], $5::int[], $6::int[], $7::int[], $8::text[]) AS u(b, i, a, ls, lf, lt, lb, v)
ON CONFLICT (box, id) DO NOTHING
RETURNING box, len_subject, len_sender, len_rcpt, len_body`, bids, ids, ats, lens[0], lens[1], lens[2], lens[3], tsvs, ix.db.Node)
		if err != nil {
			return err
		}
		return adjust(ctx, tx, rows, 1)
	})
}

// adjust adds sign times the returned documents (box and four lengths) to
// their folders' counts.
func adjust(ctx context.Context, tx pgx.Tx, rows pgx.Rows, sign int64) error {
	type sums struct{ docs, l0, l1, l2, l3 int64 }
	per := map[int32]*sums{}
	var box int32
	var l [nFields]int64
	if _, err := pgx.ForEachRow(rows, []any{&box, &l[0], &l[1], &l[2], &l[3]}, func() error {
		s := per[box]
		if s == nil {
			s = &sums{}
			per[box] = s
		}
		s.docs += sign
		s.l0, s.l1, s.l2, s.l3 = s.l0+sign*l[0], s.l1+sign*l[1], s.l2+sign*l[2], s.l3+sign*l[3]
		return nil
	}); err != nil {
		return err
	}
	for id, s := range per {
		if _, err := tx.Exec(ctx, `UPDATE aimx.search_boxes SET docs = docs + $2, len_subject = len_subject + $3,
len_sender = len_sender + $4, len_rcpt = len_rcpt + $5, len_body = len_body + $6 WHERE id = $1`,
			id, s.docs, s.l0, s.l1, s.l2, s.l3); err != nil {
			return err
		}
	}
	return nil
}

// Delete removes keys; unknown keys are ignored (see search.Index).
func (ix *Index) Delete(ctx context.Context, keys []search.Key) error {
	if len(keys) == 0 {
		return nil
	}
	boxes := make([]search.Box, len(keys))
	for i, k := range keys {
		boxes[i] = k.Box
	}
	return ix.write(ctx, "delete", func(tx pgx.Tx) error {
		byBox, err := lockBoxes(ctx, tx, boxes, false)
		if err != nil {
			return err
		}
		var bids []int32
		var ids []string
		for _, k := range keys {
			if id, ok := byBox[k.Box]; ok {
				bids, ids = append(bids, id), append(ids, k.ID)
			}
		}
		if len(ids) == 0 {
			return nil
		}
		rows, err := tx.Query(ctx, `DELETE FROM aimx.search_docs d USING unnest($1::int[], $2::text[]) AS u(b, i)
WHERE d.box = u.b AND d.id = u.i
RETURNING d.box, d.len_subject, d.len_sender, d.len_rcpt, d.len_body`, bids, ids)
		if err != nil {
			return err
		}
		return adjust(ctx, tx, rows, -1)
	})
}

// DeleteBox removes a folder and its documents (see search.Index).
func (ix *Index) DeleteBox(ctx context.Context, b search.Box) error {
	return ix.write(ctx, "delete "+b.Mailbox+"/"+string(b.Folder), func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `DELETE FROM aimx.search_boxes WHERE mailbox = $1 AND folder = $2`, b.Mailbox, string(b.Folder))
		return err
	})
}

// IDs lists a folder's indexed ids (see search.Index), leaving out those
// another node indexed within the grace period (DefaultGrace): a
// reconciliation racing that node's indexing then never deletes them, and
// at worst indexes them again, which does nothing.
func (ix *Index) IDs(ctx context.Context, b search.Box) ([]string, error) {
	rows, err := ix.db.Pool.Query(ctx, `SELECT d.id FROM aimx.search_docs d JOIN aimx.search_boxes b ON b.id = d.box
WHERE b.mailbox = $1 AND b.folder = $2 AND (d.node = $3 OR d.indexed_at <= now() - $4::interval)`,
		b.Mailbox, string(b.Folder), ix.db.Node, ix.grace)
	if err != nil {
		return nil, fmt.Errorf("search index ids: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("search index ids: %w", err)
	}
	return ids, nil
}

// Boxes reports the folders with documents and their counts (see
// search.Index), from the folder rows: no document is read.
func (ix *Index) Boxes(ctx context.Context) (map[search.Box]int, error) {
	rows, err := ix.db.Pool.Query(ctx, `SELECT mailbox, folder, docs FROM aimx.search_boxes WHERE docs > 0`)
	if err != nil {
		return nil, fmt.Errorf("search index folders: %w", err)
	}
	out := map[search.Box]int{}
	var mb, f string
	var n int64
	if _, err := pgx.ForEachRow(rows, []any{&mb, &f, &n}, func() error {
		out[boxOf(mb, f)] = int(n)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("search index folders: %w", err)
	}
	return out, nil
}

// Optimize refreshes the planner's statistics of the tables after a bulk
// load and merges the GIN index's pending entries (see search.Index).
func (ix *Index) Optimize(ctx context.Context) error {
	if _, err := ix.db.Pool.Exec(ctx, `ANALYZE aimx.search_boxes, aimx.search_docs`); err != nil {
		return fmt.Errorf("search index optimize: %w", err)
	}
	if _, err := ix.db.Pool.Exec(ctx, `SELECT gin_clean_pending_list('aimx.search_docs_tsv'::regclass)`); err != nil {
		return fmt.Errorf("search index optimize: %w", err)
	}
	return nil
}
