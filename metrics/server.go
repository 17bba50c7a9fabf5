package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Paths served at `[metrics] listen`.
const (
	MetricsPath = "/metrics"
	HealthPath  = "/healthz"
)

// Handler serves MetricsPath (the Prometheus text format from the
// metrics' own registry) and HealthPath: 200 "ok" while the daemon is
// serving (SetReady(true)), 503 before that and once a shutdown began.
// Anything else is 404.
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET "+MetricsPath, promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		Registry: m.reg, // its own promhttp_* counters go to the same registry
		// A collector that fails leaves its metric out; the rest is served.
		ErrorHandling: promhttp.ContinueOnError,
		Timeout:       10 * time.Second,
	}))
	mux.HandleFunc("GET "+HealthPath, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if !m.Ready() {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "not serving")
			return
		}
		fmt.Fprintln(w, "ok")
	})
	return mux
}

// Server serves Handler on the listener the daemon binds for it; it has
// the daemon's Service shape (Serve, Shutdown).
type Server struct {
	http *http.Server
}

// Server returns the HTTP server of the metrics endpoint. A scraper gets
// 10 s to send its request headers; idle keep-alives close after a minute.
func (m *Metrics) Server() *Server {
	return &Server{http: &http.Server{
		Handler:           m.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       time.Minute,
	}}
}

// Serve answers on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("metrics: %w", err)
	}
	return nil
}

// Shutdown stops accepting and waits for scrapes in flight within ctx.
func (s *Server) Shutdown(ctx context.Context) error {
	if err := s.http.Shutdown(ctx); err != nil {
		return fmt.Errorf("shut down metrics: %w", err)
	}
	return nil
}

// IsLoopback reports whether a `host:port` listen address binds only the
// loopback interface: a loopback IP, or "localhost". An empty host, an
// unspecified address (0.0.0.0, ::) or any other name binds more, and
// the daemon warns about it at start (book/operations.md, "Metrics").
func IsLoopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
