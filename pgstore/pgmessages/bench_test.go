package pgmessages

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/internal/pgtest"
	"github.com/aimx-dev/aimx/storage"
	"github.com/aimx-dev/aimx/storage/storetest"
)

// benchReq is a 4 KiB inbound message number i.
func benchReq(i int) storage.PutRequest {
	at := storetest.T0.Add(time.Duration(i) * time.Second)
	req := inbox(fmt.Sprintf("message %d about %s", i, []string{"invoices", "lunch", "reports"}[i%3]), at)
	req.Raw = bytes.Repeat([]byte("0123456789abcdef"), 256)
	req.Body = string(req.Raw[:2048])
	req.Frontmatter.ThreadID = fmt.Sprintf("%016x", i%500)
	req.Frontmatter.MessageID = fmt.Sprintf("m%d@example.net", i)
	req.Frontmatter.Read = i%4 != 0
	return req
}

// BenchmarkPut stores 4 KiB messages, one Put per op, from 8 writers.
func BenchmarkPut(b *testing.B) {
	s := New(openDB(b, pgtest.DSN(b), "a"), Options{})
	ctx := context.Background()
	b.SetParallelism(4) // 4 × GOMAXPROCS writers
	var mu sync.Mutex
	n := 0
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			mu.Lock()
			i := n
			n++
			mu.Unlock()
			if _, err := s.Put(ctx, benchReq(i)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkPutSameStem stores 4 KiB messages that all share one base
// stem (the same subject in the same second), from 8 writers: each takes
// -2, -3, ... (stems.go), without queueing behind the others' commits.
func BenchmarkPutSameStem(b *testing.B) {
	s := New(openDB(b, pgtest.DSN(b), "a"), Options{})
	ctx := context.Background()
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := benchReq(0)
			req.Frontmatter.MessageID = ""
			if _, err := s.Put(ctx, req); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkList pages a 10,000-message inbox: p50 and p99 per listing.
func BenchmarkList(b *testing.B) {
	s := New(openDB(b, pgtest.DSN(b), "a"), Options{})
	ctx := context.Background()
	const total = 10000
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < total; i += 16 {
				if _, err := s.Put(ctx, benchReq(i)); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if _, err := s.db.Pool.Exec(ctx, "VACUUM ANALYZE aimx.messages"); err != nil {
		b.Fatal(err)
	}
	deep, err := s.List(ctx, storage.ListQuery{Mailbox: storetest.Ref, Limit: 50, Offset: 5000})
	if err != nil {
		b.Fatal(err)
	}
	queries := []struct {
		name string
		q    storage.ListQuery
	}{
		{"page", storage.ListQuery{}},
		{"cursor_mid", storage.ListQuery{Cursor: deep.NextCursor}},
		{"offset_5000", storage.ListQuery{Offset: 5000}},
		{"unread", storage.ListQuery{Unread: true}},
		{"from_subject", storage.ListQuery{From: "alice", Subject: "lunch"}},
		{"thread", storage.ListQuery{ThreadID: fmt.Sprintf("%016x", 42)}},
		{"oldest", storage.ListQuery{Oldest: true}},
	}
	for _, tc := range queries {
		b.Run(tc.name, func(b *testing.B) {
			q := tc.q
			q.Mailbox, q.Limit = storetest.Ref, 50
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				start := time.Now()
				if _, err := s.List(ctx, q); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}
