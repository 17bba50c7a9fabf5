package search

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Ranking (book/search.md, "Ranking"). With detail=column the index
// records which columns hold a word, not how often, and FTS5's bm25()
// then scores every row 0; so the newest RankWindow matches are scored
// here, BM25F with a binary term frequency: for each query word, its IDF
// times the sum over the columns that hold it of the column's weight,
// normalized by the column's length in that message against the average.

// textColumns are the searchable fts columns, in table order after box,
// with their weights: a word in the subject counts four times one in the
// body, the sender twice.
var textColumns = [...]struct {
	name   string
	weight float64
}{{"subject", 4}, {"sender", 2}, {"rcpt", 1}, {"body", 1}}

// BM25 parameters (the usual ones).
const (
	bm25K1 = 1.2
	bm25B  = 0.75
	// idfCap bounds the count behind a word's IDF; past it every word is
	// equally common.
	idfCap = 10000
)

// candidate is one row of the window being ranked.
type candidate struct {
	id    int64
	score float64
}

// rank scores the candidate rows ids (newest first), the matches of the
// FTS5 expression match (the query and its folder filter), for e and
// returns them best first (newer first on ties).
func (f *FTS) rank(ctx context.Context, ids []int64, e *Expr, match string) ([]candidate, error) {
	cands := make([]candidate, len(ids))
	pos := make(map[int64]int, len(ids))
	for i, id := range ids {
		cands[i].id = id
		pos[id] = i
	}
	lo, hi := ids[len(ids)-1], ids[0]
	lens, err := f.docLengths(ctx, ids)
	if err != nil {
		return nil, err
	}
	nRows, avg, err := f.averages(ctx)
	if err != nil {
		return nil, err
	}
	for _, t := range e.Positive() {
		for i, w := range t.Words {
			if t.Prefix && i == len(t.Words)-1 {
				// A prefix expands to every word it begins, and FTS5
				// merges their rows for each query that names it: it
				// counts for matching, not for ranking (book/search.md).
				continue
			}
			word := quoteWord(w, false)
			idf, err := f.idf(ctx, word, nRows)
			if err != nil {
				return nil, err
			}
			for c, col := range textColumns {
				if t.Field != "" && ftsColumns[t.Field] != col.name {
					continue
				}
				// Within the matches only: FTS5 then skips through the
				// word's rows instead of reading all of them.
				expr := "(" + match + ") AND " + col.name + " : " + word
				rows, err := f.r.QueryContext(ctx, `SELECT rowid FROM fts WHERE fts MATCH ? AND rowid BETWEEN ? AND ?`, expr, lo, hi)
				if err != nil {
					return nil, queryErr(err)
				}
				for rows.Next() {
					var id int64
					if err := rows.Scan(&id); err != nil {
						rows.Close()
						return nil, fmt.Errorf("search rank: %w", err)
					}
					j, ok := pos[id]
					if !ok {
						continue
					}
					norm := 1.0
					if a := avg[c]; a > 0 {
						norm = 1 - bm25B + bm25B*float64(lens[j][c])/a
					}
					cands[j].score += idf * col.weight * (bm25K1 + 1) / (1 + bm25K1*norm)
				}
				err = rows.Err()
				rows.Close()
				if err != nil {
					return nil, queryErr(err)
				}
			}
		}
	}
	slices.SortStableFunc(cands, func(a, b candidate) int {
		if a.score != b.score {
			if a.score > b.score {
				return -1
			}
			return 1
		}
		if a.id > b.id {
			return -1
		}
		return 1
	})
	return cands, nil
}

// quoteWord is a word as an FTS5 string, a prefix query when prefix.
func quoteWord(w string, prefix bool) string {
	q := `"` + strings.ReplaceAll(w, `"`, `""`) + `"`
	if prefix {
		q += " *"
	}
	return q
}

// idf is the inverse document frequency of word over the whole index,
// its count capped at idfCap (never negative).
func (f *FTS) idf(ctx context.Context, word string, nRows int64) (float64, error) {
	var n int64
	err := f.r.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT rowid FROM fts WHERE fts MATCH ? LIMIT ?)`,
		ftsColumns[""]+" : "+word, idfCap).Scan(&n)
	if err != nil {
		return 0, queryErr(err)
	}
	return math.Log(1 + (float64(nRows)-float64(n)+0.5)/(float64(n)+0.5)), nil
}

// docLengths reads the token count of each text column of the rows ids
// from FTS5's docsize table, in the order of ids (looked up by id: a
// range scan would read every row between the oldest and the newest
// match, which for a rare word is the whole table).
func (f *FTS) docLengths(ctx context.Context, ids []int64) ([][len(textColumns)]int, error) {
	out := make([][len(textColumns)]int, len(ids))
	pos := make(map[int64]int, len(ids))
	for i, id := range ids {
		pos[id] = i
	}
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		q := `SELECT id, sz FROM fts_docsize WHERE id IN (?` + strings.Repeat(",?", len(chunk)-1) + `)`
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		rows, err := f.r.QueryContext(ctx, q, args...)
		if err != nil {
			return nil, fmt.Errorf("search rank: %w", err)
		}
		for rows.Next() {
			var id int64
			var sz []byte
			if err := rows.Scan(&id, &sz); err != nil {
				rows.Close()
				return nil, fmt.Errorf("search rank: %w", err)
			}
			j, ok := pos[id]
			if !ok {
				continue
			}
			sizes := varints(sz)
			for c := range textColumns {
				if c+1 < len(sizes) {
					out[j][c] = int(sizes[c+1]) // sizes[0] is the box column
				}
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("search rank: %w", err)
		}
	}
	return out, nil
}

// averages reads FTS5's averages record (row 1 of fts_data: the row count
// and each column's total token count) as the row count and the average
// length of each text column.
func (f *FTS) averages(ctx context.Context) (int64, [len(textColumns)]float64, error) {
	var avg [len(textColumns)]float64
	var blob []byte
	err := f.r.QueryRowContext(ctx, `SELECT block FROM fts_data WHERE id = 1`).Scan(&blob)
	if err == sql.ErrNoRows {
		return 0, avg, nil
	}
	if err != nil {
		return 0, avg, fmt.Errorf("search rank: %w", err)
	}
	v := varints(blob)
	if len(v) == 0 || v[0] == 0 {
		return 0, avg, nil
	}
	for c := range textColumns {
		if c+2 < len(v) {
			avg[c] = float64(v[c+2]) / float64(v[0]) // v[1] is the box column
		}
	}
	return int64(v[0]), avg, nil
}

// varints decodes a run of SQLite varints (big-endian, seven bits a byte,
// the ninth byte whole), as FTS5 writes its size records.
func varints(b []byte) []uint64 {
	var out []uint64
	for len(b) > 0 {
		var v uint64
		n := 0
		for n < 8 && n < len(b) {
			v = v<<7 | uint64(b[n]&0x7f)
			n++
			if b[n-1]&0x80 == 0 {
				break
			}
		}
		if n == 8 && b[7]&0x80 != 0 && len(b) > 8 {
			v = v<<8 | uint64(b[8])
			n = 9
		}
		out = append(out, v)
		b = b[n:]
	}
	return out
}
