package dnsresolver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"

	"github.com/miekg/dns"
)

// LookupPTR returns the names the reverse DNS of ip points at (RFC 1035
// 3.5, in-addr.arpa; RFC 3596 2.5, ip6.arpa), as FQDNs with a trailing dot,
// sorted. It is for the operator's checks (`aimx doctor`: the sending IP's
// PTR against `[smtp] hostname`), never for intake, which makes no PTR
// lookups (book/smtp.md); so it is not cached. Errors match ErrNotFound or
// ErrTemporary like the other lookups.
func (r *Resolver) LookupPTR(ctx context.Context, ip net.IP) ([]string, error) {
	arpa, err := dns.ReverseAddr(ip.String())
	if err != nil {
		return nil, &Error{Name: ip.String(), Type: "PTR", NotFound: true, Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	var names []string
	switch b := r.backend.(type) {
	case *systemBackend:
		names, err = b.r.LookupAddr(ctx, ip.String())
		if err != nil {
			var dnsErr *net.DNSError
			if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
				return nil, notFound(arpa, "PTR", false)
			}
			return nil, temporary(arpa, "PTR", err)
		}
	case *serverBackend:
		names, err = b.queryPTR(ctx, arpa)
		if err != nil {
			return nil, err
		}
	default:
		return nil, temporary(arpa, "PTR", fmt.Errorf("no PTR lookups through %T", b))
	}
	if len(names) == 0 {
		return nil, notFound(arpa, "PTR", false)
	}
	for i, n := range names {
		names[i] = dns.Fqdn(strings.ToLower(n))
	}
	sort.Strings(names)
	return names, nil
}

// queryPTR asks the configured servers for the PTR records of arpa, each
// server in turn until one answers.
func (b *serverBackend) queryPTR(ctx context.Context, arpa string) ([]string, error) {
	req := new(dns.Msg)
	req.SetQuestion(arpa, dns.TypePTR)
	req.RecursionDesired = true
	req.SetEdns0(ednsSize, false)
	var errs []error
	for _, server := range b.servers {
		if expired(ctx) != nil {
			break
		}
		resp, err := b.exchange(ctx, req, server)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", server, err))
			continue
		}
		switch resp.Rcode {
		case dns.RcodeSuccess:
			var names []string
			for _, rr := range resp.Answer {
				if p, ok := rr.(*dns.PTR); ok && strings.EqualFold(p.Hdr.Name, arpa) {
					names = append(names, p.Ptr)
				}
			}
			if len(names) == 0 {
				return nil, notFound(arpa, "PTR", false)
			}
			return names, nil
		case dns.RcodeNameError:
			return nil, notFound(arpa, "PTR", true)
		default:
			errs = append(errs, fmt.Errorf("%s: answered %s", server, dns.RcodeToString[resp.Rcode]))
		}
	}
	if err := expired(ctx); err != nil {
		errs = append(errs, err)
	}
	return nil, temporary(arpa, "PTR", errors.Join(errs...))
}
