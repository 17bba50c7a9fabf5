package queuetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/mail/outbound"
)

// The rounds: Record, Ack, Unacked (book/sending.md, "Rounds and
// acknowledgement").

func testRecord(t *testing.T, q outbound.Queue) {
	ctx := context.Background()
	it := enqueue(t, q, t0, false, "x@b.test", "y@b.test")
	at := t0.Add(time.Minute)
	x := outbound.Recipient{Address: "X@B.TEST", Status: outbound.StatusDeferred, Detail: "451 4.7.1 try later", Code: 451,
		Enhanced: [3]int{4, 7, 1}, Attempts: 1, TLS: outbound.TLSVerified, NextAttempt: at.Add(5 * time.Minute), UpdatedAt: at}
	got, err := q.Record(ctx, it.ID, []outbound.Recipient{x})
	if err != nil {
		t.Fatal(err)
	}
	want := it
	want.Recipients = []outbound.Recipient{x, it.Recipients[1]}
	want.Recipients[0].Address = "x@b.test" // the queued spelling stays
	want.Rounds = 1
	if d := diff(got, want); d != "" {
		t.Errorf("record returned %s", d)
	}
	if d := diff(get(t, q, it.ID), want); d != "" {
		t.Errorf("get after record: %s", d)
	}
	// Every recipient final: the item stays, with one more round.
	final := []outbound.Recipient{
		{Address: "x@b.test", Status: outbound.StatusDelivered, Code: 250, Attempts: 2, UpdatedAt: at},
		{Address: "y@b.test", Status: outbound.StatusFailed, Code: 550, Attempts: 1, UpdatedAt: at},
	}
	if got, err = q.Record(ctx, it.ID, final); err != nil || got.Rounds != 2 || !got.Done() {
		t.Fatalf("final round: %+v %v", got, err)
	}
	if q.Len() != 1 {
		t.Error("Record removed a finished item")
	}
	// An empty round still counts.
	if got, err = q.Record(ctx, it.ID, nil); err != nil || got.Rounds != 3 {
		t.Fatalf("empty round: %+v %v", got, err)
	}
	// An address the item does not hold is refused, and changes nothing.
	_, err = q.Record(ctx, it.ID, []outbound.Recipient{{Address: "x@b.test", Status: outbound.StatusDeferred}, {Address: "z@b.test", Status: outbound.StatusDelivered}})
	if err == nil || errors.Is(err, outbound.ErrNotQueued) {
		t.Errorf("record of an unknown recipient: %v", err)
	}
	if got := get(t, q, it.ID); got.Rounds != 3 || got.Recipients[0].Status != outbound.StatusDelivered {
		t.Errorf("a refused record changed the item: %+v", got)
	}
}

// testRecordConcurrent: rounds recorded at once on one item are all
// counted (no update is lost).
func testRecordConcurrent(t *testing.T, q outbound.Queue) {
	ctx := context.Background()
	it := enqueue(t, q, t0, false, "x@b.test")
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			_, err := q.Record(ctx, it.ID, []outbound.Recipient{{Address: "x@b.test", Status: outbound.StatusDeferred, Attempts: i + 1, NextAttempt: t0}})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := get(t, q, it.ID); got.Rounds != n {
		t.Errorf("rounds = %d after %d concurrent records", got.Rounds, n)
	}
}

func testAck(t *testing.T, q outbound.Queue) {
	ctx := context.Background()
	it := enqueue(t, q, t0, false, "x@b.test", "y@b.test")
	other := enqueue(t, q, t0, false, "o@b.test")
	ack := func(round int) bool {
		t.Helper()
		removed, err := q.Ack(ctx, it.ID, round)
		if err != nil {
			t.Fatalf("ack %d: %v", round, err)
		}
		return removed
	}
	// Round 0 (nothing recorded) is a no-op; a round not recorded is refused.
	if ack(0) || get(t, q, it.ID).Acked != 0 {
		t.Error("ack of round 0 changed the item")
	}
	for _, r := range []int{-1, 1} {
		if _, err := q.Ack(ctx, it.ID, r); err == nil || errors.Is(err, outbound.ErrNotQueued) {
			t.Errorf("ack of round %d before any round: %v", r, err)
		}
	}
	// Round 1: x delivered, y deferred. Ack keeps the item, acknowledged.
	if _, err := q.Record(ctx, it.ID, []outbound.Recipient{
		{Address: "x@b.test", Status: outbound.StatusDelivered, Attempts: 1},
		{Address: "y@b.test", Status: outbound.StatusDeferred, Attempts: 1, NextAttempt: t0.Add(time.Hour)},
	}); err != nil {
		t.Fatal(err)
	}
	if ack(1) {
		t.Fatal("ack removed an item with a recipient not final")
	}
	if got := get(t, q, it.ID); got.Acked != 1 || got.Rounds != 1 {
		t.Fatalf("after ack 1: %+v", got)
	}
	// Rounds 2 and 3 recorded, 3 leaves every recipient final.
	if _, err := q.Record(ctx, it.ID, []outbound.Recipient{{Address: "y@b.test", Status: outbound.StatusDeferred, Attempts: 2, NextAttempt: t0.Add(2 * time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Record(ctx, it.ID, []outbound.Recipient{{Address: "y@b.test", Status: outbound.StatusFailed, Attempts: 3}}); err != nil {
		t.Fatal(err)
	}
	// An older round of a finished item: acknowledged, not removed.
	if ack(2) {
		t.Fatal("ack of an older round removed the item")
	}
	if got := get(t, q, it.ID); got.Acked != 2 {
		t.Fatalf("acked = %d after ack 2", got.Acked)
	}
	// Acked never goes back.
	if ack(1) || get(t, q, it.ID).Acked != 2 {
		t.Error("ack of round 1 after round 2 moved acked back")
	}
	if _, err := q.Ack(ctx, it.ID, 4); err == nil || errors.Is(err, outbound.ErrNotQueued) {
		t.Errorf("ack of round 4 of 3: %v", err)
	}
	// The latest round of a finished item removes it.
	if !ack(3) {
		t.Fatal("ack of the latest round of a finished item kept it")
	}
	if _, err := q.Get(ctx, it.ID); !errors.Is(err, outbound.ErrNotQueued) {
		t.Errorf("get after removal: %v", err)
	}
	if _, err := q.Data(ctx, it.ID); !errors.Is(err, outbound.ErrNotQueued) {
		t.Errorf("data after removal: %v", err)
	}
	if _, err := q.Ack(ctx, it.ID, 3); !errors.Is(err, outbound.ErrNotQueued) {
		t.Errorf("second ack: %v", err)
	}
	if q.Len() != 1 {
		t.Errorf("len %d, want the other item only", q.Len())
	}
	if got := get(t, q, other.ID); got.Rounds != 0 || got.Acked != 0 {
		t.Errorf("the other item changed: %+v", got)
	}
}

func testUnacked(t *testing.T, q outbound.Queue) {
	ctx := context.Background()
	unacked := func() []outbound.Item {
		t.Helper()
		items, err := q.Unacked(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return items
	}
	b := enqueue(t, q, t0.Add(time.Second), false, "b@b.test")
	a := enqueue(t, q, t0, false, "a@b.test")
	enqueue(t, q, t0, false, "c@b.test") // never attempted
	sameIDs(t, "unacked before any round", unacked())
	for _, it := range []outbound.Item{b, a} {
		if _, err := q.Record(ctx, it.ID, []outbound.Recipient{{Address: it.Recipients[0].Address, Status: outbound.StatusDelivered, Attempts: 1}}); err != nil {
			t.Fatal(err)
		}
	}
	got := unacked()
	sameIDs(t, "unacked after a round each", got, a, b)
	if len(got) == 2 && (got[0].Rounds != 1 || got[0].Acked != 0 || got[0].Recipients[0].Status != outbound.StatusDelivered) {
		t.Errorf("unacked item %+v", got[0])
	}
	if _, err := q.Ack(ctx, a.ID, 1); err != nil {
		t.Fatal(err)
	}
	sameIDs(t, "unacked after a's ack", unacked(), b)
}
