package dnsresolver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// ednsSize is the UDP payload size we advertise: the DNS flag day 2020
// value, small enough to avoid IP fragmentation.
const ednsSize = 1232

// maxCNAMEChain bounds how many CNAMEs of an answer we follow.
const maxCNAMEChain = 8

// maxRounds bounds how many times the server list is tried in one lookup
// when servers do not answer (the lookup timeout bounds it too).
const maxRounds = 3

// result is what a backend returns for one query: an answer with the TTL to
// cache it for, or an error (*Error) with, for a negative answer, its TTL.
type result struct {
	ans answer
	ttl time.Duration
	err *Error
}

// backend answers one query of one type for a normalized name.
type backend interface {
	query(ctx context.Context, name string, qtype uint16) result
}

// serverBackend queries configured servers (`[dns] servers`) with
// miekg/dns: UDP first, TCP when the answer is truncated, the next server
// when one fails.
type serverBackend struct {
	servers     []string
	attempt     time.Duration // one query to one server
	udp         *dns.Client
	tcp         *dns.Client
	negativeTTL time.Duration // when a negative answer carries no SOA
}

func newServerBackend(servers []string, attempt, negativeTTL time.Duration) *serverBackend {
	return &serverBackend{
		servers:     servers,
		attempt:     attempt,
		udp:         &dns.Client{Net: "udp", UDPSize: ednsSize},
		tcp:         &dns.Client{Net: "tcp"},
		negativeTTL: negativeTTL,
	}
}

func (b *serverBackend) query(ctx context.Context, name string, qtype uint16) result {
	typ := dns.TypeToString[qtype]
	req := new(dns.Msg)
	req.SetQuestion(dns.Fqdn(name), qtype)
	req.RecursionDesired = true
	req.SetEdns0(ednsSize, false)

	var errs []error
	// Rounds over the servers, like a stub resolver's "attempts": a lost
	// UDP packet costs one attempt timeout, not the lookup. Only network
	// failures are retried; a server that answered SERVFAIL or REFUSED
	// would answer the same again.
	for round := 0; round < maxRounds; round++ {
		retry := false
		for _, server := range b.servers {
			if expired(ctx) != nil {
				break
			}
			resp, err := b.exchange(ctx, req, server)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", server, err))
				retry = true
				continue
			}
			switch resp.Rcode {
			case dns.RcodeSuccess:
				return b.parse(resp, name, qtype)
			case dns.RcodeNameError:
				return result{ttl: b.negTTL(resp), err: notFound(name, typ, true)}
			default:
				// SERVFAIL, REFUSED, ...: another server may do better.
				errs = append(errs, fmt.Errorf("%s: answered %s", server, dns.RcodeToString[resp.Rcode]))
			}
		}
		if !retry || expired(ctx) != nil {
			break
		}
	}
	if err := expired(ctx); err != nil {
		errs = append(errs, err)
	}
	return result{err: temporary(name, typ, errors.Join(errs...))}
}

// expired is ctx's error, or DeadlineExceeded once its deadline has passed
// even if the context's timer has not fired yet (a socket deadline set from
// it can fire first).
func expired(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if deadline, ok := ctx.Deadline(); ok && !time.Now().Before(deadline) {
		return context.DeadlineExceeded
	}
	return nil
}

// exchange sends req to server over UDP, and again over TCP when the reply
// is truncated, within one attempt timeout.
func (b *serverBackend) exchange(ctx context.Context, req *dns.Msg, server string) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, b.attempt)
	defer cancel()
	resp, _, err := b.udp.ExchangeContext(ctx, req, server)
	if err != nil {
		return nil, fmt.Errorf("udp: %w", err)
	}
	if !resp.Truncated {
		return resp, nil
	}
	resp, _, err = b.tcp.ExchangeContext(ctx, req, server)
	if err != nil {
		return nil, fmt.Errorf("tcp after truncation: %w", err)
	}
	return resp, nil
}

// parse reads the records of qtype at name out of a NOERROR reply,
// following the CNAME chain from name, and the TTL to cache them for (the
// smallest TTL on the chain). No records is NODATA.
func (b *serverBackend) parse(resp *dns.Msg, name string, qtype uint16) result {
	typ := dns.TypeToString[qtype]
	owner := dns.Fqdn(name)
	var ttl uint32
	first := true
	minTTL := func(t uint32) {
		if first || t < ttl {
			ttl, first = t, false
		}
	}
	for range maxCNAMEChain {
		next := ""
		for _, rr := range resp.Answer {
			h := rr.Header()
			if !strings.EqualFold(h.Name, owner) {
				continue
			}
			if c, ok := rr.(*dns.CNAME); ok && qtype != dns.TypeCNAME {
				next = c.Target
				minTTL(h.Ttl)
			}
		}
		if next == "" {
			break
		}
		owner = next
	}

	var ans answer
	n := 0
	for _, rr := range resp.Answer {
		if !strings.EqualFold(rr.Header().Name, owner) || rr.Header().Rrtype != qtype {
			continue
		}
		switch rr := rr.(type) {
		case *dns.TXT:
			// One string per record, its character-strings joined, as
			// net.LookupTXT does (RFC 7208 3.3, RFC 6376 3.6.2.2).
			ans.txt = append(ans.txt, unescapeTXT(strings.Join(rr.Txt, "")))
		case *dns.MX:
			ans.mx = append(ans.mx, &net.MX{Host: dns.Fqdn(rr.Mx), Pref: rr.Preference})
		case *dns.A:
			ans.ips = append(ans.ips, rr.A)
		case *dns.AAAA:
			ans.ips = append(ans.ips, rr.AAAA)
		default:
			continue
		}
		minTTL(rr.Header().Ttl)
		n++
	}
	if n == 0 {
		return result{ttl: b.negTTL(resp), err: notFound(name, typ, false)}
	}
	sort.SliceStable(ans.mx, func(i, j int) bool { return ans.mx[i].Pref < ans.mx[j].Pref })
	return result{ans: ans, ttl: time.Duration(ttl) * time.Second}
}

// negTTL is how long a negative answer may be cached: the smaller of the
// SOA's TTL and its MINIMUM field (RFC 2308 5), or the default without one.
func (b *serverBackend) negTTL(resp *dns.Msg) time.Duration {
	for _, rr := range resp.Ns {
		if soa, ok := rr.(*dns.SOA); ok {
			return time.Duration(min(soa.Hdr.Ttl, soa.Minttl)) * time.Second
		}
	}
	return b.negativeTTL
}

// unescapeTXT undoes the presentation escaping miekg/dns applies to
// unpacked character-strings (\" \\ and \DDD for bytes outside printable
// ASCII), giving the raw bytes net.LookupTXT would return.
func unescapeTXT(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		if i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) {
			n := int(s[i+1]-'0')*100 + int(s[i+2]-'0')*10 + int(s[i+3]-'0')
			if n <= 255 {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i+1])
		i++
	}
	return b.String()
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
