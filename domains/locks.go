package domains

import (
	"sort"
	"sync"
)

// MailboxLocks are the per-mailbox locks of book/admin.md. Work that stores into
// a mailbox holds its lock shared; an operation that removes a mailbox (or,
// later, a domain's mailboxes) holds it exclusively across checking, the
// config change and wiping the storage, so nothing is stored into a mailbox
// while it goes away. Exclusive locks are taken in sorted name order, before
// the config lock. The zero value is ready to use.
type MailboxLocks struct {
	mu sync.Mutex
	m  map[string]*mailboxLock
}

type mailboxLock struct {
	rw   sync.RWMutex
	refs int
}

func (l *MailboxLocks) get(name string) *mailboxLock {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string]*mailboxLock{}
	}
	e := l.m[name]
	if e == nil {
		e = &mailboxLock{}
		l.m[name] = e
	}
	e.refs++
	return e
}

func (l *MailboxLocks) put(name string, e *mailboxLock) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e.refs--; e.refs == 0 {
		delete(l.m, name)
	}
}

// RLock holds a mailbox shared (storing into it) until the returned
// function is called.
func (l *MailboxLocks) RLock(name string) (unlock func()) {
	e := l.get(name)
	e.rw.RLock()
	return func() {
		e.rw.RUnlock()
		l.put(name, e)
	}
}

// Lock holds the named mailboxes exclusively, taking them in sorted order
// so two such operations never deadlock, until the returned function is
// called.
func (l *MailboxLocks) Lock(names ...string) (unlock func()) {
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	var held []string
	var entries []*mailboxLock
	for i, n := range sorted {
		if i > 0 && n == sorted[i-1] {
			continue
		}
		e := l.get(n)
		e.rw.Lock()
		held, entries = append(held, n), append(entries, e)
	}
	return func() {
		for i := len(held) - 1; i >= 0; i-- {
			entries[i].rw.Unlock()
			l.put(held[i], entries[i])
		}
	}
}
