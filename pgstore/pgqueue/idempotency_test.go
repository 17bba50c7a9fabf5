package pgqueue

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/internal/pgtest"
	"github.com/aimx-dev/aimx/operations"
	"github.com/aimx-dev/aimx/pgstore"
)

func rowCount(t *testing.T, db *pgstore.DB) int {
	t.Helper()
	var n int
	if err := db.Pool.QueryRow(context.Background(), "SELECT count(*) FROM aimx.send_idempotency").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestIdempotencyGetPutExpiry(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	a := NewIdempotency(node(t, dsn, "a"))
	bdb := node(t, dsn, "b")
	b := NewIdempotency(bdb)
	at := time.Date(2026, 12, 6, 12, 0, 0, 123456789, time.UTC)
	rec := operations.SentRecord{Mailbox: "hello@a.test", SentID: "sent-1", MessageID: "<m1@a.test>", At: at}
	key := strings.Repeat("ab", 32)

	if _, ok, err := a.Get(ctx, key, at); err != nil || ok {
		t.Fatalf("get of an unknown key: %v %v", ok, err)
	}
	if err := a.Put(ctx, key, rec); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		now  time.Time
		ok   bool
	}{
		{"at once", at, true},
		{"within the window", at.Add(operations.IdempotencyWindow - time.Second), true},
		{"at the window's end", at.Add(operations.IdempotencyWindow), true},
	}
	for _, tc := range tests {
		// Another node sees the key.
		got, ok, err := b.Get(ctx, key, tc.now)
		if err != nil || ok != tc.ok || got != rec {
			t.Errorf("%s: %+v %v %v, want %+v", tc.name, got, ok, err, rec)
		}
	}
	// Past the window the key is free again, and its row gone.
	if _, ok, err := b.Get(ctx, key, at.Add(operations.IdempotencyWindow+time.Nanosecond)); err != nil || ok {
		t.Fatalf("expired key: %v %v", ok, err)
	}
	if n := rowCount(t, bdb); n != 0 {
		t.Errorf("%d rows left after expiry", n)
	}
	// Put replaces.
	rec2 := rec
	rec2.SentID, rec2.At = "sent-2", at.Add(time.Hour)
	if err := a.Put(ctx, key, rec); err != nil {
		t.Fatal(err)
	}
	if err := a.Put(ctx, key, rec2); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := a.Get(ctx, key, rec2.At); err != nil || !ok || got != rec2 {
		t.Fatalf("after a second put: %+v %v %v", got, ok, err)
	}
	for _, bad := range []string{"", strings.Repeat("a", 129)} {
		if err := a.Put(ctx, bad, rec); !errors.Is(err, operations.ErrBadIdempotencyKey) {
			t.Errorf("put of key %q: %v", bad, err)
		}
		if _, _, err := a.Get(ctx, bad, at); !errors.Is(err, operations.ErrBadIdempotencyKey) {
			t.Errorf("get of key %q: %v", bad, err)
		}
	}
}

// TestIdempotencyPrune: keys never read again are deleted by later puts.
func TestIdempotencyPrune(t *testing.T) {
	ctx := context.Background()
	db := node(t, pgtest.DSN(t), "a")
	s := NewIdempotency(db)
	old := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for _, k := range []string{"k1", "k2", "k3"} {
		if err := s.Put(ctx, k, operations.SentRecord{SentID: k, At: old}); err != nil {
			t.Fatal(err)
		}
	}
	// Within the window of the old ones: nothing pruned.
	if err := s.Put(ctx, "k4", operations.SentRecord{SentID: "k4", At: old.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if n := rowCount(t, db); n != 4 {
		t.Fatalf("%d rows, want 4", n)
	}
	if err := s.Put(ctx, "k5", operations.SentRecord{SentID: "k5", At: old.Add(operations.IdempotencyWindow + time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if n := rowCount(t, db); n != 2 {
		t.Fatalf("%d rows after a put a window later, want k4 and k5", n)
	}
}

// TestIdempotencyLock: two nodes locking one key take turns.
func TestIdempotencyLock(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	a := NewIdempotency(node(t, dsn, "a"))
	b := NewIdempotency(node(t, dsn, "b"))
	unlock, err := a.Lock(ctx, "key")
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if u, err := b.Lock(short, "key"); err == nil {
		u()
		t.Fatal("b locked a key a holds")
	}
	other, err := b.Lock(ctx, "other key")
	if err != nil {
		t.Fatal(err)
	}
	other()
	got := make(chan error, 1)
	go func() {
		u, err := b.Lock(ctx, "key")
		if err == nil {
			u()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("b locked the key before a unlocked it: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	unlock()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("b never got the key after a unlocked it")
	}
}
