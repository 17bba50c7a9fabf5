// Package e2e drives the real aimx binary like a user: it builds it once,
// runs `aimx serve` on port 0 in a temp dir, and talks to it with real SMTP
// clients and the CLI. It imports no product package; test plumbing from
// internal/dnstest is the one exception (an in-process DNS server).
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binary is the aimx binary built once per test process.
var binary struct {
	once sync.Once
	path string
	err  error
}

// aimxBinary builds ./cmd/aimx (with the race detector when the tests run
// with it, so e2e exercises the same build) and returns its path.
func aimxBinary(t testing.TB) string {
	t.Helper()
	binary.once.Do(func() {
		dir, err := os.MkdirTemp("", "aimx-e2e-bin")
		if err != nil {
			binary.err = err
			return
		}
		binary.path = filepath.Join(dir, "aimx")
		// No VCS stamping: the checkout may belong to another user (tests as nobody).
		args := []string{"build", "-buildvcs=false", "-o", binary.path}
		if raceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, "../cmd/aimx")...)
		if out, err := cmd.CombinedOutput(); err != nil {
			binary.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binary.err != nil {
		t.Fatal(binary.err)
	}
	return binary.path
}

// Daemon is one `aimx serve` process under test.
type Daemon struct {
	t    testing.TB
	Dir  string   // dev dir (config.toml, data/, run/, ...)
	Args []string // serve arguments, reused by Restart
	Env  []string

	cmd    *exec.Cmd
	waited chan struct{}
	stdout *syncBuffer
	stderr *syncBuffer

	// Listen holds the bound addresses from run/listen.json.
	Listen map[string]string
}

// DaemonOptions configure StartDev.
type DaemonOptions struct {
	// Dir is the dev dir; empty means a new temp dir.
	Dir string
	// Config, when set, is written as Dir/config.toml before the first
	// start, so the dev seed keeps it (an existing config is never changed).
	Config string
	// DNS is the --dns address (an internal/dnstest server).
	DNS string
	// Extra are more serve arguments.
	Extra []string
	// Env adds environment variables.
	Env []string
}

// StartDev runs `aimx serve --dev --dir DIR --smtp 127.0.0.1:0` and waits
// until listen.json names its listeners.
func StartDev(t testing.TB, o DaemonOptions) *Daemon {
	t.Helper()
	dir := o.Dir
	if dir == "" {
		// Short paths: Unix socket paths must stay under 108 bytes.
		var err error
		if dir, err = os.MkdirTemp("", "ax"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
	}
	if o.Config != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		cfg := strings.ReplaceAll(o.Config, "$DIR", dir)
		if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{"serve", "--dev", "--dir", dir, "--smtp", "127.0.0.1:0", "--mcp-http", "127.0.0.1:0"}
	if o.DNS != "" {
		args = append(args, "--dns", o.DNS)
	}
	args = append(args, o.Extra...)
	d := &Daemon{t: t, Dir: dir, Args: args, Env: o.Env}
	d.Start()
	t.Cleanup(func() { d.Kill() })
	return d
}

// Start launches the process with d.Args and waits until it is ready.
func (d *Daemon) Start() {
	d.t.Helper()
	listen := filepath.Join(d.Dir, "run", "listen.json")
	_ = os.Remove(listen) // a killed daemon leaves its listen.json
	d.stdout, d.stderr = &syncBuffer{}, &syncBuffer{}
	d.cmd = exec.Command(aimxBinary(d.t), d.Args...)
	d.cmd.Env = append(os.Environ(), d.Env...)
	d.cmd.Stdout, d.cmd.Stderr = d.stdout, d.stderr
	d.cmd.Stdin = nil
	if err := d.cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	d.waited = make(chan struct{})
	go func() { _ = d.cmd.Wait(); close(d.waited) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		data, err := os.ReadFile(listen)
		if err == nil && json.Unmarshal(data, &d.Listen) == nil && d.Listen["smtp"] != "" {
			return
		}
		select {
		case <-d.waited:
			d.t.Fatalf("aimx serve exited before it was ready: %v\nstdout:\n%s\nstderr:\n%s", d.cmd.ProcessState, d.stdout, d.stderr)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("aimx serve not ready after 60 s\nstderr:\n%s", d.stderr)
		}
	}
}

// Running reports whether the process has not exited.
func (d *Daemon) Running() bool {
	select {
	case <-d.waited:
		return false
	default:
		return true
	}
}

// Signal sends sig to the daemon.
func (d *Daemon) Signal(sig os.Signal) {
	d.t.Helper()
	if err := d.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		d.t.Fatal(err)
	}
}

// Wait waits up to timeout for the process to exit and returns its exit code.
func (d *Daemon) Wait(timeout time.Duration) int {
	d.t.Helper()
	select {
	case <-d.waited:
		return d.cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		d.t.Fatalf("aimx serve still running after %s", timeout)
		return -1
	}
}

// Stop sends SIGTERM and waits for a clean exit.
func (d *Daemon) Stop() {
	d.t.Helper()
	if !d.Running() {
		return
	}
	d.Signal(syscall.SIGTERM)
	if code := d.Wait(35 * time.Second); code != 0 {
		d.t.Fatalf("aimx serve exited %d after SIGTERM\nstderr:\n%s", code, d.stderr)
	}
}

// Kill sends SIGKILL (a crash) and reaps the process.
func (d *Daemon) Kill() {
	if d.cmd == nil || d.cmd.Process == nil || !d.Running() {
		return
	}
	_ = d.cmd.Process.Kill()
	<-d.waited
}

// Restart starts the daemon again on the same dir (after Stop or Kill).
func (d *Daemon) Restart() {
	d.t.Helper()
	if d.Running() {
		d.t.Fatal("Restart while running")
	}
	d.Start()
}

// Stdout and Stderr return what the daemon printed so far.
func (d *Daemon) Stdout() string { return d.stdout.String() }

// Stderr returns the daemon's log so far.
func (d *Daemon) Stderr() string { return d.stderr.String() }

// SMTPAddr is the bound SMTP address.
func (d *Daemon) SMTPAddr() string { return d.Listen["smtp"] }

// DataDir is the dev dir's data directory.
func (d *Daemon) DataDir() string { return filepath.Join(d.Dir, "data") }

// CLI runs an aimx command against this daemon's dir and returns stdout,
// stderr and the exit code.
func (d *Daemon) CLI(args ...string) (string, string, int) {
	d.t.Helper()
	return runCLI(d.t, append([]string{"--config-dir", d.Dir}, args...)...)
}

// runCLI runs the aimx binary with args.
func runCLI(t testing.TB, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, aimxBinary(t), args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// Deliver sends one message over plain SMTP with net/smtp (no STARTTLS:
// smtp.SendMail would insist on verifying the dev certificate) and returns
// the first error (nil for 250). data must use CRLF line endings.
func (d *Daemon) Deliver(from string, to []string, data []byte) error {
	c, err := smtp.Dial(d.SMTPAddr())
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello("client.test"); err != nil {
		return err
	}
	if err := c.Mail(from); err != nil {
		return err
	}
	for _, r := range to {
		if err := c.Rcpt(r); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// syncBuffer is a bytes.Buffer safe for the process's writers and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// crlf turns LF line endings into CRLF (fixtures are stored with LF).
func crlf(b []byte) []byte {
	b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
}

// fixture reads a file from testdata/fixtures (in the repo).
func fixture(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "fixtures", rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
