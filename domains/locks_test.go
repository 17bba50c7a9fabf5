package domains

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestMailboxLocksExcludeStoringWhileRemoving(t *testing.T) {
	t.Parallel()
	var l MailboxLocks
	unlockRead := l.RLock("a@x.test")
	removed, released := make(chan struct{}), make(chan struct{})
	go func() {
		unlock := l.Lock("b@x.test", "a@x.test", "a@x.test") // duplicates are fine
		close(removed)
		unlock()
		close(released)
	}()
	select {
	case <-removed:
		t.Fatal("exclusive lock taken while a store held the mailbox")
	case <-time.After(50 * time.Millisecond): // backstop only: the lock must still be waiting
	}
	unlockRead()
	<-removed
	<-released
	// Another mailbox is never blocked, and the map empties when idle.
	l.RLock("c@x.test")()
	l.mu.Lock()
	n := len(l.m)
	l.mu.Unlock()
	if n != 0 {
		t.Errorf("%d lock entries left when idle", n)
	}
}

func TestMailboxLocksSortedOrderNoDeadlock(t *testing.T) {
	t.Parallel()
	var l MailboxLocks
	var wg sync.WaitGroup
	var inside atomic.Int32
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			names := []string{"a@x.test", "b@x.test", "c@x.test"}
			if i%2 == 1 {
				names = []string{"c@x.test", "b@x.test", "a@x.test"}
			}
			unlock := l.Lock(names...)
			if inside.Add(1) != 1 {
				t.Error("two exclusive holders at once")
			}
			inside.Add(-1)
			unlock()
		}()
	}
	wg.Wait()
}
