// Command aimx is the aimx mail server and its command-line client: one
// binary holding the daemon (`aimx serve`) and every operator and agent
// command. main only adapts the process to run, which tests call directly.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Environ(), os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(report(err, os.Stderr))
}

// Exit codes (book/cli.md).
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// usageError marks an error the user made in calling a command (bad flag,
// unknown command, wrong arguments): exit code 2 instead of 1.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// markUsageErrors makes every error cobra reports about how a command was
// called a usageError where cobra makes it, since cobra's own errors carry
// no type: flag parsing through the flag error func, and each command's
// argument check (which is also where an unknown subcommand is reported,
// as an argument of its parent) through a wrapper. Call it once the tree
// is built; it adds cobra's default help and completion commands first so
// that they are wrapped too.
func markUsageErrors(root *cobra.Command) {
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		c.Args = usageArgs(c.Args)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// usageArgs runs a command's argument check (nil: any arguments, as cobra
// has it for a subcommand) and then its required-flag and flag-group
// checks, marking what fails as a usageError. Cobra runs those flag checks
// itself only after the pre-run hooks, untyped; the flags are parsed by
// the time arguments are checked, so they are checked here first.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	if check == nil {
		check = cobra.ArbitraryArgs
	}
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			var ue usageError
			if errors.As(err, &ue) {
				return err
			}
			return usageError{err}
		}
		if err := cmd.ValidateRequiredFlags(); err != nil {
			return usageError{err}
		}
		if err := cmd.ValidateFlagGroups(); err != nil {
			return usageError{err}
		}
		return nil
	}
}

// report prints err as the one `Error: ...` line book/cli.md asks for and
// returns the process exit code.
func report(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	msg := strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", " ")), " ")
	fmt.Fprintf(stderr, "Error: %s\n", msg)
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitFailure
}
