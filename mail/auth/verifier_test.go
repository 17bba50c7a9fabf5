package auth

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/internal/dnstest"
)

// TestBudget: a DNS server that never answers makes Verify return
// temperror verdicts once the budget is spent, although each DNS lookup
// alone would wait a minute.
func TestBudget(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{timeout: 300 * time.Millisecond, lookupTimeout: time.Minute})
	for _, name := range []string{"rsa2026._domainkey.mail.example.net", "mail.example.net", "_dmarc.mail.example.net"} {
		e.dns.SetBehavior(name, dnstest.Silent)
	}
	start := time.Now()
	r := e.verify(readFixture(t, "dkim/rsa-signed.eml"), "192.0.2.10", "submit.mail.example.net", "zoe@mail.example.net")
	if r.DKIM != TempError || r.SPF != TempError || r.DMARC != TempError {
		t.Fatalf("verdicts dkim=%s spf=%s dmarc=%s, want temperror for all", r.DKIM, r.SPF, r.DMARC)
	}
	if r.Policy != PolicyNone {
		t.Fatalf("policy = %q", r.Policy)
	}
	if r.FromDomain != "mail.example.net" {
		t.Fatalf("FromDomain = %q: From needs no DNS and must survive a timeout", r.FromDomain)
	}
	if el := time.Since(start); el > 20*time.Second {
		t.Fatalf("Verify took %v", el) // loose backstop only
	}
}

// stuckResolver ignores its context and blocks until release is closed: a
// resolver that breaks its contract must still not hold Verify past the
// budget.
type stuckResolver struct{ release chan struct{} }

func (s stuckResolver) LookupTXT(context.Context, string) ([]string, error) {
	<-s.release
	return nil, errors.New("released")
}

func (s stuckResolver) LookupMX(context.Context, string) ([]*net.MX, error) {
	<-s.release
	return nil, errors.New("released")
}

func (s stuckResolver) LookupIP(context.Context, string) ([]net.IP, error) {
	<-s.release
	return nil, errors.New("released")
}

func TestBudgetHoldsWithAStuckResolver(t *testing.T) {
	t.Parallel()
	res := stuckResolver{release: make(chan struct{})}
	t.Cleanup(func() { close(res.release) })
	v, err := New(Config{Resolver: res, Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan Result, 1)
	go func() {
		done <- v.Verify(context.Background(), Input{
			Raw: readFixture(t, "dkim/rsa-signed.eml"), RemoteIP: net.IPv4(192, 0, 2, 10), MailFrom: "zoe@mail.example.net",
		})
	}()
	select {
	case r := <-done:
		if r.DKIM != TempError || r.SPF != TempError || r.DMARC != TempError {
			t.Fatalf("verdicts dkim=%s spf=%s dmarc=%s", r.DKIM, r.SPF, r.DMARC)
		}
	case <-time.After(20 * time.Second): // loose backstop
		t.Fatal("Verify did not return at its deadline")
	}
}

func TestCancelledContext(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	e.publishFixtureKeys(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := e.v.Verify(ctx, Input{Raw: readFixture(t, "dkim/rsa-signed.eml"), RemoteIP: net.IPv4(192, 0, 2, 10), MailFrom: "zoe@mail.example.net"})
	if r.SPF != TempError || r.DMARC != TempError {
		t.Fatalf("spf=%s dmarc=%s, want temperror", r.SPF, r.DMARC)
	}
	if n := e.dns.TotalQueries(); n != 0 {
		t.Fatalf("%d queries with a cancelled context", n)
	}
}

// panicResolver panics on every lookup.
type panicResolver struct{}

func (panicResolver) LookupTXT(context.Context, string) ([]string, error) { panic("boom") }
func (panicResolver) LookupMX(context.Context, string) ([]*net.MX, error) { panic("boom") }
func (panicResolver) LookupIP(context.Context, string) ([]net.IP, error)  { panic("boom") }

func TestPanicIsContained(t *testing.T) {
	t.Parallel()
	v, err := New(Config{Resolver: panicResolver{}})
	if err != nil {
		t.Fatal(err)
	}
	r := v.Verify(context.Background(), Input{
		Raw: readFixture(t, "dkim/rsa-signed.eml"), RemoteIP: net.IPv4(192, 0, 2, 10), MailFrom: "zoe@mail.example.net",
	})
	if r.DKIM != TempError || r.SPF != TempError || r.DMARC != TempError {
		t.Fatalf("verdicts dkim=%s spf=%s dmarc=%s", r.DKIM, r.SPF, r.DMARC)
	}
	if !strings.Contains(r.SPFReason, "boom") {
		t.Fatalf("SPF reason %q does not carry the panic", r.SPFReason)
	}
}

func TestDurationUsesInjectedClock(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	calls := 0
	v, err := New(Config{Resolver: e.res, Now: func() time.Time {
		calls++
		return t0.Add(time.Duration(calls-1) * 5 * time.Second)
	}})
	if err != nil {
		t.Fatal(err)
	}
	r := v.Verify(context.Background(), Input{Raw: message("a@example.org")})
	if r.Duration != 5*time.Second {
		t.Fatalf("Duration = %v", r.Duration)
	}
}

func TestNewNeedsResolver(t *testing.T) {
	t.Parallel()
	if _, err := New(Config{}); err == nil {
		t.Fatal("New without a resolver succeeded")
	}
}

// TestAuthenticationResultsGolden renders the header for the dkimpy RSA
// vector and compares it with testdata/authres-rsa-signed.golden.
func TestAuthenticationResultsGolden(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	e.publishFixtureKeys(t)
	e.dns.SetTXT("mail.example.net", "v=spf1 ip4:192.0.2.0/24 -all")
	e.dns.SetTXT("_dmarc.example.net", "v=DMARC1; p=reject")
	r := e.verify(readFixture(t, "dkim/rsa-signed.eml"), "192.0.2.10", "submit.mail.example.net", "zoe@mail.example.net")
	got := r.AuthenticationResults("mx.agent.example.com") + "\n"
	golden := filepath.Join("testdata", "authres-rsa-signed.golden")
	if os.Getenv("UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}

func TestAuthenticationResults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		r    Result
		want string
	}{
		{"nothing checked in time", Result{DKIM: TempError, SPF: TempError, DMARC: TempError, Helo: "h.example"},
			"mx.example; dkim=temperror; spf=temperror smtp.helo=h.example; dmarc=temperror"},
		{"unsigned, null sender", Result{DKIM: None, SPF: Pass, DMARC: None, Helo: "h.example", FromDomain: "a.example"},
			"mx.example; dkim=none; spf=pass smtp.helo=h.example; dmarc=none header.from=a.example"},
		{"two signatures", Result{
			DKIM: Pass, SPF: Fail, DMARC: Pass, MailFrom: "b@a.example", Helo: "h.example", FromDomain: "a.example",
			Signatures: []Signature{{Domain: "a.example", Identifier: "@a.example", Result: Pass}, {Domain: "x.example", Result: PermError}},
		}, "mx.example; dkim=pass header.d=a.example header.i=@a.example; dkim=permerror header.d=x.example; " +
			"spf=fail smtp.helo=h.example smtp.mailfrom=b@a.example; dmarc=pass header.from=a.example"},
		{"hostile values are defanged", Result{
			DKIM: Fail, SPF: None, DMARC: None, Helo: "evil\r\nX-Injected: 1; dkim=pass",
			Signatures: []Signature{{Domain: "a.example\r\nBcc: x", Result: Fail}},
		}, `mx.example; dkim=fail header.d="a.exampleBcc:x"; spf=none smtp.helo="evilX-Injected:1dkim=pass"; dmarc=none`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.r.AuthenticationResults("mx.example"); got != tc.want {
				t.Fatalf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}
