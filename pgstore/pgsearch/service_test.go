package pgsearch

import (
	"context"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/internal/pgtest"
	"github.com/aimx-dev/aimx/pgstore"
	"github.com/aimx-dev/aimx/pgstore/pgmessages"
	"github.com/aimx-dev/aimx/search"
	"github.com/aimx-dev/aimx/storage"
)

// node is one aimx node's search service over the shared database.
type node struct {
	store *pgmessages.Store
	svc   *search.Service
}

func startNode(t *testing.T, dsn, name string, reg *domains.Registry) *node {
	t.Helper()
	ctx := context.Background()
	db, err := pgstore.Open(ctx, dsn, pgstore.Options{Node: name})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	n := &node{store: pgmessages.New(db, pgmessages.Options{})}
	// No data dir: folders are listed through the store, never from this
	// host's directories.
	n.svc = &search.Service{Store: n.store, Registry: reg, Open: Open(db, Options{}), SweepEvery: time.Hour}
	if err := n.svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.svc.Stop(context.Background()) })
	for deadline := time.Now().Add(20 * time.Second); !n.svc.Ready(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("search service never ready")
		}
	}
	return n
}

// TestServicesOfTwoNodes: mail node a stores and indexes is found through
// node b's search service (read back from b's store), with no hand-off
// between the nodes; a start reconciles what a node stored unindexed.
func TestServicesOfTwoNodes(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	cfg := domains.Default("x.test")
	cfg.Mailboxes = map[string]domains.Mailbox{"a@x.test": {Name: "a@x.test", Owner: "alice"}}
	reg := domains.NewRegistry(cfg)
	a := startNode(t, dsn, "a", reg)
	put := func(store storage.MessageStore, subject string) string {
		st, err := store.Put(ctx, storage.PutRequest{Mailbox: storage.MailboxRef{Domain: "x.test", Local: "a"}, Folder: storage.Inbox,
			At: time.Now(), Frontmatter: storage.Frontmatter{ReceivedAt: time.Now(), From: "Carol <carol@example.test>", To: []string{"a@x.test"},
				Subject: subject, Date: "2026-03-01T10:00:00Z", Trusted: "false", DKIM: "none", SPF: "none", DMARC: "none"},
			Body: "the quarterly figures are attached"})
		if err != nil {
			t.Fatal(err)
		}
		return st.ID
	}
	box := search.Box{Mailbox: "a@x.test", Folder: storage.Inbox}
	early := put(a.store, "stored before b started, never queued")
	id := put(a.store, "Quarterly report")
	a.svc.Stored(box, id)
	b := startNode(t, dsn, "b", reg)
	for _, tc := range []struct{ q, want string }{{"quarterly", ""}, {"subject:quarterly", id}, {"never queued", early}} {
		var res *search.Response
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			var err error
			if res, err = b.svc.Search(ctx, search.Request{Text: tc.q, Boxes: []search.Box{box}, Limit: 10}); err != nil {
				t.Fatal(err)
			}
			if tc.want == "" && res.Total == 2 || len(res.Hits) > 0 && res.Hits[0].ID == tc.want || time.Now().After(deadline) {
				break
			}
		}
		switch {
		case tc.want == "" && (res.Total != 2 || len(res.Hits) != 2):
			t.Errorf("%q through node b: %+v, want both messages", tc.q, res)
		case tc.want != "" && (len(res.Hits) != 1 || res.Hits[0].ID != tc.want || res.Hits[0].Snippet == ""):
			t.Errorf("%q through node b: %+v, want %s with a snippet", tc.q, res, tc.want)
		}
	}
}
