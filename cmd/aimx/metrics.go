package main

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/aimx-dev/aimx/daemon"
	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/hooks"
	"github.com/aimx-dev/aimx/mail/inbound"
	"github.com/aimx-dev/aimx/mail/outbound"
	"github.com/aimx-dev/aimx/mcp"
	"github.com/aimx-dev/aimx/metrics"
	"github.com/aimx-dev/aimx/storage"
)

// listenMetrics is the metrics listener's name in listen.json.
const listenMetrics = "metrics"

// serveMetrics connects the metrics package to the seams of the daemon's
// parts (book/operations.md, "Metrics"). It is nil when `[metrics] listen`
// is unset: nothing is measured and nothing listens, and every method
// below hands back what it was given or nothing.
type serveMetrics struct {
	m *metrics.Metrics
}

// newServeMetrics builds the metrics when cfg has `[metrics] listen`, and
// warns loudly when that address is not loopback-only: the endpoint has no
// authentication.
func newServeMetrics(a *app, cfg *domains.Config) *serveMetrics {
	if cfg.Metrics.Listen == "" {
		return nil
	}
	if !metrics.IsLoopback(cfg.Metrics.Listen) {
		a.log.Warn().Str("listen", cfg.Metrics.Listen).
			Msg("[metrics] listen IS NOT A LOOPBACK ADDRESS: /metrics and /healthz have no authentication, and anyone who " +
				"can reach this address can read them; bind 127.0.0.1 or firewall the port (book/operations.md, \"Metrics\")")
	}
	return &serveMetrics{m: metrics.New(buildVersion().Version)}
}

// addListener registers the metrics endpoint with the daemon.
func (s *serveMetrics) addListener(d *daemon.Daemon, cfg *domains.Config) {
	if s == nil {
		return
	}
	d.AddListener(listenMetrics, "tcp", cfg.Metrics.Listen, s.m.Server())
}

// setReady tells /healthz whether the daemon is serving.
func (s *serveMetrics) setReady(ready bool) {
	if s != nil {
		s.m.SetReady(ready)
	}
}

// gauges registers the queue depth and the hook backlog, read at scrape.
func (s *serveMetrics) gauges(queue outbound.Queue, sched *hooks.Scheduler) {
	if s == nil {
		return
	}
	s.m.Gauge("outbound_queue_depth", "Messages in the outbound queue with a recipient not yet delivered or failed.",
		func() float64 { return float64(queue.Len()) })
	s.m.Gauge("hook_jobs_pending", "Hook runs due and not yet finished (the hook_jobs figure of /v1/status).",
		func() float64 { return float64(sched.Pending()) })
}

// service wraps svc so the connections of its listener are counted.
func (s *serveMetrics) service(name string, svc daemon.Service) daemon.Service {
	if s == nil {
		return svc
	}
	return countedService{Service: svc, name: name, m: s.m}
}

// countedService counts the connections its listener accepts.
type countedService struct {
	daemon.Service
	name string
	m    *metrics.Metrics
}

// Serve serves the wrapped service on ln with its connections counted.
func (c countedService) Serve(ln net.Listener) error {
	return c.Service.Serve(c.m.CountConns(c.name, ln))
}

// inbound is SMTP intake's transaction observer (nil interface when off).
func (s *serveMetrics) inbound() inbound.Observer {
	if s == nil {
		return nil
	}
	return intakeObserver{s.m}
}

type intakeObserver struct{ m *metrics.Metrics }

// ObserveTransaction counts the transaction's outcome and, for a message
// that was verified, its verdicts.
func (o intakeObserver) ObserveTransaction(r inbound.TransactionResult) {
	o.m.TransactionByCode(r.Code, r.Duplicate)
	if r.Verified {
		o.m.Verdicts(r.DKIM, r.SPF, r.DMARC)
	}
}

// tools is MCP's tool-call observer (nil interface when off).
func (s *serveMetrics) tools() mcp.ToolObserver {
	if s == nil {
		return nil
	}
	return s.m
}

// timeStore times intake's Put calls: each one stores one message in one
// mailbox durably, which is the store latency an operator watches.
func (s *serveMetrics) timeStore(store storage.MessageStore) storage.MessageStore {
	if s == nil {
		return store
	}
	t := timedStore{MessageStore: store, m: s.m}
	if r, ok := store.(interface{ Root() string }); ok {
		// newSMTPService finds the spool under the file store's root.
		return timedRootStore{timedStore: t, root: r.Root}
	}
	return t
}

type timedStore struct {
	storage.MessageStore
	m *metrics.Metrics
}

// Put stores through the wrapped store and observes how long a
// successful store took.
func (t timedStore) Put(ctx context.Context, req storage.PutRequest) (*storage.Stored, error) {
	start := time.Now()
	st, err := t.MessageStore.Put(ctx, req)
	if err == nil {
		t.m.StorePut(time.Since(start))
	}
	return st, err
}

type timedRootStore struct {
	timedStore
	root func() string
}

// Root is the wrapped file store's data dir.
func (t timedRootStore) Root() string { return t.root() }

// hookExecutor wraps the hook runner so every run is counted and timed.
func (s *serveMetrics) hookExecutor(e hooks.Executor) hooks.Executor {
	if s == nil {
		return e
	}
	return observedExecutor{Executor: e, m: s.m}
}

type observedExecutor struct {
	hooks.Executor
	m *metrics.Metrics
}

// Execute runs the hook and counts its result.
func (e observedExecutor) Execute(ctx context.Context, run hooks.Run) hooks.Result {
	res := e.Executor.Execute(ctx, run)
	e.m.HookRun(run.Event, hookResult(res), res.Duration)
	return res
}

// hookResult is a run's result label.
func hookResult(res hooks.Result) string {
	switch {
	case res.Err != nil && errors.Is(res.Err, hooks.ErrNoResources):
		return metrics.HookNoResources
	case res.Err != nil:
		return metrics.HookStartFailed
	case res.Canceled:
		return metrics.HookCanceled
	case res.TimedOut:
		return metrics.HookTimeout
	case res.ExitCode != 0:
		return metrics.HookFailed
	default:
		return metrics.HookOK
	}
}

// round counts the delivery attempts of one outbound round that was
// handed on: one per recipient attempted, by its status after the attempt.
func (s *serveMetrics) round(o outbound.RoundOutcome) {
	if s == nil {
		return
	}
	for _, r := range o.Updated {
		s.m.Delivery(string(r.Status))
	}
}
