package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/aimx-dev/aimx/daemon"
	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/hooks"
	"github.com/aimx-dev/aimx/mail/inbound"
	"github.com/aimx-dev/aimx/storage"
)

// newHookScheduler builds the hook worker pool over the store, with its
// durable state in <data>/.spool/hooks (SPEC §2, §7). [hooks] workers is
// read at start; a reload changes hooks, owners and mailboxes at once.
func newHookScheduler(a *app, cfg *domains.Config, registry *domains.Registry, store storage.MessageStore, paths domains.Paths) (*hooks.Scheduler, error) {
	s, err := hooks.NewScheduler(hooks.SchedulerConfig{
		Registry: registry,
		Store:    store,
		StateDir: filepath.Join(paths.DataDir, ".spool", "hooks"),
		Runner:   hooks.NewRunner(a.log),
		Workers:  cfg.Hooks.Workers,
		Log:      a.log,
	})
	if err != nil {
		return nil, fmt.Errorf("hooks: %w", err)
	}
	return s, nil
}

// hookEnqueue is the inbound OnStored seam: it hands each newly stored
// message to the scheduler without blocking the SMTP transaction.
func hookEnqueue(s *hooks.Scheduler) func(inbound.StoredMessage) {
	return func(m inbound.StoredMessage) {
		if len(m.HooksDue) == 0 {
			return
		}
		s.Enqueue(hooks.Received{Mailbox: m.Mailbox.Name, Ref: m.Ref, ID: m.ID, ReceivedAt: m.ReceivedAt, HooksDue: m.HooksDue})
	}
}

// hookRow is one hook as `aimx hooks list` prints it (the hook_list shape
// of SPEC §10).
type hookRow struct {
	Name            string   `json:"name"`
	Mailbox         string   `json:"mailbox"`
	Event           string   `json:"event"`
	Cmd             []string `json:"cmd"`
	TimeoutSecs     int      `json:"timeout_secs"`
	FireOnUntrusted bool     `json:"fire_on_untrusted"`
}

type hookCreateFlags struct {
	mailbox, event, name string
	timeout              int
	untrusted            bool
}

func (a *app) hooksCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "hooks",
		Aliases: []string{"hook"},
		Short:   "List, create and delete mailbox hooks",
		Long: "Hooks run a command when mail arrives in a mailbox (on_receive) or after each delivery round of mail\n" +
			"it sent (after_send). See book/hooks.md. create and delete edit config.toml and tell the running\n" +
			"daemon to reload (SIGHUP), so the change is live for the next message.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	var listMailbox string
	list := &cobra.Command{
		Use:   "list",
		Short: "List hooks, optionally of one mailbox",
		Args:  exactArgs(0),
		RunE:  func(*cobra.Command, []string) error { return a.hooksList(listMailbox) },
	}
	list.Flags().StringVar(&listMailbox, "mailbox", "", "only this mailbox's hooks")
	var cf hookCreateFlags
	create := &cobra.Command{
		Use:   "create --mailbox M --event E [--name N] [--timeout-secs S] [--fire-on-untrusted] -- /abs/cmd args...",
		Short: "Create a hook; the command after -- is run directly (no shell), cmd[0] absolute",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{errors.New("give the hook's command after --, e.g. -- /usr/bin/curl -sS --data-binary @- https://example.com/hook")}
			}
			return nil
		},
		RunE: func(_ *cobra.Command, args []string) error { return a.hooksCreate(cf, args) },
	}
	fl := create.Flags()
	fl.StringVar(&cf.mailbox, "mailbox", "", "mailbox the hook belongs to (FQDN or local part of the default domain)")
	fl.StringVar(&cf.event, "event", "", "on_receive or after_send")
	fl.StringVar(&cf.name, "name", "", "hook name (default: derived from event, cmd and fire_on_untrusted)")
	fl.IntVar(&cf.timeout, "timeout-secs", domains.DefaultHookTimeoutSecs, "run time limit in seconds, 1-600")
	fl.BoolVar(&cf.untrusted, "fire-on-untrusted", false, "on_receive: also fire for mail that is not trusted")
	_ = create.MarkFlagRequired("mailbox") // the flags were just defined: cannot fail
	_ = create.MarkFlagRequired("event")
	del := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a hook by name",
		Args:  exactArgs(1),
		RunE:  func(_ *cobra.Command, args []string) error { return a.hooksDelete(args[0]) },
	}
	cmd.AddCommand(list, create, del)
	return cmd
}

func (a *app) hooksList(mailbox string) error {
	cfg, _, err := a.loadConfig()
	if err != nil {
		return err
	}
	if mailbox != "" {
		if mailbox, err = cfg.ResolveName(mailbox); err != nil {
			return usageError{err}
		}
		if _, ok := cfg.Mailbox(mailbox); !ok {
			return fmt.Errorf("no mailbox %s: `aimx mailboxes list` shows the configured ones", mailbox)
		}
	}
	rows := []hookRow{}
	for _, h := range cfg.AllHooks() {
		if mailbox != "" && h.Mailbox != mailbox {
			continue
		}
		rows = append(rows, hookRow{Name: h.EffectiveName(), Mailbox: h.Mailbox, Event: string(h.Event), Cmd: h.Cmd,
			TimeoutSecs: h.TimeoutSecs, FireOnUntrusted: h.FireOnUntrusted})
	}
	if a.json {
		return a.printJSON(map[string]any{"hooks": rows})
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tMAILBOX\tEVENT\tTIMEOUT\tUNTRUSTED\tCMD")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%ds\t%t\t%s\n", r.Name, r.Mailbox, r.Event, r.TimeoutSecs, r.FireOnUntrusted, strings.Join(r.Cmd, " "))
	}
	return tw.Flush()
}

// hookEditor checks that the caller is the operator (SPEC §1: euid 0 or the
// owner of config.toml) and returns an editor of the config file. Until the
// admin socket exists, hook changes are file edits plus a SIGHUP.
func (a *app) hookEditor() (*hooks.Editor, domains.Paths, error) {
	paths := domains.ResolvePaths(a.flagPaths(), domains.Paths{}, nil)
	file := paths.ConfigFile()
	fi, err := os.Stat(file)
	if err != nil {
		return nil, paths, fmt.Errorf("no config at %s: set --config-dir or AIMX_CONFIG_DIR to the directory holding config.toml", file)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && os.Geteuid() != 0 && int(st.Uid) != os.Geteuid() {
		return nil, paths, fmt.Errorf("only the operator (root or the owner of %s) can change hooks", file)
	}
	cfg, err := domains.Load(file, domains.LoadOptions{})
	if err != nil {
		return nil, paths, err
	}
	return &hooks.Editor{Config: &domains.Store{Path: file}}, domains.ResolvePaths(a.flagPaths(), domains.Paths{}, cfg), nil
}

func (a *app) hooksCreate(f hookCreateFlags, argv []string) error {
	ed, paths, err := a.hookEditor()
	if err != nil {
		return err
	}
	ref, err := ed.Create(hooks.NewHook{Mailbox: f.mailbox, Event: domains.Event(f.event), Cmd: argv, Name: f.name,
		TimeoutSecs: f.timeout, FireOnUntrusted: f.untrusted})
	if err != nil {
		if errors.Is(err, hooks.ErrInvalidHook) {
			return usageError{err}
		}
		return err
	}
	fmt.Fprintf(a.stdout, "created hook %s on %s\n", ref.EffectiveName(), ref.Mailbox)
	a.signalReload(paths)
	return nil
}

func (a *app) hooksDelete(name string) error {
	ed, paths, err := a.hookEditor()
	if err != nil {
		return err
	}
	ref, err := ed.Delete(name)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "deleted hook %s of %s\n", ref.EffectiveName(), ref.Mailbox)
	a.signalReload(paths)
	return nil
}

// signalReload tells a running daemon to reload config.toml (SIGHUP to the
// pid in aimx.pid) so the change is live at once, or says that none runs.
func (a *app) signalReload(paths domains.Paths) {
	pid, err := daemon.ReadPID(paths.RuntimeDir)
	if err != nil {
		fmt.Fprintf(a.stdout, "the daemon is not running (%v); the change applies when it starts\n", err)
		return
	}
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		fmt.Fprintf(a.stderr, "could not signal the daemon (pid %d): %v; run `kill -HUP %d` or restart it\n", pid, err, pid)
		return
	}
	fmt.Fprintf(a.stdout, "the running daemon (pid %d) reloads its config\n", pid)
}
