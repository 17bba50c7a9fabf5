package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"
	"golang.org/x/term"

	"github.com/aimx-dev/aimx/internal/panics"
)

// app is what every command needs from the process: its streams, its
// environment, the global flags and a logger. It replaces package state.
type app struct {
	ctx    context.Context
	env    map[string]string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	log    zerolog.Logger
	// panics counts every panic the daemon's components recover (serve
	// sets it; /v1/status reports it). Nil elsewhere: panics are then
	// logged only.
	panics *panics.Counter

	// v layers the global path flags over the AIMX_* environment (book/configuration.md);
	// it never reads or writes config.toml.
	v    *viper.Viper
	json bool
}

// Path settings viper layers: the key, its flag and its environment variable.
var pathSettings = []struct{ key, flag, envVar, usage string }{
	{"config_dir", "config-dir", "AIMX_CONFIG_DIR", "directory holding config.toml (default /etc/aimx)"},
	{"data_dir", "data-dir", "AIMX_DATA_DIR", "mail storage directory (default: data_dir in config.toml, else /var/lib/aimx)"},
	{"runtime_dir", "runtime-dir", "AIMX_RUNTIME_DIR", "sockets and pid file directory (default: runtime_dir in config.toml, else /run/aimx)"},
}

// run is the whole program: it parses args, runs one command and returns
// its error. Tests call it with their own streams and environment.
func run(ctx context.Context, args, env []string, stdin io.Reader, stdout, stderr io.Writer) error {
	a := &app{ctx: ctx, env: envMap(env), stdin: stdin, stdout: stdout, stderr: stderr, v: viper.New()}
	a.log = newLogger(stderr, a.env)
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	markUsageErrors(root)
	if err := unknownWithHelp(root, args); err != nil {
		return err
	}
	return root.ExecuteContext(ctx)
}

// unknownWithHelp catches `aimx bogus --help` (and `aimx domains bogus
// -h`): cobra answers those with the parent's help and exit 0, where the
// same line without --help fails. They fail the same way here.
func unknownWithHelp(root *cobra.Command, args []string) error {
	if len(args) > 0 && args[0] == "help" {
		args = append(slices.Clone(args[1:]), "--help") // `aimx help X` is `aimx X --help`
	}
	if !slices.Contains(args, "--help") && !slices.Contains(args, "-h") {
		return nil
	}
	cmd, rest, err := root.Find(args)
	if err != nil || !cmd.HasSubCommands() {
		return nil
	}
	rest = slices.DeleteFunc(slices.Clone(rest), func(a string) bool { return a == "--help" || a == "-h" })
	if err := cmd.ParseFlags(rest); err != nil {
		return usageError{err}
	}
	if pos := cmd.Flags().Args(); len(pos) > 0 {
		return usageError{fmt.Errorf("unknown command %q for %q", pos[0], cmd.CommandPath())}
	}
	return nil
}

func envMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "aimx",
		Short: "aimx: a self-hosted, MCP-first mail server for AI agents",
		Long: "aimx gives each AI agent its own real email address on your own domains.\n" +
			"One daemon (aimx serve) receives, verifies, stores and sends mail; agents reach it over MCP.",
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
	}
	pf := root.PersistentFlags()
	for _, s := range pathSettings {
		pf.String(s.flag, "", s.usage)
		// Flag beats environment (book/configuration.md). The environment comes from run's
		// env argument, not the process, so it is layered as viper's default.
		_ = a.v.BindPFlag(s.key, pf.Lookup(s.flag)) // the flag was just defined: cannot fail
		if val := a.env[s.envVar]; val != "" {
			a.v.SetDefault(s.key, val)
		}
	}
	pf.BoolVar(&a.json, "json", false, "print list and show results as JSON")
	root.AddCommand(
		a.versionCommand(),
		a.dkimKeygenCommand(),
		a.mailboxesCommand(),
		a.serveCommand(),
		a.hooksCommand(),
		a.tokensCommand(),
		a.reloadCommand(),
		a.mcpCommand(),
		a.sendCommand(),
		a.domainsCommand(),
		a.setupCommand(),
		a.draftsCommand(),
		a.doctorCommand(),
		a.logsCommand(),
		a.uninstallCommand(),
		a.agentsCommand(),
		a.storageCommand(),
	)
	return root
}

// printJSON writes v as indented JSON to stdout.
func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write JSON: %w", err)
	}
	return nil
}

// exactArgs is cobra.ExactArgs; markUsageErrors makes its error a usage
// error, so the exit code is 2.
func exactArgs(n int) cobra.PositionalArgs { return cobra.ExactArgs(n) }

// newLogger logs to stderr: human-readable on a terminal, JSON otherwise.
func newLogger(w io.Writer, env map[string]string) zerolog.Logger {
	level := zerolog.InfoLevel
	if l, err := zerolog.ParseLevel(env["AIMX_LOG_LEVEL"]); err == nil && env["AIMX_LOG_LEVEL"] != "" {
		level = l
	}
	out := w
	if isTerminal(w) {
		out = zerolog.ConsoleWriter{Out: w, TimeFormat: "15:04:05"}
	}
	return zerolog.New(out).Level(level).With().Timestamp().Logger()
}

// isTerminal reports whether w is a terminal (x/term asks the tty driver,
// so /dev/null, a character device too, is not one).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
