package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/aimx-dev/aimx/internal/systemd"
)

// defaultLogLines is how many lines `aimx logs` shows without -n.
const defaultLogLines = 50

// logsRunner runs a command with its output going to stdout and stderr.
type logsRunner func(ctx context.Context, stdout, stderr io.Writer, name string, args ...string) error

// logsEnv is what `aimx logs` needs from the host; tests inject it.
type logsEnv struct {
	// journald reports whether the systemd journal runs on this host.
	journald func() bool
	// lookPath finds journalctl.
	lookPath func(string) (string, error)
	// run runs journalctl.
	run logsRunner
}

// hostLogsEnv is the real host.
func hostLogsEnv() logsEnv {
	return logsEnv{
		// journald's sockets live here while it runs (systemd-journald.service(8), "Files").
		journald: func() bool { fi, err := os.Stat("/run/systemd/journal"); return err == nil && fi.IsDir() },
		lookPath: exec.LookPath,
		run: func(ctx context.Context, stdout, stderr io.Writer, name string, args ...string) error {
			cmd := exec.CommandContext(ctx, name, args...)
			cmd.Stdout, cmd.Stderr = stdout, stderr
			return cmd.Run()
		},
	}
}

// logsCommand is `aimx logs [-n N] [-f]`.
func (a *app) logsCommand() *cobra.Command {
	var lines int
	var follow bool
	cmd := &cobra.Command{
		Use:   "logs",
		Short: "Show the daemon's log (journalctl -u aimx)",
		Long: "Show the last lines of the aimx daemon's log from the systemd journal, and with -f keep\n" +
			"printing new lines until interrupted. It runs journalctl -u aimx.service, so reading other\n" +
			"services' logs needs what journalctl needs: root, or membership of the systemd-journal group.\n\n" +
			"Without journald (a container, a host with another init), aimx logs says where the log goes:\n" +
			"aimx serve writes it to its standard error.",
		Args: exactArgs(0),
		RunE: func(*cobra.Command, []string) error {
			if lines < 0 {
				return usageError{fmt.Errorf("-n must be 0 or more, not %d", lines)}
			}
			return a.showLogs(hostLogsEnv(), lines, follow)
		},
	}
	cmd.Flags().IntVarP(&lines, "lines", "n", defaultLogLines, "how many of the latest lines to show")
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new lines until interrupted")
	return cmd
}

// errNoJournal is the fallback's error: it says where the log is.
var errNoJournal = errors.New("journald is not running on this host, so there is no journal to read. " +
	"aimx serve writes its log to its standard error (JSON lines, or readable lines on a terminal): " +
	"under systemd that is the journal; run by hand it is the terminal; under another supervisor it is " +
	"wherever that supervisor sends a service's stderr (book/operations.md, \"Logs\")")

// showLogs prints the journal's lines for aimx.service through env.
func (a *app) showLogs(env logsEnv, lines int, follow bool) error {
	if !env.journald() {
		return errNoJournal
	}
	jc, err := env.lookPath("journalctl")
	if err != nil {
		return fmt.Errorf("journald runs but journalctl is not installed (%w); install systemd's journalctl or read /var/log/journal with another tool", err)
	}
	args := []string{"--unit", systemd.UnitName, "--lines", strconv.Itoa(lines), "--no-pager"}
	if follow {
		args = append(args, "--follow")
	}
	if err := env.run(a.ctx, a.stdout, a.stderr, jc, args...); err != nil {
		if a.ctx.Err() != nil {
			return nil // interrupted while following: the usual way out of -f
		}
		return fmt.Errorf("journalctl: %w", err)
	}
	return nil
}
