package pgqueue

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/internal/pgtest"
	"github.com/aimx-dev/aimx/mail/outbound"
	"github.com/aimx-dev/aimx/mail/outbound/queuetest"
	"github.com/aimx-dev/aimx/pgstore"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// node opens dsn as node name, registered (a new incarnation).
func node(t testing.TB, dsn, name string) *pgstore.DB {
	t.Helper()
	db, err := pgstore.Open(context.Background(), dsn, pgstore.Options{Node: name, MaxConns: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	if err := db.Register(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	return db
}

func newQueue(t testing.TB, db *pgstore.DB, opts QueueOptions) *Queue {
	t.Helper()
	q, err := NewQueue(db, opts)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// TestConformance runs the outbound.Queue suite; the subtests share one
// database (a fresh one each costs a second), emptied before each.
func TestConformance(t *testing.T) {
	db := node(t, pgtest.DSN(t), "a")
	queuetest.Run(t, func(t *testing.T) outbound.Queue {
		if _, err := db.Pool.Exec(context.Background(), "TRUNCATE aimx.outbound_queue"); err != nil {
			t.Fatal(err)
		}
		return newQueue(t, db, QueueOptions{})
	})
}

func TestNewQueueWantsARegisteredNode(t *testing.T) {
	db, err := pgstore.Open(context.Background(), pgtest.DSN(t), pgstore.Options{Node: "a"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := NewQueue(db, QueueOptions{}); err == nil {
		t.Fatal("NewQueue accepted a node that never registered")
	}
}

func submission(rcpt string) outbound.Submission {
	return outbound.Submission{From: "a@a.test", Recipients: []string{rcpt}, Mailbox: "a@a.test", SentID: "s-" + rcpt, Data: []byte("x\r\n")}
}

// TestDueHandsEachItemToOneNode: two nodes' delivery loops call Due at
// once, in a loop, while 200 items are enqueued: every item is handed to
// exactly one node, and stays that node's.
func TestDueHandsEachItemToOneNode(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	qs := []*Queue{newQueue(t, node(t, dsn, "a"), QueueOptions{}), newQueue(t, node(t, dsn, "b"), QueueOptions{})}
	const n = 200
	now := time.Now()
	got := make([]map[string]bool, len(qs))
	var mu sync.Mutex // guards got
	total := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(got[0]) + len(got[1])
	}
	errs := make(chan error, len(qs)+1)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i, q := range qs {
		got[i] = map[string]bool{}
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				items, err := q.Due(ctx, now.Add(time.Hour))
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				for _, it := range items {
					got[i][it.ID] = true
				}
				mu.Unlock()
			}
		})
	}
	enqueued := map[string]bool{}
	for i := range n {
		it, err := qs[i%2].Enqueue(ctx, submission(fmt.Sprintf("r%d@b.test", i)), now)
		if err != nil {
			t.Fatal(err)
		}
		enqueued[it.ID] = true
	}
	// Let the loops take the last ones, then stop them.
	deadline := time.Now().Add(10 * time.Second)
	for total() < n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for id := range got[0] {
		if got[1][id] {
			t.Errorf("%s was handed to both nodes", id)
		}
	}
	if len(got[0])+len(got[1]) != n {
		t.Fatalf("the nodes got %d + %d items, want %d in all", len(got[0]), len(got[1]), n)
	}
	for id := range enqueued {
		if !got[0][id] && !got[1][id] {
			t.Errorf("%s was handed to no node", id)
		}
	}
	t.Logf("node a got %d, node b %d", len(got[0]), len(got[1]))
	// Each node keeps what it took: Due returns it to its node again, and
	// to no other.
	for i, q := range qs {
		items, err := q.Due(ctx, now.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if len(items) != len(got[i]) {
			t.Errorf("node %d's Due returns %d items, it holds %d", i, len(items), len(got[i]))
		}
		for _, it := range items {
			if !got[i][it.ID] {
				t.Errorf("node %d got %s, the other node's", i, it.ID)
			}
		}
	}
}

// TestTakeOverDeadNode: a node's items go to another node once its claim
// is dead, whether it restarted (a new incarnation) or stopped beating for
// longer than the lease; the node that lost a claim can no longer read
// the message to send it.
func TestTakeOverDeadNode(t *testing.T) {
	for _, how := range []string{"restart", "lease"} {
		t.Run(how, func(t *testing.T) {
			dsn := pgtest.DSN(t)
			ctx := context.Background()
			opts := QueueOptions{}
			if how == "lease" {
				opts.Lease = 200 * time.Millisecond
			}
			adb := node(t, dsn, "a")
			a := newQueue(t, adb, opts)
			b := newQueue(t, node(t, dsn, "b"), opts)
			now := time.Now()
			it, err := a.Enqueue(ctx, submission("x@b.test"), now)
			if err != nil {
				t.Fatal(err)
			}
			if due, err := a.Due(ctx, now); err != nil || len(due) != 1 {
				t.Fatalf("a's due: %v %v", due, err)
			}
			if due, err := b.Due(ctx, now); err != nil || len(due) != 0 {
				t.Fatalf("b's due while a lives: %v %v", due, err)
			}
			if _, err := b.Data(ctx, it.ID); !errors.Is(err, ErrClaimed) {
				t.Fatalf("b read a's message: %v", err)
			}
			if _, err := a.Data(ctx, it.ID); err != nil {
				t.Fatalf("a cannot read its own message: %v", err)
			}
			switch how {
			case "restart":
				node(t, dsn, "a") // a new incarnation under a's name
			case "lease":
				// b beats, a does not.
				time.Sleep(300 * time.Millisecond)
				if err := b.db.Heartbeat(ctx, nil); err != nil {
					t.Fatal(err)
				}
			}
			due, err := b.Due(ctx, now)
			if err != nil || len(due) != 1 || due[0].ID != it.ID {
				t.Fatalf("b's due after a died: %v %v", due, err)
			}
			if _, err := b.Data(ctx, it.ID); err != nil {
				t.Fatalf("b cannot read what it took over: %v", err)
			}
			if _, err := a.Data(ctx, it.ID); !errors.Is(err, ErrClaimed) {
				t.Fatalf("the dead claimer still reads the message: %v", err)
			}
			if due, _ := a.Due(ctx, now); len(due) != 0 && how == "restart" {
				t.Fatalf("the old incarnation's due still returns %v", due)
			}
		})
	}
}

// TestUnackedTakeOver: a round a node recorded and did not hand on is
// handed on before any new round: another node's Due leaves it, its
// Unacked takes it only once the first node is dead, and a restarted node
// finds its own.
func TestUnackedTakeOver(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	a := newQueue(t, node(t, dsn, "a"), QueueOptions{})
	b := newQueue(t, node(t, dsn, "b"), QueueOptions{})
	now := time.Now()
	mine, err := a.Enqueue(ctx, submission("x@b.test"), now)
	if err != nil {
		t.Fatal(err)
	}
	other, err := a.Enqueue(ctx, submission("y@b.test"), now)
	if err != nil {
		t.Fatal(err)
	}
	if due, err := a.Due(ctx, now); err != nil || len(due) != 2 {
		t.Fatalf("a's due: %v %v", due, err)
	}
	// A round each, with a recipient still due: neither handed on.
	for _, it := range []outbound.Item{mine, other} {
		if _, err := a.Record(ctx, it.ID, []outbound.Recipient{{Address: it.Recipients[0].Address, Status: outbound.StatusDeferred, Attempts: 1, NextAttempt: now}}); err != nil {
			t.Fatal(err)
		}
	}
	if u, err := b.Unacked(ctx); err != nil || len(u) != 0 {
		t.Fatalf("b's unacked while a lives: %v %v", u, err)
	}
	// a restarts: its new incarnation's Unacked takes "mine" first, then
	// b's Due still leaves "other" (not handed on), b's Unacked takes it.
	a2 := newQueue(t, node(t, dsn, "a"), QueueOptions{})
	if due, err := b.Due(ctx, now); err != nil || len(due) != 0 {
		t.Fatalf("b's due took a round not handed on: %v %v", due, err)
	}
	u, err := a2.Unacked(ctx)
	if err != nil || len(u) != 2 {
		t.Fatalf("restarted a's unacked: %v %v", u, err)
	}
	if removed, err := a2.Ack(ctx, mine.ID, 1); err != nil || removed {
		t.Fatalf("ack: %v %v", removed, err)
	}
	if u, err := b.Unacked(ctx); err != nil || len(u) != 0 {
		t.Fatalf("b's unacked while a2 holds the items: %v %v", u, err)
	}
	// a2 dies too (another restart): b takes "other" through Unacked, then
	// "mine" (handed on) through Due.
	node(t, dsn, "a")
	if u, err := b.Unacked(ctx); err != nil || len(u) != 1 || u[0].ID != other.ID {
		t.Fatalf("b's unacked after a2 died: %v %v", u, err)
	}
	// b's Due returns what b holds ("other", whose hand-off b's Worker
	// has pending) and takes "mine".
	due, err := b.Due(ctx, now)
	if err != nil || len(due) != 2 || due[0].ID == due[1].ID || (due[0].ID != mine.ID && due[1].ID != mine.ID) || (due[0].ID != other.ID && due[1].ID != other.ID) {
		t.Fatalf("b's due after a2 died: %v %v", due, err)
	}
	if due, err := a2.Due(ctx, now); err != nil || len(due) != 0 {
		t.Fatalf("the dead a2's due: %v %v", due, err)
	}
}

// TestReleaseClaims: a node stopping gracefully gives its items up at once.
func TestReleaseClaims(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	a := newQueue(t, node(t, dsn, "a"), QueueOptions{})
	b := newQueue(t, node(t, dsn, "b"), QueueOptions{})
	now := time.Now()
	if _, err := a.Enqueue(ctx, submission("x@b.test"), now); err != nil {
		t.Fatal(err)
	}
	if due, _ := a.Due(ctx, now); len(due) != 1 {
		t.Fatal("a took nothing")
	}
	if due, _ := b.Due(ctx, now); len(due) != 0 {
		t.Fatal("b took a's item")
	}
	if err := a.ReleaseClaims(ctx); err != nil {
		t.Fatal(err)
	}
	if due, _ := b.Due(ctx, now); len(due) != 1 {
		t.Fatal("b did not take the released item")
	}
}

func TestLenSeesOtherNodes(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	a := newQueue(t, node(t, dsn, "a"), QueueOptions{})
	b := newQueue(t, node(t, dsn, "b"), QueueOptions{})
	if b.Len() != 0 {
		t.Fatal("b counts items in an empty queue")
	}
	if _, err := a.Enqueue(ctx, submission("x@b.test"), time.Now()); err != nil {
		t.Fatal(err)
	}
	if a.Len() != 1 {
		t.Errorf("a's own enqueue not counted at once: %d", a.Len())
	}
	time.Sleep(LenMaxAge + 100*time.Millisecond)
	if b.Len() != 1 {
		t.Errorf("b's count %d, LenMaxAge after a's enqueue", b.Len())
	}
}

func TestMessageCap(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	db := node(t, dsn, "a")
	big := newQueue(t, db, QueueOptions{})
	small := newQueue(t, db, QueueOptions{MaxMessageBytes: 10})
	s := submission("x@b.test")
	s.Data = make([]byte, 100)
	if _, err := small.Enqueue(ctx, s, time.Now()); err == nil {
		t.Error("a message over the cap was queued")
	}
	it, err := big.Enqueue(ctx, s, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := small.Data(ctx, it.ID); err == nil || errors.Is(err, outbound.ErrNotQueued) {
		t.Errorf("a message over the cap was read: %v", err)
	}
}

func BenchmarkEnqueue(b *testing.B) {
	q := newQueue(b, node(b, pgtest.DSN(b), "a"), QueueOptions{})
	ctx := context.Background()
	s := submission("x@b.test")
	s.Data = make([]byte, 8<<10)
	now := time.Now()
	b.SetBytes(int64(len(s.Data)))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := q.Enqueue(ctx, s, now); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// TestAnyReplyRoundTrips: a remote reply is the peer's text; a NUL or bytes
// that are not UTF-8 neither fail the round's record nor change what
// another node reads.
func TestAnyReplyRoundTrips(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	a := newQueue(t, node(t, dsn, "a"), QueueOptions{})
	b := newQueue(t, node(t, dsn, "b"), QueueOptions{})
	it, err := a.Enqueue(ctx, submission("x@b.test"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// Committed before Enqueue returned: another node reads it.
	if _, err := b.Get(ctx, it.ID); err != nil {
		t.Fatalf("b cannot see a's enqueue: %v", err)
	}
	detail := "451 \x00 nul \u2028 ok"
	if _, err := a.Record(ctx, it.ID, []outbound.Recipient{{Address: "x@b.test", Status: outbound.StatusDeferred, Detail: detail + "\xff"}}); err != nil {
		t.Fatal(err)
	}
	got, err := b.Get(ctx, it.ID)
	if err != nil {
		t.Fatal(err)
	}
	// encoding/json turns the invalid byte into U+FFFD, as in the file queue.
	if want := detail + "\ufffd"; got.Recipients[0].Detail != want {
		t.Errorf("detail %q, want %q", got.Recipients[0].Detail, want)
	}
}
