package auth

import (
	"context"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/internal/dnstest"
	"github.com/miekg/dns"
)

func TestSPF(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	d := e.dns
	d.SetTXT("pass.example.net", "v=spf1 ip4:192.0.2.0/24 -all")
	d.SetTXT("soft.example.net", "v=spf1 ~all")
	d.SetTXT("neutral.example.net", "v=spf1 ?all")
	d.SetTXT("noise.example.net", "google-site-verification=abc") // TXT but no SPF
	d.SetBehavior("servfail.example.net", dnstest.ServFail)
	d.SetTXT("perm.example.net", "v=spf1 bogus:x -all")
	d.SetTXT("twice.example.net", "v=spf1 -all", "v=spf1 +all")
	d.SetTXT("a.example.net", "v=spf1 a:host.example.net -all")
	d.SetIP("host.example.net", "198.51.100.20", "2001:db8::20")
	d.SetTXT("mx.example.net", "v=spf1 mx -all")
	d.SetMX("mx.example.net", dnstest.MX{Pref: 10, Host: "mail.mx.example.net"})
	d.SetIP("mail.mx.example.net", "203.0.113.5")
	d.SetTXT("inc.example.net", "v=spf1 include:pass.example.net -all")
	d.SetTXT("helo.example.net", "v=spf1 ip4:192.0.2.10 -all")
	d.SetTXT("mxtemp.example.net", "v=spf1 mx -all")
	d.SetMX("mxtemp.example.net", dnstest.MX{Pref: 10, Host: "broken.example.net"})
	d.SetBehavior("broken.example.net", dnstest.ServFail)

	tests := []struct {
		name, ip, helo, mailFrom string
		want, domain             string
	}{
		{"pass", "192.0.2.10", "x.example.org", "a@pass.example.net", Pass, "pass.example.net"},
		{"fail", "198.51.100.1", "x.example.org", "a@pass.example.net", Fail, "pass.example.net"},
		{"softfail", "192.0.2.10", "x.example.org", "a@soft.example.net", SoftFail, "soft.example.net"},
		{"neutral", "192.0.2.10", "x.example.org", "a@neutral.example.net", Neutral, "neutral.example.net"},
		{"none: no record", "192.0.2.10", "x.example.org", "a@nothing.example.net", None, "nothing.example.net"},
		{"none: TXT without SPF", "192.0.2.10", "x.example.org", "a@noise.example.net", None, "noise.example.net"},
		{"temperror: SERVFAIL", "192.0.2.10", "x.example.org", "a@servfail.example.net", TempError, "servfail.example.net"},
		{"temperror: MX host SERVFAIL", "192.0.2.10", "x.example.org", "a@mxtemp.example.net", TempError, "mxtemp.example.net"},
		{"permerror: unknown mechanism", "192.0.2.10", "x.example.org", "a@perm.example.net", PermError, "perm.example.net"},
		{"permerror: two records", "192.0.2.10", "x.example.org", "a@twice.example.net", PermError, "twice.example.net"},
		{"a: v6 match", "2001:db8::20", "x.example.org", "a@a.example.net", Pass, "a.example.net"},
		{"a: no match", "192.0.2.10", "x.example.org", "a@a.example.net", Fail, "a.example.net"},
		{"mx", "203.0.113.5", "x.example.org", "a@mx.example.net", Pass, "mx.example.net"},
		{"include", "192.0.2.99", "x.example.org", "a@inc.example.net", Pass, "inc.example.net"},
		{"uppercase mail from", "192.0.2.10", "x.example.org", "<A@PASS.Example.NET>", Pass, "pass.example.net"},
		{"null MAIL FROM checks HELO", "192.0.2.10", "helo.example.net", "<>", Pass, "helo.example.net"},
		{"null MAIL FROM, HELO fails", "192.0.2.11", "helo.example.net", "", Fail, "helo.example.net"},
		{"non-null MAIL FROM ignores HELO", "192.0.2.10", "helo.example.net", "a@nothing.example.net", None, "nothing.example.net"},
		{"null MAIL FROM, literal HELO", "192.0.2.10", "[192.0.2.10]", "<>", None, ""},
		{"MAIL FROM without domain", "192.0.2.10", "helo.example.net", "postmaster", None, ""},
		{"no client IP", "", "helo.example.net", "a@pass.example.net", None, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := e.verify(message("a@example.org"), tc.ip, tc.helo, tc.mailFrom)
			if r.SPF != tc.want || r.SPFDomain != tc.domain {
				t.Fatalf("SPF = %q for %q (%s), want %q for %q", r.SPF, r.SPFDomain, r.SPFReason, tc.want, tc.domain)
			}
		})
	}
}

// TestSPFNoPTRLookups: a ptr mechanism never causes a reverse query
// (book/smtp.md) and simply does not match.
func TestSPFNoPTRLookups(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	e.dns.SetTXT("ptr.example.net", "v=spf1 ptr ptr:example.net ptr:a.example.net -all")
	r := e.verify(message("a@example.org"), "192.0.2.10", "x.example.org", "a@ptr.example.net")
	if r.SPF != Fail {
		t.Fatalf("SPF = %q (%s), want fail", r.SPF, r.SPFReason)
	}
	if n := e.dns.Queries("10.2.0.192.in-addr.arpa", dns.TypePTR); n != 0 {
		t.Fatalf("%d PTR queries", n)
	}
}

// TestSPFSilentServer: a name that never answers yields temperror within a
// short budget, even though one DNS lookup may take far longer.
func TestSPFSilentServer(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{timeout: 300 * time.Millisecond, lookupTimeout: time.Minute})
	e.dns.SetBehavior("silent.example.net", dnstest.Silent)
	start := time.Now()
	r := e.v.Verify(context.Background(), Input{
		Raw: message("a@example.org"), RemoteIP: []byte{192, 0, 2, 10}, Helo: "x.example.org", MailFrom: "a@silent.example.net",
	})
	if r.SPF != TempError {
		t.Fatalf("SPF = %q (%s), want temperror", r.SPF, r.SPFReason)
	}
	if el := time.Since(start); el > 20*time.Second {
		t.Fatalf("Verify took %v", el) // loose backstop
	}
}

func TestIsDomainName(t *testing.T) {
	t.Parallel()
	tests := map[string]bool{
		"example.net": true, "a-b.c_d.example": true, "localhost": false, "": false,
		"192.0.2.1": false, "a..b": false, "[1.2.3.4]": false, "ex ample.net": false,
	}
	for in, want := range tests {
		if got := isDomainName(in); got != want {
			t.Errorf("isDomainName(%q) = %v", in, got)
		}
	}
}
