package outbound

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func openQueue(t *testing.T, dir string) *FileQueue {
	t.Helper()
	q, err := OpenFileQueue(dir, FileQueueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Close() })
	return q
}

func TestFileQueueSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), ".spool", "outbound")
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	q := openQueue(t, dir)
	msg := []byte("Subject: hi\r\n\r\nbody\r\n")
	it, err := q.Enqueue(ctx, Submission{From: "hello@a.test", Recipients: []string{"x@b.test", "y@c.test", "X@b.test"},
		Mailbox: "hello@a.test", SentID: "sent-1", Data: msg}, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(it.Recipients) != 2 {
		t.Fatalf("recipients %+v (duplicates are removed)", it.Recipients)
	}
	// x is deferred for ten minutes; y is still due.
	if got, err := q.Record(ctx, it.ID, []Recipient{{Address: "x@b.test", Status: StatusDeferred, Attempts: 1, NextAttempt: now.Add(10 * time.Minute)}}); err != nil || got.Rounds != 1 {
		t.Fatal(err, got.Rounds)
	}
	// A crash mid-enqueue leaves a message without its record, and a temp file.
	if err := os.WriteFile(filepath.Join(dir, "00-orphan.eml"), msg, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".tmp-x.json"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}

	q2 := openQueue(t, dir)
	if q2.Len() != 1 {
		t.Fatalf("reopened queue holds %d items", q2.Len())
	}
	due, err := q2.Due(ctx, now)
	if err != nil || len(due) != 1 {
		t.Fatalf("due %v %v", due, err)
	}
	got := due[0]
	if got.ID != it.ID || got.From != "hello@a.test" || got.SentID != "sent-1" || got.Mailbox != "hello@a.test" {
		t.Errorf("item %+v", got)
	}
	if d := got.Due(now); len(d) != 1 || d[0].Address != "y@c.test" {
		t.Errorf("due recipients %+v", d)
	}
	if r := got.Recipients[0]; r.Status != StatusDeferred || r.Attempts != 1 || !r.NextAttempt.Equal(now.Add(10*time.Minute)) {
		t.Errorf("x %+v", r)
	}
	if b, err := q2.Data(ctx, it.ID); err != nil || string(b) != string(msg) {
		t.Errorf("data %q %v", b, err)
	}
	for _, name := range []string{"00-orphan.eml", ".tmp-x.json"} {
		if _, err := os.Lstat(filepath.Join(dir, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left behind: %v", name, err)
		}
	}

	// Final for everyone: the item stays until the round is acknowledged.
	it2, err := q2.Record(ctx, it.ID, []Recipient{
		{Address: "x@b.test", Status: StatusDelivered, Attempts: 2},
		{Address: "Y@C.TEST", Status: StatusFailed, Attempts: 1},
	})
	if err != nil || it2.Rounds != 2 || it2.Recipients[1].Address != "y@c.test" || q2.Len() != 1 {
		t.Fatalf("%+v %v", it2, err)
	}
	if removed, err := q2.Ack(ctx, it.ID, 2); err != nil || !removed {
		t.Fatalf("ack: %v %v", removed, err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 0 || q2.Len() != 0 {
		t.Errorf("left in the queue dir: %v", ents)
	}
	if _, err := q2.Get(ctx, it.ID); !errors.Is(err, ErrNotQueued) {
		t.Errorf("get after removal: %v", err)
	}
	if _, err := q2.Record(ctx, it.ID, nil); !errors.Is(err, ErrNotQueued) {
		t.Errorf("record after removal: %v", err)
	}
	if q3 := openQueue(t, dir); q3.Len() != 0 {
		t.Errorf("removed item came back")
	}
}

func TestFileQueueMessageCap(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	q := openQueue(t, dir)
	it, err := q.Enqueue(ctx, Submission{From: "a@a.test", Recipients: []string{"b@b.test"}, Data: make([]byte, 100)}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	small, err := OpenFileQueue(dir, FileQueueOptions{MaxMessageBytes: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer small.Close()
	if _, err := small.Data(ctx, it.ID); err == nil {
		t.Error("a message over the cap was read")
	}
	if _, err := q.Enqueue(ctx, Submission{From: "a@a.test"}, time.Now()); err == nil {
		t.Error("enqueued without recipients")
	}
}
