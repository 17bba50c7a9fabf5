package pgbus

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/aimx-dev/aimx/internal/mailbus"
	"github.com/aimx-dev/aimx/internal/pgtest"
	"github.com/aimx-dev/aimx/pgstore"
	"github.com/aimx-dev/aimx/pgstore/pgmessages"
	"github.com/aimx-dev/aimx/storage"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// syncBuf is a log sink the bridge's goroutine writes while a test reads.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// env is node-b's bridge over a fresh database, and node-a's handle to it.
type env struct {
	t      *testing.T
	a, b   *pgstore.DB
	bus    *mailbus.Bus
	bridge *Bridge
	log    *syncBuf
	mu     sync.Mutex
	remote []string // OnRemote calls: mailbox/folder/id
}

func newEnv(t *testing.T, setup func(*Bridge)) *env {
	t.Helper()
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	e := &env{t: t, bus: mailbus.New(mailbus.Options{}), log: &syncBuf{}}
	var err error
	if e.a, err = pgstore.Open(ctx, dsn, pgstore.Options{Node: "node-a"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.a.Close)
	if e.b, err = pgstore.Open(ctx, dsn, pgstore.Options{Node: "node-b"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.b.Close)
	e.bridge = &Bridge{DB: e.b, Bus: e.bus, Log: zerolog.New(e.log), OnRemote: func(mailbox string, f storage.Folder, id string) {
		e.mu.Lock()
		e.remote = append(e.remote, mailbox+"/"+string(f)+"/"+id)
		e.mu.Unlock()
	}}
	if setup != nil {
		setup(e.bridge)
	}
	if err := e.bridge.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.bridge.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	})
	select {
	case <-e.bridge.Connected():
	case <-time.After(10 * time.Second):
		t.Fatal("the bridge never listened")
	}
	return e
}

// remoteCalls returns the OnRemote calls once there are n (it is called
// after the publish a test waits for), or after two seconds.
func (e *env) remoteCalls(n int) []string {
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		e.mu.Lock()
		got := append([]string(nil), e.remote...)
		e.mu.Unlock()
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
	}
}

// notify sends a notice from node as the message store does.
func (e *env) notify(node, mailbox, folder, id string) {
	e.t.Helper()
	b, _ := json.Marshal(pgmessages.Notice{Node: node, Mailbox: mailbox, Folder: storage.Folder(folder), ID: id})
	e.raw(string(b))
}

func (e *env) raw(payload string) {
	e.t.Helper()
	if err := e.a.Notify(context.Background(), Channel, payload); err != nil {
		e.t.Fatal(err)
	}
}

// next waits up to within for the next event of sub.
func next(t *testing.T, sub *mailbus.Sub, within time.Duration) mailbus.Event {
	t.Helper()
	select {
	case <-sub.Ready():
		evs, _ := sub.Take()
		if len(evs) != 1 {
			t.Fatalf("events %+v, want one", evs)
		}
		return evs[0]
	case <-time.After(within):
		t.Fatalf("no event within %s", within)
	}
	return mailbus.Event{}
}

const stem = "2026-03-01-100005-hello"

func TestRemoteNoticeReachesTheBusWithinASecond(t *testing.T) {
	e := newEnv(t, nil)
	sub, _ := e.bus.Subscribe("a@x.test")
	defer sub.Close()
	start := time.Now()
	e.notify("node-a", "a@x.test", "inbox", stem)
	ev := next(t, sub, time.Second)
	if took := time.Since(start); took > time.Second {
		t.Errorf("took %s", took)
	}
	want := time.Date(2026, 3, 1, 10, 0, 5, 0, time.UTC)
	if ev.Mailbox != "a@x.test" || ev.ID != stem || !ev.ReceivedAt.Equal(want) || ev.Seq != 1 {
		t.Errorf("event %+v, want a@x.test/%s received %s", ev, stem, want)
	}
	// A sent copy is told to OnRemote, not published (the bus is inboxes
	// only); the catchall keeps its *@ name.
	all, _ := e.bus.Subscribe()
	defer all.Close()
	e.notify("node-a", "a@x.test", "sent", "2026-03-01-100006-re")
	e.notify("node-a", "*@x.test", "inbox", "2026-03-01-100007-any")
	if ev := next(t, all, 2*time.Second); ev.Mailbox != "*@x.test" {
		t.Errorf("catchall event %+v", ev)
	}
	want2 := []string{"a@x.test/inbox/" + stem, "a@x.test/sent/2026-03-01-100006-re", "*@x.test/inbox/2026-03-01-100007-any"}
	if got := e.remoteCalls(len(want2)); strings.Join(got, " ") != strings.Join(want2, " ") {
		t.Errorf("OnRemote %v, want %v", got, want2)
	}
}

func TestOwnNoticeIsIgnored(t *testing.T) {
	e := newEnv(t, nil)
	sub, _ := e.bus.Subscribe()
	defer sub.Close()
	e.notify("node-b", "a@x.test", "inbox", "2026-03-01-100001-own")
	e.notify("node-a", "a@x.test", "inbox", "2026-03-01-100002-remote")
	if ev := next(t, sub, 2*time.Second); ev.ID != "2026-03-01-100002-remote" || ev.Seq != 1 {
		t.Errorf("event %+v, want only the remote one", ev)
	}
	// A notice repeated (or one this node's intake published already) is
	// published once.
	e.bus.Publish("a@x.test", "2026-03-01-100003-local", time.Now())
	if ev := next(t, sub, time.Second); ev.ID != "2026-03-01-100003-local" {
		t.Fatalf("event %+v", ev)
	}
	e.notify("node-a", "a@x.test", "inbox", "2026-03-01-100002-remote")
	e.notify("node-a", "a@x.test", "inbox", "2026-03-01-100003-local")
	e.notify("node-a", "a@x.test", "inbox", "2026-03-01-100004-last")
	if ev := next(t, sub, 2*time.Second); ev.ID != "2026-03-01-100004-last" {
		t.Errorf("event %+v, want the repeats skipped", ev)
	}
}

func TestMalformedNoticesAreLoggedAndDropped(t *testing.T) {
	e := newEnv(t, nil)
	sub, _ := e.bus.Subscribe()
	defer sub.Close()
	bad := []string{
		``, `not json`, `[]`, `{"node":1}`,
		`{"node":"node-a","mailbox":"a@x.test","folder":"inbox","id":"` + strings.Repeat("x", 1100) + `"}`,
		`{"mailbox":"a@x.test","folder":"inbox","id":"` + stem + `"}`,                                // no node
		`{"node":"node-a","mailbox":"../../etc@x.test","folder":"inbox","id":"` + stem + `"}`,        // traversal
		`{"node":"node-a","mailbox":"A@X.test","folder":"inbox","id":"` + stem + `"}`,                // not canonical
		`{"node":"node-a","mailbox":"a@X.TEST","folder":"inbox","id":"` + stem + `"}`,                // not canonical
		`{"node":"node-a","mailbox":"catchall@x.test","folder":"inbox","id":"` + stem + `"}`,         // reserved
		`{"node":"node-a","mailbox":"a","folder":"inbox","id":"` + stem + `"}`,                       // no domain
		`{"node":"node-a","mailbox":"a@x.test","folder":"../inbox","id":"` + stem + `"}`,             // folder
		`{"node":"node-a","mailbox":"a@x.test","folder":"","id":"` + stem + `"}`,                     // folder
		`{"node":"node-a","mailbox":"a@x.test","folder":"inbox","id":"../x"}`,                        // id
		`{"node":"node-a","mailbox":"a@x.test","folder":"inbox","id":".hidden"}`,                     // id
		`{"node":"node-a","mailbox":"a@x.test","folder":"inbox","id":""}`,                            // id
		`{"node":"` + strings.Repeat("n", 300) + `","mailbox":"a@x.test","folder":"inbox","id":"x"}`, // node
	}
	for _, p := range bad {
		e.raw(p)
	}
	e.notify("node-a", "a@x.test", "inbox", stem)
	if ev := next(t, sub, 2*time.Second); ev.ID != stem {
		t.Errorf("event %+v, want only the valid notice", ev)
	}
	if got := e.bridge.Dropped(); got != uint64(len(bad)) {
		t.Errorf("dropped %d, want %d", got, len(bad))
	}
	if n := strings.Count(e.log.String(), "new-mail notice dropped"); n != len(bad) {
		t.Errorf("%d log lines, want %d:\n%s", n, len(bad), e.log.String())
	}
	if strings.Contains(e.log.String(), strings.Repeat("x", 200)) {
		t.Error("the log holds the oversized payload")
	}
	if got := e.remoteCalls(1); len(got) != 1 {
		t.Errorf("OnRemote %v, want the valid notice only", got)
	}
}

// putInbox stores a message in a@x.test's inbox of store.
func putInbox(t *testing.T, store storage.MessageStore, at time.Time, subject string) string {
	t.Helper()
	return putID(t, store, at, subject, "")
}

// putID stores a message under id ("": the store's).
func putID(t *testing.T, store storage.MessageStore, at time.Time, subject, id string) string {
	t.Helper()
	st, err := store.Put(context.Background(), storage.PutRequest{ID: id,
		Mailbox: storage.MailboxRef{Domain: "x.test", Local: "a"}, Folder: storage.Inbox, At: at,
		Frontmatter: storage.Frontmatter{ReceivedAt: at, From: "c@example.test", To: []string{"a@x.test"}, Subject: subject,
			Date: at.Format(time.RFC3339), Trusted: "false", DKIM: "none", SPF: "none", DMARC: "none"},
		Body: "hello",
	})
	if err != nil {
		t.Fatal(err)
	}
	return st.ID
}

func TestStoreGivesTheReceiptTimeAndGoneMessagesAreSkipped(t *testing.T) {
	store, err := storage.Open(filepath.Join(t.TempDir(), "data"), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	// An id whose time is not the receipt time: the event has the
	// frontmatter's.
	at := time.Now().UTC().Truncate(time.Millisecond)
	id := putID(t, store, at, "exact", "2026-03-01-100009-exact")
	e := newEnv(t, func(b *Bridge) { b.Store = store })
	sub, _ := e.bus.Subscribe()
	defer sub.Close()
	e.notify("node-a", "a@x.test", "inbox", "2026-03-01-100001-gone")
	e.notify("node-a", "a@x.test", "inbox", id)
	ev := next(t, sub, 2*time.Second)
	if ev.ID != id || !ev.ReceivedAt.Equal(at) {
		t.Errorf("event %+v, want %s received %s (the gone one skipped)", ev, id, at)
	}
}

// TestCatchUpAfterReconnect: mail another node stored while the
// listening connection was down is published from the store once it is
// back, and mail this node published already is not published again.
func TestCatchUpAfterReconnect(t *testing.T) {
	store, err := storage.Open(filepath.Join(t.TempDir(), "data"), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e := newEnv(t, func(b *Bridge) {
		b.Store = store
		b.Mailboxes = func() []string { return []string{"a@x.test", "b@x.test"} }
	})
	sub, _ := e.bus.Subscribe()
	defer sub.Close()
	ctx := context.Background()
	// Before the drop: one message of this node's intake, published here.
	local := putInbox(t, store, time.Now(), "local")
	e.bus.Publish("a@x.test", local, time.Now())
	next(t, sub, time.Second)
	// Drop the listening connection; a message is stored and notified
	// while it is down.
	tag, err := e.a.Pool.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
WHERE datname = current_database() AND query ILIKE 'LISTEN%' AND pid <> pg_backend_pid()`)
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("terminate the listener: %v, %v", tag, err)
	}
	missed := putInbox(t, store, time.Now(), "missed")
	e.notify("node-a", "a@x.test", "inbox", missed) // maybe before the reconnect
	ev := next(t, sub, 15*time.Second)
	if ev.ID != missed {
		t.Errorf("event %+v, want the missed message %s", ev, missed)
	}
	select {
	case <-sub.Ready():
		evs, _ := sub.Take()
		t.Errorf("published again: %+v", evs)
	case <-time.After(500 * time.Millisecond):
	}
}

// TestMessageStoreNoticesReachAnotherNode: a message node-a's postgres
// store takes wakes a wait's subscription on node-b, with the receipt time
// the store recorded; node-b reads it through its own store handle.
func TestMessageStoreNoticesReachAnotherNode(t *testing.T) {
	var storeB *pgmessages.Store
	e := newEnv(t, func(b *Bridge) {
		storeB = pgmessages.New(b.DB, pgmessages.Options{})
		b.Store = storeB
	})
	storeA := pgmessages.New(e.a, pgmessages.Options{})
	sub, _ := e.bus.Subscribe("a@x.test")
	defer sub.Close()
	at := time.Now().UTC().Truncate(time.Millisecond)
	start := time.Now()
	id := putID(t, storeA, at, "across nodes", "")
	ev := next(t, sub, time.Second)
	if took := time.Since(start); ev.ID != id || ev.Mailbox != "a@x.test" || !ev.ReceivedAt.Equal(at) || took > time.Second {
		t.Errorf("event %+v after %s, want a@x.test/%s received %s within a second", ev, took, id, at)
	}
	// Node-b's own store writes are its intake's to publish.
	putID(t, storeB, at, "local", "")
	select {
	case <-sub.Ready():
		evs, _ := sub.Take()
		t.Errorf("node-b's own message published by the bridge: %+v", evs)
	case <-time.After(500 * time.Millisecond):
	}
}
