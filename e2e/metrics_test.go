package e2e

import (
	"io"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// metricsListen is the [metrics] section the metrics tests run with;
// listen.json records the port the daemon picked under "metrics".
const metricsListen = "[metrics]\nlisten = \"127.0.0.1:0\"\n\n"

// scrapeMetrics fetches /metrics from a running daemon and parses it with
// the Prometheus text parser.
func scrapeMetrics(t *testing.T, d *Daemon) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + d.Listen["metrics"] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse as the Prometheus text format: %v", err)
	}
	return fams
}

// sample sums the series of family name whose labels include every pair
// in labels: counters and gauges by value, histograms by sample count.
// It is -1 when the family is missing.
func sample(fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	f, ok := fams[name]
	if !ok {
		return -1
	}
	sum := 0.0
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
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum
}

// TestMetrics_CountersMove drives the real binary with [metrics] listen:
// /healthz answers 200, /metrics parses, and the counters move when mail
// arrives (accepted, deduplicated, refused, aborted; verdicts; store
// latency), a hook runs and a tool is called.
func TestMetrics_CountersMove(t *testing.T) {
	t.Parallel()
	dir := newDevDir(t)
	writeScript(t, filepath.Join(dir, "hook.sh"), markerScript)
	cfg := hookConfig(1, metricsListen+mailboxTOML("hello", currentUser(t),
		hookTOML("marker", 60, true, "/bin/sh", "$DIR/hook.sh", "$DIR/marker")))
	d := StartDev(t, DaemonOptions{Dir: dir, Config: cfg})
	if d.Listen["metrics"] == "" {
		t.Fatalf("listen.json has no metrics listener: %v", d.Listen)
	}
	// listen.json is written just before the daemon declares itself
	// ready: /healthz turns 200 a moment later.
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + d.Listen["metrics"] + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK && string(body) == "ok\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz: %s %q", resp.Status, body)
		}
		time.Sleep(20 * time.Millisecond)
	}

	before := scrapeMetrics(t, d)
	for _, name := range []string{"aimx_smtp_transactions_total", "aimx_outbound_queue_depth", "aimx_hook_jobs_pending",
		"aimx_outbound_deliveries_total", "aimx_build_info", "go_goroutines", "process_open_fds"} {
		if sample(before, name) < 0 {
			t.Errorf("/metrics lacks %s before any traffic", name)
		}
	}
	if v := sample(before, "aimx_smtp_transactions_total"); v != 0 {
		t.Fatalf("transactions before any mail = %v", v)
	}

	rcpt := []string{"hello@" + hookDomain}
	msg := hookMessage(rcpt[0], "metrics-1@example.test", "counted")
	if err := d.Deliver("bob@example.test", rcpt, msg); err != nil {
		t.Fatalf("delivery: %v", err)
	}
	if err := d.Deliver("bob@example.test", rcpt, msg); err != nil { // a re-delivery
		t.Fatalf("re-delivery: %v", err)
	}
	if err := d.Deliver("bob@example.test", rcpt, []byte("Subject: x\r\n\r\nNUL \x00 here\r\n")); err == nil {
		t.Fatal("a message with a NUL byte was accepted")
	}
	if err := d.Deliver("bob@example.test", []string{"nobody@elsewhere.example"}, msg); err == nil {
		t.Fatal("a relay attempt was accepted")
	}
	waitLines(t, filepath.Join(dir, "marker"), 1)

	s := d.devConnect(t, viaUnix, protocolVersions[0])
	s.call("mailbox_list", nil).ok(t)
	s.call("email_list", map[string]any{"mailbox": "nobody@" + hookDomain}).fails(t, "")

	var after map[string]*dto.MetricFamily
	// The hook's run is counted as it returns, just after its marker line.
	waitUntil(t, "the hook run to be counted", func() bool {
		after = scrapeMetrics(t, d)
		return sample(after, "aimx_hook_runs_total", "result", "ok") >= 1
	})
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"aimx_smtp_transactions_total", []string{"outcome", "accepted"}, 1},
		{"aimx_smtp_transactions_total", []string{"outcome", "deduplicated"}, 1},
		{"aimx_smtp_transactions_total", []string{"outcome", "refused_5xx"}, 1},
		{"aimx_smtp_transactions_total", []string{"outcome", "aborted"}, 1},
		{"aimx_store_put_seconds", nil, 1},
		{"aimx_hook_runs_total", []string{"event", "on_receive", "result", "ok"}, 1},
		{"aimx_hook_run_seconds", []string{"event", "on_receive"}, 1},
		{"aimx_mcp_tool_calls_total", []string{"tool", "mailbox_list", "result", "ok"}, 1},
		{"aimx_mcp_tool_calls_total", []string{"tool", "email_list", "result", "refused"}, 1},
	} {
		if got := sample(after, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// Verification ran on the two messages that reached DATA whole.
	for _, check := range []string{"dkim", "spf", "dmarc"} {
		if got := sample(after, "aimx_smtp_verdicts_total", "check", check); got < 2 {
			t.Errorf("%s verdicts = %v, want at least 2", check, got)
		}
	}
	if got := sample(after, "aimx_connections_total", "listener", "smtp"); got != 4 {
		t.Errorf("smtp connections = %v, want 4", got)
	}
	if got := sample(after, "aimx_connections_total", "listener", "mcp_unix"); got < 1 {
		t.Errorf("mcp_unix connections = %v, want at least 1", got)
	}
	waitUntil(t, "every SMTP connection to be closed", func() bool {
		return sample(scrapeMetrics(t, d), "aimx_open_connections", "listener", "smtp") == 0
	})

	// A shutdown turns /healthz to 503 before the listeners close; after
	// the stop, nothing listens.
	d.Stop()
	c := http.Client{Timeout: 2 * time.Second}
	if _, err := c.Get("http://" + d.Listen["metrics"] + "/healthz"); err == nil {
		t.Error("the metrics listener still answers after the daemon stopped")
	}
}

// TestMetrics_OffByDefault: without [metrics] listen nothing is bound.
func TestMetrics_OffByDefault(t *testing.T) {
	t.Parallel()
	d := StartDev(t, DaemonOptions{})
	if addr, ok := d.Listen["metrics"]; ok {
		t.Fatalf("a metrics listener on %s without [metrics] listen", addr)
	}
}
