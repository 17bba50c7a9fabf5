// Package dnsresolver is aimx's one caching DNS resolver. Verification
// (DKIM, SPF, DMARC) and outbound delivery (MX) look names up through it.
//
// It keeps a TTL cache of answers and a negative cache of NXDOMAIN/NODATA
// (RFC 2308), bounds every lookup by a timeout and by the caller's context,
// and coalesces concurrent identical lookups into one query. Failures are
// typed: errors.Is(err, ErrNotFound) for an authoritative "no", and
// errors.Is(err, ErrTemporary) for everything else.
//
// With `[dns] servers` set it queries those servers directly (miekg/dns,
// UDP with TCP on truncation). Without, it uses the system resolver, but
// answers RFC 6761 special-use names and single-label names NXDOMAIN locally
// (book/smtp.md).
package dnsresolver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sync/singleflight"
)

// Defaults for the zero fields of Config.
const (
	DefaultTimeout        = 5 * time.Second
	DefaultAttemptTimeout = 1500 * time.Millisecond
	DefaultMaxTTL         = time.Hour
	DefaultMaxNegativeTTL = 5 * time.Minute
	DefaultNegativeTTL    = time.Minute // a negative answer without an SOA
	DefaultSystemTTL      = 5 * time.Minute
	DefaultMaxEntries     = 10000
)

// Config builds a Resolver. The zero value is a usable system resolver.
type Config struct {
	// Servers are "host:port" (or "host", port 53) addresses to send every
	// query to, in order. Empty means the system resolver. book/configuration.md [dns].
	Servers []string
	// Timeout bounds one lookup, all servers, retries and a TCP retry
	// included.
	Timeout time.Duration
	// AttemptTimeout bounds one query to one server; a server that has not
	// answered by then is retried (or the next one asked) while Timeout
	// allows.
	AttemptTimeout time.Duration
	// Now is the clock the caches expire by (time.Now when nil).
	Now func() time.Time
	// MaxTTL caps how long a positive answer is cached, whatever its TTL.
	MaxTTL time.Duration
	// MaxNegativeTTL caps how long NXDOMAIN/NODATA is cached, whatever the
	// SOA says, so a record published after a miss is seen soon.
	MaxNegativeTTL time.Duration
	// SystemTTL is how long system-resolver answers are cached: Go's
	// resolver does not report TTLs.
	SystemTTL time.Duration
	// MaxEntries bounds the cache size.
	MaxEntries int
	// System is the resolver used without Servers (net.DefaultResolver
	// when nil).
	System *net.Resolver
}

// Resolver is a caching DNS resolver, safe for concurrent use.
type Resolver struct {
	backend        backend
	system         bool
	timeout        time.Duration
	now            func() time.Time
	maxTTL         time.Duration
	maxNegativeTTL time.Duration
	cache          *cache
	flight         singleflight.Group
}

// New builds a Resolver from cfg. It fails on a malformed server address.
func New(cfg Config) (*Resolver, error) {
	r := &Resolver{
		timeout:        orDefault(cfg.Timeout, DefaultTimeout),
		now:            cfg.Now,
		maxTTL:         orDefault(cfg.MaxTTL, DefaultMaxTTL),
		maxNegativeTTL: orDefault(cfg.MaxNegativeTTL, DefaultMaxNegativeTTL),
	}
	if r.now == nil {
		r.now = time.Now
	}
	maxEntries := cfg.MaxEntries
	if maxEntries <= 0 {
		maxEntries = DefaultMaxEntries
	}
	r.cache = newCache(maxEntries)

	if len(cfg.Servers) == 0 {
		sys := cfg.System
		if sys == nil {
			sys = net.DefaultResolver
		}
		r.system = true
		r.backend = &systemBackend{
			r:           sys,
			ttl:         orDefault(cfg.SystemTTL, DefaultSystemTTL),
			negativeTTL: min(DefaultNegativeTTL, r.maxNegativeTTL),
		}
		return r, nil
	}
	servers := make([]string, 0, len(cfg.Servers))
	for _, s := range cfg.Servers {
		addr, err := serverAddr(s)
		if err != nil {
			return nil, err
		}
		servers = append(servers, addr)
	}
	r.backend = newServerBackend(servers, orDefault(cfg.AttemptTimeout, DefaultAttemptTimeout), DefaultNegativeTTL)
	return r, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// serverAddr checks a `[dns] servers` entry and adds port 53 when missing.
func serverAddr(s string) (string, error) {
	if ip := net.ParseIP(s); ip != nil {
		return net.JoinHostPort(s, "53"), nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", fmt.Errorf("dns server %q: want host:port: %w", s, err)
	}
	if host == "" {
		return "", fmt.Errorf("dns server %q: empty host", s)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return "", fmt.Errorf("dns server %q: bad port", s)
	}
	return s, nil
}

// LookupTXT returns the TXT records of name, one string per record with its
// character-strings joined (as net.LookupTXT does).
func (r *Resolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	ans, err := r.lookup(ctx, name, dns.TypeTXT)
	if err != nil {
		return nil, err
	}
	return append([]string(nil), ans.txt...), nil
}

// LookupMX returns the MX records of name, sorted by preference, hosts as
// FQDNs with a trailing dot (as net.LookupMX does).
func (r *Resolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	ans, err := r.lookup(ctx, name, dns.TypeMX)
	if err != nil {
		return nil, err
	}
	out := make([]*net.MX, len(ans.mx))
	for i, mx := range ans.mx {
		c := *mx
		out[i] = &c
	}
	return out, nil
}

// LookupIP returns the IPv4 and IPv6 addresses of name (A and AAAA, looked
// up concurrently, IPv4 first). An IP literal is returned as it is. It
// succeeds when either family has addresses; otherwise the error is
// temporary if either lookup was, else not found.
func (r *Resolver) LookupIP(ctx context.Context, name string) ([]net.IP, error) {
	if ip := net.ParseIP(name); ip != nil {
		return []net.IP{ip}, nil
	}
	var (
		wg         sync.WaitGroup
		v4, v6     answer
		err4, err6 error
	)
	wg.Go(func() { v4, err4 = r.lookup(ctx, name, dns.TypeA) })
	wg.Go(func() { v6, err6 = r.lookup(ctx, name, dns.TypeAAAA) })
	wg.Wait()
	ips := make([]net.IP, 0, len(v4.ips)+len(v6.ips))
	for _, ip := range append(append([]net.IP(nil), v4.ips...), v6.ips...) {
		ips = append(ips, append(net.IP(nil), ip...))
	}
	if len(ips) > 0 {
		return ips, nil
	}
	switch {
	case errors.Is(err4, ErrTemporary):
		return nil, relabel(err4, name)
	case errors.Is(err6, ErrTemporary):
		return nil, relabel(err6, name)
	case err4 != nil:
		return nil, relabel(err4, name)
	case err6 != nil:
		return nil, relabel(err6, name)
	}
	return nil, notFound(name, "IP", false)
}

// relabel marks an A or AAAA failure as the failure of an IP lookup.
func relabel(err error, name string) error {
	var e *Error
	if errors.As(err, &e) {
		c := *e
		c.Name, c.Type = name, "IP"
		return &c
	}
	return err
}

// lookup answers one query from the cache or, on a miss, from one shared
// backend query. The query runs detached from ctx (bounded by the lookup
// timeout) so a caller giving up does not fail the others waiting on it;
// the caller itself stops waiting as soon as ctx is done.
func (r *Resolver) lookup(ctx context.Context, name string, qtype uint16) (answer, error) {
	typ := dns.TypeToString[qtype]
	norm, ok := normalize(name)
	if !ok {
		return answer{}, notFound(name, typ, true)
	}
	if r.system && answeredLocally(norm) {
		return answer{}, notFound(name, typ, true)
	}
	if err := ctx.Err(); err != nil {
		return answer{}, temporary(name, typ, err)
	}
	key := cacheKey{qtype: qtype, name: norm}
	if e, ok := r.cache.get(key, r.now()); ok {
		if e.notFound {
			return answer{}, notFound(name, typ, e.nxdomain)
		}
		return e.ans, nil
	}

	ch := r.flight.DoChan(typ+" "+norm, func() (any, error) {
		qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.timeout)
		defer cancel()
		res := r.backend.query(qctx, norm, qtype)
		r.store(key, res)
		return res, nil
	})
	select {
	case <-ctx.Done():
		return answer{}, temporary(name, typ, ctx.Err())
	case out := <-ch:
		res := out.Val.(result)
		if res.err != nil {
			c := *res.err
			c.Name = name
			return answer{}, &c
		}
		return res.ans, nil
	}
}

// store caches a positive or negative result for its TTL, capped; a TTL of
// zero is not cached, and temporary failures never are.
func (r *Resolver) store(key cacheKey, res result) {
	ttl := res.ttl
	e := cacheEntry{ans: res.ans}
	if res.err != nil {
		if !res.err.NotFound {
			return
		}
		e.notFound, e.nxdomain = true, res.err.NXDomain
		ttl = min(ttl, r.maxNegativeTTL)
	} else {
		ttl = min(ttl, r.maxTTL)
	}
	if ttl <= 0 {
		return
	}
	now := r.now()
	e.expires = now.Add(ttl)
	r.cache.put(key, e, now)
}
