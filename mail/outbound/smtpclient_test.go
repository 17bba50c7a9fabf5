package outbound

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/mail/outcome"
	"github.com/emersion/go-smtp"
)

const ourHostname = "out.a.test"

// testMessage is a small composed message to deliver.
func testMessage(t *testing.T) []byte {
	t.Helper()
	out, err := testComposer().Compose(sampleRequest(FormatText, false))
	if err != nil {
		t.Fatal(err)
	}
	// A line starting with a dot must survive dot-stuffing.
	return append(out.Raw[:len(out.Raw):len(out.Raw)], ".leading dot\r\n"...)
}

func dial(t *testing.T, addr string, cfg DialConfig) *Conn {
	t.Helper()
	if cfg.Hostname == "" {
		cfg.Hostname = ourHostname
	}
	c, err := Dial(context.Background(), addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func send(t *testing.T, c *Conn, rcpts ...string) []Result {
	t.Helper()
	res, err := c.Send(context.Background(), "zoe@a.test", rcpts, testMessage(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != len(rcpts) {
		t.Fatalf("%d results for %d recipients", len(res), len(rcpts))
	}
	return res
}

func TestDeliverTLSStates(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	caCert := leaf(t, ca, "mx.test")
	selfSigned := leaf(t, nil, "mx.test")
	cases := []struct {
		name string
		opts sinkOpts
		cfg  DialConfig
		want TLSState
	}{
		{"no STARTTLS offered", sinkOpts{}, DialConfig{}, TLSNone},
		{"self-signed", sinkOpts{cert: &selfSigned}, DialConfig{ServerName: "mx.test", RootCAs: ca.pool}, TLSUnverified},
		{"trusted CA", sinkOpts{cert: &caCert}, DialConfig{ServerName: "mx.test", RootCAs: ca.pool}, TLSVerified},
		{"trusted CA, other name", sinkOpts{cert: &caCert}, DialConfig{ServerName: "mx.other.test", RootCAs: ca.pool}, TLSUnverified},
		{"CA not trusted", sinkOpts{cert: &caCert}, DialConfig{ServerName: "mx.test"}, TLSUnverified},
		{"STARTTLS disabled", sinkOpts{cert: &caCert}, DialConfig{ServerName: "mx.test", RootCAs: ca.pool, DisableSTARTTLS: true}, TLSNone},
		{"implicit TLS", sinkOpts{cert: &caCert, implicitTLS: true}, DialConfig{ServerName: "mx.test", RootCAs: ca.pool, ImplicitTLS: true}, TLSVerified},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startSink(t, tc.opts)
			c := dial(t, s.addr, tc.cfg)
			if c.TLS() != tc.want {
				t.Errorf("TLS %q (%s), want %q", c.TLS(), c.TLSDetail(), tc.want)
			}
			if (c.TLSDetail() != "") != (tc.want == TLSUnverified) {
				t.Errorf("TLS detail %q with state %s", c.TLSDetail(), c.TLS())
			}
			res := send(t, c, "ok@b.test")
			if !res[0].Delivered() || res[0].Code != 250 {
				t.Fatalf("result %+v", res[0])
			}
			msgs := s.messages()
			if len(msgs) != 1 {
				t.Fatalf("%d messages at the sink", len(msgs))
			}
			m := msgs[0]
			if m.helo != ourHostname {
				t.Errorf("the server saw EHLO %q, want %q", m.helo, ourHostname)
			}
			if m.tls != (tc.want != TLSNone) {
				t.Errorf("server-side TLS %v with client state %s", m.tls, tc.want)
			}
			if !strings.HasSuffix(string(m.data), "\r\n.leading dot\r\n") || !strings.HasPrefix(string(m.data), "From: ") {
				t.Errorf("data not delivered byte for byte: %q", m.data)
			}
			if want := testMessage(t); string(m.data) != string(want) {
				t.Errorf("delivered bytes differ from the message")
			}
			if m.from != "zoe@a.test" || fmt.Sprint(m.rcpts) != "[ok@b.test]" || !m.sizeOK {
				t.Errorf("envelope %q %v size=%v", m.from, m.rcpts, m.sizeOK)
			}
		})
	}
}

func TestDeliverRequireVerified(t *testing.T) {
	t.Parallel()
	self := leaf(t, nil, "mx.test")
	s := startSink(t, sinkOpts{cert: &self})
	_, err := Dial(context.Background(), s.addr, DialConfig{Hostname: ourHostname, ServerName: "mx.test", RequireVerified: true})
	if !errors.Is(err, ErrTLSHandshake) {
		t.Fatalf("error %v, want a failed handshake", err)
	}
	if o, ok := outcome.As(err); !ok || !o.Temporary() {
		t.Errorf("outcome %v", err)
	}
	// Without STARTTLS, a caller that requires TLS gets nothing.
	plain := startSink(t, sinkOpts{})
	_, err = Dial(context.Background(), plain.addr, DialConfig{Hostname: ourHostname, RequireTLS: true})
	if !errors.Is(err, ErrTLSRequired) {
		t.Fatalf("error %v, want ErrTLSRequired", err)
	}
	if len(plain.messages()) != 0 {
		t.Error("a message went out in plaintext")
	}
}

// TestDeliverPerRecipient: one transaction, each recipient with its own
// answer, classified with mail/outcome.
func TestDeliverPerRecipient(t *testing.T) {
	t.Parallel()
	s := startSink(t, sinkOpts{rcpt: byLocalPart})
	c := dial(t, s.addr, DialConfig{})
	res := send(t, c, "ok@b.test", "later@b.test", "bad@b.test", "noenh@b.test", "ok2@b.test")
	want := []struct {
		code      int
		enh       [3]int
		delivered bool
		temporary bool
	}{
		{250, [3]int{2, 0, 0}, true, false},
		{451, [3]int{4, 3, 0}, false, true},
		{550, [3]int{5, 1, 1}, false, false},
		{552, [3]int{5, 0, 0}, false, false},
		{250, [3]int{2, 0, 0}, true, false},
	}
	for i, w := range want {
		r := res[i]
		if r.Code != w.code || r.Enhanced != w.enh || r.Delivered() != w.delivered {
			t.Errorf("%s: %d %v delivered=%v, want %d %v %v", r.Recipient, r.Code, r.Enhanced, r.Delivered(), w.code, w.enh, w.delivered)
		}
		if !w.delivered {
			if r.Err.Temporary() != w.temporary || r.Err.Permanent() == w.temporary || r.Err.Fault != outcome.FaultRemote {
				t.Errorf("%s: outcome %v temporary=%v fault=%v", r.Recipient, r.Err, r.Err.Temporary(), r.Err.Fault)
			}
			if r.Text == "" || !strings.Contains(r.Err.Error(), r.Recipient) {
				t.Errorf("%s: no detail in %q / %v", r.Recipient, r.Text, r.Err)
			}
		}
	}
	if res[1].Text != "try again later" || res[2].Text != "no such user" {
		t.Errorf("reply texts %q %q", res[1].Text, res[2].Text)
	}
	msgs := s.messages()
	if len(msgs) != 1 || fmt.Sprint(msgs[0].rcpts) != "[ok@b.test ok2@b.test]" {
		t.Fatalf("sink got %+v", msgs)
	}

	// A recipient that cannot go on the wire is refused locally; the
	// others go out.
	res = send(t, c, "bad address@b.test", "ok3@b.test")
	if res[0].Code != 553 || !res[0].Err.Permanent() || !res[1].Delivered() {
		t.Errorf("invalid envelope address: %+v", res)
	}
	if m := s.messages(); len(m) != 2 || fmt.Sprint(m[1].rcpts) != "[ok3@b.test]" {
		t.Fatalf("sink got %+v", m)
	}

	// An already cancelled context sends nothing and keeps the connection.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Send(ctx, "zoe@a.test", []string{"ok@b.test"}, testMessage(t)); !errors.Is(err, context.Canceled) || !c.Usable() {
		t.Errorf("cancelled send: %v, usable=%v", err, c.Usable())
	}

	// Nobody accepted: no DATA, and the connection stays usable.
	res = send(t, c, "later@b.test", "bad@b.test")
	if res[0].Delivered() || res[1].Delivered() || len(s.messages()) != 2 {
		t.Fatalf("refused recipients delivered: %+v", res)
	}
	if !c.Usable() {
		t.Fatal("connection unusable after refused recipients")
	}
	// The same connection carries the next transaction.
	if res := send(t, c, "ok@b.test"); !res[0].Delivered() {
		t.Fatalf("reuse: %+v", res)
	}
	if s.sessions != 1 || len(s.messages()) != 3 {
		t.Errorf("%d sessions, %d messages", s.sessions, len(s.messages()))
	}
}

// TestDeliverDataRefused: a refusal after the final dot applies to every
// recipient accepted at RCPT.
func TestDeliverDataRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		code      int
		temporary bool
	}{{451, true}, {554, false}} {
		s := startSink(t, sinkOpts{rcpt: byLocalPart, data: func() error {
			return &smtp.SMTPError{Code: tc.code, EnhancedCode: smtp.EnhancedCode{tc.code / 100, 6, 0}, Message: "content refused"}
		}})
		c := dial(t, s.addr, DialConfig{})
		res := send(t, c, "ok@b.test", "bad@b.test", "ok2@b.test")
		for _, i := range []int{0, 2} {
			r := res[i]
			if r.Delivered() || r.Code != tc.code || r.Err.Temporary() != tc.temporary || r.Enhanced != [3]int{tc.code / 100, 6, 0} {
				t.Errorf("%d: %s: %+v", tc.code, r.Recipient, r)
			}
		}
		if res[1].Code != 550 {
			t.Errorf("%d: refused recipient took the DATA answer: %+v", tc.code, res[1])
		}
		if !c.Usable() {
			t.Errorf("%d: connection unusable after a DATA refusal", tc.code)
		}
	}
}

func TestDeliverAuthPlainRelay(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	cert := leaf(t, ca, "relay.test")
	s := startSink(t, sinkOpts{cert: &cert, users: map[string]string{"aimx": "s3cret"}})
	base := DialConfig{Hostname: ourHostname, ServerName: "relay.test", RootCAs: ca.pool, RequireTLS: true}

	cfg := base
	cfg.Auth = &Auth{Username: "aimx", Password: "s3cret"}
	c := dial(t, s.addr, cfg)
	if c.TLS() != TLSVerified {
		t.Errorf("relay TLS %s (%s)", c.TLS(), c.TLSDetail())
	}
	if res := send(t, c, "someone@elsewhere.test"); !res[0].Delivered() {
		t.Fatalf("relay refused: %+v", res[0])
	}
	if m := s.messages(); len(m) != 1 || m[0].user != "aimx" {
		t.Fatalf("relay saw %+v", m)
	}

	cfg.Auth = &Auth{Username: "aimx", Password: "wrong"}
	_, err := Dial(context.Background(), s.addr, cfg)
	o, ok := outcome.As(err)
	if !ok || o.Code != 535 || !o.Permanent() {
		t.Fatalf("wrong password: %v", err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("the error shows the password: %v", err)
	}

	// Without a login the relay refuses MAIL: every recipient gets it.
	c = dial(t, s.addr, base)
	res := send(t, c, "someone@elsewhere.test")
	if res[0].Delivered() || res[0].Code != 502 {
		t.Errorf("unauthenticated relay: %+v", res[0])
	}
}

// TestDeliverAuthNeverInClear: credentials go over TLS, or to loopback.
func TestDeliverAuthNeverInClear(t *testing.T) {
	t.Parallel()
	s := startSink(t, sinkOpts{users: map[string]string{"aimx": "s3cret"}, insecureAuth: true})
	cfg := DialConfig{Hostname: ourHostname, Auth: &Auth{Username: "aimx", Password: "s3cret"}}
	// On loopback, plaintext AUTH is allowed (dev mode's relay sink).
	c := dial(t, s.addr, cfg)
	if res := send(t, c, "x@elsewhere.test"); !res[0].Delivered() {
		t.Fatalf("loopback relay: %+v", res[0])
	}
	// The same server seen at a non-loopback address: refused before AUTH.
	cfg.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return remoteConn{conn}, nil
	}
	if _, err := Dial(context.Background(), s.addr, cfg); !errors.Is(err, ErrTLSRequired) {
		t.Fatalf("error %v, want ErrTLSRequired", err)
	}
}

// remoteConn pretends to be connected to a non-loopback address.
type remoteConn struct{ net.Conn }

func (remoteConn) RemoteAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 25), Port: 25} }

// TestDeliverSTARTTLSInjection: bytes after the 220 to STARTTLS are
// refused, not read as if they came over TLS.
func TestDeliverSTARTTLSInjection(t *testing.T) {
	t.Parallel()
	addr, seen := fakeServer(t, "220 mx.test ESMTP\r\n", map[string]string{
		"EHLO":     "250-mx.test\r\n250 STARTTLS\r\n",
		"STARTTLS": "220 2.0.0 go ahead\r\n250-injected\r\n",
	})
	_, err := Dial(context.Background(), addr, DialConfig{Hostname: ourHostname})
	if err == nil || !strings.Contains(err.Error(), "after its 220") {
		t.Fatalf("error %v, want a refusal of the injected bytes", err)
	}
	lines := <-seen
	if len(lines) != 2 || lines[0] != "EHLO "+ourHostname || lines[1] != "STARTTLS" {
		t.Errorf("client sent %q", lines)
	}
}

// TestDeliverGreetingAndEHLO: the EHLO name is ours from the first line,
// and a refusing greeting is classified.
func TestDeliverGreetingAndEHLO(t *testing.T) {
	t.Parallel()
	if _, err := Dial(context.Background(), "127.0.0.1:1", DialConfig{}); err == nil || !strings.Contains(err.Error(), "hostname") {
		t.Errorf("empty hostname: %v", err)
	}

	addr, _ := fakeServer(t, "554 5.7.1 no service for you\r\n", nil)
	_, err := Dial(context.Background(), addr, DialConfig{Hostname: ourHostname})
	if o, ok := outcome.As(err); !ok || o.Code != 554 || !o.Permanent() || o.Enhanced != [3]int{5, 7, 1} {
		t.Errorf("554 greeting: %v", err)
	}

	addr, _ = fakeServer(t, "421 4.3.2 busy\r\n", nil)
	_, err = Dial(context.Background(), addr, DialConfig{Hostname: ourHostname})
	if o, ok := outcome.As(err); !ok || o.Code != 421 || !o.Temporary() {
		t.Errorf("421 greeting: %v", err)
	}

	s := startSink(t, sinkOpts{})
	c := dial(t, s.addr, DialConfig{Hostname: "mail.a.test"})
	send(t, c, "ok@b.test")
	if m := s.messages(); m[0].helo != "mail.a.test" {
		t.Errorf("EHLO %q", m[0].helo)
	}
}

// TestDeliverNetworkFailures: no listener, a server that never greets
// (cut by the context), and a connection dropped mid-transaction are all
// temporary.
func TestDeliverNetworkFailures(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	_ = ln.Close()
	_, err = Dial(context.Background(), closed, DialConfig{Hostname: ourHostname})
	if o, ok := outcome.As(err); !ok || !o.Temporary() || o.Enhanced != [3]int{4, 4, 1} {
		t.Errorf("refused connection: %v", err)
	}

	silent, _ := fakeServer(t, "", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := Dial(ctx, silent, DialConfig{Hostname: ourHostname})
		done <- err
	}()
	select {
	case err := <-done:
		if o, ok := outcome.As(err); !ok || !o.Temporary() || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("silent server: %v", err)
		}
	case <-time.After(30 * time.Second): // loose backstop only
		t.Fatal("Dial did not stop when its context ended")
	}

	// A server that stops answering at DATA: cancelling the context ends
	// the transaction, and the connection is not reused.
	mute, _ := fakeServer(t, "220 mx.test ESMTP\r\n", map[string]string{
		"EHLO": "250 mx.test\r\n",
		"MAIL": "250 2.1.0 ok\r\n",
		"RCPT": "250 2.1.5 ok\r\n",
	})
	mc, err := Dial(context.Background(), mute, DialConfig{Hostname: ourHostname})
	if err != nil {
		t.Fatal(err)
	}
	sctx, scancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer scancel()
	sent := make(chan error, 1)
	var mres []Result
	go func() {
		var err error
		mres, err = mc.Send(sctx, "zoe@a.test", []string{"a@b.test"}, testMessage(t))
		sent <- err
	}()
	select {
	case err := <-sent:
		if !errors.Is(err, context.DeadlineExceeded) || mc.Usable() || mres[0].Delivered() || !mres[0].Err.Temporary() {
			t.Errorf("stalled DATA: %v usable=%v %+v", err, mc.Usable(), mres)
		}
	case <-time.After(30 * time.Second): // loose backstop only
		t.Fatal("Send did not stop when its context ended")
	}
	_ = mc.Close()

	// The server hangs up after RCPT.
	addr, _ := fakeServer(t, "220 mx.test ESMTP\r\n", map[string]string{
		"EHLO": "250-mx.test\r\n250 SIZE 1000000\r\n",
		"MAIL": "250 2.1.0 ok\r\n",
		"RCPT": "250 2.1.5 ok\r\n",
		"DATA": "421 4.3.2 going away\r\n",
	})
	c, err := Dial(context.Background(), addr, DialConfig{Hostname: ourHostname})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res, err := c.Send(context.Background(), "zoe@a.test", []string{"a@b.test", "c@b.test"}, testMessage(t))
	if err != nil {
		// 421 is a reply; go-smtp reports it as one.
		t.Logf("send error: %v", err)
	}
	for _, r := range res {
		if r.Delivered() || !r.Err.Temporary() || r.Code != 421 {
			t.Errorf("%s: %+v", r.Recipient, r)
		}
	}
	if c.Usable() {
		t.Error("connection still usable after 421")
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	cases := []struct {
		err  error
		code int
		enh  [3]int
	}{
		{&smtp.SMTPError{Code: 450, EnhancedCode: smtp.EnhancedCode{4, 2, 0}, Message: "busy"}, 450, [3]int{4, 2, 0}},
		{&smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{4, 1, 1}, Message: "contradiction"}, 550, [3]int{5, 0, 0}},
		{&smtp.SMTPError{Code: 354, Message: "odd"}, 451, [3]int{4, 5, 0}},
		{fmt.Errorf("wrapped: %w", &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 1, 3}, Message: "bad address"}), 553, [3]int{5, 1, 3}},
		{errors.New("connection reset"), 451, [3]int{4, 4, 2}},
		{fmt.Errorf("x: %w", ErrTLSRequired), 451, [3]int{4, 7, 10}},
	}
	for _, tc := range cases {
		o := Classify(tc.err)
		if o.Code != tc.code || o.Enhanced != tc.enh || o.Fault != outcome.FaultRemote || !errors.Is(o, tc.err) {
			t.Errorf("Classify(%v) = %d %v %v", tc.err, o.Code, o.Enhanced, o.Fault)
		}
	}
	if Classify(nil) != nil {
		t.Error("Classify(nil) is not nil")
	}
}
