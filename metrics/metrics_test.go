package metrics

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape fetches /metrics from h and parses it with the Prometheus text
// parser.
func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, MetricsPath, nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", rec.Code, rec.Body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	return fams
}

// value is the value of the series of family name whose labels include
// every pair in labels (counter, gauge or a histogram's count); -1 when
// there is none.
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	f, ok := fams[name]
	if !ok {
		return -1
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	return -1
}

func TestCountersMoveAndParse(t *testing.T) {
	m := New("1.2.3")
	h := m.Handler()
	before := scrape(t, h)
	if v := value(before, "aimx_smtp_transactions_total", "outcome", Accepted); v != 0 {
		t.Fatalf("accepted before any mail = %v, want a zero series", v)
	}
	if v := value(before, "aimx_build_info", "version", "1.2.3"); v != 1 {
		t.Fatalf("aimx_build_info = %v", v)
	}
	m.TransactionByCode(250, false)
	m.TransactionByCode(250, true)
	m.TransactionByCode(451, false)
	m.TransactionByCode(554, false)
	m.TransactionByCode(0, false)
	m.Verdicts("pass", "softfail", "weird\nvalue")
	m.StorePut(3 * time.Millisecond)
	m.Delivery("delivered")
	m.HookRun("on_receive", HookOK, time.Second)
	m.HookRun("on_receive", HookStartFailed, 0)
	m.ToolCall("email_list", ToolOK, time.Millisecond)
	depth := 7
	m.Gauge("outbound_queue_depth", "Messages in the outbound queue.", func() float64 { return float64(depth) })
	after := scrape(t, h)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"aimx_smtp_transactions_total", []string{"outcome", Accepted}, 1},
		{"aimx_smtp_transactions_total", []string{"outcome", Deduplicated}, 1},
		{"aimx_smtp_transactions_total", []string{"outcome", Refused4xx}, 1},
		{"aimx_smtp_transactions_total", []string{"outcome", Refused5xx}, 1},
		{"aimx_smtp_transactions_total", []string{"outcome", Aborted}, 1},
		{"aimx_smtp_verdicts_total", []string{"check", "dkim", "result", "pass"}, 1},
		{"aimx_smtp_verdicts_total", []string{"check", "spf", "result", "softfail"}, 1},
		{"aimx_smtp_verdicts_total", []string{"check", "dmarc", "result", "other"}, 1},
		{"aimx_store_put_seconds", nil, 1},
		{"aimx_outbound_deliveries_total", []string{"status", "delivered"}, 1},
		{"aimx_hook_runs_total", []string{"event", "on_receive", "result", HookOK}, 1},
		{"aimx_hook_runs_total", []string{"event", "on_receive", "result", HookStartFailed}, 1},
		{"aimx_hook_run_seconds", []string{"event", "on_receive"}, 1}, // the failed start is not timed
		{"aimx_mcp_tool_calls_total", []string{"tool", "email_list", "result", ToolOK}, 1},
		{"aimx_mcp_tool_call_seconds", []string{"tool", "email_list"}, 1},
		{"aimx_outbound_queue_depth", nil, 7},
	} {
		if got := value(after, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if _, ok := after["go_goroutines"]; !ok {
		t.Error("no Go runtime metrics")
	}
}

func TestHealthz(t *testing.T) {
	m := New("dev")
	h := m.Handler()
	get := func() int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, HealthPath, nil))
		return rec.Code
	}
	if c := get(); c != http.StatusServiceUnavailable {
		t.Fatalf("/healthz before ready = %d, want 503", c)
	}
	m.SetReady(true)
	if c := get(); c != http.StatusOK {
		t.Fatalf("/healthz when ready = %d, want 200", c)
	}
	m.SetReady(false)
	if c := get(); c != http.StatusServiceUnavailable {
		t.Fatalf("/healthz when stopping = %d, want 503", c)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/other", nil))
	if rec.Code != http.StatusNotFound {
		t.Fatalf("/other = %d, want 404", rec.Code)
	}
}

// TestServerCountsConnections serves the endpoint on a real listener
// wrapped by CountConns and watches the open-connections gauge.
func TestServerCountsConnections(t *testing.T) {
	m := New("dev")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := m.Server()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(m.CountConns("metrics", ln)) }()
	open := func() float64 {
		return value(scrape(t, m.Handler()), "aimx_open_connections", "listener", "metrics")
	}
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return open() == 1 })
	c.Close()
	waitFor(t, func() bool { return open() == 0 })
	resp, err := http.Get("http://" + ln.Addr().String() + MetricsPath)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `aimx_connections_total{listener="metrics"} 2`) {
		t.Fatalf("connections_total not 2 after two connections:\n%s", body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve after Shutdown: %v", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCountingConnUnwraps(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	m := New("dev")
	g := m.conns.WithLabelValues("x")
	g.Inc()
	c := &countingConn{Conn: a, open: g}
	if c.NetConn() != a {
		t.Fatal("NetConn does not return the wrapped connection")
	}
	if err := c.CloseWrite(); err == nil {
		t.Fatal("CloseWrite on a pipe (no half-close) did not fail")
	}
	c.Close()
	c.Close() // uncounted once only
	if v := value(scrape(t, m.Handler()), "aimx_open_connections", "listener", "x"); v != 0 {
		t.Fatalf("open connections after two Closes = %v, want 0", v)
	}
}

func TestIsLoopback(t *testing.T) {
	for listen, want := range map[string]bool{
		"127.0.0.1:9100": true, "127.0.0.2:0": true, "[::1]:9100": true, "localhost:9100": true,
		"[::ffff:127.0.0.1]:1": true,
		":9100":                false, "0.0.0.0:9100": false, "[::]:9100": false, "192.0.2.1:9100": false,
		"metrics.example.com:9100": false, "garbage": false,
	} {
		if got := IsLoopback(listen); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", listen, got, want)
		}
	}
}
