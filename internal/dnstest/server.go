// Package dnstest is an in-process authoritative-looking DNS server for
// tests. It listens on 127.0.0.1 (UDP and TCP on the same port), answers
// from records a test sets, counts the queries it receives, and can be told
// to answer SERVFAIL or never answer a name, so resolver and verification
// code can be tested offline, including temperror and timeout paths.
//
// The daemon reaches it through `[dns] servers` (or `--dns <addr>` in dev
// mode), which is how e2e tests keep every lookup off the network.
package dnstest

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// DefaultTTL is the TTL given to records added through the typed helpers
// until SetTTL changes it.
const DefaultTTL = 300

// DefaultNegativeTTL is the SOA minimum served with NXDOMAIN and NODATA
// answers until SetNegativeTTL changes it.
const DefaultNegativeTTL = 60

// Behavior is how the server treats every query for one name.
type Behavior int

// The behaviors a name can be given.
const (
	Answer   Behavior = iota // answer from the records (the default)
	ServFail                 // answer SERVFAIL (a temporary failure)
	Silent                   // read the query and never answer (a timeout)
	Refused                  // answer REFUSED
)

type queryKey struct {
	name  string
	qtype uint16
}

// Server is a running test DNS server. All methods are safe for concurrent
// use; records may be changed while queries are served.
type Server struct {
	addr string
	udp  *dns.Server
	tcp  *dns.Server

	mu          sync.Mutex
	records     map[string][]dns.RR // canonical FQDN -> records
	behavior    map[string]Behavior // canonical FQDN -> behavior
	ttl         uint32
	negativeTTL uint32
	truncateUDP bool
	dropNext    map[string]int // canonical FQDN -> queries still to drop
	queries     map[queryKey]int
	total       int
}

// New starts a server on 127.0.0.1 with a kernel-chosen port, serving UDP
// and TCP on that same port. Close stops it.
func New() (*Server, error) {
	s := &Server{
		records:     make(map[string][]dns.RR),
		behavior:    make(map[string]Behavior),
		ttl:         DefaultTTL,
		negativeTTL: DefaultNegativeTTL,
		dropNext:    make(map[string]int),
		queries:     make(map[queryKey]int),
	}
	pc, ln, err := listenPair()
	if err != nil {
		return nil, err
	}
	s.addr = pc.LocalAddr().String()
	handler := dns.HandlerFunc(s.serveDNS)
	s.udp = &dns.Server{PacketConn: pc, Handler: handler}
	s.tcp = &dns.Server{Listener: ln, Handler: handler}
	if err := start(s.udp); err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("dnstest: start udp: %w", err)
	}
	if err := start(s.tcp); err != nil {
		_ = s.udp.Shutdown()
		return nil, fmt.Errorf("dnstest: start tcp: %w", err)
	}
	return s, nil
}

// Start is New for tests: it fails the test on error and closes the server
// when the test ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s, err := New()
	if err != nil {
		tb.Fatalf("dnstest: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("dnstest: close: %v", err)
		}
	})
	return s
}

// listenPair binds a UDP socket on a free loopback port and a TCP listener
// on the same port, retrying when the TCP side of the port is taken.
func listenPair() (net.PacketConn, net.Listener, error) {
	var lastErr error
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return nil, nil, fmt.Errorf("dnstest: listen udp: %w", err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, ln, nil
		}
		lastErr = err
		_ = pc.Close()
	}
	return nil, nil, fmt.Errorf("dnstest: listen tcp on the udp port: %w", lastErr)
}

// start runs srv in the background and returns once it serves.
func start(srv *dns.Server) error {
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	failed := make(chan error, 1)
	go func() { failed <- srv.ActivateAndServe() }()
	select {
	case <-started:
		return nil
	case err := <-failed:
		if err == nil {
			err = errors.New("server stopped before it started")
		}
		return err
	}
}

// Addr is the server's "127.0.0.1:port", the value for `[dns] servers`.
func (s *Server) Addr() string { return s.addr }

// Close stops both listeners.
func (s *Server) Close() error {
	return errors.Join(s.udp.Shutdown(), s.tcp.Shutdown())
}

// canonical lowercases name and makes it fully qualified.
func canonical(name string) string {
	return dns.CanonicalName(name)
}

// SetTTL sets the TTL of records added by later calls of the typed helpers.
func (s *Server) SetTTL(ttl uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ttl = ttl
}

// SetNegativeTTL sets the SOA minimum (and SOA TTL) served with NXDOMAIN
// and NODATA answers, which a resolver uses as its negative-cache lifetime
// (RFC 2308 section 5).
func (s *Server) SetNegativeTTL(ttl uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.negativeTTL = ttl
}

// SetTruncateUDP makes every UDP answer an empty truncated (TC) reply, so a
// client must retry over TCP to get the records.
func (s *Server) SetTruncateUDP(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.truncateUDP = on
}

// SetBehavior sets how queries for name are treated (Answer, ServFail,
// Silent, Refused).
func (s *Server) SetBehavior(name string, b Behavior) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b == Answer {
		delete(s.behavior, canonical(name))
		return
	}
	s.behavior[canonical(name)] = b
}

// DropNext makes the server ignore the next n queries for name (any type),
// as if the packets were lost, and answer normally afterwards.
func (s *Server) DropNext(name string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropNext[canonical(name)] = n
}

// AddRR adds one record written in zone-file syntax, for example
// `a.example. 60 IN TXT "v=spf1 -all"`. A missing TTL means 3600.
func (s *Server) AddRR(zone string) error {
	rr, err := dns.NewRR(zone)
	if err != nil {
		return fmt.Errorf("dnstest: parse %q: %w", zone, err)
	}
	if rr == nil {
		return fmt.Errorf("dnstest: parse %q: no record", zone)
	}
	s.add(rr)
	return nil
}

func (s *Server) add(rr dns.RR) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := canonical(rr.Header().Name)
	rr.Header().Name = name
	s.records[name] = append(s.records[name], rr)
}

// Remove deletes every record of name and its behavior.
func (s *Server) Remove(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.records, canonical(name))
	delete(s.behavior, canonical(name))
}

// removeType deletes the records of one type at name.
func (s *Server) removeType(name string, rrtype uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name = canonical(name)
	kept := s.records[name][:0]
	for _, rr := range s.records[name] {
		if rr.Header().Rrtype != rrtype {
			kept = append(kept, rr)
		}
	}
	if len(kept) == 0 {
		delete(s.records, name)
		return
	}
	s.records[name] = kept
}

func (s *Server) header(name string, rrtype uint16) dns.RR_Header {
	s.mu.Lock()
	defer s.mu.Unlock()
	return dns.RR_Header{Name: canonical(name), Rrtype: rrtype, Class: dns.ClassINET, Ttl: s.ttl}
}

// SetTXT replaces the TXT records of name with one record per value. A value
// longer than 255 bytes is split into several character-strings, as a zone
// would publish a long DKIM key; resolvers join them again.
func (s *Server) SetTXT(name string, values ...string) {
	s.removeType(name, dns.TypeTXT)
	for _, v := range values {
		s.add(&dns.TXT{Hdr: s.header(name, dns.TypeTXT), Txt: splitTXT(v)})
	}
}

// splitTXT cuts v into character-strings of at most 255 bytes.
func splitTXT(v string) []string {
	if v == "" {
		return []string{""}
	}
	var parts []string
	for len(v) > 255 {
		parts = append(parts, v[:255])
		v = v[255:]
	}
	if v != "" {
		parts = append(parts, v)
	}
	// miekg/dns writes a character-string's backslash and quote escapes
	// literally, so escape them the way its zone parser would have.
	for i, p := range parts {
		parts[i] = strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(p)
	}
	return parts
}

// SetIP replaces the A and AAAA records of name with ips (each "192.0.2.1"
// or "2001:db8::1"). It panics on a malformed address: a test bug.
func (s *Server) SetIP(name string, ips ...string) {
	s.removeType(name, dns.TypeA)
	s.removeType(name, dns.TypeAAAA)
	for _, v := range ips {
		ip := net.ParseIP(v)
		if ip == nil {
			panic("dnstest: bad IP " + strconv.Quote(v))
		}
		if ip4 := ip.To4(); ip4 != nil {
			s.add(&dns.A{Hdr: s.header(name, dns.TypeA), A: ip4})
			continue
		}
		s.add(&dns.AAAA{Hdr: s.header(name, dns.TypeAAAA), AAAA: ip})
	}
}

// MX is one mail exchanger for SetMX.
type MX struct {
	Pref uint16
	Host string
}

// SetMX replaces the MX records of name.
func (s *Server) SetMX(name string, mxs ...MX) {
	s.removeType(name, dns.TypeMX)
	for _, mx := range mxs {
		s.add(&dns.MX{Hdr: s.header(name, dns.TypeMX), Preference: mx.Pref, Mx: canonical(mx.Host)})
	}
}

// SetCNAME replaces every record of name with a CNAME to target.
func (s *Server) SetCNAME(name, target string) {
	s.Remove(name)
	s.add(&dns.CNAME{Hdr: s.header(name, dns.TypeCNAME), Target: canonical(target)})
}

// Queries counts the queries received for name and type (dns.TypeTXT, ...),
// including those answered SERVFAIL or never answered.
func (s *Server) Queries(name string, qtype uint16) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries[queryKey{canonical(name), qtype}]
}

// TotalQueries counts every query received.
func (s *Server) TotalQueries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// ResetQueries zeroes the query counters.
func (s *Server) ResetQueries() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queries = make(map[queryKey]int)
	s.total = 0
}
