// Package queuetest is the conformance suite of outbound.Queue: every
// implementation (the file queue, the PostgreSQL one) runs the same tests,
// so the Worker and the send path see one behavior whichever backend the
// daemon uses (book/sending.md, "Queue"; book/architecture.md, "The
// interfaces a backend implements").
package queuetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/mail/outbound"
)

// t0 is the suite's clock: whole microseconds, which every backend keeps.
var t0 = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

// msg is a signed message as the queue gets it: CRLF lines, and bytes a
// text column would mangle.
var msg = []byte("Subject: hi\r\nX-Bin: \x00\xff\xfe\r\n\r\nbody\r\n")

// Run runs the suite. open returns a new, empty queue for one subtest
// (each subtest opens its own).
func Run(t *testing.T, open func(t *testing.T) outbound.Queue) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, q outbound.Queue)
	}{
		{"EnqueueReturnsDurableItem", testEnqueue},
		{"EnqueueRefusals", testEnqueueRefusals},
		{"Data", testData},
		{"NotQueued", testNotQueued},
		{"DueOrderAndTimes", testDue},
		{"Record", testRecord},
		{"RecordConcurrent", testRecordConcurrent},
		{"Ack", testAck},
		{"Unacked", testUnacked},
		{"Remove", testRemove},
		{"ListHeldAndRelease", testHeldRelease},
		{"Len", testLen},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

// enqueue queues a message from a@a.test to rcpts at now.
func enqueue(t *testing.T, q outbound.Queue, now time.Time, held bool, rcpts ...string) outbound.Item {
	t.Helper()
	it, err := q.Enqueue(context.Background(), outbound.Submission{From: "a@a.test", Recipients: rcpts,
		Mailbox: "a@a.test", SentID: "sent-" + rcpts[0], Data: msg, Held: held}, now)
	if err != nil {
		t.Fatalf("enqueue: %v", err)
	}
	return it
}

func get(t *testing.T, q outbound.Queue, id string) outbound.Item {
	t.Helper()
	it, err := q.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("get %s: %v", id, err)
	}
	return it
}

// ids returns the items' ids, in order.
func ids(items []outbound.Item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.ID
	}
	return out
}

func sameIDs(t *testing.T, what string, got []outbound.Item, want ...outbound.Item) {
	t.Helper()
	if fmt.Sprint(ids(got)) != fmt.Sprint(ids(want)) {
		t.Errorf("%s = %v, want %v", what, ids(got), ids(want))
	}
}

// diff describes how got differs from want ("" when equal), comparing
// times as instants.
func diff(got, want outbound.Item) string {
	if got.ID != want.ID || got.From != want.From || got.Mailbox != want.Mailbox || got.SentID != want.SentID ||
		got.Size != want.Size || !got.Enqueued.Equal(want.Enqueued) || got.Held != want.Held ||
		got.Rounds != want.Rounds || got.Acked != want.Acked || len(got.Recipients) != len(want.Recipients) {
		return fmt.Sprintf("item %+v, want %+v", got, want)
	}
	for i, g := range got.Recipients {
		w := want.Recipients[i]
		if g.Address != w.Address || g.Status != w.Status || g.Detail != w.Detail || g.Code != w.Code ||
			g.Enhanced != w.Enhanced || g.Attempts != w.Attempts || g.TLS != w.TLS ||
			!g.NextAttempt.Equal(w.NextAttempt) || !g.UpdatedAt.Equal(w.UpdatedAt) {
			return fmt.Sprintf("recipient %d %+v, want %+v", i, g, w)
		}
	}
	return ""
}

func testEnqueue(t *testing.T, q outbound.Queue) {
	ctx := context.Background()
	it, err := q.Enqueue(ctx, outbound.Submission{From: "hello@a.test", Recipients: []string{"x@b.test", "Y@c.test", "X@B.TEST"},
		Mailbox: "hello@a.test", SentID: "sent-1", Data: msg}, t0)
	if err != nil {
		t.Fatal(err)
	}
	want := outbound.Item{ID: it.ID, From: "hello@a.test", Mailbox: "hello@a.test", SentID: "sent-1", Size: int64(len(msg)), Enqueued: t0,
		Recipients: []outbound.Recipient{
			{Address: "x@b.test", Status: outbound.StatusQueued, NextAttempt: t0, UpdatedAt: t0},
			{Address: "Y@c.test", Status: outbound.StatusQueued, NextAttempt: t0, UpdatedAt: t0},
		}}
	if it.ID == "" {
		t.Fatal("enqueue returned no id")
	}
	if d := diff(it, want); d != "" {
		t.Errorf("returned %s (a duplicate recipient, ignoring case, is queued once)", d)
	}
	if d := diff(get(t, q, it.ID), want); d != "" {
		t.Errorf("get: %s", d)
	}
	other := enqueue(t, q, t0, false, "z@b.test")
	if other.ID == it.ID {
		t.Fatal("two items share an id")
	}
	// The returned item is a copy: changing it changes nothing queued.
	it.Recipients[0].Status = outbound.StatusFailed
	if got := get(t, q, it.ID); got.Recipients[0].Status != outbound.StatusQueued {
		t.Error("changing the returned item changed the queue")
	}
}

func testEnqueueRefusals(t *testing.T, q outbound.Queue) {
	if _, err := q.Enqueue(context.Background(), outbound.Submission{From: "a@a.test", Data: msg}, t0); err == nil {
		t.Error("enqueued without recipients")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := q.Enqueue(ctx, outbound.Submission{From: "a@a.test", Recipients: []string{"b@b.test"}, Data: msg}, t0); err == nil {
		t.Error("enqueued with a cancelled context")
	}
	if n := q.Len(); n != 0 {
		t.Errorf("refused enqueues left %d items", n)
	}
}

func testData(t *testing.T, q outbound.Queue) {
	ctx := context.Background()
	it := enqueue(t, q, t0, false, "b@b.test")
	b, err := q.Data(ctx, it.ID)
	if err != nil || string(b) != string(msg) {
		t.Fatalf("data = %q, %v; want %q", b, err, msg)
	}
	empty, err := q.Enqueue(ctx, outbound.Submission{From: "", Recipients: []string{"c@b.test"}}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := q.Data(ctx, empty.ID); err != nil || len(b) != 0 || empty.Size != 0 {
		t.Errorf("empty message: %q %v size %d", b, err, empty.Size)
	}
}

func testNotQueued(t *testing.T, q outbound.Queue) {
	ctx := context.Background()
	enqueue(t, q, t0, false, "b@b.test")
	for _, id := range []string{"0000000000000000-0000000000000000", "", "../x", "x'; DROP TABLE x; --", string(make([]byte, 300))} {
		if _, err := q.Get(ctx, id); !errors.Is(err, outbound.ErrNotQueued) {
			t.Errorf("get %q: %v", id, err)
		}
		if _, err := q.Data(ctx, id); !errors.Is(err, outbound.ErrNotQueued) {
			t.Errorf("data %q: %v", id, err)
		}
		if _, err := q.Record(ctx, id, nil); !errors.Is(err, outbound.ErrNotQueued) {
			t.Errorf("record %q: %v", id, err)
		}
		if _, err := q.Ack(ctx, id, 0); !errors.Is(err, outbound.ErrNotQueued) {
			t.Errorf("ack %q: %v", id, err)
		}
		if err := q.Remove(ctx, id); !errors.Is(err, outbound.ErrNotQueued) {
			t.Errorf("remove %q: %v", id, err)
		}
		if _, err := q.Release(ctx, id, t0); !errors.Is(err, outbound.ErrNotQueued) {
			t.Errorf("release %q: %v", id, err)
		}
	}
	if q.Len() != 1 {
		t.Errorf("len %d after the refusals, want 1", q.Len())
	}
}

func testDue(t *testing.T, q outbound.Queue) {
	ctx := context.Background()
	// Enqueued out of order: Due sorts by enqueue time.
	c := enqueue(t, q, t0.Add(2*time.Second), false, "c@b.test")
	a := enqueue(t, q, t0, false, "a@b.test", "a2@b.test")
	b := enqueue(t, q, t0.Add(time.Second), false, "b@b.test")
	enqueue(t, q, t0, true, "h@b.test") // held: never due
	due := func(now time.Time) []outbound.Item {
		t.Helper()
		items, err := q.Due(ctx, now)
		if err != nil {
			t.Fatal(err)
		}
		return items
	}
	sameIDs(t, "due before anything is", due(t0.Add(-time.Second)))
	sameIDs(t, "due at t0", due(t0), a)
	sameIDs(t, "due at t0+1s", due(t0.Add(time.Second)), a, b)
	sameIDs(t, "due at t0+2s (held left out)", due(t0.Add(2*time.Second)), a, b, c)

	// a: one recipient deferred for an hour, the other delivered; b failed.
	later := t0.Add(time.Hour)
	if _, err := q.Record(ctx, a.ID, []outbound.Recipient{
		{Address: "a@b.test", Status: outbound.StatusDeferred, Attempts: 1, NextAttempt: later, UpdatedAt: t0},
		{Address: "a2@b.test", Status: outbound.StatusDelivered, Attempts: 1, UpdatedAt: t0},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Record(ctx, b.ID, []outbound.Recipient{{Address: "b@b.test", Status: outbound.StatusFailed, Attempts: 1}}); err != nil {
		t.Fatal(err)
	}
	sameIDs(t, "due at t0+30m", due(t0.Add(30*time.Minute)), c)
	got := due(later)
	sameIDs(t, "due at t0+1h", got, a, c)
	if len(got) == 2 {
		if d := got[0].Due(later); len(d) != 1 || d[0].Address != "a@b.test" {
			t.Errorf("a's due recipients %+v", d)
		}
		if got[0].Rounds != 1 {
			t.Errorf("a as Due returns it: %+v", got[0])
		}
	}
}

func testRemove(t *testing.T, q outbound.Queue) {
	ctx := context.Background()
	keep := enqueue(t, q, t0, false, "k@b.test")
	drop := enqueue(t, q, t0, false, "d@b.test", "e@b.test")
	if _, err := q.Record(ctx, drop.ID, []outbound.Recipient{{Address: "d@b.test", Status: outbound.StatusDeferred, Attempts: 1, NextAttempt: t0.Add(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	if err := q.Remove(ctx, drop.ID); err != nil {
		t.Fatal(err)
	}
	if err := q.Remove(ctx, drop.ID); !errors.Is(err, outbound.ErrNotQueued) {
		t.Errorf("second remove: %v", err)
	}
	if _, err := q.Data(ctx, drop.ID); !errors.Is(err, outbound.ErrNotQueued) {
		t.Errorf("data after remove: %v", err)
	}
	if u, _ := q.Unacked(ctx); len(u) != 0 {
		t.Errorf("a removed item is still unacked: %v", ids(u))
	}
	if d, _ := q.Due(ctx, t0.Add(2*time.Hour)); len(d) != 1 || d[0].ID != keep.ID {
		t.Errorf("due after remove: %v", ids(d))
	}
	if q.Len() != 1 {
		t.Errorf("len %d after remove", q.Len())
	}
}

func testHeldRelease(t *testing.T, q outbound.Queue) {
	ctx := context.Background()
	plain := enqueue(t, q, t0, false, "p@b.test")
	held := enqueue(t, q, t0.Add(time.Second), true, "h@b.test", "i@b.test")
	if !held.Held || !get(t, q, held.ID).Held {
		t.Fatal("held lost at enqueue")
	}
	if due, _ := q.Due(ctx, t0.Add(24*time.Hour)); len(due) != 1 || due[0].ID != plain.ID {
		t.Fatalf("due with a held item: %v", ids(due))
	}
	all, err := q.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sameIDs(t, "list", all, plain, held)
	if len(all) == 2 && !all[1].Held {
		t.Error("list lost held")
	}
	later := t0.Add(time.Hour)
	got, err := q.Release(ctx, held.ID, later)
	if err != nil {
		t.Fatal(err)
	}
	want := held
	want.Held = false
	for i := range want.Recipients {
		want.Recipients[i].NextAttempt, want.Recipients[i].UpdatedAt = later, later
	}
	if d := diff(got, want); d != "" {
		t.Errorf("release returned %s", d)
	}
	if d := diff(get(t, q, held.ID), want); d != "" {
		t.Errorf("get after release: %s", d)
	}
	if due, _ := q.Due(ctx, later); len(due) != 2 || due[1].ID != held.ID {
		t.Errorf("due after release: %v", ids(due))
	}
	if due, _ := q.Due(ctx, later.Add(-time.Second)); len(due) != 1 {
		t.Errorf("released item due before its release time: %v", ids(due))
	}
	// An item not held is left as it is.
	again, err := q.Release(ctx, plain.ID, later)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(again, plain); d != "" {
		t.Errorf("release of an item not held changed it: %s", d)
	}
}

func testLen(t *testing.T, q outbound.Queue) {
	ctx := context.Background()
	if q.Len() != 0 {
		t.Fatalf("a new queue holds %d", q.Len())
	}
	var items []outbound.Item
	for i := range 5 {
		items = append(items, enqueue(t, q, t0, i == 4, fmt.Sprintf("r%d@b.test", i)))
	}
	if q.Len() != 5 {
		t.Errorf("len %d after 5 enqueues (one held)", q.Len())
	}
	if err := q.Remove(ctx, items[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Record(ctx, items[1].ID, []outbound.Recipient{{Address: "r1@b.test", Status: outbound.StatusDelivered}}); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Ack(ctx, items[1].ID, 1); err != nil {
		t.Fatal(err)
	}
	if q.Len() != 3 {
		t.Errorf("len %d after a remove and an ack that removed, want 3", q.Len())
	}
}
