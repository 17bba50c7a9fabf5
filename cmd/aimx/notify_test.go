package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/aimx-dev/aimx/daemon"
	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/internal/sdnotify"
	"github.com/aimx-dev/aimx/metrics"
)

// idleService serves nothing: it waits for Shutdown.
type idleService struct{ done chan struct{} }

func (s *idleService) Serve(ln net.Listener) error {
	<-s.done
	return ln.Close()
}

func (s *idleService) Shutdown(context.Context) error { close(s.done); return nil }

// notifySocket is a fake $NOTIFY_SOCKET: a unixgram listener like
// systemd's.
func notifySocket(t *testing.T) (*net.UnixConn, string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "axn") // short: socket paths stay under 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, path
}

// pending reads a datagram already waiting on conn; "" when none is.
func pending(conn *net.UnixConn) string {
	buf := make([]byte, 4096)
	_ = conn.SetReadDeadline(time.Now().Add(time.Millisecond))
	n, err := conn.Read(buf)
	if err != nil {
		return ""
	}
	return string(buf[:n])
}

// TestReadyOnlyAfterEveryListenerIsBound runs the daemon in process with
// serve's ready callback and a notify socket. Each listener checks, as it
// is bound, that systemd has not been told READY=1 yet; the last one binds
// only after the others, and READY=1 arrives once all are bound.
func TestReadyOnlyAfterEveryListenerIsBound(t *testing.T) {
	t.Parallel()
	conn, path := notifySocket(t)
	a, _, _ := testApp(context.Background())
	n := sdnotify.FromEnv(map[string]string{sdnotify.EnvSocket: path})
	d := daemon.New(daemon.Options{Log: zerolog.Nop(), RuntimeDir: filepath.Join(t.TempDir(), "run"), ShutdownTimeout: 5 * time.Second})
	var early []string
	bound := 0
	for _, name := range []string{"first", "second", "third"} {
		d.AddListenerFunc(name, func() (net.Listener, error) {
			if got := pending(conn); got != "" {
				early = append(early, name+": "+got)
			}
			bound++
			return net.Listen("tcp", "127.0.0.1:0")
		}, &idleService{done: make(chan struct{})})
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan map[string]string, 1)
	done := make(chan error, 1)
	go func() {
		done <- d.Run(ctx, nil, func(b map[string]string) {
			a.announceReady(n, nil, []string{"a.test"}, b)
			ready <- b
		})
	}()
	var b map[string]string
	select {
	case b = <-ready:
	case err := <-done:
		t.Fatalf("Run returned before ready: %v", err)
	}
	if len(early) > 0 || bound != 3 || len(b) != 3 {
		t.Fatalf("READY=1 before a listener was bound: %q (bound %d, %v)", early, bound, b)
	}
	buf := make([]byte, 4096)
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	k, err := conn.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	got := string(buf[:k])
	if !strings.HasPrefix(got, "READY=1\nSTATUS=serving a.test; first 127.0.0.1:") {
		t.Fatalf("datagram %q", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestStopWatchSendsStopping: when the daemon's context ends, systemd is
// told STOPPING=1 and /healthz turns 503.
func TestStopWatchSendsStopping(t *testing.T) {
	t.Parallel()
	conn, path := notifySocket(t)
	ctx, cancel := context.WithCancel(context.Background())
	a, _, _ := testApp(ctx)
	sm := &serveMetrics{m: metrics.New("test")}
	sm.setReady(true)
	stop := watchStop(a, sdnotify.Notifier{Socket: path}, sm)
	defer stop()
	cancel()
	buf := make([]byte, 4096)
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	k, err := conn.Read(buf)
	if err != nil || string(buf[:k]) != "STOPPING=1\nSTATUS=stopping\n" {
		t.Fatalf("datagram %q, %v", buf[:k], err)
	}
	if sm.m.Ready() {
		t.Fatal("/healthz still ready after the shutdown began")
	}
}

// TestMetricsWarnsOnPublicListen: a non-loopback [metrics] listen starts,
// with a loud warning; a loopback one starts quietly; none, no metrics.
func TestMetricsWarnsOnPublicListen(t *testing.T) {
	t.Parallel()
	for listen, warn := range map[string]bool{"0.0.0.0:9100": true, ":9100": true, "127.0.0.1:9100": false, "[::1]:0": false} {
		var log bytes.Buffer
		a, _, _ := testApp(context.Background())
		a.log = zerolog.New(&log)
		cfg := &domains.Config{}
		cfg.Metrics.Listen = listen
		if sm := newServeMetrics(a, cfg); sm == nil || sm.m == nil {
			t.Fatalf("%s: no metrics", listen)
		}
		if got := strings.Contains(log.String(), "IS NOT A LOOPBACK ADDRESS"); got != warn {
			t.Errorf("%s: warned %v, want %v (%s)", listen, got, warn, log.String())
		}
	}
	a, _, _ := testApp(context.Background())
	if sm := newServeMetrics(a, &domains.Config{}); sm != nil {
		t.Fatal("metrics built without [metrics] listen")
	}
	var nilSM *serveMetrics
	if nilSM.inbound() != nil || nilSM.tools() != nil || nilSM.hookExecutor(nil) != nil {
		t.Fatal("off metrics hand out observers")
	}
}
