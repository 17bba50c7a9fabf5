package storage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"
)

// indexSnapshot returns the index entries of a folder, oldest first, and
// the unread count the index keeps.
func indexSnapshot(t *testing.T, s *Store, ref MailboxRef, f Folder) ([]indexEntry, int) {
	t.Helper()
	idx, err := s.index(context.Background(), ref, f, false)
	if err != nil {
		t.Fatalf("index: %v", err)
	}
	defer idx.unpin()
	idx.mu.Lock()
	defer idx.mu.Unlock()
	out := make([]indexEntry, len(idx.slots))
	for i := range idx.slots {
		out[i] = idx.entryAt(i)
	}
	return out, idx.unread
}

// assertIndexMatchesFiles checks the live index against one rebuilt from
// the files by a fresh Store.
func assertIndexMatchesFiles(t *testing.T, s *Store, ref MailboxRef) {
	t.Helper()
	fresh, err := OpenReadOnly(s.Root())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []Folder{Inbox, Sent} {
		live, liveUnread := indexSnapshot(t, s, ref, f)
		built, builtUnread := indexSnapshot(t, fresh, ref, f)
		if !reflect.DeepEqual(live, built) || liveUnread != builtUnread {
			t.Fatalf("%s: live index differs from files:\nlive  %+v (unread %d)\nfiles %+v (unread %d)", f, live, liveUnread, built, builtUnread)
		}
	}
}

func TestIndexKeptCurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := t0
	s, _ := openTestStore(t, Options{Now: func() time.Time { return clock }})
	// Build the (empty) indexes first, so every later write must update them.
	if c, err := s.Counts(ctx, testRef); err != nil || c != (Counts{}) {
		t.Fatalf("Counts on empty = %+v, %v", c, err)
	}
	var ids []string
	for i := range 5 {
		clock = t0.Add(time.Duration(i) * time.Minute)
		st := putMsg(t, s, PutRequest{Frontmatter: inboundFM(fmt.Sprintf("hello %d", i)), Body: "b"})
		ids = append(ids, st.ID)
	}
	bundle := putMsg(t, s, PutRequest{Frontmatter: inboundFM("with file"), Body: "b",
		Attachments: []Attachment{{Filename: "a.txt", Data: []byte("x")}}})
	sentFM := inboundFM("outgoing")
	sentFM.DeliveryStatus = "queued"
	putMsg(t, s, PutRequest{Folder: Sent, Frontmatter: sentFM, Body: "b"})

	assertCounts(t, s, Counts{Total: 6, Unread: 6, Sent: 1})
	assertIndexMatchesFiles(t, s, testRef)

	if _, err := s.SetRead(ctx, testRef, Inbox, ids[1], true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetRead(ctx, testRef, Inbox, bundle.ID, true); err != nil {
		t.Fatal(err)
	}
	assertCounts(t, s, Counts{Total: 6, Unread: 4, Sent: 1})
	assertIndexMatchesFiles(t, s, testRef)

	res, err := s.List(ctx, ListQuery{Mailbox: testRef, Unread: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := summaryIDs(res); !reflect.DeepEqual(got, []string{ids[4], ids[3], ids[2], ids[0]}) || res.Total != 4 {
		t.Fatalf("unread = %v (total %d)", got, res.Total)
	}
	if _, err := s.SetRead(ctx, testRef, Inbox, ids[1], false); err != nil {
		t.Fatal(err)
	}
	assertCounts(t, s, Counts{Total: 6, Unread: 5, Sent: 1})

	sent, err := s.List(ctx, ListQuery{Mailbox: testRef, Folder: Sent})
	if err != nil || sent.Total != 1 || sent.Messages[0].Frontmatter.DeliveryStatus != "queued" {
		t.Fatalf("sent list = %+v, %v", sent, err)
	}

	if _, err := s.RemoveMailbox(ctx, testRef); err != nil {
		t.Fatal(err)
	}
	assertCounts(t, s, Counts{})
	clock = t0.Add(time.Hour)
	putMsg(t, s, PutRequest{Frontmatter: inboundFM("after removal"), Body: "b"})
	assertCounts(t, s, Counts{Total: 1, Unread: 1})
	assertIndexMatchesFiles(t, s, testRef)
}

func assertCounts(t *testing.T, s *Store, want Counts) {
	t.Helper()
	got, err := s.Counts(context.Background(), testRef)
	if err != nil || got != want {
		t.Fatalf("Counts = %+v, %v; want %+v", got, err, want)
	}
}

func summaryIDs(r *ListResult) []string {
	var out []string
	for _, m := range r.Messages {
		out = append(out, m.ID)
	}
	return out
}

// A write that lands while the index is being built is journalled and
// applied over the scan, whichever of the two saw the file.
func TestIndexJournalDuringBuild(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTestStore(t, Options{})
	st := putMsg(t, s, PutRequest{Frontmatter: inboundFM("one"), Body: "b"})
	dir := s.folderDir(testRef, Inbox)
	idx := &folderIndex{dir: dir, ref: testRef, folder: Inbox, ready: make(chan struct{}), building: true}
	s.mu.Lock()
	s.indexes[dir] = idx
	s.mu.Unlock()
	// The file says unread; a SetRead finished during the build says read,
	// and a message the scan cannot have seen arrives.
	fm := st.Frontmatter
	fm.Read = true
	s.indexUpsert(testRef, Inbox, newIndexEntry(st.ID, false, &fm))
	late := inboundFM("late")
	s.indexUpsert(testRef, Inbox, newIndexEntry("2030-01-01-000000-late", false, &late))
	if _, err := s.buildIndex(ctx, testRef, Inbox, idx); err != nil {
		t.Fatal(err)
	}
	close(idx.ready)
	got, unread := indexSnapshot(t, s, testRef, Inbox)
	if len(got) != 2 || !got[0].read || got[1].id != "2030-01-01-000000-late" || unread != 1 {
		t.Fatalf("index after build = %+v (unread %d)", got, unread)
	}
}

func TestIndexConcurrentWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTestStore(t, Options{Now: time.Now})
	var ids []string
	for i := range 20 {
		ids = append(ids, putMsg(t, s, PutRequest{Frontmatter: inboundFM(fmt.Sprintf("m%d", i)), Body: "b"}).ID)
	}
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			switch i % 4 {
			case 0:
				_, err := s.Put(ctx, PutRequest{Mailbox: testRef, Folder: Inbox, Frontmatter: inboundFM("c"), Body: "b"})
				if err != nil {
					t.Error(err)
				}
			case 1, 2:
				if _, err := s.SetRead(ctx, testRef, Inbox, ids[i%len(ids)], i%3 == 0); err != nil {
					t.Error(err)
				}
			default:
				if _, err := s.Counts(ctx, testRef); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	assertIndexMatchesFiles(t, s, testRef)
}

func TestListFiltersFromIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := t0
	s, _ := openTestStore(t, Options{Now: func() time.Time { return clock }})
	type msg struct{ from, subject string }
	msgs := []msg{
		{"Alice <alice@example.com>", "Invoice March"},
		{"Bob <bob@example.org>", "Lunch?"},
		{"ALICE <alice@example.com>", "invoice April"},
		{"Zoë <zoe@example.net>", "Grüße"},
	}
	var ids []string
	for i, m := range msgs {
		clock = t0.Add(time.Duration(i) * time.Hour)
		fm := inboundFM(m.subject)
		fm.From = m.from
		ids = append(ids, putMsg(t, s, PutRequest{Frontmatter: fm, Body: "b"}).ID)
	}
	if _, err := s.SetRead(ctx, testRef, Inbox, ids[2], true); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		q     ListQuery
		want  []string
		total int
	}{
		{"all newest first", ListQuery{}, []string{ids[3], ids[2], ids[1], ids[0]}, 4},
		{"limit", ListQuery{Limit: 2}, []string{ids[3], ids[2]}, 4},
		{"offset", ListQuery{Offset: 3}, []string{ids[0]}, 4},
		{"offset past end", ListQuery{Offset: 9}, nil, 4},
		{"from folds case", ListQuery{From: "alice"}, []string{ids[2], ids[0]}, 2},
		{"subject folds case", ListQuery{Subject: "INVOICE"}, []string{ids[2], ids[0]}, 2},
		{"unicode subject", ListQuery{Subject: "GRÜSSE"}, nil, 0},
		{"unicode subject fold", ListQuery{Subject: "grüße"}, []string{ids[3]}, 1},
		{"unicode from", ListQuery{From: "ZOË"}, []string{ids[3]}, 1},
		{"unread", ListQuery{Unread: true}, []string{ids[3], ids[1], ids[0]}, 3},
		{"unread and from", ListQuery{Unread: true, From: "alice"}, []string{ids[0]}, 1},
		{"since", ListQuery{Since: t0.Add(2 * time.Hour)}, []string{ids[3], ids[2]}, 2},
		{"since mid-second", ListQuery{Since: t0.Add(time.Hour + 500*time.Millisecond)}, []string{ids[3], ids[2], ids[1]}, 3},
		{"filtered page", ListQuery{Unread: true, Offset: 1, Limit: 1}, []string{ids[1]}, 3},
		{"no match", ListQuery{From: "carol"}, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := tt.q
			q.Mailbox = testRef
			res, err := s.List(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if got := summaryIDs(res); !reflect.DeepEqual(got, tt.want) || res.Total != tt.total {
				t.Fatalf("got %v (total %d), want %v (total %d)", got, res.Total, tt.want, tt.total)
			}
		})
	}
}

// A message removed behind the Store's back does not break listing: the
// index is rebuilt from the files.
func TestListAfterExternalRemoval(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := t0
	s, _ := openTestStore(t, Options{Now: func() time.Time { return clock }})
	a := putMsg(t, s, PutRequest{Frontmatter: inboundFM("a"), Body: "b"})
	clock = clock.Add(time.Minute)
	b := putMsg(t, s, PutRequest{Frontmatter: inboundFM("b"), Body: "b"})
	if _, err := s.List(ctx, ListQuery{Mailbox: testRef}); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(pathsOf(t, s, testRef, Inbox, b.ID).MD); err != nil {
		t.Fatal(err)
	}
	res, err := s.List(ctx, ListQuery{Mailbox: testRef})
	if err != nil {
		t.Fatal(err)
	}
	if got := summaryIDs(res); !reflect.DeepEqual(got, []string{a.ID}) || res.Total != 1 {
		t.Fatalf("after removal: %v (total %d)", got, res.Total)
	}
	assertCounts(t, s, Counts{Total: 1, Unread: 1})
}

// An undecodable .md stays listed (reading it says why) and counts as
// unread; it never matches a from or subject filter.
func TestIndexBrokenFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := openTestStore(t, Options{})
	st := putMsg(t, s, PutRequest{Frontmatter: inboundFM("good"), Body: "b"})
	broken := filepath.Join(filepath.Dir(pathsOf(t, s, testRef, Inbox, st.ID).MD), "2020-01-01-000000-broken.md")
	if err := os.WriteFile(broken, []byte("no frontmatter here\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	assertCounts(t, s, Counts{Total: 2, Unread: 2})
	res, err := s.List(ctx, ListQuery{Mailbox: testRef, Subject: "o"})
	if err != nil || res.Total != 1 {
		t.Fatalf("filtered = %+v, %v", res, err)
	}
	if _, err := s.List(ctx, ListQuery{Mailbox: testRef}); err == nil {
		t.Fatal("listing a page holding a broken file succeeded; want its decode error")
	}
}

func TestIndexBuildSurvivesFirstCallerCancel(t *testing.T) {
	t.Parallel()
	s, _ := openTestStore(t, Options{})
	for i := range 5 {
		putMsg(t, s, PutRequest{Frontmatter: inboundFM(fmt.Sprintf("m%d", i)), Body: "b"})
	}
	started, release := make(chan struct{}), make(chan struct{})
	s2, err := Open(s.Root(), Options{Seam: func(at Seam, _ string) {
		if at == SeamIndexBuild {
			close(started)
			<-release
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	first, cancel := context.WithCancel(context.Background())
	firstErr := make(chan error, 1)
	go func() { _, err := s2.List(first, ListQuery{Mailbox: testRef}); firstErr <- err }()
	<-started
	cancel()
	if err := <-firstErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller: %v", err)
	}
	close(release)
	s2.mu.Lock()
	idx := s2.indexes[s2.folderDir(testRef, Inbox)]
	s2.mu.Unlock()
	if idx == nil {
		t.Fatal("the build was dropped with its first caller")
	}
	<-idx.ready
	if idx.err != nil {
		t.Fatalf("the build failed with its first caller: %v", idx.err)
	}
	res, err := s2.List(context.Background(), ListQuery{Mailbox: testRef})
	if err != nil || res.Total != 5 {
		t.Fatalf("next caller: %v %v", res, err)
	}
}
