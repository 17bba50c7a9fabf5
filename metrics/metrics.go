// Package metrics is aimx's Prometheus instrumentation: the counters,
// gauges and histograms of intake, storage, the outbound queue, hooks,
// MCP and connections, on a registry of its own (never the global one),
// served with a health check at `[metrics] listen` (book/operations.md,
// "Metrics").
//
// It imports nothing of aimx's: `aimx serve` adapts each package's seam
// (inbound's observer, the hook executor, the delivery round hand-off,
// MCP's tool observer) to the methods here. No label carries a mailbox,
// an address or a message id: whoever can scrape the endpoint learns
// volumes and outcomes, never who writes to whom.
package metrics

import (
	"net"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// namespace prefixes every metric name.
const namespace = "aimx"

// Intake transaction outcomes (the outcome label of
// aimx_smtp_transactions_total).
const (
	// Accepted: 250, and at least one mailbox stored the message anew.
	Accepted = "accepted"
	// Deduplicated: 250, and every mailbox already had the message
	// (book/storage.md, dedup): nothing new was stored.
	Deduplicated = "deduplicated"
	// Refused4xx and Refused5xx: a temporary or permanent refusal of the
	// message (RFC 5321 4.2.1, the reply code's first digit).
	Refused4xx = "refused_4xx"
	Refused5xx = "refused_5xx"
	// Aborted: the transaction ended without a reply to its data (RSET,
	// QUIT, a dropped connection, every recipient refused).
	Aborted = "aborted"
)

// Hook run results (the result label of aimx_hook_runs_total).
const (
	HookOK          = "ok"           // exited 0
	HookFailed      = "failed"       // exited non-zero or was killed by a signal
	HookTimeout     = "timeout"      // ran past timeout_secs
	HookCanceled    = "canceled"     // cut short by a shutdown; due again at the next start
	HookStartFailed = "start_failed" // could not be started (no such command, bad owner)
	HookNoResources = "no_resources" // could not start for lack of resources; retried
)

// MCP tool call results (the result label of aimx_mcp_tool_calls_total).
const (
	ToolOK      = "ok"      // answered a result
	ToolRefused = "refused" // answered a refusal the agent can act on
	ToolError   = "error"   // failed inside the server (logged)
)

// latencyBuckets suit store and tool latencies: 1 ms to 10 s.
func latencyBuckets() []float64 {
	return []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
}

// hookBuckets suit hook runs, which may last up to timeout_secs (600 s).
func hookBuckets() []float64 {
	return []float64{.01, .05, .1, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}
}

// Metrics holds aimx's metrics and the registry they are served from.
// All methods are safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	transactions *prometheus.CounterVec
	verdicts     *prometheus.CounterVec
	storeSeconds prometheus.Histogram
	deliveries   *prometheus.CounterVec
	hookRuns     *prometheus.CounterVec
	hookSeconds  *prometheus.HistogramVec
	toolCalls    *prometheus.CounterVec
	toolSeconds  *prometheus.HistogramVec
	conns        *prometheus.GaugeVec
	connsTotal   *prometheus.CounterVec

	ready atomic.Bool
}

// New builds the metrics on a new registry, with the Go runtime and
// process collectors and aimx_build_info carrying version.
func New(version string) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.transactions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "smtp_transactions_total",
		Help: "SMTP intake transactions by outcome: accepted, deduplicated, refused_4xx, refused_5xx, aborted.",
	}, []string{"outcome"})
	m.verdicts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "smtp_verdicts_total",
		Help: "Verification verdicts of received messages, by check (dkim, spf, dmarc) and result (book/verification.md).",
	}, []string{"check", "result"})
	m.storeSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: namespace, Name: "store_put_seconds",
		Help:    "Time to store one received message durably in one mailbox.",
		Buckets: latencyBuckets(),
	})
	m.deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "outbound_deliveries_total",
		Help: "Outbound delivery attempts by the recipient's status after the attempt: delivered, deferred, failed.",
	}, []string{"status"})
	m.hookRuns = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "hook_runs_total",
		Help: "Hook runs by event and result: ok, failed, timeout, canceled, start_failed, no_resources.",
	}, []string{"event", "result"})
	m.hookSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "hook_run_seconds",
		Help:    "How long hook runs took, from start until the process was reaped.",
		Buckets: hookBuckets(),
	}, []string{"event"})
	m.toolCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "mcp_tool_calls_total",
		Help: "MCP tool calls by tool and result: ok, refused, error.",
	}, []string{"tool", "result"})
	m.toolSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "mcp_tool_call_seconds",
		Help:    "How long MCP tool calls took, by tool.",
		Buckets: latencyBuckets(),
	}, []string{"tool"})
	m.conns = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: namespace, Name: "open_connections",
		Help: "Connections open now, by listener (smtp, mcp_unix, mcp_http).",
	}, []string{"listener"})
	m.connsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "connections_total",
		Help: "Connections accepted, by listener (those refused over a connection limit included).",
	}, []string{"listener"})
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "build_info",
		Help:        "Always 1; the version label is the running aimx's.",
		ConstLabels: prometheus.Labels{"version": version},
	})
	build.Set(1)
	m.reg.MustRegister(m.transactions, m.verdicts, m.storeSeconds, m.deliveries, m.hookRuns, m.hookSeconds,
		m.toolCalls, m.toolSeconds, m.conns, m.connsTotal, build,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Series that exist from the start, so a rate over them is defined
	// before the first event.
	for _, o := range []string{Accepted, Deduplicated, Refused4xx, Refused5xx, Aborted} {
		m.transactions.WithLabelValues(o)
	}
	for _, s := range []string{"delivered", "deferred", "failed"} {
		m.deliveries.WithLabelValues(s)
	}
	return m
}

// Registry is the registry the metrics are on (tests gather from it).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Transaction counts one SMTP transaction with outcome (Accepted, ...).
func (m *Metrics) Transaction(outcome string) { m.transactions.WithLabelValues(outcome).Inc() }

// TransactionByCode counts one SMTP transaction from its reply: code 0
// is Aborted; 2xx is Accepted, or Deduplicated when duplicate; 4xx and
// 5xx are refusals.
func (m *Metrics) TransactionByCode(code int, duplicate bool) {
	m.Transaction(OutcomeOf(code, duplicate))
}

// OutcomeOf is the outcome label of a transaction that ended with reply
// code (0: none) and duplicate (every mailbox already had it).
func OutcomeOf(code int, duplicate bool) string {
	switch {
	case code >= 200 && code < 300 && duplicate:
		return Deduplicated
	case code >= 200 && code < 300:
		return Accepted
	case code >= 400 && code < 500:
		return Refused4xx
	case code >= 500 && code < 600:
		return Refused5xx
	default:
		return Aborted
	}
}

// verdictLabel is result as a label value: one of the results
// verification reports (RFC 8601 2.7), or "other", so no stray value
// grows a series.
func verdictLabel(result string) string {
	switch result {
	case "pass", "fail", "softfail", "neutral", "none", "temperror", "permerror", "policy":
		return result
	}
	return "other"
}

// Verdicts counts one verified message's DKIM, SPF and DMARC results.
func (m *Metrics) Verdicts(dkim, spf, dmarc string) {
	m.verdicts.WithLabelValues("dkim", verdictLabel(dkim)).Inc()
	m.verdicts.WithLabelValues("spf", verdictLabel(spf)).Inc()
	m.verdicts.WithLabelValues("dmarc", verdictLabel(dmarc)).Inc()
}

// StorePut observes how long storing one message in one mailbox took.
func (m *Metrics) StorePut(d time.Duration) { m.storeSeconds.Observe(d.Seconds()) }

// Delivery counts one recipient's delivery attempt by its status after
// the attempt.
func (m *Metrics) Delivery(status string) { m.deliveries.WithLabelValues(status).Inc() }

// HookRun counts one hook run of event with result (HookOK, ...) and, for
// a run that started, observes its duration.
func (m *Metrics) HookRun(event, result string, d time.Duration) {
	m.hookRuns.WithLabelValues(event, result).Inc()
	if result != HookStartFailed && result != HookNoResources {
		m.hookSeconds.WithLabelValues(event).Observe(d.Seconds())
	}
}

// ToolCall counts one MCP tool call with result (ToolOK, ...) and
// observes its duration.
func (m *Metrics) ToolCall(tool, result string, d time.Duration) {
	m.toolCalls.WithLabelValues(tool, result).Inc()
	m.toolSeconds.WithLabelValues(tool).Observe(d.Seconds())
}

// Gauge registers a gauge whose value f reads at every scrape (queue
// depth, hook backlog). f must be quick and safe for concurrent use.
func (m *Metrics) Gauge(name, help string, f func() float64) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: namespace, Name: name, Help: help}, f))
}

// SetReady marks the daemon serving (true once every listener is bound)
// or not (false when a shutdown begins); /healthz answers from it.
func (m *Metrics) SetReady(ready bool) { m.ready.Store(ready) }

// Ready reports what SetReady set last.
func (m *Metrics) Ready() bool { return m.ready.Load() }

// CountConns wraps ln so the connections it accepts are counted under
// listener in aimx_open_connections (until closed) and
// aimx_connections_total.
func (m *Metrics) CountConns(listener string, ln net.Listener) net.Listener {
	return &countingListener{Listener: ln, open: m.conns.WithLabelValues(listener), total: m.connsTotal.WithLabelValues(listener)}
}
