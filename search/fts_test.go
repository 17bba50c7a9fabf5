package search

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/storage"
)

func openTestFTS(t *testing.T) *FTS {
	t.Helper()
	f, err := OpenFTS(context.Background(), filepath.Join(t.TempDir(), "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func mustParse(t *testing.T, q string) *Expr {
	t.Helper()
	e, err := ParseQuery(q)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

var (
	boxA = Box{Mailbox: "a@x.test", Folder: storage.Inbox}
	boxB = Box{Mailbox: "b@x.test", Folder: storage.Inbox}
	boxS = Box{Mailbox: "a@x.test", Folder: storage.Sent}
)

func doc(b Box, id string, at int, subject, body string) Doc {
	return Doc{Key: Key{Box: b, ID: id}, At: time.Date(2026, 1, 1, 0, 0, at, 0, time.UTC), Subject: subject,
		From: "Alice <alice@example.test>", To: b.Mailbox, Body: body}
}

func TestFTSVisibilityFilterAndCount(t *testing.T) {
	ctx := context.Background()
	f := openTestFTS(t)
	err := f.Add(ctx, []Doc{
		doc(boxA, "a1", 1, "invoice", "the invoice is attached"),
		doc(boxA, "a2", 2, "hello", "nothing here"),
		doc(boxB, "b1", 3, "invoice for b", "secret invoice of b"),
		doc(boxB, "b2", 4, "invoice again", "another secret invoice"),
		doc(boxS, "s1", 5, "re: invoice", "sent invoice"),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		boxes []Box
		want  int
	}{{[]Box{boxA}, 1}, {[]Box{boxB}, 2}, {[]Box{boxA, boxS}, 2}, {[]Box{boxA, boxB, boxS}, 5 - 1}, {nil, 0},
		{[]Box{{Mailbox: "c@x.test", Folder: storage.Inbox}}, 0}} {
		res, err := f.Search(ctx, Query{Expr: mustParse(t, "invoice"), Boxes: tc.boxes, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if res.Total != tc.want || len(res.Hits) != tc.want {
			t.Errorf("boxes %v: total %d, %d hits, want %d", tc.boxes, res.Total, len(res.Hits), tc.want)
		}
		allowed := map[Box]bool{}
		for _, b := range tc.boxes {
			allowed[b] = true
		}
		for _, h := range res.Hits {
			if !allowed[h.Box] {
				t.Errorf("boxes %v: hit %v of another folder", tc.boxes, h.Key)
			}
		}
	}
}
