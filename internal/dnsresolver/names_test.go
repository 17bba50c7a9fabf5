package dnsresolver

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/internal/dnstest"
	"github.com/miekg/dns"
)

// countingSystem is a system resolver whose every dial is counted and sent
// to srv (or refused when srv is nil), so tests see whether the network
// would have been used.
func countingSystem(srv *dnstest.Server, dials *atomic.Int32) *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			dials.Add(1)
			if srv == nil {
				return nil, errors.New("network forbidden in this test")
			}
			var d net.Dialer
			return d.DialContext(ctx, network, srv.Addr())
		},
	}
}

func TestSystemModeAnswersSpecialNamesLocally(t *testing.T) {
	t.Parallel()
	var dials atomic.Int32
	r, err := New(Config{System: countingSystem(nil, &dials)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	names := []string{
		"agent.localhost", "localhost", "mail.example", "x.test", "a.b.invalid.",
		"EXAMPLE", "intranet", "Foo.Test.",
	}
	for _, name := range names {
		_, errTXT := r.LookupTXT(ctx, name)
		_, errMX := r.LookupMX(ctx, name)
		_, errIP := r.LookupIP(ctx, name)
		for _, err := range []error{errTXT, errMX, errIP} {
			var e *Error
			if !errors.Is(err, ErrNotFound) || !errors.As(err, &e) || !e.NXDomain {
				t.Errorf("%s: err = %v, want local NXDOMAIN", name, err)
			}
		}
	}
	if n := dials.Load(); n != 0 {
		t.Fatalf("special-use names reached the network (%d dials)", n)
	}
	// A normal name does go to the system resolver.
	if _, err := r.LookupTXT(ctx, "example.com"); err == nil || dials.Load() == 0 {
		t.Fatalf("example.com: err = %v, dials = %d; want a dial", err, dials.Load())
	}
}

func TestServersModeSendsSpecialNames(t *testing.T) {
	t.Parallel()
	r, srv, _ := newTest(t, Config{})
	srv.SetTXT("mail.example", "served")
	got, err := r.LookupTXT(context.Background(), "mail.example")
	if err != nil || len(got) != 1 || got[0] != "served" {
		t.Fatalf("with servers set, .example must be queried: %q, %v", got, err)
	}
}

func TestSystemModeCaches(t *testing.T) {
	t.Parallel()
	srv := dnstest.Start(t)
	srv.SetTXT("sys.example.net", "hello")
	var dials atomic.Int32
	clock := newClock()
	r, err := New(Config{System: countingSystem(srv, &dials), Now: clock.Now, SystemTTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		got, err := r.LookupTXT(context.Background(), "sys.example.net")
		if err != nil || len(got) != 1 || got[0] != "hello" {
			t.Fatalf("TXT = %q, %v", got, err)
		}
	}
	if n := srv.Queries("sys.example.net", dns.TypeTXT); n != 1 {
		t.Fatalf("queries = %d, want 1", n)
	}
	clock.Advance(time.Minute)
	if _, err := r.LookupTXT(context.Background(), "sys.example.net"); err != nil {
		t.Fatal(err)
	}
	if n := srv.Queries("sys.example.net", dns.TypeTXT); n != 2 {
		t.Fatalf("queries after SystemTTL = %d, want 2", n)
	}
	if _, err := r.LookupTXT(context.Background(), "nope.example.net"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("system NXDOMAIN: err = %v", err)
	}
}

func TestInvalidNames(t *testing.T) {
	t.Parallel()
	r, srv, _ := newTest(t, Config{})
	for _, name := range []string{"", ".", "a..b", strings.Repeat("a", 64) + ".net", strings.Repeat("a.", 127) + "net"} {
		if _, err := r.LookupTXT(context.Background(), name); !errors.Is(err, ErrNotFound) {
			t.Errorf("%q: err = %v, want ErrNotFound", name, err)
		}
	}
	if n := srv.TotalQueries(); n != 0 {
		t.Fatalf("invalid names sent %d queries", n)
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"a.example.net.", "", ".", "A..b", "localhost", "x.TEST", "\x00.com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		n, ok := normalize(name)
		if !ok {
			return
		}
		if n != strings.ToLower(n) || strings.HasSuffix(n, ".") || len(n) > 253 {
			t.Fatalf("normalize(%q) = %q", name, n)
		}
		if !strings.Contains(n, ".") && !answeredLocally(n) {
			t.Fatalf("single label %q not answered locally", n)
		}
		if n2, ok2 := normalize(n); !ok2 || n2 != n {
			t.Fatalf("normalize not idempotent: %q -> %q", n, n2)
		}
	})
}
