package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/aimx-dev/aimx/domains"
)

// httpService adapts net/http's server, which already has the Service shape.
func httpService(body string) *http.Server {
	return &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, body)
	})}
}

type started struct{ bound map[string]string }

// startDaemon runs a daemon in the background and waits until it is ready.
func startDaemon(t *testing.T, d *Daemon, hup chan os.Signal) (cancel func() error, s started) {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	ready := make(chan map[string]string, 1)
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, hup, func(b map[string]string) { ready <- b }) }()
	select {
	case b := <-ready:
		s.bound = b
	case err := <-done:
		stop()
		t.Fatalf("daemon stopped before ready: %v", err)
	case <-time.After(10 * time.Second):
		stop()
		t.Fatal("daemon never became ready")
	}
	return func() error {
		stop()
		select {
		case err := <-done:
			return err
		case <-time.After(ShutdownTimeout + 5*time.Second):
			t.Fatal("daemon did not stop")
			return nil
		}
	}, s
}

func TestRunBindsRecordsAndStops(t *testing.T) {
	t.Parallel()
	run := t.TempDir()
	d := New(Options{Log: zerolog.Nop(), RuntimeDir: run, Registry: domains.NewRegistry(domains.Default("a.test"))})
	d.AddListener("web", "tcp", "127.0.0.1:0", httpService("hello"))
	stop, s := startDaemon(t, d, nil)

	addr := s.bound["web"]
	resp, err := http.Get("http://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hello" {
		t.Fatalf("served %q", body)
	}
	var listen map[string]string
	data, err := os.ReadFile(filepath.Join(run, "listen.json"))
	if err != nil || json.Unmarshal(data, &listen) != nil || listen["web"] != addr {
		t.Fatalf("listen.json = %s (%v), want web=%s", data, err, addr)
	}
	pid, err := ReadPID(run)
	if err != nil || pid != os.Getpid() {
		t.Fatalf("ReadPID = %d, %v", pid, err)
	}

	// A second daemon on the same runtime dir refuses to start.
	d2 := New(Options{Log: zerolog.Nop(), RuntimeDir: run, Registry: domains.NewRegistry(domains.Default("a.test"))})
	if err := d2.Run(context.Background(), nil, nil); !errors.Is(err, ErrAlreadyRunning) {
		t.Fatalf("second daemon: %v, want ErrAlreadyRunning", err)
	}

	if err := stop(); err != nil {
		t.Fatalf("Run returned %v after a graceful stop", err)
	}
	for _, f := range []string{"aimx.pid", "listen.json"} {
		if _, err := os.Stat(filepath.Join(run, f)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left behind: %v", f, err)
		}
	}
	if _, err := http.Get("http://" + addr); err == nil {
		t.Error("listener still accepting after shutdown")
	}
}

func TestStalePIDFileIsTakenOver(t *testing.T) {
	t.Parallel()
	run := t.TempDir()
	// A crashed daemon leaves its pid file with no lock held.
	if err := os.WriteFile(filepath.Join(run, "aimx.pid"), []byte("999999\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadPID(run); err == nil || !strings.Contains(err.Error(), "stale") {
		t.Fatalf("ReadPID on a stale file: %v", err)
	}
	d := New(Options{Log: zerolog.Nop(), RuntimeDir: run, Registry: domains.NewRegistry(domains.Default("a.test"))})
	stop, _ := startDaemon(t, d, nil)
	data, _ := os.ReadFile(filepath.Join(run, "aimx.pid"))
	if strings.TrimSpace(string(data)) != strconv.Itoa(os.Getpid()) {
		t.Errorf("pid file holds %q", data)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func TestBindFailureReleasesEverything(t *testing.T) {
	t.Parallel()
	run := t.TempDir()
	d := New(Options{Log: zerolog.Nop(), RuntimeDir: run, Registry: domains.NewRegistry(domains.Default("a.test"))})
	d.AddListener("ok", "tcp", "127.0.0.1:0", httpService(""))
	d.AddListener("bad", "tcp", "256.0.0.1:1", httpService(""))
	err := d.Run(context.Background(), nil, nil)
	if err == nil || !strings.Contains(err.Error(), "listen bad") {
		t.Fatalf("Run = %v, want a bind error naming the listener", err)
	}
	if _, err := os.Stat(filepath.Join(run, "aimx.pid")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pid file left after a failed start: %v", err)
	}
}

func TestReloadKeepsOldConfigOnError(t *testing.T) {
	t.Parallel()
	reg := domains.NewRegistry(domains.Default("a.test"))
	// Each reload takes its result from this channel, so the test decides
	// what the n-th reload reads.
	results := make(chan func() (*domains.Config, error))
	d := New(Options{Log: zerolog.Nop(), RuntimeDir: t.TempDir(), Registry: reg,
		LoadConfig: func() (*domains.Config, error) { return (<-results)() }})
	var published atomic.Int32
	d.OnReload(func(*domains.Config) { published.Add(1) })
	hup := make(chan os.Signal, 1)
	stop, _ := startDaemon(t, d, hup)
	defer stop()

	hup <- nil
	results <- func() (*domains.Config, error) { return nil, errors.New("bad config") }
	hup <- nil
	results <- func() (*domains.Config, error) { return domains.Default("b.test"), nil }
	// The second reload has been read; a third hup proves it was applied.
	hup <- nil
	results <- func() (*domains.Config, error) { return nil, errors.New("bad again") }
	if got := reg.Current().DefaultDomain(); got != "b.test" {
		t.Errorf("registry holds %s, want the good reload's b.test", got)
	}
	if n := published.Load(); n != 1 {
		t.Errorf("%d reloads published, want 1 (failed ones keep the old config)", n)
	}
}
