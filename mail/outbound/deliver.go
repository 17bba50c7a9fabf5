package outbound

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/mail/outcome"
)

// Deliverer runs delivery rounds for queued messages: recipients on our
// own domains through Local, the others through the relay when one is set,
// else straight to each recipient domain's MX (book/sending.md, "Queue"
// and "Delivery connections"). Connections are kept for reuse between
// rounds; Close closes them. Its fields are set before the first round and
// not changed afterwards.
type Deliverer struct {
	Queue    Queue
	Resolver Resolver
	// Port is the MX port (`[outbound] port`; domains.DefaultOutboundPort
	// when 0).
	Port int
	// IPv6 allows IPv6 addresses (`[outbound] ipv6`).
	IPv6  bool
	Retry RetryPolicy
	// Dial is the connection template: Hostname (`[smtp] hostname`) is
	// required; ServerName is set per MX host or to the relay host.
	Dial DialConfig
	// Relay, when set, carries every recipient not on our own domains
	// (`[outbound] relay`), without MX lookups.
	Relay *Relay
	// Local, when set, delivers to recipients on our own domains without a
	// network hop (nil: none are).
	Local Local
	// IdleTimeout is how long an idle connection is kept for reuse
	// (DefaultIdleTimeout when 0).
	IdleTimeout time.Duration
	// PerDestination caps the transactions running at once to one
	// destination: a recipient domain, or the relay
	// (DefaultPerDestination when 0).
	PerDestination int
	// Now is the clock (time.Now when nil); Shuffle orders equal MX
	// preferences (math/rand/v2's Shuffle when nil).
	Now     func() time.Time
	Shuffle Shuffle

	mu       sync.Mutex
	inflight map[string]bool // ids with a round under way
	pool     *connPool
	limits   limiter
}

// ErrRoundInFlight is Round's answer for an item that already has a round
// under way: two rounds at once would send the same recipients twice.
var ErrRoundInFlight = errors.New("a delivery round for this message is already under way")

// claim marks id as having a round under way, or reports that it has.
func (d *Deliverer) claim(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.inflight[id] {
		return false
	}
	if d.inflight == nil {
		d.inflight = map[string]bool{}
	}
	d.inflight[id] = true
	return true
}

func (d *Deliverer) release(id string) {
	d.mu.Lock()
	delete(d.inflight, id)
	d.mu.Unlock()
}

// conns is the connection pool, made on first use.
func (d *Deliverer) conns() *connPool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.pool == nil {
		d.pool = newConnPool(orDuration(d.IdleTimeout, DefaultIdleTimeout), d.perDestination())
	}
	return d.pool
}

func (d *Deliverer) perDestination() int {
	if d.PerDestination > 0 {
		return d.PerDestination
	}
	return DefaultPerDestination
}

// Close closes the idle connections. Rounds may still run afterwards; the
// connections they open are closed when they end.
func (d *Deliverer) Close() error {
	return d.conns().close()
}

func (d *Deliverer) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// Round makes one attempt for every recipient of item id that is due,
// grouped by destination, and records the results in the queue as one
// round. It returns the item as recorded and the round's number
// (Item.Rounds); round 0 means no recipient was due and nothing was
// recorded. The item stays queued until the round is acknowledged
// (Queue.Ack), which the Worker does once the outcome is handed on.
//
// One item has at most one round at a time in a Deliverer: a second call
// for the same id while one runs gets ErrRoundInFlight. A round cut short
// by ctx records only the recipients it decided (delivered or failed),
// leaving the others as they were.
func (d *Deliverer) Round(ctx context.Context, id string) (Item, int, error) {
	it, round, _, err := d.round(ctx, id)
	return it, round, err
}

// round is Round, also returning the recipients recorded.
func (d *Deliverer) round(ctx context.Context, id string) (Item, int, []Recipient, error) {
	if !d.claim(id) {
		return Item{}, 0, nil, ErrRoundInFlight
	}
	defer d.release(id)
	it, err := d.Queue.Get(ctx, id)
	if err != nil {
		return Item{}, 0, nil, err
	}
	due := it.Due(d.now())
	if len(due) == 0 {
		return it, 0, nil, nil
	}
	data, err := d.Queue.Data(ctx, id)
	if err != nil {
		return Item{}, 0, nil, err
	}
	groups := d.route(due)
	var wg sync.WaitGroup
	for _, g := range groups {
		wg.Go(func() { g.results, g.tls = d.deliverGroup(ctx, g, it.From, data) })
	}
	wg.Wait()
	cut := ctx.Err() != nil
	at := d.now()
	updates := make([]Recipient, 0, len(due))
	for _, g := range groups {
		for i, r := range g.rcpts {
			res := g.results[i]
			if cut && res.Err != nil && !res.Err.Permanent() {
				// Not an attempt: we stopped it.
				continue
			}
			updates = append(updates, d.Retry.Next(r, res, g.tls, at))
		}
	}
	if len(updates) == 0 {
		return Item{}, 0, nil, fmt.Errorf("delivery round for %s: %w", id, ctx.Err())
	}
	// The results are recorded even when ctx ended: what was delivered
	// must not be sent again.
	it, err = d.Queue.Record(context.WithoutCancel(ctx), id, updates)
	if err != nil {
		return Item{}, 0, nil, fmt.Errorf("delivery round for %s: %w", id, err)
	}
	return it, it.Rounds, updates, nil
}

// group is the due recipients of one destination in a round.
type group struct {
	kind    groupKind
	domain  string // the recipient domain, for MX delivery
	rcpts   []Recipient
	results []Result
	tls     TLSState
}

type groupKind int

const (
	groupMX groupKind = iota
	groupLocal
	groupRelay
	groupBadAddress
)

// route groups the due recipients by destination, in their order: our own
// domains (Local), then the relay or one group per MX domain.
func (d *Deliverer) route(due []Recipient) []*group {
	var out []*group
	byKey := map[string]*group{}
	handled := map[string]bool{}
	for _, r := range due {
		dom := ""
		if at := strings.LastIndexByte(r.Address, '@'); at >= 0 {
			dom = strings.ToLower(strings.TrimSuffix(r.Address[at+1:], "."))
		}
		g := &group{domain: dom}
		key := "mx:" + dom
		switch {
		case dom == "":
			g.kind, key = groupBadAddress, "bad"
		case d.Local != nil && d.local(dom, handled):
			g.kind, key, g.domain = groupLocal, "local", ""
		case d.Relay != nil:
			g.kind, key, g.domain = groupRelay, "relay", ""
		}
		if prev, ok := byKey[key]; ok {
			g = prev
		} else {
			byKey[key] = g
			out = append(out, g)
		}
		g.rcpts = append(g.rcpts, r)
	}
	return out
}

// local asks Local about dom once per round.
func (d *Deliverer) local(dom string, seen map[string]bool) bool {
	ours, ok := seen[dom]
	if !ok {
		ours = d.Local.Handles(dom)
		seen[dom] = ours
	}
	return ours
}

// deliverGroup delivers one group, returning one Result per recipient and
// the TLS state of the connection that carried them ("" when none did).
func (d *Deliverer) deliverGroup(ctx context.Context, g *group, from string, data []byte) ([]Result, TLSState) {
	addrs := make([]string, len(g.rcpts))
	for i, r := range g.rcpts {
		addrs[i] = r.Address
	}
	switch g.kind {
	case groupBadAddress:
		return allResults(addrs, outcome.New(550, [3]int{5, 1, 3}, outcome.FaultRemote, "bad recipient address", nil)), ""
	case groupLocal:
		return deliverLocal(ctx, d.Local, from, addrs, data), ""
	case groupRelay:
		return d.deliverRelay(ctx, from, addrs, data)
	}
	return d.deliverMX(ctx, g.domain, from, addrs, data)
}

// deliverMX sends data to rcpts (all at dom) through the first MX host
// that takes a transaction.
func (d *Deliverer) deliverMX(ctx context.Context, dom, from string, rcpts []string, data []byte) ([]Result, TLSState) {
	shuffle := d.Shuffle
	if shuffle == nil {
		shuffle = randShuffle
	}
	hosts, err := MXHosts(ctx, d.Resolver, dom, shuffle)
	if err != nil {
		return allResults(rcpts, Classify(err)), ""
	}
	release, err := d.limits.acquire(ctx, "mx:"+dom, d.perDestination())
	if err != nil {
		return allResults(rcpts, netOutcome([3]int{4, 4, 1}, "delivery to "+dom+" stopped", err)), ""
	}
	defer release()
	port := d.Port
	if port == 0 {
		port = domains.DefaultOutboundPort
	}
	last := outcome.New(451, [3]int{4, 4, 1}, outcome.FaultRemote, "no answer from any mail server of "+dom, nil)
	for _, host := range hosts {
		hostAddrs, err := hostAddrs(ctx, d.Resolver, host, port, d.IPv6)
		if err != nil {
			last = outcome.New(451, [3]int{4, 4, 3}, outcome.FaultRemote, "no address for "+host, err)
			continue
		}
		cfg := d.Dial
		cfg.ServerName = host
		for _, addr := range hostAddrs {
			results, tls, err := d.transact(ctx, addr, cfg, true, from, rcpts, data)
			if err == nil {
				return results, tls
			}
			last = Classify(fmt.Errorf("mx %s: %w", host, err))
			if ctx.Err() != nil {
				return allResults(rcpts, last), ""
			}
		}
	}
	return allResults(rcpts, last), ""
}

// deliverRelay sends data to rcpts through the relay: TLS as the relay
// requires, no plaintext retry, AUTH PLAIN when it has a login. The relay
// is part of our configuration, so a refused connection or login is
// temporary: fixing the configuration lets the mail through.
func (d *Deliverer) deliverRelay(ctx context.Context, from string, rcpts []string, data []byte) ([]Result, TLSState) {
	r := d.Relay
	release, err := d.limits.acquire(ctx, "relay", d.perDestination())
	if err != nil {
		return allResults(rcpts, netOutcome([3]int{4, 4, 1}, "delivery through the relay stopped", err)), ""
	}
	defer release()
	cfg := d.Dial
	cfg.ServerName = r.Host
	cfg.ImplicitTLS = r.ImplicitTLS
	cfg.RequireTLS = r.RequireTLS
	cfg.RequireVerified = r.RequireVerified
	cfg.Auth = r.Auth
	results, tls, err := d.transact(ctx, r.addr(), cfg, false, from, rcpts, data)
	if err != nil {
		o := Classify(fmt.Errorf("relay %s: %w", r, err))
		if o.Permanent() {
			o = outcome.New(451, [3]int{4, o.Enhanced[1], o.Enhanced[2]}, outcome.FaultServer, "relay "+r.String()+" refused us: "+o.Reply(), o)
		}
		return allResults(rcpts, o), ""
	}
	return results, tls
}

// transact runs one transaction to addr on a pooled connection, or a new
// one. A pooled connection that fails before MAIL FROM is accepted (the
// server closed it while idle) carried nothing: the transaction runs once
// more on a new connection. The error is the dial's, when no connection
// could be made; else the results say what happened.
func (d *Deliverer) transact(ctx context.Context, addr string, cfg DialConfig, plainRetry bool, from string, rcpts []string, data []byte) ([]Result, TLSState, error) {
	pool := d.conns()
	key := newPoolKey(addr, cfg)
	if c := pool.get(key); c != nil {
		results, err := c.Send(ctx, from, rcpts, data)
		if c.mailOK || (err == nil && c.Usable()) || ctx.Err() != nil {
			tls := c.TLS()
			pool.put(key, c)
			return results, tls, nil
		}
		pool.put(key, c) // closes it: it is no longer usable
	}
	c, err := d.dial(ctx, addr, cfg, plainRetry)
	if err != nil {
		return nil, "", err
	}
	results, _ := c.Send(ctx, from, rcpts, data)
	tls := c.TLS()
	pool.put(key, c)
	return results, tls, nil
}

// dial connects to addr, again in plaintext when plainRetry is set and the
// STARTTLS handshake fails (opportunistic TLS to an MX, RFC 7435 5).
func (d *Deliverer) dial(ctx context.Context, addr string, cfg DialConfig, plainRetry bool) (*Conn, error) {
	conn, err := Dial(ctx, addr, cfg)
	if err != nil && plainRetry && errors.Is(err, ErrTLSHandshake) && !cfg.RequireTLS && !cfg.ImplicitTLS {
		cfg.DisableSTARTTLS = true
		conn, err = Dial(ctx, addr, cfg)
	}
	return conn, err
}
