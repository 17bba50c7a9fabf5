package search

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// rowBase is the first row id of documents received at t.
func rowBase(t time.Time) int64 {
	s := t.Unix() - epoch
	if s < 0 || t.IsZero() {
		s = 0
	}
	return s * rowsPerSecond
}

// Add indexes docs in one transaction (see Index).
func (f *FTS) Add(ctx context.Context, docs []Doc) error {
	if len(docs) == 0 {
		return nil
	}
	return f.write(ctx, func(tx *sql.Tx) error {
		exists, err := tx.PrepareContext(ctx, `SELECT 1 FROM docs WHERE box = ? AND stem = ?`)
		if err != nil {
			return fmt.Errorf("search index add: %w", err)
		}
		defer exists.Close()
		last, err := tx.PrepareContext(ctx, `SELECT max(id) FROM docs WHERE id >= ? AND id < ?`)
		if err != nil {
			return fmt.Errorf("search index add: %w", err)
		}
		defer last.Close()
		insDoc, err := tx.PrepareContext(ctx, `INSERT INTO docs(id, box, stem) VALUES(?, ?, ?)`)
		if err != nil {
			return fmt.Errorf("search index add: %w", err)
		}
		defer insDoc.Close()
		insFTS, err := tx.PrepareContext(ctx, `INSERT INTO fts(rowid, box, subject, sender, rcpt, body) VALUES(?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return fmt.Errorf("search index add: %w", err)
		}
		defer insFTS.Close()
		for _, d := range docs {
			box, err := f.boxID(ctx, tx, d.Box, true)
			if err != nil {
				return err
			}
			var one int
			switch err := exists.QueryRowContext(ctx, box, d.ID).Scan(&one); {
			case err == nil:
				continue // already indexed: a message's text never changes
			case !errors.Is(err, sql.ErrNoRows):
				return fmt.Errorf("search index add: %w", err)
			}
			id, err := freeRow(ctx, last, rowBase(d.At))
			if err != nil {
				return err
			}
			if _, err := insDoc.ExecContext(ctx, id, box, d.ID); err != nil {
				return fmt.Errorf("search index add %s: %w", d.ID, err)
			}
			if _, err := insFTS.ExecContext(ctx, id, boxToken(box), d.Subject, d.From, d.To, d.Body); err != nil {
				return fmt.Errorf("search index add %s: %w", d.ID, err)
			}
			f.counts[box]++
		}
		return nil
	})
}

// freeRow returns the first unused row id at or after base, moving on to
// the next seconds' ranges when one is full.
func freeRow(ctx context.Context, last *sql.Stmt, base int64) (int64, error) {
	for {
		var m sql.NullInt64
		if err := last.QueryRowContext(ctx, base, base+rowsPerSecond).Scan(&m); err != nil {
			return 0, fmt.Errorf("search index add: %w", err)
		}
		if !m.Valid {
			return base, nil
		}
		if m.Int64+1 < base+rowsPerSecond {
			return m.Int64 + 1, nil
		}
		base += rowsPerSecond
	}
}

// boxToken is the word the box column holds for a folder id.
func boxToken(id int64) string { return fmt.Sprintf("b%d", id) }

// Delete removes keys (see Index).
func (f *FTS) Delete(ctx context.Context, keys []Key) error {
	if len(keys) == 0 {
		return nil
	}
	return f.write(ctx, func(tx *sql.Tx) error {
		for _, k := range keys {
			box, _ := f.boxID(ctx, tx, k.Box, false)
			if box == 0 {
				continue
			}
			var id int64
			err := tx.QueryRowContext(ctx, `SELECT id FROM docs WHERE box = ? AND stem = ?`, box, k.ID).Scan(&id)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return fmt.Errorf("search index delete: %w", err)
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM fts WHERE rowid = ?`, id); err != nil {
				return fmt.Errorf("search index delete: %w", err)
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM docs WHERE id = ?`, id); err != nil {
				return fmt.Errorf("search index delete: %w", err)
			}
			f.counts[box]--
		}
		return nil
	})
}

// DeleteBox removes a folder and its documents (see Index).
func (f *FTS) DeleteBox(ctx context.Context, b Box) error {
	return f.write(ctx, func(tx *sql.Tx) error {
		box, _ := f.boxID(ctx, tx, b, false)
		if box == 0 {
			return nil
		}
		for _, q := range []string{`DELETE FROM fts WHERE rowid IN (SELECT id FROM docs WHERE box = ?)`,
			`DELETE FROM docs WHERE box = ?`, `DELETE FROM boxes WHERE id = ?`} {
			if _, err := tx.ExecContext(ctx, q, box); err != nil {
				return fmt.Errorf("search index delete %s/%s: %w", b.Mailbox, b.Folder, err)
			}
		}
		delete(f.counts, box)
		delete(f.ids, b)
		delete(f.boxes, box)
		return nil
	})
}

// IDs lists a folder's indexed ids (see Index).
func (f *FTS) IDs(ctx context.Context, b Box) ([]string, error) {
	f.mu.Lock()
	box := f.ids[b]
	f.mu.Unlock()
	if box == 0 {
		return nil, nil
	}
	rows, err := f.r.QueryContext(ctx, `SELECT stem FROM docs WHERE box = ?`, box)
	if err != nil {
		return nil, fmt.Errorf("search index ids: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, fmt.Errorf("search index ids: %w", err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// Boxes reports the folders with documents (see Index).
func (f *FTS) Boxes(context.Context) (map[Box]int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[Box]int, len(f.counts))
	for id, n := range f.counts {
		if n > 0 {
			out[f.boxes[id]] = n
		}
	}
	return out, nil
}

// Optimize merges the index's segments into one and gives the freed
// pages back to the file system (see Index).
func (f *FTS) Optimize(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.w.ExecContext(ctx, `INSERT INTO fts(fts) VALUES('optimize')`); err != nil {
		return fmt.Errorf("search index optimize: %w", err)
	}
	if _, err := f.w.ExecContext(ctx, `PRAGMA incremental_vacuum`); err != nil {
		return fmt.Errorf("search index vacuum: %w", err)
	}
	if _, err := f.w.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return fmt.Errorf("search index checkpoint: %w", err)
	}
	return nil
}

// Search runs one query (see Index): the visibility filter is part of the
// FTS5 expression, so a folder outside q.Boxes is neither counted nor
// ranked. The newest RankWindow matches are ranked (ftsrank.go).
func (f *FTS) Search(ctx context.Context, q Query) (*Result, error) {
	if q.Offset+q.Limit > RankWindow {
		return nil, ErrPastWindow
	}
	filter, ok := f.boxFilter(q.Boxes)
	if !ok {
		return &Result{}, nil
	}
	expr := ftsExpr(q.Expr)
	if filter != "" {
		expr = filter + " AND (" + expr + ")"
	}
	var total int
	err := f.r.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT rowid FROM fts WHERE fts MATCH ? LIMIT ?)`, expr, TotalCap+1).Scan(&total)
	if err != nil {
		return nil, queryErr(err)
	}
	res := &Result{Total: min(total, TotalCap), Capped: total > TotalCap}
	if total == 0 || q.Limit <= 0 {
		return res, nil
	}
	// The newest RankWindow matches, ranked here (ftsrank.go).
	rows, err := f.r.QueryContext(ctx, `SELECT rowid FROM fts WHERE fts MATCH ? ORDER BY rowid DESC LIMIT ?`, expr, RankWindow)
	if err != nil {
		return nil, queryErr(err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("search: %w", err)
		}
		ids = append(ids, id)
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return nil, queryErr(err)
	}
	if len(ids) <= q.Offset {
		return res, nil
	}
	ranked, err := f.rank(ctx, ids, q.Expr, expr)
	if err != nil {
		return nil, err
	}
	allowed := make(map[Box]bool, len(q.Boxes))
	for _, b := range q.Boxes {
		allowed[b] = true
	}
	for _, c := range ranked[q.Offset:min(len(ranked), q.Offset+q.Limit)] {
		var box int64
		var stem string
		err := f.r.QueryRowContext(ctx, `SELECT box, stem FROM docs WHERE id = ?`, c.id).Scan(&box, &stem)
		if errors.Is(err, sql.ErrNoRows) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("search: %w", err)
		}
		f.mu.Lock()
		b, known := f.boxes[box]
		f.mu.Unlock()
		// Never trusted for visibility: a row of another folder is
		// dropped here even if the filter let it through.
		if !known || !allowed[b] {
			continue
		}
		res.Hits = append(res.Hits, Hit{Key: Key{Box: b, ID: stem}, Score: c.score})
	}
	return res, nil
}

// boxFilter is the expression limiting a query to boxes: "" when they
// cover every folder in the index, and ok false when none of them has a
// document.
func (f *FTS) boxFilter(boxes []Box) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var toks []string
	seen := map[int64]bool{}
	for _, b := range boxes {
		if id, ok := f.ids[b]; ok && f.counts[id] > 0 && !seen[id] {
			seen[id] = true
			toks = append(toks, boxToken(id))
		}
	}
	if len(toks) == 0 {
		return "", false
	}
	all := 0
	for _, n := range f.counts {
		if n > 0 {
			all++
		}
	}
	if len(toks) == all {
		return "", true
	}
	return "box : (" + strings.Join(toks, " OR ") + ")", true
}

// ftsColumns maps a query field to its fts column set.
var ftsColumns = map[string]string{"": "{subject sender rcpt body}", "from": "sender", "to": "rcpt", "subject": "subject", "body": "body"}

// ftsExpr writes a parsed query as an FTS5 expression. Every word is a
// quoted string, so nothing the caller typed is read as syntax.
func ftsExpr(e *Expr) string {
	var pos, neg []string
	for _, t := range e.Terms {
		words := make([]string, len(t.Words))
		for i, w := range t.Words {
			words[i] = quoteWord(w, t.Prefix && i == len(t.Words)-1)
		}
		s := ftsColumns[t.Field] + " : (" + strings.Join(words, " AND ") + ")"
		if t.Not {
			neg = append(neg, s)
		} else {
			pos = append(pos, s)
		}
	}
	out := "(" + strings.Join(pos, " AND ") + ")"
	if len(neg) > 0 {
		out += " NOT (" + strings.Join(neg, " OR ") + ")"
	}
	return out
}

// queryErr turns an FTS5 complaint about the expression into a
// QueryError; anything else stays internal.
func queryErr(err error) error {
	if strings.Contains(err.Error(), "fts5:") {
		return &QueryError{"the query could not be searched; use plain words, \"quoted words\", field:word, word* and -word."}
	}
	return fmt.Errorf("search: %w", err)
}
