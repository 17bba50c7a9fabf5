package pgsearch

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/internal/pgtest"
	"github.com/aimx-dev/aimx/search"
	"github.com/aimx-dev/aimx/storage"
)

// BenchmarkSearch indexes benchDocs messages of made-up Zipf text (about
// 200 words a body) in 100 mailboxes, then times queries over all of them
// for a common, a medium and a rare word, and reports each one's p99
// (go test -run '^$' -bench Search ./pgstore/pgsearch/).
func BenchmarkSearch(b *testing.B) {
	const benchDocs, mailboxes = 100_000, 100
	ctx := context.Background()
	ix := openIndex(b, pgtest.DSN(b), "bench")
	r := rand.New(rand.NewPCG(1, 2))
	zipf := rand.NewZipf(r, 1.1, 1, 50_000)
	word := func() string { return fmt.Sprintf("w%d", zipf.Uint64()) }
	boxes := make([]search.Box, mailboxes)
	for i := range boxes {
		boxes[i] = search.Box{Mailbox: fmt.Sprintf("m%d@x.test", i), Folder: storage.Inbox}
	}
	start := time.Now()
	for n := 0; n < benchDocs; n += 1000 {
		docs := make([]search.Doc, 1000)
		for i := range docs {
			var body strings.Builder
			for range 200 {
				body.WriteString(word() + " ")
			}
			docs[i] = search.Doc{Key: search.Key{Box: boxes[(n+i)%mailboxes], ID: fmt.Sprintf("d%07d", n+i)},
				At: time.Unix(int64(1e9+n+i), 0), Subject: word() + " " + word(), From: "a@b.test", To: "c@d.test", Body: body.String()}
		}
		if err := ix.Add(ctx, docs); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("indexed %d in %s (%.0f msg/s)", benchDocs, time.Since(start), benchDocs/time.Since(start).Seconds())
	if err := ix.Optimize(ctx); err != nil {
		b.Fatal(err)
	}
	var size int64
	_ = ix.db.Pool.QueryRow(ctx, `SELECT pg_total_relation_size('aimx.search_docs')`).Scan(&size)
	b.Logf("aimx.search_docs: %d MB", size>>20)
	for _, q := range []string{"w1", "w200", "w20000", "w1 w2", "w3*"} {
		e, err := search.ParseQuery(q)
		if err != nil {
			b.Fatal(err)
		}
		var took []time.Duration
		for range 30 {
			t0 := time.Now()
			if _, err := ix.Search(ctx, search.Query{Expr: e, Boxes: boxes, Limit: 20}); err != nil {
				b.Fatal(err)
			}
			took = append(took, time.Since(t0))
		}
		slices.Sort(took)
		b.Logf("%-8s p50 %s p99 %s", q, took[len(took)/2], took[len(took)*99/100])
	}
}
