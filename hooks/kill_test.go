package hooks

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// pidAlive reports whether pid is a live (non-zombie) process.
func pidAlive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// state is the field after the parenthesised command name
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// exitsWithin reports whether pid (not our child) exits within limit. A
// signal is delivered asynchronously, so a process the runner killed may
// still be dying when Execute returns; a pidfd says when it is gone.
func exitsWithin(t *testing.T, pid int, limit time.Duration) bool {
	t.Helper()
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return true
	}
	if err != nil {
		t.Fatalf("pidfd_open %d: %v", pid, err)
	}
	defer func() { _ = unix.Close(fd) }()
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, int(limit.Milliseconds()))
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			t.Fatalf("poll pidfd: %v", err)
		}
		return n > 0
	}
}

func killPid(t *testing.T, pid int) {
	t.Helper()
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
}

func TestTimeoutAndKill(t *testing.T) {
	t.Parallel()
	// Where everything dies of SIGTERM the grace period is long (it costs
	// nothing then, and a loaded machine cannot stretch the dying past
	// it); where something ignores SIGTERM it is short.
	const shortGrace, longGrace = 300 * time.Millisecond, 5 * time.Second
	// Hooks that trap TERM print "ready" once the trap is set, and get a
	// longer timeout so the trap is in place before SIGTERM; the test
	// refuses to pass if it was not.
	const quick, trapping = 300 * time.Millisecond, time.Second
	tests := []struct {
		name       string
		argv       []string
		timeout    time.Duration
		wantKilled bool
		wantSignal syscall.Signal
		// grandchild: the hook prints the pid of a child it leaves in
		// its group; it must be dead afterwards.
		grandchild bool
	}{
		{"sleeper", []string{"/bin/sleep", "1000"}, quick, false, syscall.SIGTERM, false},
		{"ignores TERM", []string{"/bin/sh", "-c", `trap "" TERM; echo ready; exec /bin/sleep 1000`}, trapping, true, syscall.SIGKILL, false},
		{"background child holds stdout", []string{"/bin/sh", "-c", `/bin/sleep 1000 & echo $!; exec /bin/sleep 1000`}, quick, false, syscall.SIGTERM, true},
		{"background child ignores TERM and holds stdout", []string{"/bin/sh", "-c", `(trap "" TERM; echo ready; exec /bin/sleep 1000) & echo $!; exec /bin/sleep 1000`}, trapping, true, syscall.SIGTERM, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			grace := longGrace
			if tc.wantKilled {
				grace = shortGrace
			}
			r, logs := testRunner(grace)
			run := baseRun(t, tc.argv)
			run.Timeout = tc.timeout
			res := r.Execute(context.Background(), run)
			if res.Err != nil {
				t.Fatalf("Err = %v", res.Err)
			}
			lines := strings.Fields(string(res.Stdout))
			if strings.Contains(tc.argv[len(tc.argv)-1], "trap") && !slices.Contains(lines, "ready") {
				t.Fatalf("the hook was signalled before it set its trap (stdout %q); raise the timeout", res.Stdout)
			}
			if !res.TimedOut || res.Canceled || res.OK() {
				t.Errorf("TimedOut %v Canceled %v OK %v, want true false false", res.TimedOut, res.Canceled, res.OK())
			}
			if res.Killed != tc.wantKilled || res.Signal != tc.wantSignal {
				t.Errorf("Killed %v Signal %v, want %v %v (after %v, stdout %q)", res.Killed, res.Signal, tc.wantKilled, tc.wantSignal, res.Duration, res.Stdout)
			}
			if res.ExitCode != 128+int(tc.wantSignal) {
				t.Errorf("ExitCode %d, want %d", res.ExitCode, 128+int(tc.wantSignal))
			}
			if res.Duration < tc.timeout {
				t.Errorf("stopped after %v, before the %v timeout", res.Duration, tc.timeout)
			}
			if tc.wantKilled && res.Duration < tc.timeout+grace {
				t.Errorf("killed after %v, before timeout+grace %v", res.Duration, tc.timeout+grace)
			}
			if res.Duration > 10*time.Second { // loose backstop: Wait did not hang
				t.Errorf("run took %v", res.Duration)
			}
			if tc.grandchild {
				pid := 0
				for _, l := range lines {
					if n, err := strconv.Atoi(l); err == nil {
						pid = n
					}
				}
				if pid == 0 {
					t.Fatalf("no grandchild pid in %q", res.Stdout)
				}
				killPid(t, pid)
				if !exitsWithin(t, pid, 5*time.Second) {
					t.Errorf("grandchild %d survived the run", pid)
				}
			}
			if line := logLine(t, logs); line["timed_out"] != true {
				t.Errorf("log timed_out = %v", line["timed_out"])
			}
		})
	}
}

func TestOrphanHoldingOutputDoesNotHangWait(t *testing.T) {
	t.Parallel()
	const grace = 200 * time.Millisecond
	r, _ := testRunner(grace)
	run := baseRun(t, helperArgv(t, "orphan"))
	res := r.Execute(context.Background(), run)
	pid, err := strconv.Atoi(strings.TrimSpace(string(res.Stdout)))
	if err != nil {
		t.Fatalf("orphan pid %q: %v (%+v)", res.Stdout, err, res)
	}
	killPid(t, pid)
	if res.Err != nil || res.ExitCode != 0 || res.TimedOut {
		t.Fatalf("result %+v", res)
	}
	// Wait returned while the orphan still holds the pipe: by order, it is
	// alive now, so the runner did not wait for it.
	if !pidAlive(pid) {
		t.Fatalf("orphan %d is gone; the test proves nothing", pid)
	}
	if !errors.Is(res.IOErr, exec.ErrWaitDelay) {
		t.Errorf("IOErr = %v, want exec.ErrWaitDelay", res.IOErr)
	}
	if res.Duration < grace {
		t.Errorf("pipes closed after %v, before the %v grace", res.Duration, grace)
	}
}

func TestContextCancelStopsRun(t *testing.T) {
	t.Parallel()
	// The hook announces through a FIFO that its TERM trap is set; only
	// then is the context cancelled, so the order is fixed.
	home := t.TempDir()
	fifo := filepath.Join(home, "ready")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatalf("mkfifo: %v", err)
	}
	r, logs := testRunner(200 * time.Millisecond)
	run := baseRun(t, []string{"/bin/sh", "-c", `trap "" TERM; echo up > "$HOME/ready"; exec /bin/sleep 1000`})
	run.Owner.Home = home
	run.Timeout = 20 * time.Second // backstop only
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	announced := make(chan error, 1)
	go func() {
		b, err := os.ReadFile(fifo) // blocks until the hook writes
		if err == nil && string(b) != "up\n" {
			err = errors.New("unexpected " + string(b))
		}
		announced <- err
		cancel()
	}()
	res := r.Execute(ctx, run)
	if err := <-announced; err != nil {
		t.Fatalf("hook announcement: %v", err)
	}
	if !res.Canceled || res.TimedOut || res.OK() {
		t.Errorf("Canceled %v TimedOut %v OK %v, want true false false", res.Canceled, res.TimedOut, res.OK())
	}
	if !res.Killed || res.Signal != syscall.SIGKILL {
		t.Errorf("Killed %v Signal %v: the TERM-ignoring hook was not killed after grace", res.Killed, res.Signal)
	}
	if line := logLine(t, logs); line["canceled"] != true {
		t.Errorf("log canceled = %v", line["canceled"])
	}
}

func TestCanceledContextDoesNotStart(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	r, _ := testRunner(time.Second)
	run := baseRun(t, []string{"/usr/bin/touch", filepath.Join(home, "ran")})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := r.Execute(ctx, run)
	if !errors.Is(res.Err, context.Canceled) {
		t.Fatalf("Err = %v, want context.Canceled", res.Err)
	}
	if _, err := os.Stat(filepath.Join(home, "ran")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("hook ran under a canceled context")
	}
}

// TestHookDiesWithTheDaemon: when the daemon dies (SIGKILL, a crash), its
// running hook is killed too, so the re-run after the restart cannot
// overlap it.
func TestHookDiesWithTheDaemon(t *testing.T) {
	t.Parallel()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	pidfile := filepath.Join(t.TempDir(), "hook.pid")
	daemon := exec.Command(exe, "-test.run=^TestHelperProcess$", "--", "daemon", pidfile)
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	var pid int
	deadline := time.Now().Add(20 * time.Second) // backstop only
	for pid == 0 {
		if data, err := os.ReadFile(pidfile); err == nil && len(data) > 0 {
			pid, _ = strconv.Atoi(string(data))
		}
		if time.Now().After(deadline) {
			_ = daemon.Process.Kill()
			t.Fatal("the hook never started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := daemon.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = daemon.Wait()
	for alive(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("hook %d outlived its daemon", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// alive reports whether pid is a live process (a zombie counts as dead).
func alive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}
