package dnsresolver

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/miekg/dns"
)

// systemBackend answers through Go's resolver (/etc/resolv.conf,
// /etc/hosts). Go does not report TTLs, so answers are cached for a fixed
// time.
type systemBackend struct {
	r           *net.Resolver
	ttl         time.Duration
	negativeTTL time.Duration
}

func (b *systemBackend) query(ctx context.Context, name string, qtype uint16) result {
	typ := dns.TypeToString[qtype]
	var (
		ans answer
		err error
	)
	// A trailing dot keeps Go from applying resolv.conf search domains.
	fqdn := dns.Fqdn(name)
	switch qtype {
	case dns.TypeTXT:
		ans.txt, err = b.r.LookupTXT(ctx, fqdn)
	case dns.TypeMX:
		ans.mx, err = b.r.LookupMX(ctx, fqdn)
	case dns.TypeA:
		ans.ips, err = b.r.LookupIP(ctx, "ip4", fqdn)
	case dns.TypeAAAA:
		ans.ips, err = b.r.LookupIP(ctx, "ip6", fqdn)
	default:
		return result{err: temporary(name, typ, errors.New("unsupported query type"))}
	}
	if err != nil {
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
			return result{ttl: b.negativeTTL, err: notFound(name, typ, false)}
		}
		return result{err: temporary(name, typ, err)}
	}
	if len(ans.txt)+len(ans.mx)+len(ans.ips) == 0 {
		return result{ttl: b.negativeTTL, err: notFound(name, typ, false)}
	}
	return result{ans: ans, ttl: b.ttl}
}
