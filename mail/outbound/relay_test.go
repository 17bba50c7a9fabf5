package outbound

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
)

func TestParseRelay(t *testing.T) {
	t.Parallel()
	cases := []struct {
		raw  string
		want Relay // Host "" means an error
		str  string
	}{
		{"smtp://relay.example.com:587", Relay{Host: "relay.example.com", Port: 587, RequireTLS: true}, "smtp://relay.example.com:587"},
		{"smtp://relay.example.com", Relay{Host: "relay.example.com", Port: 25, RequireTLS: true}, "smtp://relay.example.com:25"},
		{"smtps://relay.example.com", Relay{Host: "relay.example.com", Port: 465, ImplicitTLS: true, RequireTLS: true}, "smtps://relay.example.com:465"},
		{"SMTPS://Relay.Example.com.:2465", Relay{Host: "Relay.Example.com", Port: 2465, ImplicitTLS: true, RequireTLS: true}, "smtps://Relay.Example.com:2465"},
		{"smtp://aimx:s3cret@relay.example.com:587", Relay{Host: "relay.example.com", Port: 587, RequireTLS: true, RequireVerified: true, Auth: &Auth{"aimx", "s3cret"}},
			"smtp://aimx:xxxxx@relay.example.com:587"},
		{"smtps://me%40corp:p%40ss%3Aw0rd@relay.example.com", Relay{Host: "relay.example.com", Port: 465, ImplicitTLS: true, RequireTLS: true,
			RequireVerified: true, Auth: &Auth{"me@corp", "p@ss:w0rd"}}, "smtps://me%40corp:xxxxx@relay.example.com:465"},
		// Loopback relays may be plaintext (dev mode's sink).
		{"smtp://127.0.0.1:2525", Relay{Host: "127.0.0.1", Port: 2525}, "smtp://127.0.0.1:2525"},
		{"smtp://localhost:2525", Relay{Host: "localhost", Port: 2525}, "smtp://localhost:2525"},
		{"smtp://LOCALHOST.", Relay{Host: "LOCALHOST", Port: 25}, "smtp://LOCALHOST:25"},
		{"smtp://[::1]:2525", Relay{Host: "::1", Port: 2525}, "smtp://[::1]:2525"},
		{"smtp://127.8.9.10", Relay{Host: "127.8.9.10", Port: 25}, "smtp://127.8.9.10:25"},
		// ... but smtps is TLS anyway, and a name that merely looks local is not.
		{"smtps://localhost", Relay{Host: "localhost", Port: 465, ImplicitTLS: true, RequireTLS: true}, "smtps://localhost:465"},
		{"smtp://localhost.example.com", Relay{Host: "localhost.example.com", Port: 25, RequireTLS: true}, "smtp://localhost.example.com:25"},
		{"smtp://10.0.0.1:25", Relay{Host: "10.0.0.1", Port: 25, RequireTLS: true}, "smtp://10.0.0.1:25"},
		{"smtp://[2001:db8::1]", Relay{Host: "2001:db8::1", Port: 25, RequireTLS: true}, "smtp://[2001:db8::1]:25"},

		{"", Relay{}, ""},
		{"relay.example.com:25", Relay{}, ""},
		{"http://relay.example.com", Relay{}, ""},
		{"smtp:relay.example.com", Relay{}, ""},
		{"smtp://", Relay{}, ""},
		{"smtp://:25", Relay{}, ""},
		{"smtp://relay.example.com:", Relay{}, ""},
		{"smtp://relay.example.com:0", Relay{}, ""},
		{"smtp://relay.example.com:65536", Relay{}, ""},
		{"smtp://relay.example.com:smtp", Relay{}, ""},
		{"smtp://relay.example.com/x", Relay{}, ""},
		{"smtp://relay.example.com?tls=no", Relay{}, ""},
		{"smtp://relay.example.com#f", Relay{}, ""},
		{"smtp://aimx@relay.example.com", Relay{}, ""},
		{"smtp://aimx:@relay.example.com", Relay{}, ""},
		{"smtp://:hunter2@relay.example.com", Relay{}, ""},
		{"smtp://aimx:hunter2@relay example.com", Relay{}, ""},
		{"smtp://aimx:hunter2%zz@relay.example.com", Relay{}, ""},
		{"smtp://aimx:hunter2@relay.example.com:99999", Relay{}, ""},
		{"smtp://aimx:hunter2@relay.example.com/path", Relay{}, ""},
	}
	for _, tc := range cases {
		r, err := ParseRelay(tc.raw)
		if tc.want.Host == "" {
			if err == nil {
				t.Errorf("%q: accepted as %+v", tc.raw, r)
				continue
			}
			if !errors.Is(err, ErrBadRelay) {
				t.Errorf("%q: error %v does not wrap ErrBadRelay", tc.raw, err)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("%q: the error shows the password: %v", tc.raw, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.raw, err)
			continue
		}
		gotNoAuth, wantNoAuth := *r, tc.want
		gotNoAuth.Auth, wantNoAuth.Auth = nil, nil
		if gotNoAuth != wantNoAuth || (r.Auth == nil) != (tc.want.Auth == nil) || (r.Auth != nil && *r.Auth != *tc.want.Auth) {
			t.Errorf("%q: %+v (auth %+v), want %+v", tc.raw, *r, r.Auth, tc.want)
		}
		if got := r.String(); got != tc.str {
			t.Errorf("%q: String() = %q, want %q", tc.raw, got, tc.str)
		}
		if r.Auth != nil && (strings.Contains(r.String(), r.Auth.Password) || strings.Contains(fmt.Sprint(r), r.Auth.Password)) {
			t.Errorf("%q: String() shows the password", tc.raw)
		}
	}
	if (*Relay)(nil).String() != "" {
		t.Error("nil relay String")
	}
}

// relayDial reaches "relay.test" at 127.0.0.1: the relay looks like a
// remote host (not loopback) to everything but the TCP connection.
func relayDial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if host != "relay.test" {
		return nil, fmt.Errorf("test dialer: unexpected host %s", host)
	}
	return (&net.Dialer{}).DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
}

// relayEnv is a deliverEnv whose Deliverer sends through relay, with no
// MX record anywhere: any DNS lookup would show.
func relayEnv(t *testing.T, o sinkOpts, rawURL func(port int) string) (*deliverEnv, *sink) {
	t.Helper()
	e := newDeliverEnv(t, sinkOpts{})
	relay := startSink(t, o)
	r, err := ParseRelay(rawURL(sinkPort(t, relay)))
	if err != nil {
		t.Fatal(err)
	}
	e.d.Relay = r
	e.d.Dial.Dial = relayDial
	if r.Host != "relay.test" {
		e.d.Dial.Dial = nil
	}
	return e, relay
}

func TestRelayDelivery(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	cert := leaf(t, ca, "relay.test")
	cases := []struct {
		name    string
		opts    sinkOpts
		url     string
		wantTLS TLSState
	}{
		{"loopback, plaintext AUTH", sinkOpts{users: map[string]string{"aimx": "s3cret"}, insecureAuth: true},
			"smtp://aimx:s3cret@127.0.0.1:%d", TLSNone},
		{"STARTTLS and AUTH", sinkOpts{cert: &cert, users: map[string]string{"aimx": "s3cret"}},
			"smtp://aimx:s3cret@relay.test:%d", TLSVerified},
		{"implicit TLS and AUTH", sinkOpts{cert: &cert, implicitTLS: true, users: map[string]string{"aimx": "s3cret"}},
			"smtps://aimx:s3cret@relay.test:%d", TLSVerified},
		{"STARTTLS, no login", sinkOpts{cert: &cert}, "smtp://relay.test:%d", TLSVerified},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, relay := relayEnv(t, tc.opts, func(p int) string { return fmt.Sprintf(tc.url, p) })
			e.d.Dial.RootCAs = ca.pool
			it := e.enqueue(t, "x@b.test", "y@elsewhere.test", "z@b.test")
			data, _ := e.q.Data(context.Background(), it.ID)
			got := e.round(t, it.ID)
			for _, r := range got.Recipients {
				if r.Status != StatusDelivered || r.TLS != tc.wantTLS {
					t.Errorf("%s: %+v, want delivered with TLS %q", r.Address, r, tc.wantTLS)
				}
			}
			msgs := relay.messages()
			if len(msgs) != 1 {
				t.Fatalf("relay got %d messages, want one transaction for every domain", len(msgs))
			}
			m := msgs[0]
			if fmt.Sprint(m.rcpts) != "[x@b.test y@elsewhere.test z@b.test]" || m.from != "zoe@a.test" || string(m.data) != string(data) {
				t.Errorf("relay saw %q %v %q", m.from, m.rcpts, m.data)
			}
			if wantUser := map[bool]string{true: "aimx"}[tc.opts.users != nil]; m.user != wantUser {
				t.Errorf("relay login %q, want %q", m.user, wantUser)
			}
			if len(e.sink.messages()) != 0 || e.dns.TotalQueries() != 0 {
				t.Errorf("the MX was used (%d messages, %d DNS queries)", len(e.sink.messages()), e.dns.TotalQueries())
			}
		})
	}
}

// A relay that is not on loopback must do TLS: without STARTTLS, or with a
// failed handshake, the recipients are deferred, nothing is sent in
// plaintext, and no second plaintext connection is made.
func TestRelayRequiresTLS(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	cert := leaf(t, ca, "relay.test")
	oldTLS := func(c *tls.Config) { c.MaxVersion = tls.VersionTLS11 }
	cases := []struct {
		name string
		opts sinkOpts
		url  string
		enh  [3]int
	}{
		{"no STARTTLS", sinkOpts{users: map[string]string{"aimx": "hunter2"}, insecureAuth: true}, "smtp://aimx:hunter2@relay.test:%d", [3]int{4, 7, 10}},
		{"failed STARTTLS handshake", sinkOpts{cert: &cert, tlsConfig: oldTLS}, "smtp://aimx:hunter2@relay.test:%d", [3]int{4, 7, 5}},
		{"failed STARTTLS handshake on loopback", sinkOpts{cert: &cert, tlsConfig: oldTLS}, "smtp://127.0.0.1:%d", [3]int{4, 7, 5}},
		{"failed implicit TLS handshake", sinkOpts{cert: &cert, implicitTLS: true, tlsConfig: oldTLS}, "smtps://relay.test:%d", [3]int{4, 7, 5}},
		{"wrong password", sinkOpts{cert: &cert, users: map[string]string{"aimx": "other"}}, "smtp://aimx:hunter2@relay.test:%d", [3]int{4, 7, 8}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, relay := relayEnv(t, tc.opts, func(p int) string { return fmt.Sprintf(tc.url, p) })
			e.d.Dial.RootCAs = ca.pool
			it := e.enqueue(t, "x@b.test")
			r := e.round(t, it.ID).Recipients[0]
			if r.Status != StatusDeferred || r.Code != 451 || r.Enhanced != tc.enh || r.TLS != "" {
				t.Errorf("recipient %+v, want deferred with 451 %v", r, tc.enh)
			}
			if strings.Contains(r.Detail, "hunter2") {
				t.Errorf("the detail shows the password: %q", r.Detail)
			}
			if accepts, _, _ := relay.counts(); accepts != 1 || len(relay.messages()) != 0 {
				t.Errorf("%d connections, %d messages at the relay", accepts, len(relay.messages()))
			}
			for _, m := range relay.messages() {
				if m.user != "" {
					t.Errorf("logged in as %q", m.user)
				}
			}
		})
	}
}
