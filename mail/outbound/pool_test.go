package outbound

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// Messages to one domain in sequence share one connection, over TLS; a
// connection the server dropped while idle is replaced, and the message
// is delivered once.
func TestConnectionReuse(t *testing.T) {
	t.Parallel()
	e := newDeliverEnv(t, sinkOpts{})
	for i, rcpt := range []string{"one@b.test", "two@b.test", "three@b.test"} {
		r := e.round(t, e.enqueue(t, rcpt).ID).Recipients[0]
		if r.Status != StatusDelivered || r.TLS != TLSVerified {
			t.Fatalf("message %d: %+v", i+1, r)
		}
	}
	if accepts, open, _ := e.sink.counts(); accepts != 1 || open != 1 {
		t.Fatalf("%d connections for three messages (%d open), want one", accepts, open)
	}

	// The server closes the idle connection; the next message notices at
	// MAIL FROM and goes over a new one.
	e.sink.drop()
	r := e.round(t, e.enqueue(t, "four@b.test").ID).Recipients[0]
	if r.Status != StatusDelivered || r.Attempts != 1 {
		t.Fatalf("after the server dropped the connection: %+v", r)
	}
	if accepts, _, _ := e.sink.counts(); accepts != 2 {
		t.Errorf("%d connections, want a second one after the drop", accepts)
	}
	n := rcptCount(e.sink)
	for _, rcpt := range []string{"one@b.test", "two@b.test", "three@b.test", "four@b.test"} {
		if n[rcpt] != 1 {
			t.Errorf("%s received %d times", rcpt, n[rcpt])
		}
	}

	// Close ends the idle connection.
	if err := e.d.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	waitFor(t, "the idle connection to close", func() bool { _, open, _ := e.sink.counts(); return open == 0 })
	// A round after Close still delivers, and does not keep its connection.
	if r := e.round(t, e.enqueue(t, "five@b.test").ID).Recipients[0]; r.Status != StatusDelivered {
		t.Errorf("after Close: %+v", r)
	}
	waitFor(t, "the connection after Close to close", func() bool { _, open, _ := e.sink.counts(); return open == 0 })
}

// An idle connection is closed after IdleTimeout.
func TestConnectionIdleTimeout(t *testing.T) {
	t.Parallel()
	e := newDeliverEnv(t, sinkOpts{})
	e.d.IdleTimeout = 20 * time.Millisecond
	e.round(t, e.enqueue(t, "one@b.test").ID)
	waitFor(t, "the idle connection to time out", func() bool { _, open, _ := e.sink.counts(); return open == 0 })
	e.round(t, e.enqueue(t, "two@b.test").ID)
	if accepts, _, _ := e.sink.counts(); accepts != 2 {
		t.Errorf("%d connections, want a new one after the idle timeout", accepts)
	}
}

// With PerDestination 2, a slow server never has more than two sessions
// from us, however many rounds are due; a round waiting for a slot gives
// up when its context ends, without recording an attempt.
func TestPerDestinationCap(t *testing.T) {
	t.Parallel()
	gate := make(chan struct{})
	var mu sync.Mutex
	inData := 0
	e := newDeliverEnv(t, sinkOpts{data: func() error {
		mu.Lock()
		inData++
		mu.Unlock()
		<-gate
		return nil
	}})
	e.d.PerDestination = 2
	ctx := context.Background()
	const n = 5
	var ids []string
	for i := range n {
		ids = append(ids, e.enqueue(t, string(rune('a'+i))+"@b.test").ID)
	}
	errs := make(chan error, n)
	for _, id := range ids {
		go func() {
			_, round, err := e.d.Round(ctx, id)
			if err == nil && round != 1 {
				err = errors.New("no round recorded")
			}
			errs <- err
		}()
	}
	waitFor(t, "two transactions in DATA", func() bool { mu.Lock(); defer mu.Unlock(); return inData == 2 })

	// A round that cannot get a slot before its context ends.
	extra := e.enqueue(t, "extra@b.test")
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	_, round, err := e.d.Round(short, extra.ID)
	cancel()
	if err == nil || round != 0 {
		t.Errorf("round without a slot: %d %v, want an error and no round", round, err)
	}
	if it, _ := e.q.Get(ctx, extra.ID); it.Rounds != 0 || it.Recipients[0].Attempts != 0 || it.Recipients[0].Status != StatusQueued {
		t.Errorf("a round stopped waiting was recorded: %+v", it)
	}

	close(gate)
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	accepts, _, maxOpen := e.sink.counts()
	if maxOpen > 2 || accepts > 2 {
		t.Errorf("%d sessions at once (%d in all), want at most 2", maxOpen, accepts)
	}
	if got := len(e.sink.messages()); got != n {
		t.Errorf("%d messages delivered, want %d", got, n)
	}
}
