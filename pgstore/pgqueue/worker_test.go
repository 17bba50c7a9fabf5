package pgqueue

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/internal/pgtest"
	"github.com/aimx-dev/aimx/mail/outbound"
)

// ledger counts, per item, the sends and the hand-offs the simulated
// delivery loops made.
type ledger struct {
	mu       sync.Mutex
	sent     map[string]int
	handedOn map[string]int
}

func (l *ledger) add(m map[string]int, id string) {
	l.mu.Lock()
	m[id]++
	l.mu.Unlock()
}

// loop is outbound.Worker's protocol in short: hand on the unacked rounds,
// then over and over take the due items, read the message, "send" it to
// every due recipient, record the round, hand it on and acknowledge it.
// It stops when stop closes, or right after its kill-th send is recorded
// (a crash before the hand-off).
func loop(ctx context.Context, t *testing.T, q *Queue, l *ledger, stop <-chan struct{}, kill int) {
	handOn := func(it outbound.Item) {
		l.add(l.handedOn, it.ID)
		if _, err := q.Ack(ctx, it.ID, it.Rounds); err != nil {
			t.Errorf("ack %s: %v", it.ID, err)
		}
	}
	unacked, err := q.Unacked(ctx)
	if err != nil {
		t.Error(err)
		return
	}
	for _, it := range unacked {
		handOn(it)
	}
	sends := 0
	for {
		select {
		case <-stop:
			return
		default:
		}
		items, err := q.Due(ctx, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC))
		if err != nil {
			t.Error(err)
			return
		}
		for _, it := range items {
			now := time.Now()
			cur, err := q.Get(ctx, it.ID)
			if errors.Is(err, outbound.ErrNotQueued) {
				continue
			}
			if err != nil {
				t.Error(err)
				return
			}
			due := cur.Due(now)
			if len(due) == 0 {
				continue
			}
			if _, err := q.Data(ctx, it.ID); err != nil {
				t.Errorf("data of an item Due handed over: %v", err)
				return
			}
			l.add(l.sent, it.ID)
			for i := range due {
				due[i].Status, due[i].Attempts, due[i].UpdatedAt = outbound.StatusDelivered, 1, now
			}
			rec, err := q.Record(ctx, it.ID, due)
			if err != nil {
				t.Error(err)
				return
			}
			if sends++; sends == kill {
				return
			}
			handOn(rec)
		}
	}
}

// TestDeliveredOnceAcrossARestart: two nodes deliver 200 items; node a,
// which took every item first, crashes after 50 sends with its last round
// not handed on, and restarts. Every item is sent once and handed on
// once, and the queue ends empty.
func TestDeliveredOnceAcrossARestart(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	a := newQueue(t, node(t, dsn, "a"), QueueOptions{})
	b := newQueue(t, node(t, dsn, "b"), QueueOptions{})
	const n = 200
	now := time.Now()
	for i := range n {
		if _, err := a.Enqueue(ctx, submission(fmt.Sprintf("r%d@b.test", i)), now); err != nil {
			t.Fatal(err)
		}
	}
	if due, err := a.Due(ctx, now); err != nil || len(due) != n {
		t.Fatalf("a took %d: %v", len(due), err)
	}
	l := &ledger{sent: map[string]int{}, handedOn: map[string]int{}}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { loop(ctx, t, b, l, stop, 0) })
	loop(ctx, t, a, l, stop, 50) // a crashes
	a2 := newQueue(t, node(t, dsn, "a"), QueueOptions{})
	wg.Go(func() { loop(ctx, t, a2, l, stop, 0) })
	deadline := time.Now().Add(30 * time.Second)
	for a2.Len() > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if left, err := a2.List(ctx); err != nil || len(left) != 0 {
		t.Fatalf("%d items left: %v", len(left), err)
	}
	if len(l.sent) != n {
		t.Errorf("%d items sent, want %d", len(l.sent), n)
	}
	for id, c := range l.sent {
		if c != 1 {
			t.Errorf("%s sent %d times", id, c)
		}
		if h := l.handedOn[id]; h != 1 {
			t.Errorf("%s handed on %d times", id, h)
		}
	}
}
