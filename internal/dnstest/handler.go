package dnstest

import (
	"net"

	"github.com/miekg/dns"
)

// maxChain bounds CNAME chasing so a CNAME loop set by a test cannot hang.
const maxChain = 8

// serveDNS answers one query from the record set.
func (s *Server) serveDNS(w dns.ResponseWriter, req *dns.Msg) {
	if len(req.Question) != 1 {
		m := new(dns.Msg)
		m.SetRcode(req, dns.RcodeFormatError)
		_ = w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	name := canonical(q.Name)
	_, isUDP := w.RemoteAddr().(*net.UDPAddr)

	s.mu.Lock()
	s.queries[queryKey{name, q.Qtype}]++
	s.total++
	behavior := s.behavior[name]
	if s.dropNext[name] > 0 {
		s.dropNext[name]--
		behavior = Silent
	}
	truncate := s.truncateUDP && isUDP
	s.mu.Unlock()

	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	m.RecursionAvailable = true
	switch behavior {
	case Silent:
		return
	case ServFail:
		m.Rcode = dns.RcodeServerFailure
		_ = w.WriteMsg(m)
		return
	case Refused:
		m.Rcode = dns.RcodeRefused
		_ = w.WriteMsg(m)
		return
	}
	if truncate {
		m.Truncated = true
		_ = w.WriteMsg(m)
		return
	}

	s.answer(m, name, q.Qtype)
	if isUDP {
		size := dns.MinMsgSize
		if opt := req.IsEdns0(); opt != nil && int(opt.UDPSize()) > size {
			size = int(opt.UDPSize())
		}
		m.Truncate(size)
	}
	_ = w.WriteMsg(m)
}

// answer fills m with the records of qtype at name, following CNAMEs, or an
// NXDOMAIN/NODATA answer carrying an SOA for negative caching.
func (s *Server) answer(m *dns.Msg, name string, qtype uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	target := name
	for range maxChain {
		rrs, exists := s.records[target]
		if !exists {
			// A dangling CNAME also ends in NXDOMAIN (RFC 6604).
			m.Rcode = dns.RcodeNameError
			m.Ns = append(m.Ns, s.soa(target))
			return
		}
		found := false
		var cname *dns.CNAME
		for _, rr := range rrs {
			if rr.Header().Rrtype == qtype {
				m.Answer = append(m.Answer, dns.Copy(rr))
				found = true
			}
			if c, ok := rr.(*dns.CNAME); ok {
				cname = c
			}
		}
		if found || cname == nil {
			if !found {
				m.Ns = append(m.Ns, s.soa(target)) // NODATA
			}
			return
		}
		m.Answer = append(m.Answer, dns.Copy(cname))
		target = cname.Target
	}
	m.Answer = nil
	m.Rcode = dns.RcodeServerFailure // CNAME chain too long: a loop
}

// soa is the negative-answer SOA for name's zone; its minimum and TTL are
// the configured negative TTL.
func (s *Server) soa(name string) dns.RR {
	zone := "."
	if labels := dns.SplitDomainName(name); len(labels) > 0 {
		zone = labels[len(labels)-1] + "."
	}
	return &dns.SOA{
		Hdr:     dns.RR_Header{Name: zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: s.negativeTTL},
		Ns:      "ns." + zone,
		Mbox:    "hostmaster." + zone,
		Serial:  1,
		Refresh: 3600,
		Retry:   600,
		Expire:  86400,
		Minttl:  s.negativeTTL,
	}
}
