package storage

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkPut10KiB stores one 10 KiB message (.eml + .md) per iteration
// with every fsync (file, file, folder).
func BenchmarkPut10KiB(b *testing.B) {
	s, _ := openTestStore(b, Options{Now: time.Now})
	raw := bytes.Repeat([]byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n"), 160) // 10 KiB
	body := string(raw[:4096])
	ctx := context.Background()
	b.SetBytes(int64(len(raw)))
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		fm := inboundFM(fmt.Sprintf("bench %d", i))
		if _, err := s.Put(ctx, PutRequest{Mailbox: testRef, Folder: Inbox, Raw: raw, Frontmatter: fm, Body: body}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPut10KiBParallel is the same with concurrent writers into one
// mailbox, where group commit shares the folder fsync.
func BenchmarkPut10KiBParallel(b *testing.B) {
	s, _ := openTestStore(b, Options{Now: time.Now})
	raw := bytes.Repeat([]byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n"), 160)
	ctx := context.Background()
	b.SetBytes(int64(len(raw)))
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Put(ctx, PutRequest{Mailbox: testRef, Folder: Inbox, Raw: raw, Frontmatter: inboundFM("par"), Body: "b"}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

const bigMailbox = 100_000

// bigFixture returns a data dir whose support inbox holds 100,000 messages
// (every other one read), built once without fsync and cached in the temp
// dir across runs.
func bigFixture(b *testing.B) string {
	b.Helper()
	root := filepath.Join(os.TempDir(), "aimx-storage-bench-100k")
	done := filepath.Join(root, "complete")
	if _, err := os.Stat(done); err == nil {
		return filepath.Join(root, "data")
	}
	if err := os.RemoveAll(root); err != nil {
		b.Fatal(err)
	}
	data := filepath.Join(root, "data")
	if err := os.MkdirAll(root, 0o755); err != nil {
		b.Fatal(err)
	}
	s, err := Open(data, Options{})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.EnsureMailbox(context.Background(), testRef, nil); err != nil {
		b.Fatal(err)
	}
	dir := s.folderDir(testRef, Inbox)
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range bigMailbox {
		at := start.Add(time.Duration(i) * time.Minute)
		fm := inboundFM(fmt.Sprintf("Message number %d", i))
		fm.ID = BaseStem(at, fm.Subject)
		fm.ReceivedAt = at
		fm.Mailbox = testRef.String()
		fm.Read = i%2 == 0
		if fm.Read {
			fm.ReadAt = at
		}
		if err := os.WriteFile(filepath.Join(dir, fm.ID+".md"), EncodeMD(&fm, "Hello,\n\nA short body of a message.\n"), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	if err := os.WriteFile(done, nil, 0o600); err != nil {
		b.Fatal(err)
	}
	return data
}

func BenchmarkListPage50Of100k(b *testing.B) {
	s, err := OpenReadOnly(bigFixture(b))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		res, err := s.List(ctx, ListQuery{Mailbox: testRef, Limit: 50})
		if err != nil || res.Total != bigMailbox || len(res.Messages) != 50 {
			b.Fatalf("%v %v", res.Total, err)
		}
	}
}

func BenchmarkListUnreadPage50Of100k(b *testing.B) {
	s, err := OpenReadOnly(bigFixture(b))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		res, err := s.List(ctx, ListQuery{Mailbox: testRef, Limit: 50, Unread: true})
		if err != nil || res.Total != bigMailbox/2 {
			b.Fatalf("%v %v", res.Total, err)
		}
	}
}

func BenchmarkCountsUnread100k(b *testing.B) {
	s, err := OpenReadOnly(bigFixture(b))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		c, err := s.Counts(ctx, testRef)
		if err != nil || c.Unread != bigMailbox/2 {
			b.Fatalf("%+v %v", c, err)
		}
	}
}
