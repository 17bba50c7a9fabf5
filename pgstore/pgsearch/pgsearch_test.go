package pgsearch

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/internal/pgtest"
	"github.com/aimx-dev/aimx/pgstore"
	"github.com/aimx-dev/aimx/search"
	"github.com/aimx-dev/aimx/search/indextest"
	"github.com/aimx-dev/aimx/storage"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// openIndex opens an index over a fresh database as node.
func openIndex(t testing.TB, dsn, node string) *Index {
	t.Helper()
	return openIndexOpts(t, dsn, node, Options{})
}

func openIndexOpts(t testing.TB, dsn, node string, opts Options) *Index {
	t.Helper()
	db, err := pgstore.Open(context.Background(), dsn, pgstore.Options{Node: node})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	ix, err := New(db, opts)
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

func TestConformance(t *testing.T) {
	indextest.Run(t, func(t *testing.T) search.Index { return openIndex(t, pgtest.DSN(t), "a") })
}

// TestTwoNodesShareTheIndex: what one node indexes, another finds, and
// both adding the same messages at once count them once.
func TestTwoNodesShareTheIndex(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	a, b := openIndex(t, dsn, "a"), openIndex(t, dsn, "b")
	box := search.Box{Mailbox: "a@x.test", Folder: storage.Inbox}
	var docs []search.Doc
	for i := range 200 {
		docs = append(docs, search.Doc{Key: search.Key{Box: box, ID: fmt.Sprintf("m%03d", i)}, At: time.Unix(int64(1e9+i), 0),
			Subject: "shared", Body: fmt.Sprintf("message %d", i)})
	}
	var wg sync.WaitGroup
	for _, ix := range []*Index{a, b, a, b} {
		wg.Go(func() {
			for start := 0; start < len(docs); start += 30 {
				if err := ix.Add(ctx, docs[start:min(start+30, len(docs))]); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	e, err := search.ParseQuery("shared")
	if err != nil {
		t.Fatal(err)
	}
	for name, ix := range map[string]*Index{"a": a, "b": b} {
		res, err := ix.Search(ctx, search.Query{Expr: e, Boxes: []search.Box{box}, Limit: 5})
		if err != nil {
			t.Fatal(err)
		}
		if res.Total != 200 || len(res.Hits) != 5 || res.Hits[0].ID != "m199" {
			t.Errorf("node %s: total %d, hits %v", name, res.Total, res.Hits)
		}
		boxes, err := ix.Boxes(ctx)
		if err != nil || boxes[box] != 200 {
			t.Errorf("node %s: Boxes %v, %v; want 200", name, boxes, err)
		}
	}
}

func TestQueryText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"invoice", `('invoice')`},
		{`Invoice from:alice@example.test -paid "export fails" plan*`,
			`(('invoice') & ('alice':B & 'example':B & 'test':B) & ('export' & 'fails') & ('plan':*)) & !(('paid'))`},
		{`subject:"a b" to:x body:y* -subject:z`, `(('a':A & 'b':A) & ('x':C) & ('y':*D)) & !(('z':A))`},
		{`CAFÉ İstanbul`, `('cafe') & ('istanbul')`},
		{`box:b1 OR NEAR(x y) & !z <->`, `('box' & 'b1') & ('or') & ('near' & 'x') & ('y') & ('z')`},
	} {
		e, err := search.ParseQuery(tc.in)
		if err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		if got := queryText(e); got != tc.want {
			t.Errorf("%q:\n got %s\nwant %s", tc.in, got, tc.want)
		}
	}
	v, lens := docVector(search.Doc{Subject: "Hello hello", From: "Bob <bob@x.test>", To: "hello@x.test", Body: "Café, café; x"})
	if want := `'hello':1A,3C 'bob':2B 'x':2B,3C,4D 'test':2B,3C 'cafe':4D`; v != want {
		t.Errorf("docVector = %s, want %s", v, want)
	}
	if lens != [nFields]int{2, 4, 3, 3} {
		t.Errorf("lengths %v", lens)
	}
	e, err := search.ParseQuery(`subject:a B b* -c from:a`)
	if err != nil {
		t.Fatal(err)
	}
	want := []fieldCheck{{"a", fieldSubject}, {"b", fieldSubject}, {"b", fieldFrom}, {"b", fieldTo}, {"b", fieldBody}, {"a", fieldFrom}}
	if got := fieldChecks(rankWords(e)); !slices.Equal(got, want) {
		t.Errorf("fieldChecks = %v, want %v (the prefix and the excluded word do not rank)", got, want)
	}
	e, err = search.ParseQuery(`"a b c d e f g h i j k l m n o p q r s t u v w x y z aa bb cc dd ee ff gg hh ii jj"`)
	if err != nil {
		t.Fatal(err)
	}
	if got := fieldChecks(rankWords(e)); len(got) != 4*maxRankWords {
		t.Errorf("%d checks, want at most %d", len(got), 4*maxRankWords)
	}
}

// TestIDsLeaveOutOtherNodesNewest: a document another node has just
// indexed is not in IDs until the grace period passed, so a racing
// reconciliation cannot delete it; the node's own documents are at once.
func TestIDsLeaveOutOtherNodesNewest(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	a := openIndexOpts(t, dsn, "a", Options{Grace: 2 * time.Second})
	b := openIndexOpts(t, dsn, "b", Options{Grace: 2 * time.Second})
	box := search.Box{Mailbox: "a@x.test", Folder: storage.Inbox}
	if err := b.Add(ctx, []search.Doc{{Key: search.Key{Box: box, ID: "from-b"}, At: time.Now(), Subject: "x"}}); err != nil {
		t.Fatal(err)
	}
	if err := a.Add(ctx, []search.Doc{{Key: search.Key{Box: box, ID: "from-a"}, At: time.Now(), Subject: "x"}}); err != nil {
		t.Fatal(err)
	}
	ids := func(ix *Index) []string {
		got, err := ix.IDs(ctx, box)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		return got
	}
	if got := ids(a); !slices.Equal(got, []string{"from-a"}) {
		t.Errorf("node a's IDs at once: %v, want its own only", got)
	}
	if got := ids(b); !slices.Equal(got, []string{"from-b"}) {
		t.Errorf("node b's IDs at once: %v, want its own only", got)
	}
	if boxes, err := a.Boxes(ctx); err != nil || boxes[box] != 2 {
		t.Errorf("Boxes %v, %v: want both counted", boxes, err)
	}
	time.Sleep(2100 * time.Millisecond)
	if got := ids(a); !slices.Equal(got, []string{"from-a", "from-b"}) {
		t.Errorf("node a's IDs after the grace: %v, want both", got)
	}
}
