package auth

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/internal/dnsresolver"
	"github.com/aimx-dev/aimx/internal/dnstest"
	"github.com/emersion/go-msgauth/dkim"
)

// fixtures is the test data kept in the repo (testdata/fixtures/README.md).
const fixtures = "../../testdata/fixtures"

func readFixture(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, rel))
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	return b
}

// fixtureTXT reads a .txt DNS value without its trailing newline.
func fixtureTXT(t testing.TB, rel string) string {
	return strings.TrimRight(string(readFixture(t, rel)), "\r\n")
}

// crlf converts LF line endings to CRLF (leaving existing CRLF alone).
func crlf(b []byte) []byte {
	return bytes.ReplaceAll(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r\n"))
}

// env is a verifier wired to an in-process DNS server through the real
// caching resolver.
type env struct {
	dns *dnstest.Server
	res *dnsresolver.Resolver
	v   *Verifier
}

type envOpts struct {
	timeout       time.Duration // verification budget
	lookupTimeout time.Duration // per DNS lookup
	intn          func(int) int
}

func newEnv(t *testing.T, o envOpts) *env {
	t.Helper()
	srv := dnstest.Start(t)
	if o.lookupTimeout == 0 {
		o.lookupTimeout = 5 * time.Second
	}
	res, err := dnsresolver.New(dnsresolver.Config{Servers: []string{srv.Addr()}, Timeout: o.lookupTimeout})
	if err != nil {
		t.Fatal(err)
	}
	if o.intn == nil {
		o.intn = func(int) int { panic("pct sampling used unexpectedly") }
	}
	v, err := New(Config{Resolver: res, Timeout: o.timeout, Intn: o.intn})
	if err != nil {
		t.Fatal(err)
	}
	return &env{dns: srv, res: res, v: v}
}

// publishFixtureKeys serves the dkimpy vectors' keys.
func (e *env) publishFixtureKeys(t *testing.T) {
	e.dns.SetTXT("rsa2026._domainkey.mail.example.net", fixtureTXT(t, "dkim/rsa.txt"))
	e.dns.SetTXT("ed2026._domainkey.mail.example.net", fixtureTXT(t, "dkim/ed25519.txt"))
}

func (e *env) verify(raw []byte, ip, helo, mailFrom string) Result {
	return e.v.Verify(context.Background(), Input{Raw: raw, RemoteIP: net.ParseIP(ip), Helo: helo, MailFrom: mailFrom})
}

// fixtureKey is the shared RSA key (PKCS#1 PEM).
func fixtureKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	block, _ := pem.Decode(readFixture(t, "dkim/rsa.key.pem"))
	if block == nil {
		t.Fatal("rsa.key.pem: no PEM block")
	}
	key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// sign prepends a DKIM-Signature made with go-msgauth's signer for domain
// and selector with the fixture key (relaxed/relaxed, explicit headers).
func sign(t *testing.T, msg []byte, domain, selector string) []byte {
	t.Helper()
	s, err := dkim.NewSigner(&dkim.SignOptions{
		Domain:                 domain,
		Selector:               selector,
		Signer:                 fixtureKey(t),
		HeaderCanonicalization: dkim.CanonicalizationRelaxed,
		BodyCanonicalization:   dkim.CanonicalizationRelaxed,
		HeaderKeys:             []string{"From", "To", "Subject", "Date", "Message-ID"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(msg); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return append([]byte(s.Signature()), msg...)
}

// message builds a small CRLF message from the given From value.
func message(from string) []byte {
	return crlf([]byte("From: " + from + "\n" +
		"To: agent@agent.example.com\n" +
		"Subject: wire the money\n" +
		"Date: Mon, 2 Nov 2026 10:41:05 +0100\n" +
		"Message-ID: <1@x>\n" +
		"\n" +
		"Please wire the money today.\n"))
}
