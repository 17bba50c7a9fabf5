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

// Rounds and acknowledgement: Record counts rounds and never removes;
// Ack removes only the latest round of a finished item; both survive a
// reopen, and Unacked lists what a restart must hand on again.
func TestFileQueueRoundsAndAck(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	q := openQueue(t, dir)
	msg := []byte("Subject: hi\r\n\r\nbody\r\n")
	enqueue := func(q *FileQueue, rcpts ...string) Item {
		t.Helper()
		it, err := q.Enqueue(ctx, Submission{From: "a@a.test", Recipients: rcpts, Data: msg}, now)
		if err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Second)
		return it
	}
	a := enqueue(q, "x@b.test", "y@b.test")
	b := enqueue(q, "z@b.test")
	if a.Rounds != 0 || a.Acked != 0 {
		t.Fatalf("new item %+v", a)
	}
	if u, err := q.Unacked(ctx); err != nil || len(u) != 0 {
		t.Fatalf("unacked before any round: %v %v", u, err)
	}

	// Round 1 of a: x delivered, y deferred.
	got, err := q.Record(ctx, a.ID, []Recipient{
		{Address: "x@b.test", Status: StatusDelivered, Attempts: 1},
		{Address: "y@b.test", Status: StatusDeferred, Attempts: 1, NextAttempt: now.Add(time.Hour)},
	})
	if err != nil || got.Rounds != 1 || got.Acked != 0 {
		t.Fatalf("round 1: %+v %v", got, err)
	}
	// Round 1 of b: z delivered, final but not removed before its Ack.
	if got, err := q.Record(ctx, b.ID, []Recipient{{Address: "z@b.test", Status: StatusDelivered, Attempts: 1}}); err != nil || got.Rounds != 1 || !got.Done() {
		t.Fatalf("b round 1: %+v %v", got, err)
	}
	if q.Len() != 2 {
		t.Fatalf("Record removed an item: %d left", q.Len())
	}
	if u, err := q.Unacked(ctx); err != nil || len(u) != 2 || u[0].ID != a.ID || u[1].ID != b.ID {
		t.Fatalf("unacked %+v %v, want a then b", u, err)
	}

	// A crash here: both rounds are recorded, neither handed on.
	q2 := openQueue(t, dir)
	u, err := q2.Unacked(ctx)
	if err != nil || len(u) != 2 || u[0].Rounds != 1 || u[0].Acked != 0 || u[0].Recipients[0].Status != StatusDelivered {
		t.Fatalf("unacked after reopen %+v %v", u, err)
	}

	// Ack of a's round 1: y is not final, so a stays, acknowledged.
	if removed, err := q2.Ack(ctx, a.ID, 1); err != nil || removed {
		t.Fatalf("ack a/1: %v %v", removed, err)
	}
	if it, _ := q2.Get(ctx, a.ID); it.Acked != 1 || it.Rounds != 1 {
		t.Fatalf("a after ack %+v", it)
	}
	// Rounds that do not exist are refused.
	for _, r := range []int{-1, 2} {
		if _, err := q2.Ack(ctx, a.ID, r); err == nil || errors.Is(err, ErrNotQueued) {
			t.Errorf("ack of round %d: %v", r, err)
		}
	}
	// b is final: its Ack removes it, both files.
	if removed, err := q2.Ack(ctx, b.ID, 1); err != nil || !removed {
		t.Fatalf("ack b/1: %v %v", removed, err)
	}
	for _, ext := range []string{".json", ".eml"} {
		if _, err := os.Lstat(filepath.Join(dir, b.ID+ext)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s%s left behind: %v", b.ID, ext, err)
		}
	}
	if _, err := q2.Ack(ctx, b.ID, 1); !errors.Is(err, ErrNotQueued) {
		t.Errorf("second ack of b: %v", err)
	}

	// Round 2 of a makes it final; acknowledging the older round 1 does
	// not remove it (round 2's outcome is not handed on yet), round 2 does.
	if got, err := q2.Record(ctx, a.ID, []Recipient{{Address: "Y@B.TEST", Status: StatusFailed, Attempts: 2}}); err != nil || got.Rounds != 2 || got.Acked != 1 || !got.Done() {
		t.Fatalf("a round 2: %+v %v", got, err)
	}
	if removed, err := q2.Ack(ctx, a.ID, 1); err != nil || removed {
		t.Fatalf("ack of an old round: %v %v", removed, err)
	}
	q3 := openQueue(t, dir)
	if u, err := q3.Unacked(ctx); err != nil || len(u) != 1 || u[0].Rounds != 2 || u[0].Acked != 1 {
		t.Fatalf("unacked after the second reopen: %+v %v", u, err)
	}
	if removed, err := q3.Ack(ctx, a.ID, 2); err != nil || !removed || q3.Len() != 0 {
		t.Fatalf("ack a/2: %v %v", removed, err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("left in the queue dir: %v", ents)
	}
}

// Remove drops an item whatever its state, durably.
func TestFileQueueRemove(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	q := openQueue(t, dir)
	now := time.Now()
	keep, err := q.Enqueue(ctx, Submission{From: "a@a.test", Recipients: []string{"k@b.test"}, Data: []byte("x\r\n")}, now)
	if err != nil {
		t.Fatal(err)
	}
	drop, err := q.Enqueue(ctx, Submission{From: "a@a.test", Recipients: []string{"d@b.test", "e@b.test"}, Data: []byte("x\r\n")}, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.Record(ctx, drop.ID, []Recipient{{Address: "d@b.test", Status: StatusDeferred, Attempts: 1, NextAttempt: now.Add(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	if err := q.Remove(ctx, drop.ID); err != nil {
		t.Fatal(err)
	}
	if err := q.Remove(ctx, drop.ID); !errors.Is(err, ErrNotQueued) {
		t.Errorf("second remove: %v", err)
	}
	if _, err := q.Data(ctx, drop.ID); !errors.Is(err, ErrNotQueued) {
		t.Errorf("data after remove: %v", err)
	}
	if u, _ := q.Unacked(ctx); len(u) != 0 {
		t.Errorf("a removed item is still unacked: %+v", u)
	}
	q2 := openQueue(t, dir)
	if q2.Len() != 1 {
		t.Fatalf("after reopen %d items", q2.Len())
	}
	if _, err := q2.Get(ctx, keep.ID); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Errorf("queue dir holds %v, want the kept item's two files", ents)
	}
}

func TestFileQueueHeldAndRelease(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	q, err := OpenFileQueue(dir, FileQueueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	it, err := q.Enqueue(ctx, Submission{From: "a@a.test", Recipients: []string{"b@b.test"}, Mailbox: "a@a.test", SentID: "s", Data: []byte("x"), Held: true}, now)
	if err != nil {
		t.Fatal(err)
	}
	if due, _ := q.Due(ctx, now.Add(time.Hour)); len(due) != 0 {
		t.Fatalf("a held item is due: %+v", due)
	}
	all, _ := q.List(ctx)
	if len(all) != 1 || !all[0].Held {
		t.Fatalf("list %+v", all)
	}
	// Held survives a reopen; Release makes it due, durably.
	q.Close()
	if q, err = OpenFileQueue(dir, FileQueueOptions{}); err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if got, _ := q.Get(ctx, it.ID); !got.Held {
		t.Fatal("held lost at reopen")
	}
	later := now.Add(time.Hour)
	if _, err := q.Release(ctx, it.ID, later); err != nil {
		t.Fatal(err)
	}
	if due, _ := q.Due(ctx, later); len(due) != 1 || due[0].Held || !due[0].Recipients[0].NextAttempt.Equal(later) {
		t.Fatalf("released: %+v", due)
	}
	if _, err := q.Release(ctx, "nope", later); !errors.Is(err, ErrNotQueued) {
		t.Fatalf("release of a missing item: %v", err)
	}
}
