package dnsresolver

import (
	"context"
	"errors"
	"net"
	"reflect"
	"testing"

	"github.com/aimx-dev/aimx/internal/dnstest"
)

// TestLookupPTR: IPv4 and IPv6 reverse names, NXDOMAIN as not found and
// SERVFAIL as temporary.
func TestLookupPTR(t *testing.T) {
	t.Parallel()
	srv := dnstest.Start(t)
	for _, rr := range []string{
		"5.113.0.203.in-addr.arpa. 60 IN PTR Mail.Example.com.",
		"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. 60 IN PTR mail.example.com.",
	} {
		if err := srv.AddRR(rr); err != nil {
			t.Fatal(err)
		}
	}
	srv.SetBehavior("6.113.0.203.in-addr.arpa.", dnstest.ServFail)
	r, err := New(Config{Servers: []string{srv.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, ip := range []string{"203.0.113.5", "2001:db8::1"} {
		names, err := r.LookupPTR(ctx, net.ParseIP(ip))
		if err != nil || !reflect.DeepEqual(names, []string{"mail.example.com."}) {
			t.Errorf("%s: %v %v", ip, names, err)
		}
	}
	if _, err := r.LookupPTR(ctx, net.ParseIP("203.0.113.7")); !errors.Is(err, ErrNotFound) {
		t.Errorf("no PTR: %v", err)
	}
	if _, err := r.LookupPTR(ctx, net.ParseIP("203.0.113.6")); !errors.Is(err, ErrTemporary) {
		t.Errorf("SERVFAIL: %v", err)
	}
}
