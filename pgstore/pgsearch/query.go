package pgsearch

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/aimx-dev/aimx/search"
	"github.com/aimx-dev/aimx/storage"
)

// Ranking, as the SQLite index ranks (book/search.md, "Ranking"): BM25F
// with a binary term frequency over the newest search.RankWindow matches;
// a word in the subject counts four times one in the body, the sender
// twice.
var fieldWeight = [nFields]float64{4, 2, 1, 1}

// BM25 parameters and the IDF count cap, the SQLite index's.
const (
	bm25K1 = 1.2
	bm25B  = 0.75
	idfCap = 10000
)

func boxOf(mailbox, folder string) search.Box {
	return search.Box{Mailbox: mailbox, Folder: storage.Folder(folder)}
}

// candidate is one row of the ranked window.
type candidate struct {
	box   int32
	id    string
	lens  [nFields]int
	held  []bool // per fieldChecks entry: the field holds the word
	score float64
}

// Search runs one query (see search.Index): the folder filter is part of
// the SQL, so a folder outside q.Boxes is neither counted nor ranked, and
// every hit is checked against q.Boxes again.
func (ix *Index) Search(ctx context.Context, q search.Query) (*search.Result, error) {
	if q.Offset+q.Limit > search.RankWindow {
		return nil, search.ErrPastWindow
	}
	if q.Expr == nil {
		return &search.Result{}, nil
	}
	tsq := queryText(q.Expr)
	if tsq == "" {
		return &search.Result{}, nil
	}
	allowed, filter, ok, err := ix.boxFilter(ctx, q.Boxes)
	if err != nil || !ok {
		return &search.Result{}, err
	}
	// filter nil: the boxes cover every folder with documents.
	where := `tsv @@ $1::tsquery`
	args := []any{tsq}
	if filter != nil {
		where += ` AND box = ANY($2::int[])`
		args = append(args, filter)
	}
	var total int
	// Exec mode: planned with the query's words (a prepared statement's
	// generic plan cannot tell a rare word from a common one).
	err = ix.db.Pool.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM aimx.search_docs WHERE `+where+` LIMIT `+fmt.Sprint(search.TotalCap+1)+`) s`,
		append([]any{pgx.QueryExecModeExec}, args...)...).Scan(&total)
	if err != nil {
		return nil, queryErr(err)
	}
	res := &search.Result{Total: min(total, search.TotalCap), Capped: total > search.TotalCap}
	if total == 0 || q.Limit <= 0 {
		return res, nil
	}
	rw := rankWords(q.Expr)
	checks := fieldChecks(rw)
	// The newest RankWindow matches, with which fields hold each word that
	// ranks (one tsquery per word and field), computed in the outer query
	// so only the window's rows pay for it.
	found := `'{}'::boolean[]`
	wargs := slices.Clone(args)
	if len(checks) > 0 {
		qs := make([]string, len(checks))
		for i, c := range checks {
			var b strings.Builder
			quote(&b, c.word)
			b.WriteByte(':')
			b.WriteByte(weights[c.field])
			qs[i] = b.String()
		}
		wargs = append(wargs, qs)
		found = `ARRAY(SELECT w.tsv @@ c.q FROM unnest($` + fmt.Sprint(len(wargs)) + `::tsquery[]) WITH ORDINALITY AS c(q, n) ORDER BY c.n)`
	}
	rows, err := ix.db.Pool.Query(ctx, `SELECT w.box, w.id, w.len_subject, w.len_sender, w.len_rcpt, w.len_body, `+found+`
FROM (SELECT box, id, at, seq, len_subject, len_sender, len_rcpt, len_body, tsv FROM aimx.search_docs
	WHERE `+where+` ORDER BY at DESC, seq DESC LIMIT `+fmt.Sprint(search.RankWindow)+`) w
ORDER BY w.at DESC, w.seq DESC`, append([]any{pgx.QueryExecModeExec}, wargs...)...)
	if err != nil {
		return nil, queryErr(err)
	}
	var cands []*candidate
	var c candidate
	var held []bool
	if _, err := pgx.ForEachRow(rows, []any{&c.box, &c.id, &c.lens[0], &c.lens[1], &c.lens[2], &c.lens[3], &held}, func() error {
		cc := c
		cc.held = slices.Clone(held)
		cands = append(cands, &cc)
		return nil
	}); err != nil {
		return nil, queryErr(err)
	}
	if len(cands) <= q.Offset {
		return res, nil
	}
	if err := ix.rank(ctx, cands, checks); err != nil {
		return nil, err
	}
	for _, c := range cands[q.Offset:min(len(cands), q.Offset+q.Limit)] {
		b, ok := allowed[c.box]
		if !ok {
			continue // never trusted for visibility: a row of another folder is dropped
		}
		res.Hits = append(res.Hits, search.Hit{Key: search.Key{Box: b, ID: c.id}, Score: c.score})
	}
	return res, nil
}

// boxFilter reads the ids of the boxes that have documents: allowed maps
// them to their box, filter lists them (nil when they are every folder
// with documents), and ok is false when none has any.
func (ix *Index) boxFilter(ctx context.Context, boxes []search.Box) (allowed map[int32]search.Box, filter []int32, ok bool, err error) {
	if len(boxes) == 0 {
		return nil, nil, false, nil
	}
	boxes = sortedBoxes(boxes)
	mbs, fs := make([]string, len(boxes)), make([]string, len(boxes))
	for i, b := range boxes {
		mbs[i], fs[i] = b.Mailbox, string(b.Folder)
	}
	rows, err := ix.db.Pool.Query(ctx, `SELECT id, mailbox, folder, (SELECT count(*) FROM aimx.search_boxes WHERE docs > 0)
FROM aimx.search_boxes WHERE docs > 0 AND (mailbox, folder) IN (SELECT * FROM unnest($1::text[], $2::text[]))`, mbs, fs)
	if err != nil {
		return nil, nil, false, fmt.Errorf("search: folders: %w", err)
	}
	allowed = map[int32]search.Box{}
	var id int32
	var mb, f string
	var all int64
	if _, err := pgx.ForEachRow(rows, []any{&id, &mb, &f, &all}, func() error {
		allowed[id] = boxOf(mb, f)
		filter = append(filter, id)
		return nil
	}); err != nil {
		return nil, nil, false, fmt.Errorf("search: folders: %w", err)
	}
	if len(filter) == 0 {
		return nil, nil, false, nil
	}
	if int64(len(filter)) == all {
		filter = nil
	}
	return allowed, filter, true, nil
}

// fieldCheck is one word in one field that the ranking scores.
type fieldCheck struct {
	word  string
	field int
}

// maxRankWords bounds the distinct words that count for ranking; further
// ones count for matching only (book/search.md).
const maxRankWords = 32

// fieldChecks lists each ranking word in each field it counts in: the
// term's field, or all four.
func fieldChecks(rw []rankWord) []fieldCheck {
	var out []fieldCheck
	words := map[string]bool{}
	for _, w := range rw {
		if !words[w.word] && len(words) == maxRankWords {
			continue
		}
		words[w.word] = true
		for f := range nFields {
			c := fieldCheck{w.word, f}
			if (w.field < 0 || w.field == f) && !slices.Contains(out, c) {
				out = append(out, c)
			}
		}
	}
	return out
}

// rank scores the candidates (newest first) and sorts them best first,
// newer first on ties.
func (ix *Index) rank(ctx context.Context, cands []*candidate, checks []fieldCheck) error {
	var nRows int64
	var sum [nFields]int64
	err := ix.db.Pool.QueryRow(ctx, `SELECT coalesce(sum(docs), 0), coalesce(sum(len_subject), 0), coalesce(sum(len_sender), 0),
coalesce(sum(len_rcpt), 0), coalesce(sum(len_body), 0) FROM aimx.search_boxes`).Scan(&nRows, &sum[0], &sum[1], &sum[2], &sum[3])
	if err != nil {
		return fmt.Errorf("search rank: %w", err)
	}
	var avg [nFields]float64
	if nRows > 0 {
		for f := range avg {
			avg[f] = float64(sum[f]) / float64(nRows)
		}
	}
	idfs := map[string]float64{}
	for _, c := range checks {
		if _, ok := idfs[c.word]; ok {
			continue
		}
		var b strings.Builder
		quote(&b, c.word)
		var n int64
		err := ix.db.Pool.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM aimx.search_docs WHERE tsv @@ $1::tsquery LIMIT `+fmt.Sprint(idfCap)+`) s`,
			pgx.QueryExecModeExec, b.String()).Scan(&n)
		if err != nil {
			return queryErr(err)
		}
		idfs[c.word] = math.Log(1 + (float64(nRows)-float64(n)+0.5)/(float64(n)+0.5))
	}
	for _, cand := range cands {
		for i, c := range checks {
			if i >= len(cand.held) || !cand.held[i] {
				continue
			}
			norm := 1.0
			if avg[c.field] > 0 {
				norm = 1 - bm25B + bm25B*float64(cand.lens[c.field])/avg[c.field]
			}
			cand.score += idfs[c.word] * fieldWeight[c.field] * (bm25K1 + 1) / (1 + bm25K1*norm)
		}
	}
	slices.SortStableFunc(cands, func(a, b *candidate) int {
		switch {
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		}
		return 0 // stable: the window's order, newest first
	})
	return nil
}

// queryErr turns PostgreSQL's refusal of a tsquery into a search.QueryError;
// anything else stays internal.
func queryErr(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (strings.HasPrefix(pe.Code, "22") || strings.HasPrefix(pe.Code, "42601")) {
		return &search.QueryError{Msg: "the query could not be searched; use plain words, \"quoted words\", field:word, word* and -word."}
	}
	return fmt.Errorf("search: %w", err)
}
