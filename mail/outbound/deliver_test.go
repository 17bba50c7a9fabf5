package outbound

import (
	"context"
	"errors"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/internal/dnstest"
	"github.com/emersion/go-smtp"
)

// laterOnce answers RCPT like byLocalPart, except that "later" gets 451
// only the first time.
func laterOnce() func(string) error {
	var mu sync.Mutex
	seen := false
	return func(addr string) error {
		if strings.HasPrefix(addr, "later@") {
			mu.Lock()
			defer mu.Unlock()
			if !seen {
				seen = true
				return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
			}
			return nil
		}
		return byLocalPart(addr)
	}
}

func TestDeliveryRounds(t *testing.T) {
	ctx := context.Background()
	ca := newTestCA(t)
	cert := leaf(t, ca, "mx.b.test", "c.test")
	s := startSink(t, sinkOpts{cert: &cert, rcpt: laterOnce()})
	_, portStr, _ := net.SplitHostPort(s.addr)
	port, _ := strconv.Atoi(portStr)

	dns := dnstest.Start(t)
	dns.SetMX("b.test", dnstest.MX{Pref: 10, Host: "mx.b.test"})
	dns.SetIP("mx.b.test", "127.0.0.1", "::1")
	dns.SetIP("c.test", "127.0.0.1") // no MX: the domain itself
	dns.SetMX("null.test", dnstest.MX{Pref: 0, Host: "."})

	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	var clockMu sync.Mutex
	clock := func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return now }
	dir := t.TempDir()
	q := openQueue(t, dir)
	d := &Deliverer{
		Queue:    q,
		Resolver: testResolver(t, dns),
		Port:     port,
		Retry:    RetryPolicy{Base: 5 * time.Minute, Attempts: 3},
		Dial:     DialConfig{Hostname: ourHostname, RootCAs: ca.pool, Now: time.Now},
		Now:      clock,
	}
	t.Cleanup(func() { _ = d.Close() })
	msg := []byte("From: hello@a.test\r\nSubject: hi\r\n\r\nbody\r\n")
	it, err := q.Enqueue(ctx, Submission{From: "hello@a.test", Recipients: []string{"ok@b.test", "later@b.test", "bad@c.test", "x@null.test"}, Data: msg}, now)
	if err != nil {
		t.Fatal(err)
	}

	got, round, err := d.Round(ctx, it.ID)
	if err != nil || round != 1 || got.Rounds != 1 {
		t.Fatal(err, round)
	}
	if removed, err := q.Ack(ctx, it.ID, round); err != nil || removed {
		t.Fatal(err, removed)
	}
	want := map[string]struct {
		status   Status
		code     int
		attempts int
		tls      TLSState
	}{
		"ok@b.test":    {StatusDelivered, 250, 1, TLSVerified},
		"later@b.test": {StatusDeferred, 451, 1, TLSVerified},
		"bad@c.test":   {StatusFailed, 550, 1, TLSVerified},
		"x@null.test":  {StatusFailed, 556, 1, ""},
	}
	for _, r := range got.Recipients {
		w := want[r.Address]
		if r.Status != w.status || r.Code != w.code || r.Attempts != w.attempts || r.TLS != w.tls {
			t.Errorf("%s: %+v, want %+v", r.Address, r, w)
		}
	}
	if r := got.Recipients[1]; !r.NextAttempt.Equal(now.Add(5*time.Minute)) || !strings.Contains(r.Detail, "try again later") {
		t.Errorf("deferred %+v", r)
	}
	msgs := s.messages()
	if len(msgs) != 1 || !slices.Equal(msgs[0].rcpts, []string{"ok@b.test"}) || string(msgs[0].data) != string(msg) || !msgs[0].tls {
		t.Fatalf("sink got %+v", msgs)
	}

	// A second message, then a restart before it is delivered.
	it2, err := q.Enqueue(ctx, Submission{From: "hello@a.test", Recipients: []string{"two@b.test"}, Data: msg}, now)
	if err != nil {
		t.Fatal(err)
	}
	_ = q.Close()
	q = openQueue(t, dir)
	d.Queue = q
	due, err := q.Due(ctx, now)
	if err != nil || len(due) != 1 || due[0].ID != it2.ID {
		t.Fatalf("due after restart: %+v %v", due, err)
	}
	// Not due yet: a round makes no attempt.
	if got, round, err := d.Round(ctx, it.ID); err != nil || round != 0 || got.Recipients[1].Attempts != 1 {
		t.Fatalf("early round: %+v %d %v", got, round, err)
	}
	if _, round, err := d.Round(ctx, it2.ID); err != nil || round != 1 {
		t.Fatalf("second message: %v %v", round, err)
	}
	if removed, err := q.Ack(ctx, it2.ID, 1); err != nil || !removed {
		t.Fatalf("second message: %v %v", removed, err)
	}

	clockMu.Lock()
	now = now.Add(5 * time.Minute)
	clockMu.Unlock()
	due, _ = q.Due(ctx, now)
	if len(due) != 1 || due[0].ID != it.ID {
		t.Fatalf("due after the wait: %+v", due)
	}
	got, round, err = d.Round(ctx, it.ID)
	if err != nil || round != 2 {
		t.Fatalf("retry round: %v %v", round, err)
	}
	if removed, err := q.Ack(ctx, it.ID, round); err != nil || !removed {
		t.Fatalf("ack of the last round: %v %v", removed, err)
	}
	if r := got.Recipients[1]; r.Status != StatusDelivered || r.Attempts != 2 || r.Code != 250 {
		t.Errorf("later after retry: %+v", r)
	}
	if r := got.Recipients[0]; r.Attempts != 1 {
		t.Errorf("delivered recipient tried again: %+v", r)
	}
	msgs = s.messages()
	if len(msgs) != 3 || !slices.Equal(msgs[1].rcpts, []string{"two@b.test"}) || !slices.Equal(msgs[2].rcpts, []string{"later@b.test"}) {
		t.Fatalf("sink got %+v (nothing delivered is sent again)", msgs)
	}
	if q.Len() != 0 {
		t.Errorf("queue holds %d", q.Len())
	}
}

func TestDeliveryGivesUp(t *testing.T) {
	ctx := context.Background()
	dns := dnstest.Start(t)
	// An MX that does not answer: a closed loopback port.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	dns.SetMX("down.test", dnstest.MX{Pref: 10, Host: "mx1.down.test"}, dnstest.MX{Pref: 20, Host: "mx2.down.test"})
	dns.SetIP("mx1.down.test", "127.0.0.1")
	dns.SetIP("mx2.down.test", "127.0.0.1")
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	q := openQueue(t, t.TempDir())
	d := &Deliverer{Queue: q, Resolver: testResolver(t, dns), Port: port,
		Retry: RetryPolicy{Base: time.Minute, Attempts: 2},
		Dial:  DialConfig{Hostname: ourHostname, CommandTimeout: 5 * time.Second},
		Now:   func() time.Time { return now }}
	t.Cleanup(func() { _ = d.Close() })
	it, err := q.Enqueue(ctx, Submission{From: "a@a.test", Recipients: []string{"x@down.test"}, Data: []byte("x\r\n")}, now)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := d.Round(ctx, it.ID)
	if r := got.Recipients[0]; err != nil || r.Status != StatusDeferred || r.Code != 451 || r.TLS != "" {
		t.Fatalf("first round %+v %v", r, err)
	}
	now = now.Add(time.Minute)
	got, round, err := d.Round(ctx, it.ID)
	if r := got.Recipients[0]; err != nil || round != 2 || r.Status != StatusFailed || r.Attempts != 2 {
		t.Fatalf("last round %+v %v %v", r, round, err)
	}
	if removed, err := q.Ack(ctx, it.ID, round); err != nil || !removed {
		t.Fatalf("ack %v %v", removed, err)
	}
}

// Two rounds on one message at once would send its recipients twice: the
// second is refused while the first runs.
func TestRoundRefusesASecondRoundInFlight(t *testing.T) {
	t.Parallel()
	d := &Deliverer{}
	if !d.claim("m1") {
		t.Fatal("first claim refused")
	}
	if _, _, err := d.Round(context.Background(), "m1"); !errors.Is(err, ErrRoundInFlight) {
		t.Fatalf("second round = %v, want ErrRoundInFlight", err)
	}
	d.release("m1")
	if !d.claim("m1") {
		t.Fatal("claim after release refused")
	}
}
