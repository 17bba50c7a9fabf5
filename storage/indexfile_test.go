package storage

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// settled makes the files a test wrote count as settled for file stamps
// (stampSettle), as if the store looked at them an hour later.
func settled(s *Store) *Store {
	s.indexCfg.now = func() time.Time { return time.Now().Add(time.Hour) }
	return s
}

// reopen opens another store on the same data dir, as a restart does.
func reopen(t *testing.T, dir string, opts Options) *Store {
	t.Helper()
	if opts.Now == nil {
		opts.Now = fixedClock(t0)
	}
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return settled(s)
}

// loadState loads a folder's index and says whether the load left it
// differing from its cache file (it read messages).
func loadState(t *testing.T, s *Store, f Folder) (dirty bool) {
	t.Helper()
	idx, err := s.index(context.Background(), testRef, f, true)
	if err != nil {
		t.Fatal(err)
	}
	defer idx.unpin()
	idx.mu.Lock()
	defer idx.mu.Unlock()
	return idx.dirty
}

// putSeveral stores n inbox messages a minute apart.
func putSeveral(t *testing.T, s *Store, clock *time.Time, n int) []*Stored {
	t.Helper()
	var out []*Stored
	for i := range n {
		*clock = clock.Add(time.Minute)
		out = append(out, putMsg(t, s, PutRequest{Frontmatter: inboundFM(fmt.Sprintf("message %d", i)), Body: "b"}))
	}
	return out
}

// The cache file written at stop makes the next load read no message,
// and whatever changed behind the store's back meanwhile is still seen.
func TestIndexCacheAcrossRestarts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := t0
	opts := Options{Now: func() time.Time { return clock }}
	s, dir := openTestStore(t, opts)
	settled(s)
	msgs := putSeveral(t, s, &clock, 6)
	putMsg(t, s, PutRequest{Folder: Sent, Frontmatter: inboundFM("sent"), Body: "b"})
	if !loadState(t, s, Inbox) {
		t.Fatal("a first load from the files left the index clean")
	}
	if err := s.FlushIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, indexDirName, snapshotName(testRef, Inbox))); err != nil {
		t.Fatalf("no cache file after FlushIndexes: %v", err)
	}

	s2 := reopen(t, dir, opts)
	if loadState(t, s2, Inbox) {
		t.Fatal("a load from a current cache file read messages")
	}
	assertIndexMatchesFiles(t, s2, testRef)

	// Behind the store's back: one .md edited in place (same inode), one
	// removed, one added by hand.
	md := filepath.Join(dir, testRef.Domain, "inbox", testRef.Local, msgs[1].ID+".md")
	b, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(b), "read = false", "read = true ", 1)
	if edited == string(b) {
		t.Fatalf("no read line in %s", b)
	}
	if err := os.WriteFile(md, []byte(edited), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, testRef.Domain, "inbox", testRef.Local, msgs[2].ID+".md")); err != nil {
		t.Fatal(err)
	}
	byHand := inboundFM("by hand")
	if err := os.WriteFile(filepath.Join(dir, testRef.Domain, "inbox", testRef.Local, "2031-01-01-000000-by-hand.md"), EncodeMD(&byHand, "x"), 0o640); err != nil {
		t.Fatal(err)
	}
	s3 := reopen(t, dir, opts)
	assertIndexMatchesFiles(t, s3, testRef)
	c, err := s3.Counts(ctx, testRef)
	if err != nil || c != (Counts{Total: 6, Unread: 5, Sent: 1}) {
		t.Fatalf("counts after the hand edits = %+v, %v", c, err)
	}
	res, err := s3.List(ctx, ListQuery{Mailbox: testRef, Unread: true, Subject: "message 1"})
	if err != nil || res.Total != 0 {
		t.Fatalf("the message marked read by hand still lists as unread: %+v, %v", res, err)
	}
}

// A damaged cache file is not used; the messages are read instead.
func TestIndexCacheDamaged(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := t0
	opts := Options{Now: func() time.Time { return clock }}
	s, dir := openTestStore(t, opts)
	settled(s)
	putSeveral(t, s, &clock, 4)
	loadState(t, s, Inbox)
	if err := s.FlushIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, indexDirName, snapshotName(testRef, Inbox))
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string][]byte{
		"empty":     nil,
		"truncated": good[:len(good)-7],
		"flipped":   append(append([]byte{}, good[:snapshotHeader+3]...), append([]byte{good[snapshotHeader+3] ^ 0x40}, good[snapshotHeader+4:]...)...),
		"garbage":   []byte(strings.Repeat("x", len(good))),
	} {
		if err := os.WriteFile(path, bad, 0o600); err != nil {
			t.Fatal(err)
		}
		s2 := reopen(t, dir, opts)
		if !loadState(t, s2, Inbox) {
			t.Errorf("%s: a damaged cache file was used", name)
		}
		assertIndexMatchesFiles(t, s2, testRef)
	}
}

// Past the memory budget the least recently listed index is dropped to its
// cache file; its counts stay right through later writes, and listing it
// loads it again.
func TestIndexEviction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := t0
	s, _ := openTestStore(t, Options{Now: func() time.Time { return clock }, IndexBudget: 1})
	settled(s)
	other := MailboxRef{Domain: testRef.Domain, Local: "other"}
	msgs := putSeveral(t, s, &clock, 3)
	putMsg(t, s, PutRequest{Mailbox: other, Frontmatter: inboundFM("x"), Body: "b"})
	if _, err := s.List(ctx, ListQuery{Mailbox: testRef}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.List(ctx, ListQuery{Mailbox: other}); err != nil {
		t.Fatal(err)
	}
	idx := s.folderIndexOf(testRef, Inbox)
	resident := func() bool {
		idx.mu.Lock()
		defer idx.mu.Unlock()
		return idx.resident
	}
	if resident() {
		t.Fatal("the least recently listed index was not evicted")
	}
	assertCounts(t, s, Counts{Total: 3, Unread: 3})
	if resident() {
		t.Fatal("a count of an evicted index loaded it")
	}
	if _, err := s.SetRead(ctx, testRef, Inbox, msgs[0].ID, true); err != nil {
		t.Fatal(err)
	}
	putSeveral(t, s, &clock, 1)
	assertCounts(t, s, Counts{Total: 4, Unread: 3})
	res, err := s.List(ctx, ListQuery{Mailbox: testRef, Unread: true})
	if err != nil || res.Total != 3 {
		t.Fatalf("list after eviction = %+v, %v", res, err)
	}
	assertIndexMatchesFiles(t, s, testRef)
}

// After a restart a count is answered from the cache header while the
// folder dir is unchanged, and from the messages once it changed.
func TestIndexHeaderCounts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := t0
	opts := Options{Now: func() time.Time { return clock }}
	s, dir := openTestStore(t, opts)
	settled(s)
	putSeveral(t, s, &clock, 3)
	assertCounts(t, s, Counts{Total: 3, Unread: 3})
	if err := s.FlushIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	s2 := reopen(t, dir, opts)
	assertCounts(t, s2, Counts{Total: 3, Unread: 3})
	idx := s2.folderIndexOf(testRef, Inbox)
	idx.mu.Lock()
	resident := idx.resident
	idx.mu.Unlock()
	if resident {
		t.Fatal("the count did not come from the cache header")
	}
	putSeveral(t, s2, &clock, 1)
	assertCounts(t, s2, Counts{Total: 4, Unread: 4})

	// A message added by hand changes the dir: the header is not used.
	if err := s2.FlushIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	hand := inboundFM("by hand")
	if err := os.WriteFile(filepath.Join(dir, testRef.Domain, "inbox", testRef.Local, "2031-01-01-000000-by-hand.md"), EncodeMD(&hand, "x"), 0o640); err != nil {
		t.Fatal(err)
	}
	s3 := reopen(t, dir, opts)
	assertCounts(t, s3, Counts{Total: 5, Unread: 5})
	// WarmIndex loads it fully.
	if err := s3.WarmIndex(ctx, testRef); err != nil {
		t.Fatal(err)
	}
	assertIndexMatchesFiles(t, s3, testRef)
}

// A file changed less than stampSettle before it was looked at gets no
// stamp, so a change within the same timestamp tick cannot hide.
func TestFileStampSettle(t *testing.T) {
	t.Parallel()
	ct := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	st := unix.Stat_t{Ino: 7, Size: 100, Ctim: unix.NsecToTimespec(ct.UnixNano()), Mtim: unix.NsecToTimespec(ct.UnixNano())}
	if got := fileStamp(&st, ct.Add(time.Second)); got != 0 {
		t.Fatalf("stamp of a file changed 1 s before = %x, want 0", got)
	}
	a := fileStamp(&st, ct.Add(time.Minute))
	if a == 0 {
		t.Fatal("no stamp for a settled file")
	}
	st.Size++
	if b := fileStamp(&st, ct.Add(time.Minute)); b == a || b == 0 {
		t.Fatalf("stamp did not change with the size: %x, %x", a, b)
	}
}

// The cache file encodes and decodes to the same index.
func TestIndexCacheEncoding(t *testing.T) {
	t.Parallel()
	idx := &folderIndex{}
	for i, subj := range []string{"Grüße", "", strings.Repeat("long ", 100)} {
		fm := inboundFM(subj)
		fm.Read = i == 1
		idx.upsertLocked(newIndexEntry(fmt.Sprintf("2026-01-0%d-000000-x", i+1), i == 2, &fm))
	}
	idx.upsertLocked(newIndexEntry("no-time", false, nil))
	data := idx.encodeLocked(42)
	sn, err := decodeSnapshot(strings.NewReader(string(data)), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	back := &folderIndex{slots: sn.slots, arena: sn.arena}
	for i := range idx.slots {
		if got, want := back.entryAt(i), idx.entryAt(i); !reflect.DeepEqual(got, want) {
			t.Errorf("entry %d: %+v, want %+v", i, got, want)
		}
	}
	if sn.dirStamp != 42 || sn.unread != idx.unread || len(sn.slots) != len(idx.slots) {
		t.Fatalf("header: %+v", sn)
	}
}

// After a restart with the folder dir unchanged, the index is taken from
// its cache file without a stat per message (provisional); a .md edited in
// place meanwhile is seen once WarmIndex (or a listing that finds a file
// gone, dropIndex) checked the folder.
func TestIndexProvisionalUntilChecked(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := t0
	opts := Options{Now: func() time.Time { return clock }}
	s, dir := openTestStore(t, opts)
	settled(s)
	msgs := putSeveral(t, s, &clock, 3)
	loadState(t, s, Inbox)
	if err := s.FlushIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	md := filepath.Join(dir, testRef.Domain, "inbox", testRef.Local, msgs[0].ID+".md")
	b, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(md, []byte(strings.Replace(string(b), "read = false", "read = true ", 1)), 0o640); err != nil {
		t.Fatal(err)
	}
	for _, check := range []func(*Store) error{
		func(s *Store) error { return s.WarmIndex(ctx, testRef) },
		func(s *Store) error { s.dropIndex(testRef, Inbox); return nil },
	} {
		s2 := reopen(t, dir, opts)
		res, err := s2.List(ctx, ListQuery{Mailbox: testRef, Unread: true})
		if err != nil || res.Total != 3 {
			t.Fatalf("provisional listing = %+v, %v; want the cached 3 unread", res, err)
		}
		if err := check(s2); err != nil {
			t.Fatal(err)
		}
		assertCounts(t, s2, Counts{Total: 3, Unread: 2})
		assertIndexMatchesFiles(t, s2, testRef)
	}
}
