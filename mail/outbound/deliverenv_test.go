package outbound

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/internal/dnstest"
)

// deliverEnv is a queue in a temp dir, a sink acting as the MX of b.test
// (mx.b.test, 127.0.0.1) and a Deliverer wired to both.
type deliverEnv struct {
	sink *sink
	dns  *dnstest.Server
	dir  string
	q    *FileQueue
	d    *Deliverer
	ca   *testCA
}

func newDeliverEnv(t *testing.T, o sinkOpts) *deliverEnv {
	t.Helper()
	e := &deliverEnv{ca: newTestCA(t)}
	if o.cert == nil {
		cert := leaf(t, e.ca, "mx.b.test")
		o.cert = &cert
	}
	e.sink = startSink(t, o)
	e.dns = dnstest.Start(t)
	e.dns.SetMX("b.test", dnstest.MX{Pref: 10, Host: "mx.b.test"})
	e.dns.SetIP("mx.b.test", "127.0.0.1")
	e.dir = t.TempDir()
	e.q = openQueue(t, e.dir)
	e.d = &Deliverer{
		Queue:    e.q,
		Resolver: testResolver(t, e.dns),
		Port:     sinkPort(t, e.sink),
		Retry:    RetryPolicy{Base: time.Hour, Attempts: 3},
		Dial:     DialConfig{Hostname: ourHostname, RootCAs: e.ca.pool, CommandTimeout: 30 * time.Second},
	}
	t.Cleanup(func() { _ = e.d.Close() })
	return e
}

func sinkPort(t *testing.T, s *sink) int {
	t.Helper()
	_, p, err := net.SplitHostPort(s.addr)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// enqueue queues a small message from zoe@a.test to rcpts.
func (e *deliverEnv) enqueue(t *testing.T, rcpts ...string) Item {
	t.Helper()
	it, err := e.q.Enqueue(context.Background(), Submission{From: "zoe@a.test", Recipients: rcpts, SentID: "sent-" + rcpts[0],
		Data: []byte("From: zoe@a.test\r\nSubject: hi " + rcpts[0] + "\r\n\r\nbody\r\n.leading dot\r\n")}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return it
}

// round runs one round of id and acknowledges it, failing the test on an
// error.
func (e *deliverEnv) round(t *testing.T, id string) Item {
	t.Helper()
	ctx := context.Background()
	it, round, err := e.d.Round(ctx, id)
	if err != nil || round == 0 {
		t.Fatalf("round of %s: %d %v", id, round, err)
	}
	if _, err := e.q.Ack(ctx, id, round); err != nil {
		t.Fatal(err)
	}
	return it
}

// waitFor polls cond until it holds, failing the test after a generous
// timeout: no assertion depends on how fast the machine is.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// rcptCount counts the messages the sink accepted for each recipient.
func rcptCount(s *sink) map[string]int {
	n := map[string]int{}
	for _, m := range s.messages() {
		for _, r := range m.rcpts {
			n[r]++
		}
	}
	return n
}
