package hooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRejectedBeforeExec(t *testing.T) {
	t.Parallel()
	// An executable that leaves a marker: if the runner ever exec'd a
	// relative cmd[0] (resolved against the working dir, the owner's
	// home), the marker would appear.
	home := t.TempDir()
	marker := filepath.Join(home, "ran")
	script := "#!/bin/sh\ntouch " + marker + "\n"
	if err := os.WriteFile(filepath.Join(home, "hook"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		mutate func(*Run)
	}{
		{"relative cmd", func(r *Run) { r.Argv = []string{"hook"} }},
		{"dot-relative cmd", func(r *Run) { r.Argv = []string{"./hook"} }},
		{"empty argv", func(r *Run) { r.Argv = nil }},
		{"empty cmd[0]", func(r *Run) { r.Argv = []string{""} }},
		{"NUL in argument", func(r *Run) { r.Argv = []string{filepath.Join(home, "hook"), "a\x00b"} }},
		{"unknown event", func(r *Run) { r.Argv = []string{filepath.Join(home, "hook")}; r.Event = "on_delete" }},
		{"no owner name", func(r *Run) { r.Argv = []string{filepath.Join(home, "hook")}; r.Owner.Name = "" }},
		{"negative timeout", func(r *Run) { r.Argv = []string{filepath.Join(home, "hook")}; r.Timeout = -time.Second }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, logs := testRunner(time.Second)
			run := baseRun(t, nil)
			run.Owner.Home = home
			tc.mutate(&run)
			res := r.Execute(context.Background(), run)
			if !errors.Is(res.Err, ErrInvalidRun) {
				t.Fatalf("Err = %v, want ErrInvalidRun", res.Err)
			}
			if res.ExitCode != -1 {
				t.Errorf("ExitCode = %d, want -1", res.ExitCode)
			}
			if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("hook was executed (marker err=%v)", err)
			}
			if n := strings.Count(logs.String(), "\n"); n != 1 {
				t.Errorf("want one log line, got %d: %s", n, logs)
			}
		})
	}
	// The same script, absolute, does run: the marker check above can fail.
	r, _ := testRunner(time.Second)
	run := baseRun(t, []string{filepath.Join(home, "hook")})
	if res := r.Execute(context.Background(), run); !res.OK() {
		t.Fatalf("absolute hook failed: %+v", res)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("absolute hook did not run: %v", err)
	}
}

func TestStartFailure(t *testing.T) {
	t.Parallel()
	r, logs := testRunner(time.Second)
	run := baseRun(t, []string{"/nonexistent/aimx-hook"})
	res := r.Execute(context.Background(), run)
	if res.Err == nil || errors.Is(res.Err, ErrInvalidRun) {
		t.Fatalf("Err = %v, want an exec error", res.Err)
	}
	if res.ExitCode != -1 || res.OK() {
		t.Errorf("result = %+v, want ExitCode -1 and not OK", res)
	}
	if !strings.Contains(logs.String(), `"level":"error"`) {
		t.Errorf("start failure not logged as error: %s", logs)
	}
}

func TestStdin(t *testing.T) {
	t.Parallel()
	md := []byte("+++\nid = \"x\"\n+++\n\nbody with \x00 NUL and\r\nCRLF\n")
	mdFile := filepath.Join(t.TempDir(), "m.md")
	if err := os.WriteFile(mdFile, md, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(mdFile)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	big := bytes.Repeat([]byte("0123456789abcdef"), 20000) // beyond a pipe buffer

	tests := []struct {
		name  string
		stdin func() io.Reader
		want  []byte
	}{
		{"bytes", func() io.Reader { return bytes.NewReader(md) }, md},
		{"file", func() io.Reader { return f }, md},
		{"large", func() io.Reader { return bytes.NewReader(big) }, big[len(big)-TailBytes:]},
		{"none", func() io.Reader { return nil }, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := testRunner(time.Second)
			run := baseRun(t, helperArgv(t, "stdin"))
			run.Stdin = tc.stdin()
			res := r.Execute(context.Background(), run)
			if !res.OK() || res.IOErr != nil {
				t.Fatalf("run failed: %+v stderr=%s", res, res.Stderr)
			}
			if !bytes.Equal(res.Stdout, tc.want) {
				t.Errorf("hook read %d bytes %q..., want %d bytes", len(res.Stdout), head(res.Stdout), len(tc.want))
			}
		})
	}
}

func head(b []byte) []byte { return b[:min(len(b), 40)] }

func TestWorkingDir(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	file := filepath.Join(home, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	resolved, err := filepath.EvalSymlinks(home)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, home, want string
	}{
		{"home dir", home, resolved},
		{"missing home", filepath.Join(home, "missing"), "/"},
		{"home is a file", file, "/"},
		{"empty home", "", "/"},
		{"relative home", "relative/dir", "/"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := testRunner(time.Second)
			run := baseRun(t, helperArgv(t, "pwd"))
			run.Owner.Home = tc.home
			res := r.Execute(context.Background(), run)
			if !res.OK() {
				t.Fatalf("run failed: %+v stderr=%s", res, res.Stderr)
			}
			if string(res.Stdout) != tc.want {
				t.Errorf("working dir = %q, want %q", res.Stdout, tc.want)
			}
		})
	}
}

func TestExitCodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		argv     []string
		code     int
		signal   syscall.Signal
		wantOK   bool
		wantTail string
	}{
		{"zero", helperArgv(t, "exit", "0"), 0, 0, true, "exiting with 0"},
		{"three", helperArgv(t, "exit", "3"), 3, 0, false, "exiting with 3"},
		{"killed by signal", []string{"/bin/sh", "-c", "kill -KILL $$"}, 128 + 9, syscall.SIGKILL, false, ""},
		{"terminated by signal", []string{"/bin/sh", "-c", "kill -TERM $$"}, 128 + 15, syscall.SIGTERM, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, logs := testRunner(time.Second)
			res := r.Execute(context.Background(), baseRun(t, tc.argv))
			if res.Err != nil {
				t.Fatalf("Err = %v", res.Err)
			}
			if res.ExitCode != tc.code || res.Signal != tc.signal || res.OK() != tc.wantOK {
				t.Errorf("exit %d signal %v ok %v, want %d %v %v", res.ExitCode, res.Signal, res.OK(), tc.code, tc.signal, tc.wantOK)
			}
			if res.TimedOut || res.Killed || res.Canceled {
				t.Errorf("stop flags set on a normal exit: %+v", res)
			}
			if string(res.Stderr) != tc.wantTail {
				t.Errorf("stderr = %q, want %q", res.Stderr, tc.wantTail)
			}
			line := logLine(t, logs)
			if line["exit_code"] != float64(tc.code) {
				t.Errorf("logged exit_code %v, want %d", line["exit_code"], tc.code)
			}
		})
	}
}

// logLine decodes the single log line in buf.
func logLine(t *testing.T, buf *syncBuffer) map[string]any {
	t.Helper()
	s := buf.String()
	if strings.Count(s, "\n") != 1 {
		t.Fatalf("want exactly one log line, got: %s", s)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("decode log line %q: %v", s, err)
	}
	return m
}

func TestLogLine(t *testing.T) {
	t.Parallel()
	r, logs := testRunner(time.Second)
	r.LogTailBytes = 100
	run := baseRun(t, []string{"/bin/sh", "-c", `printf 'é%.0s' $(seq 1 200) >&2; echo out; exit 4`})
	run.Env.Subject = "secret subject"
	run.Env.From = "secret@from.test"
	res := r.Execute(context.Background(), run)
	if res.ExitCode != 4 {
		t.Fatalf("exit %d, stderr %q", res.ExitCode, res.Stderr)
	}
	line := logLine(t, logs)
	want := map[string]any{
		"level":      "warn",
		"message":    "hook run",
		"hook":       "test-hook",
		"event":      EventOnReceive,
		"mailbox":    "support@a.test",
		"owner":      "tester",
		"message_id": "abc@a.test",
		"job_id":     "job-1",
		"exit_code":  float64(4),
		"timed_out":  false,
		"stdout":     "out\n",
	}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("log %s = %v, want %v", k, line[k], v)
		}
	}
	if _, ok := line["duration_ms"].(float64); !ok {
		t.Errorf("duration_ms missing: %v", line)
	}
	// 200 two-byte runes; a 100-byte tail is exactly 50 whole runes.
	if got := line["stderr"]; got != strings.Repeat("é", 50) {
		t.Errorf("stderr tail = %q", got)
	}
	if len(res.Stderr) != 400 {
		t.Errorf("Result keeps %d stderr bytes, want all 400", len(res.Stderr))
	}
	if s := logs.String(); strings.Contains(s, "secret") {
		t.Errorf("log line carries environment values: %s", s)
	}

	// A clean run logs at info.
	r2, logs2 := testRunner(time.Second)
	r2.Execute(context.Background(), baseRun(t, helperArgv(t, "exit", "0")))
	if lvl := logLine(t, logs2)["level"]; lvl != "info" {
		t.Errorf("clean run logged at %v, want info", lvl)
	}
}

func TestLogTail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"abcdef", 3, "def"},
		{"aé", 1, "\xa9"}, // no rune start in reach: the bytes as they are
		{"xéy", 2, "y"},
		{"x€y", 3, "y"},
		{"x€y", 4, "€y"},
	}
	for _, tc := range tests {
		if got := logTail([]byte(tc.in), tc.n); got != tc.want {
			t.Errorf("logTail(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

func TestRunAsDaemonUserWhenNotRoot(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("needs a non-root euid; as root the hook runs as the owner (TestRunAsOwnerWhenRoot)")
	}
	t.Parallel()
	r, _ := testRunner(time.Second)
	run := baseRun(t, []string{"/bin/sh", "-c", "id -u; id -g"})
	run.Owner = Owner{Name: "nobody", UID: 65534, GID: 65534, Groups: []uint32{65534}, Home: "/"}
	if os.Getuid() == 65534 {
		run.Owner = Owner{Name: "root", Home: "/"}
	}
	res := r.Execute(context.Background(), run)
	if !res.OK() {
		t.Fatalf("run failed: %+v stderr=%s", res, res.Stderr)
	}
	want := strconv.Itoa(os.Geteuid()) + "\n" + strconv.Itoa(os.Getegid()) + "\n"
	if string(res.Stdout) != want {
		t.Errorf("hook ran as %q, want the daemon's own %q", res.Stdout, want)
	}
}

func TestRunTimeoutDefault(t *testing.T) {
	t.Parallel()
	if got := (&Run{}).timeout(); got != DefaultTimeout {
		t.Errorf("zero timeout = %v, want %v", got, DefaultTimeout)
	}
	if got := (&Run{Timeout: time.Second}).timeout(); got != time.Second {
		t.Errorf("timeout = %v, want 1s", got)
	}
	if got := (&Runner{}).grace(); got != DefaultGrace || DefaultGrace != 5*time.Second {
		t.Errorf("zero grace = %v, want 5s", got)
	}
}
