package auth

import (
	"testing"
)

func TestTrustRules(t *testing.T) {
	t.Parallel()
	dmarcPass := Result{DKIM: Pass, DMARC: Pass, FromDomain: "corp.example", DKIMDomains: []string{"corp.example"}}
	alignedNoDMARC := Result{DKIM: Pass, DMARC: None, FromDomain: "corp.example", DKIMDomains: []string{"mail.corp.example"}}
	unrelated := Result{DKIM: Pass, DMARC: None, FromDomain: "corp.example", DKIMDomains: []string{"attacker.example.org"}}
	spfOnlyNoDMARC := Result{DKIM: None, SPF: Pass, DMARC: None, FromDomain: "corp.example", SPFDomain: "corp.example"}
	noFrom := Result{DKIM: Pass, DMARC: PermError, DKIMDomains: []string{"corp.example"}}
	tests := []struct {
		name        string
		mode        string
		allowlisted bool
		r           Result
		want        string
	}{
		{"mode none", "none", true, dmarcPass, TrustedNone},
		{"mode unset is none", "", true, dmarcPass, TrustedNone},
		{"verified: DMARC pass", "verified", true, dmarcPass, TrustedTrue},
		{"verified: aligned DKIM without DMARC record", "verified", true, alignedNoDMARC, TrustedTrue},
		{"verified: not allowlisted", "verified", false, dmarcPass, TrustedFalse},
		{"verified: DKIM from an unrelated domain", "verified", true, unrelated, TrustedFalse},
		{"verified: SPF alone is not enough", "verified", true, spfOnlyNoDMARC, TrustedFalse},
		{"verified: unusable From", "verified", true, noFrom, TrustedFalse},
		{"unknown mode fails closed", "Verified", true, dmarcPass, TrustedFalse},
	}
	for _, tc := range tests {
		if got := Trust(tc.mode, tc.allowlisted, tc.r); got != tc.want {
			t.Errorf("%s: Trust = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestForgedFromNotTrusted: From: boss@corp.example carrying a valid DKIM
// signature from an unrelated domain is not trusted, even when the address
// is allowlisted (book/verification.md). Controls: the same message signed by the From's
// own organization is trusted. Signatures are made with go-msgauth's signer
// and the fixture RSA key, for domains the test DNS serves.
func TestForgedFromNotTrusted(t *testing.T) {
	t.Parallel()
	key := fixtureTXT(t, "dkim/rsa.txt")
	tests := []struct {
		name      string
		signer    string // d=
		dmarc     string // _dmarc.corp.example TXT, "" for none
		mailFrom  string
		wantDKIM  string
		wantDMARC string
		want      string
	}{
		{"forged From, unrelated signer, DMARC reject", "attacker.example.org", "v=DMARC1; p=reject", "x@attacker.example.org", Pass, Fail, TrustedFalse},
		{"forged From, unrelated signer, no DMARC", "attacker.example.org", "", "x@attacker.example.org", Pass, None, TrustedFalse},
		{"forged From, signer a lookalike", "corp.example.org", "", "", Pass, None, TrustedFalse},
		{"genuine, signed by the From domain", "corp.example", "v=DMARC1; p=reject", "", Pass, Pass, TrustedTrue},
		{"genuine, signed by a subdomain, no DMARC", "mail.corp.example", "", "", Pass, None, TrustedTrue},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{})
			e.dns.SetTXT("s1._domainkey."+tc.signer, key)
			if tc.dmarc != "" {
				e.dns.SetTXT("_dmarc.corp.example", tc.dmarc)
			}
			e.dns.SetTXT("attacker.example.org", "v=spf1 ip4:203.0.113.0/24 -all")
			msg := sign(t, message("The Boss <boss@corp.example>"), tc.signer, "s1")
			r := e.verify(msg, "203.0.113.7", "mx.attacker.example.org", tc.mailFrom)
			if r.DKIM != tc.wantDKIM || r.DMARC != tc.wantDMARC {
				t.Fatalf("DKIM %q (%+v) DMARC %q (%s); want %q %q", r.DKIM, r.Signatures, r.DMARC, r.DMARCReason, tc.wantDKIM, tc.wantDMARC)
			}
			if r.From != "boss@corp.example" {
				t.Fatalf("From = %q", r.From)
			}
			if got := Trust("verified", true, r); got != tc.want {
				t.Fatalf("Trust = %q, want %q (DKIMDomains %v)", got, tc.want, r.DKIMDomains)
			}
			if got := Trust("none", true, r); got != TrustedNone {
				t.Fatalf("Trust(none) = %q", got)
			}
		})
	}
}
