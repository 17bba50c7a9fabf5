package outbound

import (
	"context"
	"fmt"
	mathrand "math/rand/v2"
	"net"
	"slices"
	"strings"

	"github.com/aimx-dev/aimx/internal/dnsresolver"
	"github.com/aimx-dev/aimx/mail/outcome"
)

// Resolver is the part of internal/dnsresolver's Resolver delivery uses
// (the same methods mail/auth's verifier takes).
type Resolver interface {
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupIP(ctx context.Context, name string) ([]net.IP, error)
}

var _ Resolver = (*dnsresolver.Resolver)(nil)

// Shuffle permutes n elements with swap, as rand.Shuffle does.
type Shuffle func(n int, swap func(i, j int))

// MXHosts returns the hosts to try for domain, in order: its MX hosts by
// preference with equal preferences shuffled (RFC 5321 5.1), or the domain
// itself when it has no MX (the implicit MX, RFC 5321 5.1). Errors are
// *outcome.Error values: a null MX (RFC 7505 3) and a domain that does not
// exist are permanent (556 5.1.10, 550 5.1.2), a DNS failure temporary
// (451 4.4.3).
func MXHosts(ctx context.Context, r Resolver, domain string, shuffle Shuffle) ([]string, error) {
	domain = strings.TrimSuffix(domain, ".")
	mxs, err := r.LookupMX(ctx, domain)
	if err != nil {
		if !dnsresolver.IsNotFound(err) {
			return nil, outcome.New(451, [3]int{4, 4, 3}, outcome.FaultRemote, "DNS lookup of "+domain+" failed", err)
		}
		// No MX: the domain is its own implicit MX, if it has an address.
		if _, err := r.LookupIP(ctx, domain); err != nil {
			if dnsresolver.IsNotFound(err) {
				return nil, outcome.New(550, [3]int{5, 1, 2}, outcome.FaultRemote, "domain "+domain+" has no mail server", err)
			}
			return nil, outcome.New(451, [3]int{4, 4, 3}, outcome.FaultRemote, "DNS lookup of "+domain+" failed", err)
		}
		return []string{domain}, nil
	}
	if len(mxs) == 1 && (mxs[0].Host == "." || mxs[0].Host == "") {
		return nil, outcome.New(556, [3]int{5, 1, 10}, outcome.FaultRemote, "domain "+domain+" accepts no mail (null MX)", nil)
	}
	mxs = slices.Clone(mxs)
	slices.SortStableFunc(mxs, func(a, b *net.MX) int { return int(a.Pref) - int(b.Pref) })
	hosts := make([]string, 0, len(mxs))
	for i := 0; i < len(mxs); {
		j := i
		for j < len(mxs) && mxs[j].Pref == mxs[i].Pref {
			j++
		}
		group := mxs[i:j]
		if shuffle != nil && len(group) > 1 {
			shuffle(len(group), func(a, b int) { group[a], group[b] = group[b], group[a] })
		}
		for _, mx := range group {
			h := strings.TrimSuffix(mx.Host, ".")
			// A "." among other MX records is not a null MX; skip it.
			if h != "" && !slices.Contains(hosts, h) {
				hosts = append(hosts, h)
			}
		}
		i = j
	}
	if len(hosts) == 0 {
		return nil, outcome.New(556, [3]int{5, 1, 10}, outcome.FaultRemote, "domain "+domain+" accepts no mail (null MX)", nil)
	}
	return hosts, nil
}

// hostAddrs resolves an MX host to "ip:port" addresses, IPv4 first, IPv6
// only when allowed.
func hostAddrs(ctx context.Context, r Resolver, host string, port int, ipv6 bool) ([]string, error) {
	ips, err := r.LookupIP(ctx, host)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, ip := range ips {
		if ip.To4() == nil && !ipv6 {
			continue
		}
		out = append(out, net.JoinHostPort(ip.String(), fmt.Sprint(port)))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("host %s has no usable address", host)
	}
	return out, nil
}

// randShuffle is the default Shuffle.
func randShuffle(n int, swap func(i, j int)) { mathrand.Shuffle(n, swap) }
