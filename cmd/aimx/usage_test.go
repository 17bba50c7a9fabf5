package main

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestUsageErrorsByType: every way cobra reports a bad call exits 2, and
// a command's own error exits 1 even when its text reads like cobra's.
func TestUsageErrorsByType(t *testing.T) {
	t.Parallel()
	cfgDir, _ := newInstall(t)
	for _, c := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"unknown shorthand flag", []string{"version", "-z"}, 2, "unknown shorthand flag"},
		{"bad flag value", []string{"version", "--json=maybe"}, 2, "invalid argument"},
		{"unknown subcommand", []string{"hooks", "frobnicate"}, 2, "accepts 0 arg"},
		{"missing required flag", []string{"--config-dir", cfgDir, "hooks", "create", "--event", "on_receive", "--", "/bin/true"}, 2, `required flag(s) "mailbox" not set`},
		{"completion extra argument", []string{"completion", "bash", "x"}, 2, "unknown command"},
		{"help of an unknown topic", []string{"help", "frobnicate"}, 2, `unknown command "frobnicate"`},
	} {
		r := aimx(t, nil, c.args...)
		if r.code != c.code || !strings.Contains(r.stderr, c.msg) {
			t.Errorf("%s: exit %d, stderr %q; want %d and %q", c.name, r.code, r.stderr, c.code, c.msg)
		}
	}
}

// TestUsageErrorsNotByMessage: the kind of an error is its type, never its
// text: a RunE error that starts like one of cobra's is a plain failure.
func TestUsageErrorsNotByMessage(t *testing.T) {
	t.Parallel()
	for _, msg := range []string{"unknown command \"x\"", "accepts 1 arg(s)", "required flag(s) \"a\" not set", "unknown flag: --x"} {
		root := &cobra.Command{Use: "x", SilenceErrors: true, SilenceUsage: true, Args: cobra.NoArgs}
		root.AddCommand(&cobra.Command{Use: "fail", RunE: func(*cobra.Command, []string) error { return errors.New(msg) }})
		root.SetOut(io.Discard)
		root.SetArgs([]string{"fail"})
		markUsageErrors(root)
		err := root.ExecuteContext(context.Background())
		if code := report(err, io.Discard); code != exitFailure {
			t.Errorf("RunE error %q: exit %d, want %d", msg, code, exitFailure)
		}
	}
}

// TestUnknownCommandWithHelpFails: --help on an unknown command fails
// like the command does, instead of printing the parent's help.
func TestUnknownCommandWithHelpFails(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"bogus", "--help"}, {"bogus", "-h"}, {"domains", "bogus", "--help"}, {"help", "bogus"}, {"--json", "bogus", "--help"},
	} {
		r := aimx(t, nil, args...)
		if r.code != 2 || !strings.Contains(r.stderr, `unknown command "bogus"`) || r.stdout != "" {
			t.Errorf("%v: %d %q %q", args, r.code, r.stdout, r.stderr)
		}
	}
	for _, args := range [][]string{{"--help"}, {"domains", "--help"}, {"send", "--help"}, {"help", "domains"}, {"domains", "add", "x.test", "-h"}} {
		if r := aimx(t, nil, args...); r.code != 0 || !strings.Contains(r.stdout, "Usage:") {
			t.Errorf("%v: %d %q", args, r.code, r.stderr)
		}
	}
}
