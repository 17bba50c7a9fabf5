package outbound

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/aimx-dev/aimx/internal/dnsresolver"
	"github.com/aimx-dev/aimx/internal/dnstest"
	"github.com/aimx-dev/aimx/mail/outcome"
)

// testResolver is a resolver that asks the in-process DNS server only.
func testResolver(t *testing.T, srv *dnstest.Server) *dnsresolver.Resolver {
	t.Helper()
	r, err := dnsresolver.New(dnsresolver.Config{Servers: []string{srv.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestMXHosts(t *testing.T) {
	srv := dnstest.Start(t)
	r := testResolver(t, srv)
	srv.SetMX("multi.test", dnstest.MX{Pref: 20, Host: "c.multi.test"}, dnstest.MX{Pref: 10, Host: "a.multi.test"},
		dnstest.MX{Pref: 10, Host: "b.multi.test"}, dnstest.MX{Pref: 30, Host: "d.multi.test"})
	srv.SetMX("null.test", dnstest.MX{Pref: 0, Host: "."})
	srv.SetIP("nomx.test", "192.0.2.7")
	srv.SetMX("fail.test", dnstest.MX{Pref: 10, Host: "mx.fail.test"})
	srv.SetBehavior("fail.test", dnstest.ServFail)
	ctx := context.Background()

	// Equal preferences come in the order the injected shuffle makes.
	seen := map[string]bool{}
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 1))
		hosts, err := MXHosts(ctx, r, "multi.test", rng.Shuffle)
		if err != nil {
			t.Fatal(err)
		}
		if len(hosts) != 4 || hosts[2] != "c.multi.test" || hosts[3] != "d.multi.test" {
			t.Fatalf("hosts %v", hosts)
		}
		first := slices.Clone(hosts[:2])
		slices.Sort(first)
		if !slices.Equal(first, []string{"a.multi.test", "b.multi.test"}) {
			t.Fatalf("hosts %v", hosts)
		}
		seen[hosts[0]] = true
	}
	if len(seen) != 2 {
		t.Errorf("equal preferences never shuffled: %v", seen)
	}

	// No MX: the domain itself (RFC 5321 5.1).
	if hosts, err := MXHosts(ctx, r, "nomx.test", nil); err != nil || !slices.Equal(hosts, []string{"nomx.test"}) {
		t.Errorf("no MX: %v %v", hosts, err)
	}
	for _, tc := range []struct {
		domain    string
		permanent bool
		code      int
	}{
		{"null.test", true, 556},   // RFC 7505
		{"absent.test", true, 550}, // neither MX nor address
		{"fail.test", false, 451},  // SERVFAIL: try later
	} {
		_, err := MXHosts(ctx, r, tc.domain, nil)
		o, ok := outcome.As(err)
		if !ok || o.Permanent() != tc.permanent || o.Code != tc.code {
			t.Errorf("%s: %v, want code %d", tc.domain, err, tc.code)
		}
	}
}
