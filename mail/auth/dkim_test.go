package auth

import (
	"testing"

	"github.com/aimx-dev/aimx/internal/dnstest"
	"github.com/miekg/dns"
)

// TestDKIMVectors checks the dkimpy-made vectors (fixtures/dkim/README.md)
// through the in-process DNS server and the real resolver.
func TestDKIMVectors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	e.publishFixtureKeys(t)
	tests := []struct {
		file   string
		crlf   bool // convert LF fixture to CRLF first
		want   string
		domain string // d= of the passing signature
	}{
		{"dkim/rsa-signed.eml", false, Pass, "mail.example.net"},
		{"dkim/ed25519-signed.eml", false, Pass, "mail.example.net"},
		{"dkim/rsa-relaxed-transit.eml", false, Pass, "mail.example.net"},
		{"dkim/tampered-body.eml", false, Fail, ""},
		{"dkim/tampered-header.eml", false, Fail, ""},
		{"dkim/unsigned.eml", false, None, ""},
		{"mail/gmail_dkim_signed.eml", true, Fail, ""},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			raw := readFixture(t, tc.file)
			if tc.crlf {
				raw = crlf(raw)
			}
			r := e.verify(raw, "192.0.2.10", "submit.mail.example.net", "zoe@mail.example.net")
			if r.DKIM != tc.want {
				t.Fatalf("DKIM = %q, want %q (signatures %+v)", r.DKIM, tc.want, r.Signatures)
			}
			switch {
			case tc.domain != "" && (len(r.DKIMDomains) != 1 || r.DKIMDomains[0] != tc.domain):
				t.Fatalf("DKIMDomains = %v, want [%s]", r.DKIMDomains, tc.domain)
			case tc.domain == "" && len(r.DKIMDomains) != 0:
				t.Fatalf("DKIMDomains = %v, want none", r.DKIMDomains)
			}
		})
	}
}

func TestDKIMTemporaryKeyFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	e.dns.SetBehavior("rsa2026._domainkey.mail.example.net", dnstest.ServFail)
	r := e.verify(readFixture(t, "dkim/rsa-signed.eml"), "192.0.2.10", "x.example.net", "")
	if r.DKIM != TempError || len(r.Signatures) != 1 || r.Signatures[0].Result != TempError {
		t.Fatalf("DKIM = %q %+v, want temperror", r.DKIM, r.Signatures)
	}
}

func TestDKIMMissingKeyIsFail(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	r := e.verify(readFixture(t, "dkim/rsa-signed.eml"), "192.0.2.10", "x.example.net", "")
	if r.DKIM != Fail || r.Signatures[0].Result != PermError {
		t.Fatalf("DKIM = %q %+v, want fail/permerror", r.DKIM, r.Signatures)
	}
}

// TestDKIMAnyPassWins: a message with a failing and a passing signature
// passes, and only the passing d= is kept for alignment.
func TestDKIMAnyPassWins(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	e.publishFixtureKeys(t)
	e.dns.SetTXT("sel._domainkey.other.example.org", fixtureTXT(t, "dkim/rsa.txt"))
	msg := sign(t, message("a@other.example.org"), "other.example.org", "sel")
	// A second, broken signature from a domain without a key.
	msg = append([]byte("DKIM-Signature: v=1; a=rsa-sha256; d=broken.example.org; s=x; h=from; bh=AAAA; b=AAAA\r\n"), msg...)
	r := e.verify(msg, "192.0.2.10", "x.example.net", "")
	if r.DKIM != Pass || len(r.Signatures) != 2 {
		t.Fatalf("DKIM = %q %+v", r.DKIM, r.Signatures)
	}
	if len(r.DKIMDomains) != 1 || r.DKIMDomains[0] != "other.example.org" {
		t.Fatalf("DKIMDomains = %v", r.DKIMDomains)
	}
}

// TestDKIMKeyCached: a second verification of the same signer does not
// query the key again.
func TestDKIMKeyCached(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	e.publishFixtureKeys(t)
	raw := readFixture(t, "dkim/rsa-signed.eml")
	for range 3 {
		if r := e.verify(raw, "192.0.2.10", "x.example.net", ""); r.DKIM != Pass {
			t.Fatalf("DKIM = %q", r.DKIM)
		}
	}
	if n := e.dns.Queries("rsa2026._domainkey.mail.example.net", dns.TypeTXT); n != 1 {
		t.Fatalf("key queries = %d, want 1", n)
	}
}

func TestHasDKIMSignature(t *testing.T) {
	t.Parallel()
	tests := []struct {
		raw  string
		want bool
	}{
		{"DKIM-Signature: x\r\n\r\nbody", true},
		{"From: a\r\ndkim-signature: x\r\n\r\n", true},
		{"From: a\r\n\r\nDKIM-Signature: in the body\r\n", false},
		{"X-DKIM-Signature: x\r\n\r\n", false},
		{"From: a\n\nDKIM-Signature: body\n", false},
	}
	for _, tc := range tests {
		if got := hasDKIMSignature([]byte(tc.raw)); got != tc.want {
			t.Errorf("hasDKIMSignature(%q) = %v", tc.raw, got)
		}
	}
}
