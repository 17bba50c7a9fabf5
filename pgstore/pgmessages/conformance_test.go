package pgmessages

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/internal/pgtest"
	"github.com/aimx-dev/aimx/pgstore"
	"github.com/aimx-dev/aimx/storage"
	"github.com/aimx-dev/aimx/storage/storetest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// openDB opens dsn as node.
func openDB(t testing.TB, dsn, node string) *pgstore.DB {
	t.Helper()
	db, err := pgstore.Open(context.Background(), dsn, pgstore.Options{Node: node})
	if err != nil {
		t.Fatalf("open %s: %v", node, err)
	}
	t.Cleanup(db.Close)
	return db
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storage.MessageStore {
		return New(openDB(t, pgtest.DSN(t), "a"), Options{})
	})
}

// TestDedupAcrossNodes: two nodes (two pools) store the same re-delivery
// at once, 20 times over: exactly one copy is stored each time.
func TestDedupAcrossNodes(t *testing.T) {
	dsn := pgtest.DSN(t)
	a := New(openDB(t, dsn, "a"), Options{})
	b := New(openDB(t, dsn, "b"), Options{})
	ctx := context.Background()
	for i := range 20 {
		key := fmt.Sprintf("dedup-key-%d", i)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for n, s := range []*Store{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req := inbox(fmt.Sprint("redelivered ", i), storetest.T0)
				req.DedupKey, req.DedupWindow = key, time.Hour
				_, errs[n] = s.Put(ctx, req)
			}()
		}
		wg.Wait()
		stored, dup := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				stored++
			case errors.Is(err, storage.ErrDuplicate):
				dup++
			default:
				t.Fatalf("Put %d: %v", i, err)
			}
		}
		if stored != 1 || dup != 1 {
			t.Fatalf("round %d: %d stored, %d duplicates (errors %v)", i, stored, dup, errs)
		}
	}
	res, err := a.List(ctx, storage.ListQuery{Mailbox: storetest.Ref, Limit: 100})
	if err != nil || res.Total != 20 {
		t.Fatalf("List: total %v, %v; want 20", res, err)
	}
	// Outside the window the key stores again; another mailbox has its own keys.
	req := inbox("again", storetest.T0)
	req.DedupKey, req.DedupWindow = "dedup-key-0", time.Nanosecond
	time.Sleep(time.Millisecond)
	if _, err := a.Put(ctx, req); err != nil {
		t.Fatalf("Put after the window: %v", err)
	}
	req.Mailbox, req.DedupWindow = storetest.Other, time.Hour
	if _, err := b.Put(ctx, req); err != nil {
		t.Fatalf("Put of the key in another mailbox: %v", err)
	}
	// Keys past a window are pruned; those within it stay and refuse.
	mbox, _, err := mailboxID(ctx, a.db.Pool, storetest.Ref, false)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := a.pruneDedup(ctx, mbox, time.Hour); err != nil || n != 0 {
		t.Fatalf("pruneDedup(1h) = %d, %v; want 0", n, err)
	}
	if n, err := a.pruneDedup(ctx, mbox, 0); err != nil || n != 20 {
		t.Fatalf("pruneDedup(0) = %d, %v; want 20", n, err)
	}
	req = inbox("after the prune", storetest.T0)
	req.DedupKey, req.DedupWindow = "dedup-key-3", time.Hour
	if _, err := a.Put(ctx, req); err != nil {
		t.Fatalf("Put of a pruned key: %v", err)
	}
	// A sent copy is never deduplicated.
	sent := storage.PutRequest{Mailbox: storetest.Ref, Folder: storage.Sent, Frontmatter: storage.Frontmatter{Subject: "s"},
		DedupKey: "dedup-key-1", DedupWindow: time.Hour}
	if _, err := a.Put(ctx, sent); err != nil {
		t.Fatalf("sent Put with a key: %v", err)
	}
}

func inbox(subject string, at time.Time) storage.PutRequest {
	return storage.PutRequest{Mailbox: storetest.Ref, Folder: storage.Inbox, At: at, Raw: []byte("Subject: " + subject + "\r\n\r\nhi\r\n"),
		Frontmatter: storetest.Inbound(subject, at), Body: "hi"}
}

// TestIDsAcrossNodes: two nodes storing mail of one stem at once never
// take the same id.
func TestIDsAcrossNodes(t *testing.T) {
	dsn := pgtest.DSN(t)
	stores := []*Store{New(openDB(t, dsn, "a"), Options{}), New(openDB(t, dsn, "b"), Options{})}
	ctx := context.Background()
	var wg sync.WaitGroup
	ids := make(chan string, 40)
	for _, s := range stores {
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				st, err := s.Put(ctx, inbox("same", storetest.T0))
				if err != nil {
					t.Errorf("Put: %v", err)
					return
				}
				ids <- st.ID
			}()
		}
	}
	wg.Wait()
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		if seen[id] {
			t.Fatalf("id %s given twice", id)
		}
		seen[id] = true
	}
	base := storage.BaseStem(storetest.T0, "same")
	if len(seen) != 40 || !seen[base] || !seen[base+"-2"] {
		t.Fatalf("%d ids, want 40 from %s", len(seen), base)
	}
}

// TestNotice: a Put into inbox or sent and a move into inbox send a Notice
// on NotifyChannel, received by another node; a move elsewhere does not.
func TestNotice(t *testing.T) {
	dsn := pgtest.DSN(t)
	a := New(openDB(t, dsn, "a"), Options{})
	other := openDB(t, dsn, "b")
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan string, 16)
	up := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		other.Listen(ctx, []string{NotifyChannel}, up, func(n pgstore.Notification) {
			if n.Payload != "" {
				got <- n.Payload
			}
		})
	}()
	defer func() { cancel(); <-done }()
	<-up
	next := func() Notice {
		t.Helper()
		select {
		case p := <-got:
			n, err := ParseNotice(p)
			if err != nil {
				t.Fatalf("ParseNotice(%q): %v", p, err)
			}
			return n
		case <-time.After(10 * time.Second):
			t.Fatal("no notice within 10 s")
		}
		return Notice{}
	}
	st, err := a.Put(ctx, inbox("hello", storetest.T0))
	if err != nil {
		t.Fatal(err)
	}
	want := Notice{Node: "a", Mailbox: "support@agent.example.com", Folder: storage.Inbox, ID: st.ID}
	if n := next(); n != want {
		t.Fatalf("notice %+v, want %+v", n, want)
	}
	if ref, err := want.Ref(); err != nil || ref != storetest.Ref {
		t.Fatalf("Ref = %+v, %v", ref, err)
	}
	sent, err := a.Put(ctx, storage.PutRequest{Mailbox: storetest.Ref, Folder: storage.Sent, Frontmatter: storage.Frontmatter{Subject: "s"}})
	if err != nil {
		t.Fatal(err)
	}
	if n := next(); n.Folder != storage.Sent || n.ID != sent.ID {
		t.Fatalf("sent notice %+v", n)
	}
	if _, err := a.Move(ctx, storetest.Ref, storage.Inbox, storage.Archive, st.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Move(ctx, storetest.Ref, storage.Archive, storage.Inbox, st.ID); err != nil {
		t.Fatal(err)
	}
	if n := next(); n.Folder != storage.Inbox || n.ID != st.ID {
		t.Fatalf("move notice %+v (the move to archive must send none)", n)
	}
	dup := inbox("dup", storetest.T0)
	dup.DedupKey, dup.DedupWindow = "k", time.Hour
	if _, err := a.Put(ctx, dup); err != nil {
		t.Fatal(err)
	}
	next()
	if _, err := a.Put(ctx, dup); !errors.Is(err, storage.ErrDuplicate) {
		t.Fatalf("second Put: %v", err)
	}
	select {
	case p := <-got:
		t.Fatalf("a refused Put sent a notice: %s", p)
	case <-time.After(300 * time.Millisecond):
	}
	for _, bad := range []string{`{`, `{"mailbox":"x","folder":"inbox","id":"a"}`,
		`{"mailbox":"a@agent.example.com","folder":"junk","id":"a"}`, `{"mailbox":"a@agent.example.com","folder":"inbox","id":"../a"}`} {
		if _, err := ParseNotice(bad); err == nil {
			t.Fatalf("ParseNotice(%s) accepted", bad)
		}
	}
}

// TestCaps: a raw message, a body or an attachment over the cap is
// refused with storage.ErrTooLarge and nothing is stored.
func TestCaps(t *testing.T) {
	s := New(openDB(t, pgtest.DSN(t), "a"), Options{MaxFileBytes: 1000})
	ctx := context.Background()
	big := bytes.Repeat([]byte("x"), 1001)
	tests := []struct {
		name string
		edit func(r *storage.PutRequest)
	}{
		{"raw", func(r *storage.PutRequest) { r.Raw = big }},
		{"streamed raw", func(r *storage.PutRequest) { r.Raw, r.RawFrom = nil, bytes.NewReader(big) }},
		{"body", func(r *storage.PutRequest) { r.Body = string(big) }},
		{"streamed body", func(r *storage.PutRequest) { r.BodyFrom = bytes.NewReader(big) }},
		{"attachment", func(r *storage.PutRequest) { r.Attachments = []storage.Attachment{{Filename: "a", Data: big}} }},
		{"streamed attachment", func(r *storage.PutRequest) {
			r.Attachments = []storage.Attachment{{Filename: "a", From: bytes.NewReader(big)}}
		}},
	}
	for _, tc := range tests {
		req := inbox(tc.name, storetest.T0)
		tc.edit(&req)
		if _, err := s.Put(ctx, req); !errors.Is(err, storage.ErrTooLarge) {
			t.Fatalf("%s over the cap: %v", tc.name, err)
		}
	}
	if res, err := s.List(ctx, storage.ListQuery{Mailbox: storetest.Ref}); err != nil || res.Total != 0 {
		t.Fatalf("refused Puts stored: %+v, %v", res, err)
	}
}

// TestListHugeLimit: a limit of the largest int lists everything (the
// page query's LIMIT does not overflow).
func TestListHugeLimit(t *testing.T) {
	s := New(openDB(t, pgtest.DSN(t), "a"), Options{})
	ctx := context.Background()
	for i := range 3 {
		if _, err := s.Put(ctx, inbox(fmt.Sprint("m", i), storetest.T0)); err != nil {
			t.Fatal(err)
		}
	}
	res, err := s.List(ctx, storage.ListQuery{Mailbox: storetest.Ref, Limit: math.MaxInt, Offset: math.MaxInt32})
	if err != nil || len(res.Messages) != 0 || res.Total != 3 {
		t.Fatalf("List past the end = %+v, %v", res, err)
	}
	res, err = s.List(ctx, storage.ListQuery{Mailbox: storetest.Ref, Limit: math.MaxInt})
	if err != nil || len(res.Messages) != 3 || res.NextCursor != "" {
		t.Fatalf("List with the largest limit = %+v, %v", res, err)
	}
}
