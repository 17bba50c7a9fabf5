package auth

import (
	"testing"

	"github.com/aimx-dev/aimx/internal/dnstest"
	"github.com/emersion/go-msgauth/dmarc"
	"github.com/miekg/dns"
)

func TestOrgDomain(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"example.com":           "example.com",
		"a.b.example.com":       "example.com",
		"Mail.Example.COM.":     "example.com",
		"shop.example.co.uk":    "example.co.uk",
		"example.co.uk":         "example.co.uk",
		"co.uk":                 "co.uk", // a public suffix is its own org domain
		"mail.example.net":      "example.net",
		"corp.example":          "corp.example", // unknown TLD: the "*" rule
		"x.y.corp.example":      "corp.example",
		"alice.github.io":       "alice.github.io",     // private-section suffix
		"x.y.other.kawasaki.jp": "y.other.kawasaki.jp", // *.kawasaki.jp wildcard
		"a.b.city.kawasaki.jp":  "city.kawasaki.jp",    // !city.kawasaki.jp exception
		"deep.sub.example.com.": "example.com",
	}
	for in, want := range tests {
		if got := orgDomain(in); got != want {
			t.Errorf("orgDomain(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAligned(t *testing.T) {
	t.Parallel()
	const (
		s = dmarc.AlignmentStrict
		r = dmarc.AlignmentRelaxed
	)
	tests := []struct {
		mode       dmarc.AlignmentMode
		auth, from string
		want       bool
	}{
		{s, "example.com", "example.com", true},
		{s, "EXAMPLE.com.", "example.com", true},
		{s, "mail.example.com", "example.com", false},
		{s, "example.com", "mail.example.com", false},
		{r, "mail.example.com", "example.com", true},
		{r, "example.com", "news.example.com", true},
		{r, "a.example.com", "b.example.com", true},
		{r, "example.net", "example.com", false},
		{r, "evil-example.com", "example.com", false},
		{r, "example.com.evil.net", "example.com", false},
		{r, "mail.example.co.uk", "shop.example.co.uk", true},
		{r, "other.co.uk", "example.co.uk", false},
		{r, "co.uk", "example.co.uk", false},
		{s, "example.co.uk", "example.co.uk", true},
		{r, "alice.github.io", "bob.github.io", false},
		{r, "x.alice.github.io", "alice.github.io", true},
		{r, "", "example.com", false},
		{r, "example.com", "", false},
	}
	for _, tc := range tests {
		if got := aligned(tc.mode, tc.auth, tc.from); got != tc.want {
			t.Errorf("aligned(%s, %q, %q) = %v, want %v", tc.mode, tc.auth, tc.from, got, tc.want)
		}
	}
}

func pct(n int) *int { return &n }

// TestEvaluate is the DMARC test-vector table: alignment (strict, relaxed,
// subdomains, multi-label public suffixes), p vs sp, pct sampling and
// temperror.
func TestEvaluate(t *testing.T) {
	t.Parallel()
	rec := func(p, sp dmarc.Policy, adkim, aspf dmarc.AlignmentMode, percent *int) *dmarc.Record {
		return &dmarc.Record{Policy: p, SubdomainPolicy: sp, DKIMAlignment: adkim, SPFAlignment: aspf, Percent: percent}
	}
	const (
		s = dmarc.AlignmentStrict
		r = dmarc.AlignmentRelaxed
	)
	pass := func(d string) []Signature { return []Signature{{Domain: d, Result: Pass}} }
	tests := []struct {
		name                        string
		rec                         *dmarc.Record
		recordDomain, fromDomain    string
		sigs                        []Signature
		dkimDone                    bool
		spf, spfDomain              string
		spfDone                     bool
		roll                        int // what the random source returns
		verdict, applied, published string
	}{
		{"relaxed DKIM, same domain", rec("reject", "", r, r, nil), "example.com", "example.com",
			pass("example.com"), true, Fail, "example.com", true, -1, Pass, "none", "reject"},
		{"relaxed DKIM, signer subdomain", rec("reject", "", r, r, nil), "example.com", "example.com",
			pass("mail.example.com"), true, None, "", true, -1, Pass, "none", "reject"},
		{"strict DKIM, signer subdomain", rec("reject", "", s, r, nil), "example.com", "example.com",
			pass("mail.example.com"), true, None, "", true, -1, Fail, "reject", "reject"},
		{"DKIM pass from unrelated domain", rec("quarantine", "", r, r, nil), "example.com", "example.com",
			pass("evil.example.net"), true, None, "", true, -1, Fail, "quarantine", "quarantine"},
		{"DKIM fail does not count", rec("reject", "", r, r, nil), "example.com", "example.com",
			[]Signature{{Domain: "example.com", Result: Fail}}, true, None, "", true, -1, Fail, "reject", "reject"},
		{"relaxed SPF, bounce subdomain", rec("reject", "", r, r, nil), "example.com", "example.com",
			nil, true, Pass, "bounce.example.com", true, -1, Pass, "none", "reject"},
		{"strict SPF, bounce subdomain", rec("reject", "", r, s, nil), "example.com", "example.com",
			nil, true, Pass, "bounce.example.com", true, -1, Fail, "reject", "reject"},
		{"SPF softfail does not count", rec("reject", "", r, r, nil), "example.com", "example.com",
			nil, true, SoftFail, "example.com", true, -1, Fail, "reject", "reject"},
		{"multi-label suffix, relaxed", rec("reject", "", r, r, nil), "example.co.uk", "shop.example.co.uk",
			pass("mail.example.co.uk"), true, None, "", true, -1, Pass, "none", "reject"},
		{"multi-label suffix, sibling org", rec("reject", "", r, r, nil), "example.co.uk", "example.co.uk",
			pass("other.co.uk"), true, Pass, "evil.co.uk", true, -1, Fail, "reject", "reject"},
		{"sp for a subdomain via the org record", rec("reject", "quarantine", r, r, nil), "example.com", "sub.example.com",
			nil, true, None, "", true, -1, Fail, "quarantine", "quarantine"},
		{"sp none for a subdomain", rec("reject", "none", r, r, nil), "example.com", "sub.example.com",
			nil, true, None, "", true, -1, Fail, "none", "none"},
		{"no sp: p applies to a subdomain", rec("reject", "", r, r, nil), "example.com", "sub.example.com",
			nil, true, None, "", true, -1, Fail, "reject", "reject"},
		{"record at the subdomain itself: p, not sp", rec("reject", "none", r, r, nil), "sub.example.com", "sub.example.com",
			nil, true, None, "", true, -1, Fail, "reject", "reject"},
		{"pct 0 downgrades reject", rec("reject", "", r, r, pct(0)), "example.com", "example.com",
			nil, true, Fail, "example.com", true, 0, Fail, "quarantine", "reject"},
		{"pct 0 downgrades quarantine", rec("quarantine", "", r, r, pct(0)), "example.com", "example.com",
			nil, true, Fail, "example.com", true, 0, Fail, "none", "quarantine"},
		{"pct 100 applies without sampling", rec("reject", "", r, r, pct(100)), "example.com", "example.com",
			nil, true, Fail, "example.com", true, -1, Fail, "reject", "reject"},
		{"pct 50, inside the sample", rec("reject", "", r, r, pct(50)), "example.com", "example.com",
			nil, true, None, "", true, 49, Fail, "reject", "reject"},
		{"pct 50, outside the sample", rec("reject", "", r, r, pct(50)), "example.com", "example.com",
			nil, true, None, "", true, 50, Fail, "quarantine", "reject"},
		{"pct does not touch a pass", rec("reject", "", r, r, pct(0)), "example.com", "example.com",
			pass("example.com"), true, None, "", true, -1, Pass, "none", "reject"},
		{"p=none fails with policy none", rec("none", "", r, r, nil), "example.com", "example.com",
			nil, true, Fail, "example.com", true, -1, Fail, "none", "none"},
		{"DKIM unfinished", rec("reject", "", r, r, nil), "example.com", "example.com",
			nil, false, Fail, "example.com", true, -1, TempError, "none", "reject"},
		{"aligned DKIM temperror", rec("reject", "", r, r, nil), "example.com", "example.com",
			[]Signature{{Domain: "mail.example.com", Result: TempError}}, true, Fail, "example.com", true, -1, TempError, "none", "reject"},
		{"unaligned DKIM temperror is a fail", rec("reject", "", r, r, nil), "example.com", "example.com",
			[]Signature{{Domain: "other.example.net", Result: TempError}}, true, Fail, "example.com", true, -1, Fail, "reject", "reject"},
		{"aligned SPF temperror", rec("reject", "", r, r, nil), "example.com", "example.com",
			nil, true, TempError, "example.com", true, -1, TempError, "none", "reject"},
		{"unaligned SPF temperror is a fail", rec("reject", "", r, r, nil), "example.com", "example.com",
			nil, true, TempError, "other.example.net", true, -1, Fail, "reject", "reject"},
		{"SPF unfinished", rec("reject", "", r, r, nil), "example.com", "example.com",
			nil, true, TempError, "", false, -1, TempError, "none", "reject"},
		{"aligned pass beats a pending check", rec("reject", "", r, r, nil), "example.com", "example.com",
			pass("example.com"), true, TempError, "", false, -1, Pass, "none", "reject"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			intn := func(n int) int {
				if tc.roll < 0 || n != 100 {
					t.Fatalf("random source called (n=%d) where no sampling should happen", n)
				}
				return tc.roll
			}
			got := evaluate(evalInput{
				rec: tc.rec, recordDomain: tc.recordDomain, fromDomain: tc.fromDomain,
				dkimDone: tc.dkimDone, sigs: tc.sigs,
				spfDone: tc.spfDone, spf: tc.spf, spfDomain: tc.spfDomain,
				intn: intn,
			})
			if got.verdict != tc.verdict || got.applied != tc.applied || got.published != tc.published {
				t.Fatalf("got verdict %q applied %q published %q (%s); want %q %q %q",
					got.verdict, got.applied, got.published, got.reason, tc.verdict, tc.applied, tc.published)
			}
		})
	}
}

// TestDMARCThroughDNS runs the record lookup, the organizational-domain
// fallback and the verdicts end to end with the dkimpy vectors.
func TestDMARCThroughDNS(t *testing.T) {
	t.Parallel()
	type setup func(d *dnstest.Server)
	tests := []struct {
		name    string
		file    string
		setup   setup
		mailFrm string
		intn    func(int) int
		verdict string
		policy  string
		recDom  string
	}{
		{"record at the From domain", "dkim/rsa-signed.eml", func(d *dnstest.Server) {
			d.SetTXT("_dmarc.mail.example.net", "v=DMARC1; p=reject; adkim=s")
		}, "", nil, Pass, "none", "mail.example.net"},
		{"falls back to the org domain", "dkim/rsa-signed.eml", func(d *dnstest.Server) {
			d.SetTXT("_dmarc.example.net", "v=DMARC1; p=reject; sp=quarantine")
		}, "", nil, Pass, "none", "example.net"},
		{"strict DKIM vs org record", "dkim/rsa-signed.eml", func(d *dnstest.Server) {
			d.SetTXT("_dmarc.example.net", "v=DMARC1; p=reject; sp=quarantine; adkim=s")
		}, "", nil, Pass, "none", "example.net"}, // d= equals the From domain exactly
		{"tampered: fail with sp", "dkim/tampered-body.eml", func(d *dnstest.Server) {
			d.SetTXT("_dmarc.example.net", "v=DMARC1; p=reject; sp=quarantine")
		}, "", nil, Fail, "quarantine", "example.net"},
		{"tampered: SPF rescues", "dkim/tampered-body.eml", func(d *dnstest.Server) {
			d.SetTXT("_dmarc.example.net", "v=DMARC1; p=reject")
			d.SetTXT("bounces.example.net", "v=spf1 ip4:192.0.2.10 -all")
		}, "b@bounces.example.net", nil, Pass, "none", "example.net"},
		{"tampered: pct sample missed", "dkim/tampered-body.eml", func(d *dnstest.Server) {
			d.SetTXT("_dmarc.mail.example.net", "v=DMARC1; p=reject; pct=10")
		}, "", func(int) int { return 10 }, Fail, "quarantine", "mail.example.net"},
		{"no record", "dkim/rsa-signed.eml", func(d *dnstest.Server) {}, "", nil, None, "none", ""},
		{"non-DMARC TXT only", "dkim/rsa-signed.eml", func(d *dnstest.Server) {
			d.SetTXT("_dmarc.mail.example.net", "hello")
		}, "", nil, None, "none", ""},
		{"SERVFAIL", "dkim/rsa-signed.eml", func(d *dnstest.Server) {
			d.SetBehavior("_dmarc.mail.example.net", dnstest.ServFail)
		}, "", nil, TempError, "none", ""},
		{"SERVFAIL at the org domain", "dkim/rsa-signed.eml", func(d *dnstest.Server) {
			d.SetBehavior("_dmarc.example.net", dnstest.ServFail)
		}, "", nil, TempError, "none", ""},
		{"malformed record", "dkim/rsa-signed.eml", func(d *dnstest.Server) {
			d.SetTXT("_dmarc.mail.example.net", "v=DMARC1; p=bogus")
		}, "", nil, PermError, "none", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{intn: tc.intn})
			e.publishFixtureKeys(t)
			tc.setup(e.dns)
			r := e.verify(readFixture(t, tc.file), "192.0.2.10", "submit.mail.example.net", tc.mailFrm)
			if r.DMARC != tc.verdict || r.Policy != tc.policy || r.DMARCDomain != tc.recDom {
				t.Fatalf("DMARC %q policy %q at %q (%s); want %q %q at %q",
					r.DMARC, r.Policy, r.DMARCDomain, r.DMARCReason, tc.verdict, tc.policy, tc.recDom)
			}
			if r.FromDomain != "mail.example.net" || r.From != "zoe@mail.example.net" {
				t.Fatalf("From = %q / %q", r.From, r.FromDomain)
			}
		})
	}
}

// TestDMARCNoFallbackAtOrgDomain: a From at the organizational domain is
// looked up once, not twice.
func TestDMARCNoFallbackAtOrgDomain(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	r := e.verify(message("a@example.org"), "192.0.2.10", "x.example.org", "")
	if r.DMARC != None {
		t.Fatalf("DMARC = %q", r.DMARC)
	}
	if n := e.dns.Queries("_dmarc.example.org", dns.TypeTXT); n != 1 {
		t.Fatalf("queries = %d", n)
	}
}

func TestDMARCFromProblems(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	e.dns.SetTXT("_dmarc.example.org", "v=DMARC1; p=reject")
	tests := []struct {
		name, raw, want string
	}{
		{"missing From", "To: a@b.example\r\nSubject: x\r\n\r\nbody\r\n", None},
		{"two From fields", "From: a@example.org\r\nFrom: b@example.org\r\n\r\nbody\r\n", PermError},
		{"two addresses", "From: a@example.org, b@example.org\r\n\r\nbody\r\n", PermError},
		{"empty From", "From: \r\n\r\nbody\r\n", PermError},
		{"no domain", "From: alice\r\n\r\nbody\r\n", PermError},
		{"bad domain", "From: a@exa mple.org\r\n\r\nbody\r\n", PermError},
		{"one address", "From: a@example.org\r\n\r\nbody\r\n", Fail},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := e.verify([]byte(tc.raw), "192.0.2.10", "x.example.org", "")
			if r.DMARC != tc.want {
				t.Fatalf("DMARC = %q (%s), want %q", r.DMARC, r.DMARCReason, tc.want)
			}
		})
	}
}
