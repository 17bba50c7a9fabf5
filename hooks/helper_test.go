package hooks

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// The test binary doubles as a hook: helperArgv builds an argv that re-execs
// it into TestHelperProcess with a mode. The mode travels in argv because
// the runner gives the hook a clean environment.

func helperArgv(t *testing.T, mode string, args ...string) []string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatalf("find test binary: %v", err)
	}
	return append([]string{exe, "-test.run=^TestHelperProcess$", "--", mode}, args...)
}

// helperMode returns the mode and its arguments when this process is a
// helper hook, or nil.
func helperMode() []string {
	for i, a := range os.Args {
		if a == "--" && i+1 < len(os.Args) {
			return os.Args[i+1:]
		}
	}
	return nil
}

// floodByte is the content of byte i of the flood helper's stream; 251 is
// prime so a tail cut at the wrong offset cannot match by accident.
func floodByte(i int64, salt byte) byte { return byte(i%251) ^ salt }

func TestHelperProcess(t *testing.T) {
	args := helperMode()
	if args == nil {
		return // not a helper run: nothing to test here
	}
	// syscall.Exit, not os.Exit: under -race, os.Exit runs the race
	// runtime's exit hook, which sleeps a second per helper run.
	syscall.Exit(helperMain(args))
}

func helperMain(args []string) int {
	switch args[0] {
	case "env":
		// NUL-separated, so values with newlines survive.
		fmt.Print(strings.Join(os.Environ(), "\x00"))
	case "stdin":
		if _, err := io.Copy(os.Stdout, os.Stdin); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	case "pwd":
		wd, err := os.Getwd()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Print(wd)
	case "exit":
		code, _ := strconv.Atoi(args[1])
		fmt.Fprint(os.Stderr, "exiting with ", code)
		return code
	case "flood":
		// flood N: N bytes of the floodByte pattern on stdout and N+13 on
		// stderr, written in odd-sized chunks.
		n, _ := strconv.ParseInt(args[1], 10, 64)
		if err := flood(os.Stdout, n, 0); err != nil {
			return 1
		}
		if err := flood(os.Stderr, n+13, 0x5a); err != nil {
			return 1
		}
	case "orphan":
		// Leave a process in a new session holding stdout, print its pid
		// and exit 0.
		c := exec.Command("/bin/sleep", "1000")
		c.Stdout = os.Stdout
		c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := c.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println(c.Process.Pid)
	case "bgwriter":
		// bgwriter GO RESULT: leave a latewrite process in our own
		// process group holding stdout, print its pid and exit 0.
		exe, _ := os.Executable()
		c := exec.Command(exe, "-test.run=^TestHelperProcess$", "--", "latewrite", args[1], args[2])
		c.Stdout = os.Stdout
		if err := c.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println(c.Process.Pid)
	case "latewrite":
		// latewrite GO RESULT: wait until the FIFO GO is written, then
		// write to stdout with SIGPIPE ignored and report the write's
		// error through the FIFO RESULT.
		signal.Ignore(syscall.SIGPIPE)
		if _, err := os.ReadFile(args[1]); err != nil {
			return 1
		}
		_, werr := os.Stdout.Write([]byte("late\n"))
		msg := "ok"
		if werr != nil {
			msg = werr.Error()
		}
		if err := os.WriteFile(args[2], []byte(msg), 0o600); err != nil {
			return 1
		}
	case "daemon":
		// daemon PIDFILE: act as a daemon running one hook (the sleeper)
		// until it is killed.
		exe, _ := os.Executable()
		r := NewRunner(zerolog.Nop())
		r.Execute(context.Background(), Run{HookName: "h", JobID: "j", Event: EventOnReceive, Timeout: time.Hour,
			Argv:  []string{exe, "-test.run=^TestHelperProcess$", "--", "sleeper", args[1]},
			Owner: Owner{Name: "me", UID: os.Getuid(), GID: os.Getgid(), Groups: []uint32{}, Home: "/"}})
	case "sleeper":
		// sleeper PIDFILE: record our pid, then sleep until killed.
		if err := os.WriteFile(args[1], []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
			return 1
		}
		time.Sleep(time.Hour)
	default:
		fmt.Fprintln(os.Stderr, "unknown helper mode", args[0])
		return 2
	}
	return 0
}

func flood(w io.Writer, n int64, salt byte) error {
	// The pattern repeats every 251 bytes: write windows of one buffer
	// holding 40 periods, in odd-sized chunks.
	pattern := make([]byte, 251*40)
	for i := range pattern {
		pattern[i] = floodByte(int64(i), salt)
	}
	const chunk = 7919
	var off int64
	for off < n {
		start := off % 251
		size := min(chunk, n-off)
		if _, err := w.Write(pattern[start : start+size]); err != nil {
			return err
		}
		off += size
	}
	return nil
}

// testRunner returns a runner logging into a buffer, with a short grace.
func testRunner(grace time.Duration) (*Runner, *syncBuffer) {
	var buf syncBuffer
	r := NewRunner(zerolog.New(&buf))
	r.Grace = grace
	return r, &buf
}

// currentOwner is the user running the tests, with home as Home.
func currentOwner(t *testing.T, home string) Owner {
	t.Helper()
	o := Owner{Name: "tester", UID: os.Getuid(), GID: os.Getgid(), Home: home}
	groups, err := os.Getgroups()
	if err != nil {
		t.Fatalf("getgroups: %v", err)
	}
	for _, g := range groups {
		o.Groups = append(o.Groups, uint32(g))
	}
	return o
}

// baseRun is a valid on_receive run of argv for the current user.
func baseRun(t *testing.T, argv []string) Run {
	t.Helper()
	return Run{
		HookName: "test-hook",
		JobID:    "job-1",
		Event:    EventOnReceive,
		Argv:     argv,
		Timeout:  30 * time.Second,
		Owner:    currentOwner(t, t.TempDir()),
		Env: Vars{
			Mailbox:   "support@a.test",
			MessageID: "abc@a.test",
		},
	}
}
