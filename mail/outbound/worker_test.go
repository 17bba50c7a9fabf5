package outbound

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/internal/panics"
	"github.com/rs/zerolog"
)

// handOns records what OnRound was given; fail decides its answer (nil:
// success).
type handOns struct {
	ch   chan RoundOutcome
	fail func(o RoundOutcome, call int) error
	n    atomic.Int64
}

func newHandOns() *handOns { return &handOns{ch: make(chan RoundOutcome, 100)} }

func (h *handOns) onRound(_ context.Context, o RoundOutcome) error {
	call := int(h.n.Add(1))
	h.ch <- o
	if h.fail != nil {
		return h.fail(o, call)
	}
	return nil
}

// next waits for the next hand-off.
func (h *handOns) next(t *testing.T) RoundOutcome {
	t.Helper()
	select {
	case o := <-h.ch:
		return o
	case <-time.After(30 * time.Second):
		t.Fatal("timed out waiting for OnRound")
		return RoundOutcome{}
	}
}

// none checks that no hand-off is left.
func (h *handOns) none(t *testing.T) {
	t.Helper()
	select {
	case o := <-h.ch:
		t.Errorf("unexpected hand-off of round %d: %+v", o.Round, o)
	default:
	}
}

func startWorker(t *testing.T, e *deliverEnv, h *handOns, adjust func(*WorkerConfig)) *Worker {
	t.Helper()
	cfg := WorkerConfig{Queue: e.q, Deliverer: e.d, OnRound: h.onRound, HandOffRetry: 10 * time.Millisecond,
		Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)}
	if adjust != nil {
		adjust(&cfg)
	}
	w := NewWorker(cfg)
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Stop(context.Background()) })
	return w
}

func stopWorker(t *testing.T, w *Worker) {
	t.Helper()
	if err := w.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func statuses(it Item) string {
	s := ""
	for _, r := range it.Recipients {
		s += fmt.Sprintf("%s=%s ", r.Address, r.Status)
	}
	return s
}

// 250: delivered, handed on once, removed. 550: failed, the same.
func TestWorkerDeliversAndFails(t *testing.T) {
	t.Parallel()
	e := newDeliverEnv(t, sinkOpts{rcpt: byLocalPart})
	h := newHandOns()
	w := startWorker(t, e, h, nil)
	for _, tc := range []struct {
		rcpt string
		want Status
		code int
	}{{"ok@b.test", StatusDelivered, 250}, {"bad@b.test", StatusFailed, 550}} {
		it := e.enqueue(t, tc.rcpt)
		w.Wake()
		o := h.next(t)
		if o.Round != 1 || o.Item.ID != it.ID || o.Item.Rounds != 1 || len(o.Updated) != 1 {
			t.Fatalf("%s: hand-off %+v", tc.rcpt, o)
		}
		if u := o.Updated[0]; u.Address != tc.rcpt || u.Status != tc.want || u.Code != tc.code || u.Attempts != 1 {
			t.Errorf("%s: updated %+v", tc.rcpt, u)
		}
		waitFor(t, tc.rcpt+"'s item to leave the queue", func() bool { return e.q.Len() == 0 })
	}
	stopWorker(t, w)
	h.none(t)
	if n := rcptCount(e.sink); n["ok@b.test"] != 1 || n["bad@b.test"] != 0 {
		t.Errorf("sink got %v", n)
	}
}

// 451 then 250: deferred in round 1, delivered in round 2 once the short
// retry wait is over; each round handed on once, in order.
func TestWorkerRetriesDeferred(t *testing.T) {
	t.Parallel()
	e := newDeliverEnv(t, sinkOpts{rcpt: laterOnce()})
	e.d.Retry = RetryPolicy{Base: 10 * time.Millisecond, Attempts: 3}
	it := e.enqueue(t, "ok@b.test", "later@b.test")
	h := newHandOns()
	w := startWorker(t, e, h, nil)

	o1 := h.next(t)
	if o1.Round != 1 || len(o1.Updated) != 2 || statuses(o1.Item) != "ok@b.test=delivered later@b.test=deferred " {
		t.Fatalf("round 1: %d %s %+v", o1.Round, statuses(o1.Item), o1.Updated)
	}
	o2 := h.next(t)
	if o2.Round != 2 || o2.Item.ID != it.ID || len(o2.Updated) != 1 || o2.Updated[0].Address != "later@b.test" ||
		o2.Updated[0].Status != StatusDelivered || o2.Updated[0].Attempts != 2 {
		t.Fatalf("round 2: %d %+v", o2.Round, o2.Updated)
	}
	stopWorker(t, w)
	h.none(t)
	if e.q.Len() != 0 {
		t.Errorf("queue holds %d", e.q.Len())
	}
	if n := rcptCount(e.sink); n["ok@b.test"] != 1 || n["later@b.test"] != 1 {
		t.Errorf("sink got %v", n)
	}
}

// A failed hand-off (an error, then a panic) is tried again until it
// succeeds; the round is acknowledged only then, and the item gets no
// other round meanwhile.
func TestWorkerRetriesHandOff(t *testing.T) {
	t.Parallel()
	e := newDeliverEnv(t, sinkOpts{})
	h := newHandOns()
	h.fail = func(o RoundOutcome, call int) error {
		switch call {
		case 1:
			return errors.New("sent copy busy")
		case 2:
			panic("hand-off bug")
		}
		return nil
	}
	var pc panics.Counter
	it := e.enqueue(t, "ok@b.test")
	w := startWorker(t, e, h, func(c *WorkerConfig) { c.Panics = &pc })
	for call := 1; call <= 3; call++ {
		o := h.next(t)
		if o.Round != 1 || o.Item.ID != it.ID || len(o.Updated) != 1 || o.Updated[0].Status != StatusDelivered {
			t.Fatalf("call %d: %+v", call, o)
		}
		if call < 3 {
			if got, err := e.q.Get(context.Background(), it.ID); err != nil || got.Acked != 0 {
				t.Fatalf("acknowledged after a failed hand-off: %+v %v", got, err)
			}
		}
	}
	waitFor(t, "the item to leave the queue", func() bool { return e.q.Len() == 0 })
	stopWorker(t, w)
	h.none(t)
	if pc.Count() != 1 {
		t.Errorf("%d panics counted", pc.Count())
	}
	if n := rcptCount(e.sink); n["ok@b.test"] != 1 {
		t.Errorf("sink got %v", n)
	}
}

// A restart mid-queue: the first worker stops with a recipient deferred
// and its round not handed on; the queue is reopened from disk, and a new
// worker hands that round on first (recovering, Updated nil), then
// delivers the deferred recipient once. Nothing delivered is sent again.
func TestWorkerRestart(t *testing.T) {
	t.Parallel()
	e := newDeliverEnv(t, sinkOpts{rcpt: laterOnce()})
	it := e.enqueue(t, "ok@b.test", "later@b.test")
	h1 := newHandOns()
	h1.fail = func(RoundOutcome, int) error { return errors.New("sent copy unavailable") }
	w1 := startWorker(t, e, h1, func(c *WorkerConfig) { c.HandOffRetry = time.Hour })
	if o := h1.next(t); o.Round != 1 || statuses(o.Item) != "ok@b.test=delivered later@b.test=deferred " {
		t.Fatalf("first run: %+v", o)
	}
	stopWorker(t, w1)
	h1.none(t)
	_ = e.q.Close()

	// The next start, two hours later: the deferred recipient is due.
	q := openQueue(t, e.dir)
	later := func() time.Time { return time.Now().Add(2 * time.Hour) }
	d := &Deliverer{Queue: q, Resolver: e.d.Resolver, Port: e.d.Port, Retry: e.d.Retry, Dial: e.d.Dial, Now: later}
	t.Cleanup(func() { _ = d.Close() })
	if u, err := q.Unacked(context.Background()); err != nil || len(u) != 1 || u[0].Rounds != 1 || u[0].Acked != 0 {
		t.Fatalf("unacked after reopen: %+v %v", u, err)
	}
	h2 := newHandOns()
	e2 := &deliverEnv{q: q, d: d}
	w2 := startWorker(t, e2, h2, func(c *WorkerConfig) { c.Now = later })
	rec := h2.next(t)
	if rec.Round != 1 || rec.Updated != nil || rec.Item.ID != it.ID || statuses(rec.Item) != "ok@b.test=delivered later@b.test=deferred " {
		t.Fatalf("recovery hand-off: %+v", rec)
	}
	o := h2.next(t)
	if o.Round != 2 || len(o.Updated) != 1 || o.Updated[0].Address != "later@b.test" || o.Updated[0].Status != StatusDelivered {
		t.Fatalf("round after restart: %+v", o)
	}
	stopWorker(t, w2)
	h2.none(t)
	if q.Len() != 0 {
		t.Errorf("queue holds %d", q.Len())
	}
	if n := rcptCount(e.sink); n["ok@b.test"] != 1 || n["later@b.test"] != 1 {
		t.Errorf("sink got %v: each recipient once", n)
	}
}

// Stop waits for a round in flight until its context ends, then cancels
// it: the cancelled attempt is not counted, and the recipient stays due.
func TestWorkerStopCancelsRounds(t *testing.T) {
	t.Parallel()
	gate := make(chan struct{})
	var inData sync.WaitGroup
	inData.Add(1)
	e := newDeliverEnv(t, sinkOpts{data: func() error {
		inData.Done()
		<-gate
		return nil
	}})
	defer close(gate)
	it := e.enqueue(t, "slow@b.test")
	h := newHandOns()
	w := startWorker(t, e, h, nil)
	inData.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := w.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("stop: %v, want the deadline", err)
	}
	h.none(t)
	got, err := e.q.Get(context.Background(), it.ID)
	if err != nil || got.Rounds != 0 || got.Recipients[0].Attempts != 0 || got.Recipients[0].Status != StatusQueued {
		t.Errorf("after a cancelled round: %+v %v", got, err)
	}
}

// Stop leaves no goroutine behind: not the loop, not the rounds, not the
// idle connections' timers. Not parallel: it counts goroutines.
func TestWorkerStopLeaksNothing(t *testing.T) {
	e := newDeliverEnv(t, sinkOpts{rcpt: byLocalPart})
	e.d.Retry = RetryPolicy{Base: time.Hour, Attempts: 3}
	base := runtime.NumGoroutine()
	h := newHandOns()
	w := startWorker(t, e, h, nil)
	e.enqueue(t, "ok@b.test")
	e.enqueue(t, "later@b.test") // stays deferred
	w.Wake()
	h.next(t)
	h.next(t)
	if _, open, _ := e.sink.counts(); open == 0 {
		t.Fatal("no idle connection kept")
	}
	stopWorker(t, w)
	if err := w.Stop(context.Background()); err != nil {
		t.Errorf("second stop: %v", err)
	}
	waitFor(t, "the goroutines to end", func() bool { return runtime.NumGoroutine() <= base })
	if _, open, _ := e.sink.counts(); open != 0 {
		t.Errorf("%d connections left open", open)
	}
	if e.q.Len() != 1 {
		t.Errorf("queue holds %d, want the deferred item", e.q.Len())
	}
}

// TestWorkerRecoversUnackedPeriodically: with RecoverInterval, a round
// recorded and left unacknowledged after Start (as a node that died leaves
// one in a shared queue) is handed on once, without a restart.
func TestWorkerRecoversUnackedPeriodically(t *testing.T) {
	t.Parallel()
	e := newDeliverEnv(t, sinkOpts{})
	h := newHandOns()
	startWorker(t, e, h, func(c *WorkerConfig) { c.RecoverInterval = 20 * time.Millisecond; c.MaxSleep = 20 * time.Millisecond })
	// Another node's round: recorded, never acknowledged. The item is
	// enqueued and recorded in one go, before this worker's pass can
	// start a round of its own: its recipient is final at once.
	ctx := context.Background()
	it, err := e.q.Enqueue(ctx, Submission{From: "a@a.test", Recipients: []string{"x@b.test"}, Data: []byte("Subject: x\r\n\r\nx\r\n")}, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.q.Record(ctx, it.ID, []Recipient{{Address: "x@b.test", Status: StatusDelivered}}); err != nil {
		t.Fatal(err)
	}
	o := h.next(t)
	if o.Round != 1 || o.Updated != nil || o.Item.ID != it.ID {
		t.Fatalf("recovered hand-off: %+v", o)
	}
	deadline := time.Now().Add(10 * time.Second)
	for e.q.Len() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := e.q.Len(); n != 0 {
		t.Fatalf("queue holds %d after the recovered hand-off", n)
	}
	time.Sleep(100 * time.Millisecond) // several more recovery passes
	h.none(t)
	if n := len(rcptCount(e.sink)); n != 0 {
		t.Fatalf("the sink got %d recipients: a recovered round is handed on, not sent again", n)
	}
}
