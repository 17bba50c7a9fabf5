package storage

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// putAt stores an inbox message received at at (received_at carries the
// nanoseconds, the stem the second), with fm adjusted by edit.
func putAt(t testing.TB, s *Store, folder Folder, at time.Time, subject string, edit func(*Frontmatter)) string {
	t.Helper()
	fm := inboundFM(subject)
	fm.ReceivedAt = at
	if edit != nil {
		edit(&fm)
	}
	return putMsg(t, s, PutRequest{Folder: folder, At: at, Frontmatter: fm, Body: "b"}).ID
}

func pageIDs(t testing.TB, s *Store, q ListQuery) ([]string, *ListResult) {
	t.Helper()
	if q.Mailbox == (MailboxRef{}) {
		q.Mailbox = testRef
	}
	res, err := s.List(context.Background(), q)
	if err != nil {
		t.Fatalf("List(%+v): %v", q, err)
	}
	return summaryIDs(res), res
}

func TestSlotSize(t *testing.T) {
	if got := unsafe.Sizeof(slot{}); got != slotSize {
		t.Fatalf("slot is %d bytes, slotSize says %d", got, slotSize)
	}
}

// Mail received in the same second lists in the order it arrived, not by
// its subject, from memory, from the cache file and from the files alone.
func TestListReceiptOrderWithinSecond(t *testing.T) {
	t.Parallel()
	s, dir := openTestStore(t, Options{})
	settled(s)
	var ids []string
	for i, subj := range []string{"zeta", "alpha", "mid", "beta"} {
		ids = append(ids, putAt(t, s, Inbox, t0.Add(time.Duration(i+1)*time.Millisecond), subj, nil))
	}
	// Sent copies carry no received_at: the id orders them in the second.
	sentA := putAt(t, s, Sent, t0, "b second", func(fm *Frontmatter) { fm.ReceivedAt = time.Time{} })
	sentB := putAt(t, s, Sent, t0, "a first", func(fm *Frontmatter) { fm.ReceivedAt = time.Time{} })
	newest := []string{ids[3], ids[2], ids[1], ids[0]}
	check := func(name string, s *Store) {
		t.Helper()
		if got, _ := pageIDs(t, s, ListQuery{}); !reflect.DeepEqual(got, newest) {
			t.Errorf("%s: newest first %v, want %v", name, got, newest)
		}
		if got, _ := pageIDs(t, s, ListQuery{Oldest: true}); !reflect.DeepEqual(got, ids) {
			t.Errorf("%s: oldest first %v, want %v", name, got, ids)
		}
		if got, _ := pageIDs(t, s, ListQuery{Folder: Sent}); !reflect.DeepEqual(got, []string{sentA, sentB}) {
			t.Errorf("%s: sent %v, want %v", name, got, []string{sentA, sentB})
		}
		if got, _ := pageIDs(t, s, ListQuery{Limit: 2, Offset: 1}); !reflect.DeepEqual(got, newest[1:3]) {
			t.Errorf("%s: offset 1 %v, want %v", name, got, newest[1:3])
		}
	}
	check("live", s)
	if err := s.FlushIndexes(context.Background()); err != nil {
		t.Fatal(err)
	}
	check("cache file", reopen(t, dir, Options{}))
	fresh, err := OpenReadOnly(dir)
	if err != nil {
		t.Fatal(err)
	}
	check("files", fresh)
}

// Mail whose received_at is a whole second (as aimx wrote it before, and
// sent copies, which have none) orders within its second by its .eml's
// mtime: the order it was stored in, kept by a restart and a rebuild.
func TestListReceiptOrderByEML(t *testing.T) {
	t.Parallel()
	s, dir := openTestStore(t, Options{})
	settled(s)
	pageIDs(t, s, ListQuery{}) // loaded: every Put below updates it live
	var ids []string
	for _, subj := range []string{"zeta", "alpha", "mid"} {
		at := time.Now() // the mtimes count from the stem's second
		fm := inboundFM(subj)
		fm.ReceivedAt = at.Truncate(time.Second)
		ids = append(ids, putMsg(t, s, PutRequest{At: at, Frontmatter: fm, Raw: []byte("Subject: " + subj + "\r\n\r\nb\r\n"), Body: "b"}).ID)
		time.Sleep(20 * time.Millisecond) // file times tick coarsely (a jiffy)
	}
	want := []string{ids[2], ids[1], ids[0]}
	if got, _ := pageIDs(t, s, ListQuery{}); !reflect.DeepEqual(got, want) {
		t.Fatalf("live: %v, want %v", got, want)
	}
	fresh, err := OpenReadOnly(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := pageIDs(t, fresh, ListQuery{}); !reflect.DeepEqual(got, want) {
		t.Fatalf("from the files: %v, want %v", got, want)
	}
}

// Every page, by offset or by cursor, with and without a filter and in
// both orders, is the slice of one reference order: receipt second, then
// nanoseconds, then id, over runs of many messages in one second.
func TestListOrderProperty(t *testing.T) {
	t.Parallel()
	s, _ := openTestStore(t, Options{})
	rng := rand.New(rand.NewPCG(1, 2))
	type row struct {
		id string
		at time.Time
	}
	var rows []row
	for i := range 60 {
		at := t0.Add(time.Duration(rng.IntN(5))*time.Second + time.Duration(rng.IntN(1000))*time.Microsecond)
		subj := fmt.Sprintf("m%02d %c", i, 'a'+rune(rng.IntN(26)))
		rows = append(rows, row{putAt(t, s, Inbox, at, subj, nil), at})
	}
	slices.SortFunc(rows, func(a, b row) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	oldest := make([]string, len(rows))
	for i, r := range rows {
		oldest[i] = r.id
	}
	newest := slices.Clone(oldest)
	slices.Reverse(newest)
	for _, asc := range []bool{false, true} {
		want := newest
		if asc {
			want = oldest
		}
		for _, filtered := range []bool{false, true} {
			name := fmt.Sprintf("oldest=%v filtered=%v", asc, filtered)
			q := ListQuery{Oldest: asc, Unread: filtered}
			for _, limit := range []int{1, 3, 7} {
				for off := 0; off <= len(want); off += 5 {
					q.Limit, q.Offset, q.Cursor = limit, off, ""
					got, res := pageIDs(t, s, q)
					end := min(off+limit, len(want))
					if w := want[min(off, len(want)):end]; !slices.Equal(got, w) || res.Total != len(want) {
						t.Fatalf("%s limit %d offset %d: %v (total %d), want %v", name, limit, off, got, res.Total, w)
					}
					if (res.NextCursor != "") != (end < len(want)) {
						t.Fatalf("%s limit %d offset %d: next cursor %q with %d of %d", name, limit, off, res.NextCursor, end, len(want))
					}
				}
				var all []string
				q.Limit, q.Offset, q.Cursor = limit, 0, ""
				for {
					got, res := pageIDs(t, s, q)
					all = append(all, got...)
					if res.NextCursor == "" {
						break
					}
					q.Cursor = res.NextCursor
				}
				if !slices.Equal(all, want) {
					t.Fatalf("%s: pages by cursor of %d: %v, want %v", name, limit, all, want)
				}
			}
		}
	}
}

// Mail that arrives between two pages moves nothing: the cursor goes on
// after the last row shown; offset paging would repeat a row.
func TestListCursorWithArrivals(t *testing.T) {
	t.Parallel()
	s, _ := openTestStore(t, Options{})
	var ids []string
	for i := range 5 {
		ids = append(ids, putAt(t, s, Inbox, t0.Add(time.Duration(i)*time.Minute), fmt.Sprintf("old %d", i), nil))
	}
	first, res := pageIDs(t, s, ListQuery{Limit: 2})
	if !slices.Equal(first, []string{ids[4], ids[3]}) || res.NextCursor == "" {
		t.Fatalf("first page %v, cursor %q", first, res.NextCursor)
	}
	// Two newer messages, one of them in the same second as the top row.
	putAt(t, s, Inbox, t0.Add(4*time.Minute+time.Millisecond), "new same second", nil)
	putAt(t, s, Inbox, t0.Add(time.Hour), "new", nil)
	second, res := pageIDs(t, s, ListQuery{Limit: 2, Cursor: res.NextCursor})
	if !slices.Equal(second, []string{ids[2], ids[1]}) || res.Total != 7 {
		t.Fatalf("second page %v (total %d), want %v", second, res.Total, []string{ids[2], ids[1]})
	}
	if byOffset, _ := pageIDs(t, s, ListQuery{Limit: 2, Offset: 2}); slices.Contains(byOffset, ids[2]) {
		t.Fatalf("offset paging did not repeat as expected: %v", byOffset)
	}
	// The row the cursor names may go away: the place stays valid.
	if err := os.Remove(pathsOf(t, s, testRef, Inbox, ids[1]).MD); err != nil {
		t.Fatal(err)
	}
	third, res := pageIDs(t, s, ListQuery{Limit: 2, Cursor: res.NextCursor})
	if !slices.Equal(third, []string{ids[0]}) || res.NextCursor != "" {
		t.Fatalf("after removal %v (cursor %q), want %v", third, res.NextCursor, ids[:1])
	}
}

func TestListBadCursor(t *testing.T) {
	t.Parallel()
	s, _ := openTestStore(t, Options{})
	putAt(t, s, Inbox, t0, "a", nil)
	putAt(t, s, Inbox, t0.Add(time.Minute), "b", nil)
	_, res := pageIDs(t, s, ListQuery{Limit: 1})
	for _, c := range []string{"x", "AAAA", EncodeCursor(false, 0, "../x"), EncodeCursor(false, 5, "")} {
		if _, err := s.List(context.Background(), ListQuery{Mailbox: testRef, Cursor: c}); !errors.Is(err, ErrBadCursor) {
			t.Errorf("cursor %q: %v, want ErrBadCursor", c, err)
		}
	}
	if _, err := s.List(context.Background(), ListQuery{Mailbox: testRef, Cursor: res.NextCursor, Oldest: true}); !errors.Is(err, ErrBadCursor) {
		t.Errorf("a newest-first cursor for an oldest-first listing: %v", err)
	}
}

// collidingPair returns two different strings with the same hashOf.
func collidingPair(t *testing.T) (string, string) {
	t.Helper()
	seen := map[uint32]string{}
	for i := 0; i < 1<<22; i++ {
		s := fmt.Sprintf("%016x", uint64(i)*0x9e3779b97f4a7c15)
		h := hashOf(s)
		if o, ok := seen[h]; ok {
			return o, s
		}
		seen[h] = s
	}
	t.Fatal("no collision found")
	return "", ""
}

// The thread_id, message_id and trusted filters; a hash collision costs
// a read, never a wrong row or count.
func TestListExactFilters(t *testing.T) {
	t.Parallel()
	s, dir := openTestStore(t, Options{})
	settled(s)
	a, b := collidingPair(t)
	var inA, inB []string
	for i := range 6 {
		thread := []string{a, b}[i%2]
		id := putAt(t, s, Inbox, t0.Add(time.Duration(i)*time.Minute), fmt.Sprintf("m%d", i), func(fm *Frontmatter) {
			fm.ThreadID, fm.MessageID = thread, fmt.Sprintf("m%d@x", i)
			fm.Trusted = []string{TrustedTrue, TrustedFalse, TrustedNone}[i%3]
		})
		if thread == a {
			inA = append([]string{id}, inA...)
		} else {
			inB = append([]string{id}, inB...)
		}
	}
	check := func(s *Store) {
		t.Helper()
		if got, res := pageIDs(t, s, ListQuery{ThreadID: a}); !slices.Equal(got, inA) || res.Total != 3 {
			t.Errorf("thread a: %v (total %d), want %v", got, res.Total, inA)
		}
		if got, res := pageIDs(t, s, ListQuery{ThreadID: b, Limit: 1, Offset: 1}); !slices.Equal(got, inB[1:2]) || res.Total != 3 || res.NextCursor == "" {
			t.Errorf("thread b page: %v (total %d, cursor %q)", got, res.Total, res.NextCursor)
		} else if got, _ := pageIDs(t, s, ListQuery{ThreadID: b, Cursor: res.NextCursor}); !slices.Equal(got, inB[2:]) {
			t.Errorf("thread b by cursor: %v, want %v", got, inB[2:])
		}
		if got, res := pageIDs(t, s, ListQuery{ThreadID: a, Oldest: true, Limit: 2}); !slices.Equal(got, []string{inA[2], inA[1]}) || res.NextCursor == "" {
			t.Errorf("thread a oldest first: %v", got)
		}
		if got, _ := pageIDs(t, s, ListQuery{MessageID: "m3@x"}); !slices.Equal(got, inB[1:2]) {
			t.Errorf("message_id: %v, want %v", got, inB[1:2])
		}
		if got, res := pageIDs(t, s, ListQuery{MessageID: "nope@x"}); len(got) != 0 || res.Total != 0 {
			t.Errorf("unknown message_id: %v", got)
		}
		if _, res := pageIDs(t, s, ListQuery{Trusted: TrustedFalse}); res.Total != 2 {
			t.Errorf("trusted false: total %d, want 2", res.Total)
		}
		if got, _ := pageIDs(t, s, ListQuery{Trusted: TrustedNone, ThreadID: b}); len(got) != 1 {
			t.Errorf("trusted none in thread b: %v", got)
		}
	}
	check(s)
	if err := s.FlushIndexes(context.Background()); err != nil {
		t.Fatal(err)
	}
	check(reopen(t, dir, Options{}))
}

// A cache file of the earlier format (24-byte slots) is read past, not
// trusted: the folder is read from its messages and the file rewritten.
func TestIndexCacheOldFormat(t *testing.T) {
	t.Parallel()
	s, dir := openTestStore(t, Options{})
	settled(s)
	id := putAt(t, s, Inbox, t0, "hello", func(fm *Frontmatter) { fm.ThreadID = "t1" })
	pageIDs(t, s, ListQuery{})
	if err := s.FlushIndexes(context.Background()); err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(dir, indexDirName, snapshotName(testRef, Inbox))
	old := []byte(oldSnapshotMagic + strings.Repeat("\x00", 60))
	if err := os.WriteFile(cache, old, 0o600); err != nil {
		t.Fatal(err)
	}
	s2 := reopen(t, dir, Options{})
	if got, _ := pageIDs(t, s2, ListQuery{ThreadID: "t1"}); !slices.Equal(got, []string{id}) {
		t.Fatalf("after an old cache file: %v", got)
	}
	if err := s2.FlushIndexes(context.Background()); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(cache)
	if err != nil || !strings.HasPrefix(string(b), snapshotMagic) {
		t.Fatalf("cache file not rewritten: %q %v", b[:min(len(b), 8)], err)
	}
}

func TestCompareReceipt(t *testing.T) {
	mk := func(id string, order uint32) Summary { return Summary{ID: id, Order: order} }
	in := []Summary{
		mk("2026-10-07-144514-a", 0),
		mk("2026-10-07-144513-z", 5000),
		mk("2026-10-07-144513-b", 9000),
		mk("2026-10-07-144513-y", 0),
		mk("odd", 0),
	}
	slices.SortFunc(in, CompareReceipt)
	var got []string
	for _, m := range in {
		got = append(got, m.ID)
	}
	want := []string{"odd", "2026-10-07-144513-y", "2026-10-07-144513-z", "2026-10-07-144513-b", "2026-10-07-144514-a"}
	if !slices.Equal(got, want) {
		t.Fatalf("%v, want %v", got, want)
	}
}
