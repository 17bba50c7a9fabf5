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
	d := New(Options{Log: zerolog.Nop(), RuntimeDir: run, Changer: newChanger(t, "a.test")})
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
	d2 := New(Options{Log: zerolog.Nop(), RuntimeDir: run, Changer: newChanger(t, "a.test")})
	if err := d2.Run(context.Background(), nil, nil); !errors.Is(err, ErrAlreadyRunning) {
		t.Fatalf("second daemon: %v, want ErrAlreadyRunning", err)
	}

	if err := stop(); err != nil {
		t.Fatalf("Run returned %v after a graceful stop", err)
	}
	if !d.CleanStop() {
		t.Error("a graceful stop is not reported clean")
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
	d := New(Options{Log: zerolog.Nop(), RuntimeDir: run, Changer: newChanger(t, "a.test")})
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
	d := New(Options{Log: zerolog.Nop(), RuntimeDir: run, Changer: newChanger(t, "a.test")})
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

// newChanger returns a Changer over a fresh config.toml naming domain.
func newChanger(t *testing.T, domain string) *domains.Changer {
	t.Helper()
	st := &domains.Store{Path: filepath.Join(t.TempDir(), "config.toml")}
	cfg := domains.Default(domain)
	if err := st.Save(cfg); err != nil {
		t.Fatal(err)
	}
	return &domains.Changer{Store: st, Registry: domains.NewRegistry(cfg)}
}

func TestReloadKeepsOldConfigOnError(t *testing.T) {
	t.Parallel()
	ch := newChanger(t, "a.test")
	d := New(Options{Log: zerolog.Nop(), RuntimeDir: t.TempDir(), Changer: ch})
	hup := make(chan os.Signal, 1)
	stop, _ := startDaemon(t, d, hup)
	defer stop()

	// A file that does not load keeps the running config.
	if err := os.WriteFile(ch.Store.Path, []byte("domains = [\"b.test\"]\nbogus = 1\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	d.Reload()
	if got := ch.Registry.Current().DefaultDomain(); got != "a.test" {
		t.Fatalf("a rejected reload published %s", got)
	}
	// SIGHUP publishes a good one.
	if err := (&domains.Store{Path: ch.Store.Path}).Save(domains.Default("b.test")); err != nil {
		t.Fatal(err)
	}
	hup <- nil
	deadline := time.Now().Add(10 * time.Second)
	for ch.Registry.Current().DefaultDomain() != "b.test" {
		if time.Now().After(deadline) {
			t.Fatal("SIGHUP did not publish the new config")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
