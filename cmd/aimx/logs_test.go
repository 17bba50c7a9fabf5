package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/spf13/viper"
)

// testApp is an app writing to buffers, for commands tested with injected
// host dependencies.
func testApp(ctx context.Context) (*app, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	return &app{ctx: ctx, env: map[string]string{}, stdin: strings.NewReader(""), stdout: &out, stderr: &errb,
		log: zerolog.Nop(), v: viper.New()}, &out, &errb
}

// fakeJournal is a logsEnv whose journalctl prints its arguments.
func fakeJournal(journald bool, lines *[]string) logsEnv {
	return logsEnv{
		journald: func() bool { return journald },
		lookPath: func(string) (string, error) { return "/usr/bin/journalctl", nil },
		run: func(_ context.Context, stdout, _ io.Writer, name string, args ...string) error {
			line := name + " " + strings.Join(args, " ")
			*lines = append(*lines, line)
			_, err := io.WriteString(stdout, "a log line\n")
			return err
		},
	}
}

func TestLogsRunsJournalctl(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		lines  int
		follow bool
		want   string
	}{
		{defaultLogLines, false, "/usr/bin/journalctl --unit aimx.service --lines 50 --no-pager"},
		{200, true, "/usr/bin/journalctl --unit aimx.service --lines 200 --no-pager --follow"},
	} {
		a, out, _ := testApp(context.Background())
		var ran []string
		if err := a.showLogs(fakeJournal(true, &ran), c.lines, c.follow); err != nil {
			t.Fatal(err)
		}
		if len(ran) != 1 || ran[0] != c.want {
			t.Errorf("ran %q, want %q", ran, c.want)
		}
		if out.String() != "a log line\n" {
			t.Errorf("stdout %q: journalctl's output does not reach it", out)
		}
	}
}

func TestLogsWithoutJournald(t *testing.T) {
	t.Parallel()
	a, _, _ := testApp(context.Background())
	var ran []string
	err := a.showLogs(fakeJournal(false, &ran), 10, false)
	if !errors.Is(err, errNoJournal) || len(ran) != 0 {
		t.Fatalf("err %v, ran %q; want the no-journal explanation and no journalctl", err, ran)
	}
	if !strings.Contains(err.Error(), "standard error") {
		t.Fatalf("the fallback does not say where the log goes: %v", err)
	}
	env := fakeJournal(true, &ran)
	env.lookPath = func(string) (string, error) { return "", exec.ErrNotFound }
	if err := a.showLogs(env, 10, false); err == nil || !strings.Contains(err.Error(), "journalctl is not installed") {
		t.Fatalf("no journalctl: %v", err)
	}
}

// TestLogsFollowInterrupted: ending -f with Ctrl-C (the context ends) is
// not an error; journalctl failing on its own is.
func TestLogsFollowInterrupted(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	a, _, _ := testApp(ctx)
	env := logsEnv{
		journald: func() bool { return true },
		lookPath: func(string) (string, error) { return "/usr/bin/journalctl", nil },
		run: func(ctx context.Context, _, _ io.Writer, _ string, _ ...string) error {
			cancel()
			<-ctx.Done()
			return errors.New("signal: killed")
		},
	}
	if err := a.showLogs(env, 10, true); err != nil {
		t.Fatalf("interrupted follow: %v", err)
	}
	a, _, _ = testApp(context.Background())
	env.run = func(context.Context, io.Writer, io.Writer, string, ...string) error {
		return errors.New("exit status 1")
	}
	if err := a.showLogs(env, 10, false); err == nil {
		t.Fatal("a failing journalctl is not reported")
	}
}

func TestLogsFlags(t *testing.T) {
	t.Parallel()
	if r := aimx(t, nil, "logs", "-n", "-1"); r.code != exitUsage {
		t.Fatalf("logs -n -1: exit %d %q", r.code, r.stderr)
	}
	r := aimx(t, nil, "logs", "--help")
	if r.code != 0 || !strings.Contains(r.stdout, "--follow") || !strings.Contains(r.stdout, "--lines") {
		t.Fatalf("logs --help: %d %q", r.code, r.stdout)
	}
}
