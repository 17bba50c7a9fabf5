package storage

import (
	"context"
	"testing"
)

// BenchmarkIndexBuild100k builds the inbox index of the 100k fixture from
// the files: the cost of the first listing or count after a start.
func BenchmarkIndexBuild100k(b *testing.B) {
	data := bigFixture(b)
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		s, err := OpenReadOnly(data)
		if err != nil {
			b.Fatal(err)
		}
		c, err := s.Counts(ctx, testRef)
		if err != nil || c.Total != bigMailbox {
			b.Fatalf("%+v %v", c, err)
		}
	}
}

// warmStore opens the fixture and builds its index outside the timer.
func warmStore(b *testing.B) *Store {
	b.Helper()
	s, err := OpenReadOnly(bigFixture(b))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.Counts(context.Background(), testRef); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	return s
}

// BenchmarkIndexedList100k lists a page of 50 from a built index, with and
// without filters (each filter has to look at all 100,000 entries).
func BenchmarkIndexedList100k(b *testing.B) {
	cases := []struct {
		name  string
		q     ListQuery
		total int
	}{
		{"page", ListQuery{}, bigMailbox},
		{"deep_page", ListQuery{Offset: 90_000}, bigMailbox},
		{"unread", ListQuery{Unread: true}, bigMailbox / 2},
		{"from_subject", ListQuery{From: "alice", Subject: "number 9"}, 11_111},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			s := warmStore(b)
			q := c.q
			q.Mailbox, q.Limit = testRef, 50
			for b.Loop() {
				res, err := s.List(context.Background(), q)
				if err != nil || res.Total != c.total || len(res.Messages) != 50 {
					b.Fatalf("total %d, %d messages, %v", res.Total, len(res.Messages), err)
				}
			}
		})
	}
}

// BenchmarkIndexedCounts100k counts from a built index.
func BenchmarkIndexedCounts100k(b *testing.B) {
	s := warmStore(b)
	for b.Loop() {
		c, err := s.Counts(context.Background(), testRef)
		if err != nil || c.Unread != bigMailbox/2 {
			b.Fatalf("%+v %v", c, err)
		}
	}
}

// BenchmarkIndexLoadCached100k loads the inbox index of the 100k fixture
// on a fresh store from its cache file: the cost of the first listing or
// count after a restart (one fstatat per message, no file read).
func BenchmarkIndexLoadCached100k(b *testing.B) {
	data := bigFixture(b)
	ctx := context.Background()
	s, err := Open(data, Options{})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.Counts(ctx, testRef); err != nil {
		b.Fatal(err)
	}
	if err := s.FlushIndexes(ctx); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		s, err := Open(data, Options{})
		if err != nil {
			b.Fatal(err)
		}
		idx, err := s.index(ctx, testRef, Inbox, false)
		if err != nil {
			b.Fatal(err)
		}
		total, _ := idx.counts()
		idx.unpin()
		if total != bigMailbox {
			b.Fatalf("total %d", total)
		}
		idx.mu.Lock()
		dirty := idx.dirty
		idx.mu.Unlock()
		if dirty {
			b.Fatal("the cache was not current: files were read")
		}
	}
}
