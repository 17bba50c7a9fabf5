package dnstest

import (
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func ask(t *testing.T, s *Server, net, name string, qtype uint16, edns bool) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	if edns {
		m.SetEdns0(4096, false)
	}
	c := &dns.Client{Net: net, Timeout: 5 * time.Second}
	resp, _, err := c.Exchange(m, s.Addr())
	if err != nil {
		t.Fatalf("%s %s: %v", net, name, err)
	}
	return resp
}

func TestAnswers(t *testing.T) {
	t.Parallel()
	s := Start(t)
	long := strings.Repeat("k", 600)
	s.SetTXT("t.example.net", `quote " and back\slash`, long)
	s.SetIP("h.example.net", "192.0.2.1", "2001:db8::1")
	s.SetMX("example.net", MX{Pref: 5, Host: "h.example.net"})
	s.SetCNAME("alias.example.net", "h.example.net")
	s.SetCNAME("loop1.example.net", "loop2.example.net")
	s.SetCNAME("loop2.example.net", "loop1.example.net")
	s.SetNegativeTTL(42)
	if err := s.AddRR(`raw.example.net. 60 IN TXT "zone syntax"`); err != nil {
		t.Fatal(err)
	}

	for _, network := range []string{"udp", "tcp"} {
		resp := ask(t, s, network, "t.example.net", dns.TypeTXT, true)
		if len(resp.Answer) != 2 {
			t.Fatalf("%s: %d TXT answers", network, len(resp.Answer))
		}
		var got []string
		for _, rr := range resp.Answer {
			got = append(got, strings.Join(rr.(*dns.TXT).Txt, ""))
		}
		// miekg presents character-strings escaped; unescape for comparison.
		first := strings.NewReplacer(`\"`, `"`, `\\`, `\`).Replace(got[0])
		if first != `quote " and back\slash` || got[1] != long {
			t.Fatalf("%s: TXT = %q", network, got)
		}
		if parts := resp.Answer[1].(*dns.TXT).Txt; len(parts) != 3 {
			t.Fatalf("600-byte TXT split into %d strings, want 3", len(parts))
		}
	}

	if resp := ask(t, s, "udp", "h.example.net", dns.TypeAAAA, false); len(resp.Answer) != 1 {
		t.Fatalf("AAAA answers: %v", resp.Answer)
	}
	if resp := ask(t, s, "udp", "example.net", dns.TypeMX, false); len(resp.Answer) != 1 || resp.Answer[0].(*dns.MX).Mx != "h.example.net." {
		t.Fatalf("MX answers: %v", resp.Answer)
	}
	if resp := ask(t, s, "udp", "alias.example.net", dns.TypeA, false); len(resp.Answer) != 2 {
		t.Fatalf("CNAME chase: %v", resp.Answer)
	}
	if resp := ask(t, s, "udp", "loop1.example.net", dns.TypeA, false); resp.Rcode != dns.RcodeServerFailure {
		t.Fatalf("CNAME loop rcode %s", dns.RcodeToString[resp.Rcode])
	}
	if resp := ask(t, s, "udp", "raw.example.net", dns.TypeTXT, false); len(resp.Answer) != 1 {
		t.Fatalf("AddRR record: %v", resp.Answer)
	}

	nx := ask(t, s, "udp", "nope.example.net", dns.TypeTXT, false)
	if nx.Rcode != dns.RcodeNameError || len(nx.Ns) != 1 || nx.Ns[0].(*dns.SOA).Minttl != 42 {
		t.Fatalf("NXDOMAIN: rcode %s ns %v", dns.RcodeToString[nx.Rcode], nx.Ns)
	}
	nodata := ask(t, s, "udp", "h.example.net", dns.TypeTXT, false)
	if nodata.Rcode != dns.RcodeSuccess || len(nodata.Answer) != 0 || len(nodata.Ns) != 1 {
		t.Fatalf("NODATA: %v", nodata)
	}
}

func TestTruncation(t *testing.T) {
	t.Parallel()
	s := Start(t)
	s.SetTXT("big.example.net", strings.Repeat("x", 700))
	if resp := ask(t, s, "udp", "big.example.net", dns.TypeTXT, false); !resp.Truncated {
		t.Fatal("a 700-byte answer over plain 512-byte UDP was not truncated")
	}
	if resp := ask(t, s, "udp", "big.example.net", dns.TypeTXT, true); resp.Truncated || len(resp.Answer) != 1 {
		t.Fatal("EDNS 4096 answer truncated")
	}
	s.SetTruncateUDP(true)
	if resp := ask(t, s, "udp", "big.example.net", dns.TypeTXT, true); !resp.Truncated || len(resp.Answer) != 0 {
		t.Fatal("SetTruncateUDP had no effect")
	}
	if resp := ask(t, s, "tcp", "big.example.net", dns.TypeTXT, true); resp.Truncated || len(resp.Answer) != 1 {
		t.Fatal("TCP answer truncated")
	}
}

func TestBehaviorsAndCounts(t *testing.T) {
	t.Parallel()
	s := Start(t)
	s.SetTXT("a.example.net", "x")
	s.SetBehavior("a.example.net", ServFail)
	if resp := ask(t, s, "udp", "a.example.net", dns.TypeTXT, false); resp.Rcode != dns.RcodeServerFailure {
		t.Fatalf("rcode %s", dns.RcodeToString[resp.Rcode])
	}
	s.SetBehavior("a.example.net", Refused)
	if resp := ask(t, s, "udp", "a.example.net", dns.TypeTXT, false); resp.Rcode != dns.RcodeRefused {
		t.Fatalf("rcode %s", dns.RcodeToString[resp.Rcode])
	}
	s.SetBehavior("a.example.net", Answer)
	if resp := ask(t, s, "udp", "a.example.net", dns.TypeTXT, false); len(resp.Answer) != 1 {
		t.Fatal("Answer behavior not restored")
	}

	s.SetBehavior("silent.example.net", Silent)
	m := new(dns.Msg)
	m.SetQuestion("silent.example.net.", dns.TypeTXT)
	c := &dns.Client{Timeout: 150 * time.Millisecond}
	if _, _, err := c.Exchange(m, s.Addr()); err == nil {
		t.Fatal("silent name answered")
	}

	if n := s.Queries("A.Example.Net.", dns.TypeTXT); n != 3 {
		t.Fatalf("Queries = %d, want 3", n)
	}
	if n := s.TotalQueries(); n != 4 {
		t.Fatalf("TotalQueries = %d, want 4", n)
	}
	s.ResetQueries()
	if s.TotalQueries() != 0 {
		t.Fatal("ResetQueries kept counts")
	}
	s.Remove("a.example.net")
	if resp := ask(t, s, "udp", "a.example.net", dns.TypeTXT, false); resp.Rcode != dns.RcodeNameError {
		t.Fatal("Remove kept the records")
	}
}
