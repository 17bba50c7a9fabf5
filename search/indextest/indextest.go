// Package indextest is the behaviour suite every search.Index passes
// (book/search.md): matching, visibility, counting, paging, ranking and
// the bookkeeping reconciliation relies on. The SQLite index runs it in
// package search, the postgres backend's in pgstore/pgsearch.
package indextest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/search"
	"github.com/aimx-dev/aimx/storage"
)

// Open returns a new, empty index for one test; the suite closes it.
type Open func(t *testing.T) search.Index

// Run runs every case against indexes open returns.
func Run(t *testing.T, open Open) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, search.Index)
	}{
		{"VisibilityFilterAndCount", visibility},
		{"Matching", matching},
		{"AnyQueryTextRunsOrIsRefused", anyQueryText},
		{"Ranking", ranking},
		{"AddKeepsTheFirstText", addIdempotent},
		{"ConcurrentAddsCountOnce", concurrentAdds},
		{"DeleteAndBookkeeping", bookkeeping},
		{"PagingAndWindow", paging},
		{"TotalCap", totalCap},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ix := open(t)
			t.Cleanup(func() { _ = ix.Close() })
			tc.fn(t, ix)
		})
	}
}

// The folders the cases index.
var (
	boxA = search.Box{Mailbox: "a@x.test", Folder: storage.Inbox}
	boxB = search.Box{Mailbox: "b@x.test", Folder: storage.Inbox}
	boxS = search.Box{Mailbox: "a@x.test", Folder: storage.Sent}
	boxC = search.Box{Mailbox: "*@x.test", Folder: storage.Inbox}
)

// doc is a message received at second at of a fixed day.
func doc(b search.Box, id string, at int, subject, body string) search.Doc {
	return search.Doc{Key: search.Key{Box: b, ID: id}, At: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(at) * time.Second),
		Subject: subject, From: "Alice <alice@example.test>", To: b.Mailbox, Body: body}
}

func add(t *testing.T, ix search.Index, docs ...search.Doc) {
	t.Helper()
	if err := ix.Add(context.Background(), docs); err != nil {
		t.Fatal(err)
	}
}

func parse(t *testing.T, q string) *search.Expr {
	t.Helper()
	e, err := search.ParseQuery(q)
	if err != nil {
		t.Fatalf("%q: %v", q, err)
	}
	return e
}

// ids runs q over boxes and returns the hits' ids in rank order.
func ids(t *testing.T, ix search.Index, q string, boxes ...search.Box) []string {
	t.Helper()
	res, err := ix.Search(context.Background(), search.Query{Expr: parse(t, q), Boxes: boxes, Limit: search.MaxLimit})
	if err != nil {
		t.Fatalf("%q: %v", q, err)
	}
	out := []string{}
	for _, h := range res.Hits {
		out = append(out, h.ID)
	}
	if res.Total != len(out) {
		t.Errorf("%q: total %d, %d hits", q, res.Total, len(out))
	}
	return out
}

func visibility(t *testing.T, ix search.Index) {
	ctx := context.Background()
	add(t, ix,
		doc(boxA, "a1", 1, "invoice", "the invoice is attached"),
		doc(boxA, "a2", 2, "hello", "nothing here"),
		doc(boxB, "b1", 3, "invoice for b", "secret invoice of b"),
		doc(boxB, "b2", 4, "invoice again", "another secret invoice"),
		doc(boxS, "s1", 5, "re: invoice", "sent invoice"),
		doc(boxC, "c1", 6, "invoice to the catchall", "catchall invoice"))
	for _, tc := range []struct {
		boxes []search.Box
		want  int
	}{{[]search.Box{boxA}, 1}, {[]search.Box{boxB}, 2}, {[]search.Box{boxA, boxS}, 2}, {[]search.Box{boxA, boxB, boxS}, 4},
		{[]search.Box{boxA, boxB, boxS, boxC}, 5}, {[]search.Box{boxC}, 1}, {nil, 0},
		{[]search.Box{{Mailbox: "c@x.test", Folder: storage.Inbox}}, 0}, {[]search.Box{boxA, boxA}, 1}} {
		res, err := ix.Search(ctx, search.Query{Expr: parse(t, "invoice"), Boxes: tc.boxes, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if res.Total != tc.want || len(res.Hits) != tc.want || res.Capped {
			t.Errorf("boxes %v: total %d, %d hits, want %d", tc.boxes, res.Total, len(res.Hits), tc.want)
		}
		for _, h := range res.Hits {
			if !slices.Contains(tc.boxes, h.Box) {
				t.Errorf("boxes %v: hit %v of another folder", tc.boxes, h.Key)
			}
		}
	}
}

func matching(t *testing.T, ix search.Index) {
	d := func(id string, at int, subject, from, to, body string) search.Doc {
		return search.Doc{Key: search.Key{Box: boxA, ID: id}, At: time.Date(2026, 2, 1, 0, 0, at, 0, time.UTC),
			Subject: subject, From: from, To: to, Body: body}
	}
	add(t, ix,
		d("m1", 1, "March invoice", "Alice <alice@example.test>", "billing@x.test", "Please find the invoice for March."),
		d("m2", 2, "Invoices", "Bob <bob@example.test>", "a@x.test", "several invoices, and a refund"),
		d("m3", 3, "Deployment failed", "ci@build.test", "a@x.test", "the deploy of main failed; draft notes below"),
		d("m4", 4, "Café au lait", "Zoë <zoe@example.test>", "a@x.test, Cc Ünal <unal@x.test>", "naïve question about the menu"),
		d("m5", 5, "invoice draft", "Alice <alice@example.test>", "a@x.test", "a draft, not yet sent; march is far"),
		d("m6", 6, "Planning", "Carol <carol@example.test>", "a@x.test", "the invoice from alice is in the body, march too"))
	for _, tc := range []struct {
		q    string
		want []string
	}{
		{"invoice march", []string{"m1", "m5", "m6"}},
		{"INVOICE", []string{"m1", "m5", "m6"}},
		{"invoices", []string{"m2"}}, // no stemming
		{"invoice*", []string{"m1", "m2", "m5", "m6"}},
		{"deploy*", []string{"m3"}},
		{"deploy", []string{"m3"}},
		{"from:alice", []string{"m1", "m5"}},
		{"from:alice@example.test", []string{"m1", "m5"}},
		{"alice", []string{"m1", "m5", "m6"}},
		{"to:billing", []string{"m1"}},
		{"to:unal", []string{"m4"}},
		{"subject:invoice", []string{"m1", "m5"}},
		{"body:refund", []string{"m2"}},
		{"subject:refund", nil},
		{`subject:"march invoice"`, []string{"m1"}},
		{`subject:"invoice march"`, []string{"m1"}}, // all words in the field, in any order
		{`"march invoice"`, []string{"m1", "m5", "m6"}},
		{"invoice -draft", []string{"m1", "m6"}},
		{"invoice -subject:draft", []string{"m1", "m6"}},
		{"invoice -body:draft", []string{"m1", "m6"}},
		{`invoice -"not yet"`, []string{"m1", "m6"}},
		{"cafe", []string{"m4"}},
		{"CAFÉ naive", []string{"m4"}},
		{"zoe", []string{"m4"}},
		{"caf*", []string{"m4"}},
		{"nothing-matches-this", nil},
	} {
		got := ids(t, ix, tc.q, boxA)
		slices.Sort(got)
		if tc.want == nil {
			tc.want = []string{}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%q: %v, want %v", tc.q, got, tc.want)
		}
	}
}

func anyQueryText(t *testing.T, ix search.Index) {
	ctx := context.Background()
	add(t, ix, doc(boxA, "a1", 1, "x", "some text"))
	for _, q := range []string{`"`, `a"b`, `*`, `x*y`, `-x y`, `İstanbul`, `naïve café`, `from:`, `:x`, `a:b:c`, `(x)`, `x AND`, `日本語`,
		`'quoted'`, `a\b`, `x & y | !z`, `<-> <2>`, `a:*`, `x:A`, "\x00", `ÿ*`} {
		e, err := search.ParseQuery(q)
		if err != nil {
			var qe *search.QueryError
			if !errors.As(err, &qe) {
				t.Errorf("%q: %v, want a QueryError", q, err)
			}
			continue
		}
		if _, err := ix.Search(ctx, search.Query{Expr: e, Boxes: []search.Box{boxA}, Limit: 5}); err != nil {
			t.Errorf("%q: %v", q, err)
		}
	}
}

func ranking(t *testing.T, ix search.Index) {
	long := strings.Repeat("filler words of a long body ", 40)
	add(t, ix,
		doc(boxA, "body-long", 1, "hello", long+"budget"),
		doc(boxA, "subject", 2, "budget", "nothing"),
		doc(boxA, "body-short", 3, "hello", "budget"),
		doc(boxA, "other1", 4, "unrelated", "words"),
		doc(boxA, "other2", 5, "unrelated", "words"),
		doc(boxA, "tie-old", 6, "tie", "same"),
		doc(boxA, "tie-new", 7, "tie", "same"))
	if got := ids(t, ix, "budget", boxA); !slices.Equal(got, []string{"subject", "body-short", "body-long"}) {
		t.Errorf("budget ranks %v: want the subject, then the short body, then the long one", got)
	}
	if got := ids(t, ix, "tie", boxA); !slices.Equal(got, []string{"tie-new", "tie-old"}) {
		t.Errorf("tie ranks %v: want the newer first", got)
	}
	if got := ids(t, ix, "budg*", boxA); !slices.Equal(got, []string{"body-short", "subject", "body-long"}) {
		t.Errorf("a prefix alone ranks %v: want newest first", got)
	}
	res, err := ix.Search(context.Background(), search.Query{Expr: parse(t, "budget"), Boxes: []search.Box{boxA}, Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(res.Hits); i++ {
		if res.Hits[i].Score > res.Hits[i-1].Score || res.Hits[i].Score <= 0 {
			t.Errorf("scores %v: want positive, best first", res.Hits)
		}
	}
}

func addIdempotent(t *testing.T, ix search.Index) {
	ctx := context.Background()
	add(t, ix, doc(boxA, "a1", 1, "first", "original text"))
	add(t, ix, doc(boxA, "a1", 1, "second", "replacement text"), doc(boxA, "a1", 1, "third", "again"))
	if got := ids(t, ix, "original", boxA); !slices.Equal(got, []string{"a1"}) {
		t.Errorf("original: %v", got)
	}
	if got := ids(t, ix, "replacement", boxA); len(got) != 0 {
		t.Errorf("replacement: %v, want the first text kept", got)
	}
	boxes, err := ix.Boxes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if boxes[boxA] != 1 {
		t.Errorf("Boxes %v, want one document in %v", boxes, boxA)
	}
}

// concurrentAdds adds the same documents from several writers at once, as
// several nodes do: each is indexed and counted once.
func concurrentAdds(t *testing.T, ix search.Index) {
	ctx := context.Background()
	var docs []search.Doc
	for i := range 60 {
		b := []search.Box{boxA, boxB, boxS}[i%3]
		docs = append(docs, doc(b, fmt.Sprintf("m%02d", i), i, "race", fmt.Sprintf("body %d", i)))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Go(func() {
			mine := slices.Clone(docs)
			if w%2 == 1 {
				slices.Reverse(mine)
			}
			for start := 0; start < len(mine); start += 7 {
				if err := ix.Add(ctx, mine[start:min(start+7, len(mine))]); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	boxes, err := ix.Boxes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if boxes[boxA] != 20 || boxes[boxB] != 20 || boxes[boxS] != 20 || len(boxes) != 3 {
		t.Errorf("Boxes %v, want 20 in each of three folders", boxes)
	}
	if got := ids(t, ix, "race", boxA, boxB, boxS); len(got) != 60 {
		t.Errorf("race: %d hits, want 60", len(got))
	}
}

func bookkeeping(t *testing.T, ix search.Index) {
	ctx := context.Background()
	add(t, ix,
		doc(boxA, "a1", 1, "keep", "x"), doc(boxA, "a2", 2, "drop", "x"), doc(boxA, "a3", 3, "keep", "x"),
		doc(boxB, "b1", 4, "keep", "x"), doc(boxS, "s1", 5, "keep", "x"))
	if err := ix.Delete(ctx, []search.Key{{Box: boxA, ID: "a2"}, {Box: boxA, ID: "nope"},
		{Box: search.Box{Mailbox: "z@x.test", Folder: storage.Inbox}, ID: "a1"}}); err != nil {
		t.Fatal(err)
	}
	if err := ix.Delete(ctx, nil); err != nil {
		t.Fatal(err)
	}
	got, err := ix.IDs(ctx, boxA)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"a1", "a3"}) {
		t.Errorf("IDs(boxA) = %v", got)
	}
	if got := ids(t, ix, "drop", boxA); len(got) != 0 {
		t.Errorf("a deleted message is found: %v", got)
	}
	if err := ix.DeleteBox(ctx, boxB); err != nil {
		t.Fatal(err)
	}
	if err := ix.DeleteBox(ctx, search.Box{Mailbox: "z@x.test", Folder: storage.Inbox}); err != nil {
		t.Fatal(err)
	}
	boxes, err := ix.Boxes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[search.Box]int{boxA: 2, boxS: 1}; len(boxes) != len(want) || boxes[boxA] != 2 || boxes[boxS] != 1 {
		t.Errorf("Boxes = %v, want %v", boxes, want)
	}
	if got, err := ix.IDs(ctx, boxB); err != nil || len(got) != 0 {
		t.Errorf("IDs of a removed folder = %v, %v", got, err)
	}
	if got := ids(t, ix, "keep", boxA, boxB, boxS); len(got) != 3 {
		t.Errorf("keep after the removals: %v", got)
	}
	// A removed folder can be indexed again.
	add(t, ix, doc(boxB, "b2", 6, "keep", "x"))
	if got := ids(t, ix, "keep", boxB); !slices.Equal(got, []string{"b2"}) {
		t.Errorf("keep in the folder indexed again: %v", got)
	}
	if err := ix.Optimize(ctx); err != nil {
		t.Fatal(err)
	}
}

func paging(t *testing.T, ix search.Index) {
	ctx := context.Background()
	var docs []search.Doc
	for i := range 30 {
		docs = append(docs, doc(boxA, fmt.Sprintf("p%02d", i), i, "page", "same text"))
	}
	add(t, ix, docs...)
	var all []string
	for off := 0; off < 40; off += 7 {
		res, err := ix.Search(ctx, search.Query{Expr: parse(t, "page"), Boxes: []search.Box{boxA}, Limit: 7, Offset: off})
		if err != nil {
			t.Fatal(err)
		}
		if res.Total != 30 {
			t.Errorf("offset %d: total %d", off, res.Total)
		}
		for _, h := range res.Hits {
			all = append(all, h.ID)
		}
	}
	want := make([]string, 30)
	for i := range want {
		want[i] = fmt.Sprintf("p%02d", 29-i)
	}
	if !slices.Equal(all, want) {
		t.Errorf("pages %v, want every match once, newest first", all)
	}
	res, err := ix.Search(ctx, search.Query{Expr: parse(t, "page"), Boxes: []search.Box{boxA}, Limit: 0})
	if err != nil || res.Total != 30 || len(res.Hits) != 0 {
		t.Errorf("limit 0: %+v, %v", res, err)
	}
	if _, err := ix.Search(ctx, search.Query{Expr: parse(t, "page"), Boxes: []search.Box{boxA}, Limit: 20, Offset: search.RankWindow - 10}); !errors.Is(err, search.ErrPastWindow) {
		t.Errorf("a page past the window: %v, want ErrPastWindow", err)
	}
}

func totalCap(t *testing.T, ix search.Index) {
	ctx := context.Background()
	n := search.TotalCap + 5
	docs := make([]search.Doc, 0, n)
	for i := range n {
		docs = append(docs, search.Doc{Key: search.Key{Box: boxA, ID: fmt.Sprintf("t%05d", i)},
			At: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second), Subject: "capped", Body: "w"})
	}
	for start := 0; start < n; start += 2500 {
		add(t, ix, docs[start:min(start+2500, n)]...)
	}
	res, err := ix.Search(ctx, search.Query{Expr: parse(t, "capped"), Boxes: []search.Box{boxA}, Limit: 10, Offset: search.RankWindow - 10})
	if err != nil {
		t.Fatal(err)
	}
	if res.Total != search.TotalCap || !res.Capped {
		t.Errorf("total %d capped %v, want %d and capped", res.Total, res.Capped, search.TotalCap)
	}
	// The window is the newest RankWindow matches: its last page ends
	// RankWindow from the newest.
	if len(res.Hits) != 10 || res.Hits[9].ID != fmt.Sprintf("t%05d", n-search.RankWindow) {
		t.Errorf("last page of the window: %v", res.Hits)
	}
}
