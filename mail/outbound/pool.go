package outbound

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Defaults of connection reuse and of the per-destination cap
// (book/sending.md, "Delivery connections").
const (
	// DefaultIdleTimeout is how long an idle connection is kept for the
	// next message to the same destination.
	DefaultIdleTimeout = 30 * time.Second
	// DefaultPerDestination is how many transactions run at once to one
	// destination (a recipient domain, or the relay).
	DefaultPerDestination = 4
	// quitTimeout bounds the wait for the reply to QUIT when a pooled
	// connection is closed.
	quitTimeout = 10 * time.Second
)

// poolKey is a dialed destination: a connection is reused only for the
// same address, certificate name and TLS and login settings.
type poolKey struct {
	addr, serverName, hostname string
	implicitTLS, requireTLS    bool
	requireVerified            bool
	auth                       Auth
}

func newPoolKey(addr string, cfg DialConfig) poolKey {
	k := poolKey{addr: addr, serverName: cfg.ServerName, hostname: cfg.Hostname, implicitTLS: cfg.ImplicitTLS,
		requireTLS: cfg.RequireTLS, requireVerified: cfg.RequireVerified}
	if cfg.Auth != nil {
		k.auth = *cfg.Auth
	}
	return k
}

// idleConn is a connection waiting in the pool; timer closes it when it
// stays idle too long.
type idleConn struct {
	c     *Conn
	timer *time.Timer
}

// connPool keeps idle connections per destination. It is safe for
// concurrent use; each connection it hands out has one user at a time.
type connPool struct {
	timeout time.Duration
	maxIdle int

	mu      sync.Mutex
	idle    map[poolKey][]*idleConn
	closed  bool
	closing sync.WaitGroup // idle timers closing their connection
}

func newConnPool(timeout time.Duration, maxIdle int) *connPool {
	return &connPool{timeout: timeout, maxIdle: maxIdle, idle: map[poolKey][]*idleConn{}}
}

// get takes the most recently used idle connection for k, or nil.
func (p *connPool) get(k poolKey) *Conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	for list := p.idle[k]; len(list) > 0; list = p.idle[k] {
		ic := list[len(list)-1]
		p.drop(k, len(list)-1)
		ic.timer.Stop()
		if ic.c.Usable() {
			return ic.c
		}
		p.closeLater(ic.c)
	}
	return nil
}

// put returns c to the pool for k, or closes it when it is no longer
// usable, the pool is closed or already holds maxIdle connections for k.
func (p *connPool) put(k poolKey, c *Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !c.Usable() || p.closed || len(p.idle[k]) >= p.maxIdle {
		p.closeLater(c)
		return
	}
	ic := &idleConn{c: c}
	ic.timer = time.AfterFunc(p.timeout, func() { p.expire(k, ic) })
	p.idle[k] = append(p.idle[k], ic)
}

// expire closes ic when it is still idle: being in the list is what says
// so, whatever the timer's race with get.
func (p *connPool) expire(k poolKey, ic *idleConn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if i := slices.Index(p.idle[k], ic); i >= 0 {
		p.drop(k, i)
		p.closeLater(ic.c)
	}
}

// drop removes the i-th idle connection of k from the list. p.mu is held.
func (p *connPool) drop(k poolKey, i int) {
	list := slices.Delete(p.idle[k], i, i+1)
	if len(list) == 0 {
		delete(p.idle, k)
		return
	}
	p.idle[k] = list
}

// closeLater closes c in its own goroutine (QUIT waits for a reply),
// counted so that close can wait for it. p.mu is held.
func (p *connPool) closeLater(c *Conn) {
	p.closing.Add(1)
	go func() {
		defer p.closing.Done()
		_ = c.closeWithin(quitTimeout)
	}()
}

// close closes every idle connection and waits for the closes under way;
// connections put back later are closed at once.
func (p *connPool) close() error {
	p.mu.Lock()
	p.closed = true
	var conns []*Conn
	for _, list := range p.idle {
		for _, ic := range list {
			ic.timer.Stop()
			conns = append(conns, ic.c)
		}
	}
	p.idle = map[poolKey][]*idleConn{}
	p.mu.Unlock()

	errs := make([]error, len(conns))
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Go(func() { errs[i] = c.closeWithin(quitTimeout) })
	}
	wg.Wait()
	p.closing.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("outbound: close idle connections: %w", err)
	}
	return nil
}

// limiter caps the transactions running at once per destination.
type limiter struct {
	mu    sync.Mutex
	slots map[string]*destSlots
}

// destSlots is one destination's semaphore; refs counts holders and
// waiters, so that an unused destination is forgotten.
type destSlots struct {
	ch   chan struct{}
	refs int
}

// acquire waits for one of n slots of dest, or for ctx to end. The
// returned function gives the slot back.
func (l *limiter) acquire(ctx context.Context, dest string, n int) (func(), error) {
	l.mu.Lock()
	if l.slots == nil {
		l.slots = map[string]*destSlots{}
	}
	s := l.slots[dest]
	if s == nil {
		s = &destSlots{ch: make(chan struct{}, n)}
		l.slots[dest] = s
	}
	s.refs++
	l.mu.Unlock()
	select {
	case s.ch <- struct{}{}:
		return func() {
			<-s.ch
			l.unref(dest, s)
		}, nil
	case <-ctx.Done():
		l.unref(dest, s)
		return nil, fmt.Errorf("waiting for a connection slot to %s: %w", dest, ctx.Err())
	}
}

func (l *limiter) unref(dest string, s *destSlots) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s.refs--; s.refs == 0 {
		delete(l.slots, dest)
	}
}
