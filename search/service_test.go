package search

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/storage"
)

const (
	dom   = "x.test"
	mboxA = "a@" + dom
	mboxB = "b@" + dom
)

// svcEnv is a Service over a temp data dir with two mailboxes.
type svcEnv struct {
	t     *testing.T
	data  string
	store *storage.Store
	reg   *domains.Registry
	svc   *Service
	n     int
}

func newSvcEnv(t *testing.T) *svcEnv {
	t.Helper()
	data := filepath.Join(t.TempDir(), "data")
	store, err := storage.Open(data, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	cfg := domains.Default(dom)
	cfg.Mailboxes = map[string]domains.Mailbox{mboxA: {Name: mboxA, Owner: "alice"}, mboxB: {Name: mboxB, Owner: "bob"}}
	return &svcEnv{t: t, data: data, store: store, reg: domains.NewRegistry(cfg)}
}

// put stores one message through the store (not through Watch).
func (e *svcEnv) put(store storage.MessageStore, mailbox string, folder storage.Folder, subject, body string) string {
	e.t.Helper()
	e.n++
	st, err := store.Put(context.Background(), storage.PutRequest{
		Mailbox: domains.MailboxRef(mailbox), Folder: folder, At: time.Date(2026, 3, 1, 10, 0, e.n, 0, time.UTC),
		Frontmatter: storage.Frontmatter{From: "Carol <carol@example.test>", To: []string{mailbox}, Subject: subject,
			Date: "2026-03-01T10:00:00Z", Trusted: "false", DKIM: "none", SPF: "none", DMARC: "none"},
		Body: body,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return st.ID
}

func (e *svcEnv) start() {
	e.t.Helper()
	e.svc = &Service{DataDir: e.data, Store: e.store, Registry: e.reg, SweepEvery: time.Hour}
	if err := e.svc.Start(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = e.svc.Stop(context.Background()) })
	e.waitReady()
}

func (e *svcEnv) stop() {
	e.t.Helper()
	if err := e.svc.Stop(context.Background()); err != nil {
		e.t.Fatal(err)
	}
}

func (e *svcEnv) waitReady() {
	e.t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !e.svc.ready.Load(); {
		if time.Now().After(deadline) {
			e.t.Fatal("search index not ready")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// search runs text over boxes and fails the test on an error.
func (e *svcEnv) search(text string, boxes ...Box) *Response {
	e.t.Helper()
	res, err := e.svc.Search(context.Background(), Request{Text: text, Boxes: boxes, Limit: 20})
	if err != nil {
		e.t.Fatal(err)
	}
	return res
}

// eventually retries f until it holds.
func (e *svcEnv) eventually(what string, f func() bool) {
	e.t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !f(); {
		if time.Now().After(deadline) {
			e.t.Fatalf("never: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var (
	inboxA = Box{Mailbox: mboxA, Folder: storage.Inbox}
	sentA  = Box{Mailbox: mboxA, Folder: storage.Sent}
	inboxB = Box{Mailbox: mboxB, Folder: storage.Inbox}
)

func TestServiceVisibilityNeverShowsAnotherOwnersMail(t *testing.T) {
	e := newSvcEnv(t)
	e.put(e.store, mboxA, storage.Inbox, "Quarterly budget", "the budget for Q3 is attached")
	for range 3 {
		e.put(e.store, mboxB, storage.Inbox, "Budget secret", "bob's secret budget numbers")
	}
	e.start()
	res := e.search("budget", inboxA, sentA)
	if res.Total != 1 || len(res.Hits) != 1 || res.Hits[0].Mailbox != mboxA {
		t.Fatalf("alice's search: total %d, hits %+v", res.Total, res.Hits)
	}
	// A word only bob's mail holds: no hit and no count for alice.
	if res := e.search("secret", inboxA, sentA); res.Total != 0 || len(res.Hits) != 0 {
		t.Fatalf("alice sees bob's mail: total %d, hits %+v", res.Total, res.Hits)
	}
	if res := e.search("secret", inboxB); res.Total != 3 {
		t.Fatalf("bob's own search: total %d, want 3", res.Total)
	}
	if res := e.search("budget"); res.Total != 0 || len(res.Hits) != 0 {
		t.Fatalf("no folders: total %d", res.Total)
	}
}

func TestServiceRankingAndSnippets(t *testing.T) {
	e := newSvcEnv(t)
	long := strings.Repeat("filler words about nothing in particular. ", 40)
	// Stored oldest first, so newest-first order would be the wrong one.
	subj := e.put(e.store, mboxA, storage.Inbox, "Migration plan", "see the attached plan")
	many := e.put(e.store, mboxA, storage.Inbox, "notes", "migration: step one of the migration, then migration checks")
	body := e.put(e.store, mboxA, storage.Inbox, "status", long+"and the migration is done")
	for i := range 20 { // other mail, so the word is not in every message
		e.put(e.store, mboxB, storage.Inbox, fmt.Sprint("other ", i), "nothing of note")
	}
	e.start()
	res := e.search("migration", inboxA)
	if len(res.Hits) != 3 {
		t.Fatalf("hits %+v", res.Hits)
	}
	order := []string{res.Hits[0].ID, res.Hits[1].ID, res.Hits[2].ID}
	// One mention deep in a long body ranks below a subject match and
	// below a short body that says it three times.
	if order[2] != body || !(order[0] == subj && order[1] == many || order[0] == many && order[1] == subj) {
		t.Errorf("ranking %v, want %s and %s before %s", order, subj, many, body)
	}
	// Same body, the word in the subject too: that one ranks first.
	withSubj := e.put(e.svc.Watch(e.store), mboxB, storage.Inbox, "wombat", "the wombat count rose")
	e.put(e.svc.Watch(e.store), mboxB, storage.Inbox, "weekly", "the wombat count rose")
	e.eventually("indexed", func() bool { return e.search("wombat", inboxB).Total == 2 })
	if r := e.search("wombat", inboxB); r.Hits[0].ID != withSubj {
		t.Errorf("subject match not first: %+v", r.Hits)
	}
	for i := 1; i < len(res.Hits); i++ {
		if res.Hits[i].Score >= res.Hits[i-1].Score || res.Hits[i].Score <= 0 {
			t.Errorf("scores not descending: %+v", res.Hits)
		}
	}
	got := res.Hits[2].Snippet
	if !strings.Contains(got, "**migration**") || !strings.HasPrefix(got, "… ") || strings.Contains(got, "\n") {
		t.Errorf("snippet %q", got)
	}
	if res.Hits[1].From != "Carol <carol@example.test>" || res.Hits[1].Trusted != "false" {
		t.Errorf("hit fields %+v", res.Hits[1])
	}
}

func TestServiceRebuildsAfterIndexDirDeleted(t *testing.T) {
	e := newSvcEnv(t)
	e.put(e.store, mboxA, storage.Inbox, "Kangaroo report", "kangaroo sightings")
	e.start()
	if res := e.search("kangaroo", inboxA); res.Total != 1 {
		t.Fatalf("before: total %d", res.Total)
	}
	e.stop()
	if err := os.RemoveAll(filepath.Join(e.data, ".index", "search")); err != nil {
		t.Fatal(err)
	}
	e.put(e.store, mboxA, storage.Inbox, "Another kangaroo", "while the daemon was down")
	e.start()
	if res := e.search("kangaroo", inboxA); res.Total != 2 {
		t.Fatalf("after rebuild: total %d", res.Total)
	}
	st, err := os.Stat(filepath.Join(e.data, ".index", "search"))
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("index dir: %v, %v", st, err)
	}
}

func TestServiceRebuildsAStaleIndex(t *testing.T) {
	e := newSvcEnv(t)
	e.put(e.store, mboxA, storage.Inbox, "Wombat", "wombat")
	e.start()
	e.stop()
	path := filepath.Join(e.data, ".index", "search", indexFile)
	f, err := OpenFTS(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.w.Exec(`UPDATE meta SET value = '0' WHERE key = 'version'`); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := OpenFTS(context.Background(), path); err == nil {
		t.Fatal("a stale index opened")
	}
	e.start()
	if res := e.search("wombat", inboxA); res.Total != 1 {
		t.Fatalf("after rebuild: total %d", res.Total)
	}
}

func TestServiceFollowsWritesAndRemovals(t *testing.T) {
	e := newSvcEnv(t)
	e.start()
	watched := e.svc.Watch(e.store)
	e.put(watched, mboxA, storage.Sent, "Platypus order", "one platypus please")
	e.eventually("sent copy indexed", func() bool { return e.search("platypus", sentA).Total == 1 })
	e.svc.Stored(inboxA, e.put(e.store, mboxA, storage.Inbox, "Platypus reply", "they are out of stock"))
	e.eventually("inbox message indexed", func() bool { return e.search("platypus", inboxA, sentA).Total == 2 })
	if _, err := watched.RemoveMailbox(context.Background(), domains.MailboxRef(mboxA)); err != nil {
		t.Fatal(err)
	}
	e.eventually("mailbox dropped", func() bool { return e.search("platypus", inboxA, sentA).Total == 0 })
}

func TestServiceSweepFindsMailWrittenBehindItsBack(t *testing.T) {
	e := newSvcEnv(t)
	e.svc = &Service{DataDir: e.data, Store: e.store, Registry: e.reg, SweepEvery: 20 * time.Millisecond}
	if err := e.svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.svc.Stop(context.Background()) })
	e.waitReady()
	id := e.put(e.store, mboxB, storage.Inbox, "Echidna", "spiny")
	e.eventually("swept in", func() bool { return e.search("echidna", inboxB).Total == 1 })
	if err := os.Remove(filepath.Join(e.data, dom, "inbox", "b", id+".md")); err != nil {
		t.Fatal(err)
	}
	e.eventually("swept out", func() bool { return e.search("echidna", inboxB).Total == 0 })
}

func TestServiceDropsAHitWhoseFileIsGone(t *testing.T) {
	e := newSvcEnv(t)
	id := e.put(e.store, mboxA, storage.Inbox, "Quokka", "quokka photo")
	e.start()
	if err := os.Remove(filepath.Join(e.data, dom, "inbox", "a", id+".md")); err != nil {
		t.Fatal(err)
	}
	if res := e.search("quokka", inboxA); len(res.Hits) != 0 {
		t.Fatalf("a removed message is shown: %+v", res.Hits)
	}
	e.eventually("forgotten", func() bool { return e.search("quokka", inboxA).Total == 0 })
}
