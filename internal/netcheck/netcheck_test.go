package netcheck

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
)

// TestGreeting reads a multi-line 220 greeting and refuses a 554.
func TestGreeting(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		send, want string
		ok         bool
	}{
		{"220-mail.example.com ESMTP\r\n220 ready\r\n", "220 ready", true},
		{"554 no service\r\n", "554 no service", false},
	} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = conn.Write([]byte(c.send))
			buf := make([]byte, 64)
			_, _ = conn.Read(buf)
			conn.Close()
		}()
		got, err := System{}.Greeting(context.Background(), ln.Addr().String())
		ln.Close()
		if got != c.want || (err == nil) != c.ok {
			t.Errorf("%q: got %q, %v", c.send, got, err)
		}
	}
}

// TestListenableInUse: a bound port is reported in use.
func TestListenableInUse(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := (System{}).Listenable(ln.Addr().String()); !errors.Is(err, ErrInUse) {
		t.Fatalf("in use: %v", err)
	}
	if err := (System{}).Listenable("127.0.0.1:0"); err != nil {
		t.Fatalf("free port: %v", err)
	}
}

// TestIsPublic leaves out private, shared, documentation and loopback
// addresses.
func TestIsPublic(t *testing.T) {
	t.Parallel()
	for ip, want := range map[string]bool{
		"8.8.8.8": true, "2a00:1450::1": true, "10.0.0.1": false, "100.64.1.1": false, "127.0.0.1": false,
		"203.0.113.5": false, "fd00::1": false, "fe80::1": false, "2001:db8::1": false,
	} {
		if got := IsPublic(net.ParseIP(ip)); got != want {
			t.Errorf("%s: %v", ip, got)
		}
	}
	ips, _ := System{}.PublicIPs(context.Background())
	for _, ip := range ips {
		if !IsPublic(ip) || strings.HasPrefix(ip.String(), "127.") {
			t.Errorf("PublicIPs gave %s", ip)
		}
	}
}
