package mailbus

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

func TestSubscribeSeesOnlyLaterEventsOfItsMailboxes(t *testing.T) {
	t.Parallel()
	b := New(Options{Epoch: "e1"})
	b.Publish("a@x", "1", t0)
	sub, seq := b.Subscribe("a@x", "b@x")
	defer sub.Close()
	if seq != 1 {
		t.Fatalf("registered at %d, want 1", seq)
	}
	b.Publish("c@x", "2", t0)
	b.Publish("b@x", "3", t0)
	b.Publish("a@x", "4", t0)
	select {
	case <-sub.Ready():
	default:
		t.Fatal("not woken")
	}
	evs, over := sub.Take()
	if over || len(evs) != 2 || evs[0].ID != "3" || evs[0].Seq != 3 || evs[1].ID != "4" {
		t.Fatalf("took %+v (overflow %v)", evs, over)
	}
	if evs, _ := sub.Take(); len(evs) != 0 {
		t.Fatalf("second take %+v", evs)
	}
	if b.Epoch() != "e1" || b.Seq() != 4 {
		t.Fatalf("epoch %q seq %d", b.Epoch(), b.Seq())
	}
}

func TestAllMailboxesAndClose(t *testing.T) {
	t.Parallel()
	b := New(Options{})
	all, _ := b.Subscribe()
	one, _ := b.Subscribe("a@x", "a@x")
	if n := b.Subscribers(); n != 2 {
		t.Fatalf("%d subscribers, want 2", n)
	}
	if n, m := b.Waiting("a@x"), b.Waiting("z@x"); n != 2 || m != 1 {
		t.Fatalf("waiting on a@x %d, z@x %d; want 2 and 1", n, m)
	}
	b.Publish("z@x", "1", t0)
	if evs, _ := all.Take(); len(evs) != 1 {
		t.Fatalf("all took %+v", evs)
	}
	if evs, _ := one.Take(); len(evs) != 0 {
		t.Fatalf("one took %+v", evs)
	}
	all.Close()
	one.Close()
	one.Close()
	if n := b.Subscribers(); n != 0 {
		t.Fatalf("%d subscribers after Close, want 0", n)
	}
	b.Publish("a@x", "2", t0)
	if evs, _ := one.Take(); len(evs) != 0 {
		t.Fatalf("closed subscriber took %+v", evs)
	}
}

func TestEventsFromTheRing(t *testing.T) {
	t.Parallel()
	b := New(Options{Retain: 4})
	for i := range 6 {
		b.Publish(fmt.Sprintf("m%d@x", i%2), fmt.Sprint(i+1), t0)
	}
	// Seqs 3..6 are retained.
	evs, ok := b.Events(2, 6, nil)
	if !ok || len(evs) != 4 || evs[0].Seq != 3 || evs[3].Seq != 6 {
		t.Fatalf("Events(2,6) = %+v, %v", evs, ok)
	}
	evs, ok = b.Events(3, 5, func(m string) bool { return m == "m1@x" })
	if !ok || len(evs) != 1 || evs[0].Seq != 4 {
		t.Fatalf("Events(3,5,m1) = %+v, %v", evs, ok)
	}
	if _, ok := b.Events(1, 6, nil); ok {
		t.Fatal("Events after a dropped event answered ok")
	}
	if _, ok := b.Events(7, 9, nil); ok {
		t.Fatal("Events after the last seq answered ok")
	}
	if evs, ok := b.Events(6, 100, nil); !ok || len(evs) != 0 {
		t.Fatalf("Events(6) = %+v, %v", evs, ok)
	}
}

func TestQueueOverflowKeepsTheFirstEvents(t *testing.T) {
	t.Parallel()
	b := New(Options{Queue: 3})
	sub, _ := b.Subscribe("a@x")
	defer sub.Close()
	for i := range 5 {
		b.Publish("a@x", fmt.Sprint(i+1), t0)
	}
	evs, over := sub.Take()
	if !over || len(evs) != 3 || evs[2].ID != "3" {
		t.Fatalf("took %+v (overflow %v)", evs, over)
	}
	b.Publish("a@x", "6", t0)
	if evs, over := sub.Take(); over || len(evs) != 1 {
		t.Fatalf("after the take: %+v (overflow %v)", evs, over)
	}
}

func TestWatchAndClose(t *testing.T) {
	t.Parallel()
	b := New(Options{})
	var got []string
	stop := b.Watch(func(ev Event) { got = append(got, ev.ID) })
	b.Publish("a@x", "1", t0)
	stop()
	b.Publish("a@x", "2", t0)
	if len(got) != 1 || got[0] != "1" {
		t.Fatalf("watched %v", got)
	}
	select {
	case <-b.Done():
		t.Fatal("done before Close")
	default:
	}
	b.Close()
	b.Close()
	<-b.Done()
}

// Many publishers and subscribers at once: every subscriber sees exactly
// the events of its mailbox, in order (run with -race).
func TestConcurrentPublishSubscribe(t *testing.T) {
	t.Parallel()
	b := New(Options{})
	const boxes, per = 20, 50
	var wg sync.WaitGroup
	subs := make([]*Sub, boxes)
	for i := range boxes {
		subs[i], _ = b.Subscribe(fmt.Sprintf("m%d@x", i))
	}
	for i := range boxes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range per {
				b.Publish(fmt.Sprintf("m%d@x", i), fmt.Sprint(j), t0)
			}
		}()
	}
	wg.Wait()
	for i, s := range subs {
		evs, over := s.Take()
		if over || len(evs) != per {
			t.Fatalf("m%d: %d events (overflow %v)", i, len(evs), over)
		}
		for j, ev := range evs {
			if ev.ID != fmt.Sprint(j) || (j > 0 && ev.Seq <= evs[j-1].Seq) {
				t.Fatalf("m%d: event %d is %+v", i, j, ev)
			}
		}
		s.Close()
	}
}
