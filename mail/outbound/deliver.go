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

// Deliverer runs delivery rounds for queued messages, straight to each
// recipient domain's MX (book/sending.md, "Queue").
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
	// required; ServerName is set per MX host.
	Dial DialConfig
	// Now is the clock (time.Now when nil); Shuffle orders equal MX
	// preferences (math/rand/v2's Shuffle when nil).
	Now     func() time.Time
	Shuffle Shuffle

	mu       sync.Mutex
	inflight map[string]bool // ids with a round under way
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

func (d *Deliverer) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// Round makes one attempt for every recipient of item id that is due,
// grouped by domain, and records each result in the queue. It returns the
// item as recorded and whether it left the queue (every recipient final).
//
// One item has at most one round at a time in a Deliverer: a second call
// for the same id while one runs gets ErrRoundInFlight.
func (d *Deliverer) Round(ctx context.Context, id string) (Item, bool, error) {
	if !d.claim(id) {
		return Item{}, false, ErrRoundInFlight
	}
	defer d.release(id)
	it, err := d.Queue.Get(ctx, id)
	if err != nil {
		return Item{}, false, err
	}
	now := d.now()
	due := it.Due(now)
	if len(due) == 0 {
		return it, false, nil
	}
	data, err := d.Queue.Data(ctx, id)
	if err != nil {
		return Item{}, false, err
	}
	var order []string
	groups := map[string][]Recipient{}
	for _, r := range due {
		dom := ""
		if at := strings.LastIndexByte(r.Address, '@'); at >= 0 {
			dom = strings.ToLower(r.Address[at+1:])
		}
		if _, ok := groups[dom]; !ok {
			order = append(order, dom)
		}
		groups[dom] = append(groups[dom], r)
	}
	var updates []Recipient
	for _, dom := range order {
		rcpts := groups[dom]
		results, tls := d.deliverDomain(ctx, dom, it.From, rcpts, data)
		at := d.now()
		for i, r := range rcpts {
			updates = append(updates, d.Retry.Next(r, results[i], tls, at))
		}
	}
	return d.Queue.Record(ctx, id, updates)
}

// deliverDomain sends data to rcpts (all at dom) through the first MX host
// that takes a transaction, returning one Result per recipient and the
// TLS state of that connection.
func (d *Deliverer) deliverDomain(ctx context.Context, dom, from string, rcpts []Recipient, data []byte) ([]Result, TLSState) {
	addrs := make([]string, len(rcpts))
	for i, r := range rcpts {
		addrs[i] = r.Address
	}
	all := func(o *outcome.Error) []Result {
		out := make([]Result, len(rcpts))
		for i := range out {
			out[i] = Result{Recipient: addrs[i], Code: o.Code, Enhanced: o.Enhanced, Text: o.Text, Err: o}
		}
		return out
	}
	if dom == "" {
		return all(outcome.New(550, [3]int{5, 1, 3}, outcome.FaultRemote, "bad recipient address", nil)), ""
	}
	shuffle := d.Shuffle
	if shuffle == nil {
		shuffle = randShuffle
	}
	hosts, err := MXHosts(ctx, d.Resolver, dom, shuffle)
	if err != nil {
		return all(Classify(err)), ""
	}
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
		for _, addr := range hostAddrs {
			conn, err := d.dial(ctx, addr, host)
			if err != nil {
				last = Classify(err)
				if ctx.Err() != nil {
					return all(last), ""
				}
				continue
			}
			results, _ := conn.Send(ctx, from, addrs, data)
			tls := conn.TLS()
			_ = conn.Close()
			return results, tls
		}
	}
	return all(last), ""
}

// dial connects to one MX address, again in plaintext when the STARTTLS
// handshake fails (opportunistic TLS, RFC 7435 5).
func (d *Deliverer) dial(ctx context.Context, addr, host string) (*Conn, error) {
	cfg := d.Dial
	cfg.ServerName = host
	conn, err := Dial(ctx, addr, cfg)
	if err != nil && errors.Is(err, ErrTLSHandshake) && !cfg.RequireTLS {
		cfg.DisableSTARTTLS = true
		conn, err = Dial(ctx, addr, cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("mx %s: %w", host, err)
	}
	return conn, nil
}
