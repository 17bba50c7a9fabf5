package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/domains/admin"
	"github.com/aimx-dev/aimx/hooks"
	"github.com/aimx-dev/aimx/mail/inbound"
	"github.com/aimx-dev/aimx/operations"
	"github.com/aimx-dev/aimx/storage"
)

// newHookScheduler builds the hook worker pool over the store, with its
// durable state in <data>/.spool/hooks (book/configuration.md, book/hooks.md). [hooks] workers is
// read at start; a reload changes hooks, owners and mailboxes at once.
//
// observe wraps the runner (the metrics count every run through it).
func newHookScheduler(a *app, cfg *domains.Config, registry *domains.Registry, store storage.MessageStore, paths domains.Paths,
	observe func(hooks.Executor) hooks.Executor, state hooks.StateStore) (*hooks.Scheduler, error) {
	runner := hooks.NewRunner(a.log)
	runner.Panics = a.panics
	s, err := hooks.NewScheduler(hooks.SchedulerConfig{
		Registry: registry,
		Store:    store,
		State:    state, // nil: files in StateDir
		StateDir: filepath.Join(paths.DataDir, ".spool", "hooks"),
		Runner:   observe(runner),
		Workers:  cfg.Hooks.Workers,
		Panics:   a.panics,
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

// hookRow is one hook as `aimx hooks list` prints it: the hook_list shape
// of book/mcp.md, shared with the MCP tool and admin.sock.
type hookRow = operations.HookInfo

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
			"it sent (after_send). See book/hooks.md. create and delete act as the current user over aimx.sock and\n" +
			"are live for the next message; with the daemon down, the operator's changes edit config.toml directly.",
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
	rows, err := a.directHooks(mailbox)
	if permissionDenied(err) {
		rows, err = a.socketHooks(mailbox, err)
	}
	if err != nil {
		return err
	}
	if a.json {
		return a.printJSON(map[string]any{"hooks": rows})
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tMAILBOX\tEVENT\tTIMEOUT\tUNTRUSTED\tCMD")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%ds\t%t\t%s\n", r.Name, r.Mailbox, r.Event, r.TimeoutSecs, r.FireOnUntrusted, shellQuote(r.Cmd))
	}
	return tw.Flush()
}

// directHooks reads the hooks from config.toml (book/admin.md: read-only
// commands read directly when they can).
func (a *app) directHooks(mailbox string) ([]hookRow, error) {
	cfg, _, err := a.loadConfig()
	if err != nil {
		return nil, err
	}
	if mailbox != "" {
		if mailbox, err = cfg.ResolveName(mailbox); err != nil {
			return nil, usageError{err}
		}
		if _, ok := cfg.Mailbox(mailbox); !ok {
			return nil, fmt.Errorf("no mailbox %s: `aimx mailboxes list` shows the configured ones", mailbox)
		}
	}
	return operations.HookRows(cfg, mailbox, nil), nil
}

// socketHooks asks the daemon (hook_list over aimx.sock) for the hooks of
// the mailboxes the current user may see.
func (a *app) socketHooks(mailbox string, cause error) ([]hookRow, error) {
	args := map[string]any{}
	if mailbox != "" {
		args["mailbox"] = mailbox
	}
	raw, _, err := a.callTool("hook_list", args)
	if errors.Is(err, errDaemonDown) {
		return nil, fmt.Errorf("%w, and the daemon is not running to ask instead", cause)
	}
	if err != nil {
		return nil, err
	}
	var res struct {
		Hooks []hookRow `json:"hooks"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		return nil, fmt.Errorf("hook_list result: %w", err)
	}
	if res.Hooks == nil {
		res.Hooks = []hookRow{}
	}
	return res.Hooks, nil
}

// hooksCreate creates a hook as the current user over aimx.sock
// (hook_create); with the daemon down the operator's change edits
// config.toml (book/admin.md).
func (a *app) hooksCreate(f hookCreateFlags, argv []string) error {
	req := admin.HookInfo{Mailbox: f.mailbox, Event: f.event, Cmd: argv, Name: f.name, TimeoutSecs: f.timeout, FireOnUntrusted: f.untrusted}
	var raw json.RawMessage
	var text string
	var res admin.HookInfo
	fellBack, err := a.asUser("create hooks",
		func() error {
			args := map[string]any{"mailbox": f.mailbox, "event": f.event, "cmd": argv, "timeout_secs": f.timeout,
				"fire_on_untrusted": f.untrusted}
			if f.name != "" {
				args["name"] = f.name
			}
			var err error
			raw, text, err = a.callTool("hook_create", args)
			return err
		},
		func(adm *admin.Admin) error {
			var err error
			res, err = adm.CreateHook(a.ctx, req)
			return err
		}, false)
	var e *admin.Error
	if errors.As(err, &e) && e.Code == admin.CodeValidation {
		return usageError{err}
	}
	if err != nil {
		return err
	}
	if !fellBack {
		return a.printToolResult(raw, text)
	}
	fmt.Fprintln(a.stderr, restartHint)
	if a.json {
		return a.printJSON(res)
	}
	_, err = fmt.Fprintf(a.stdout, "created hook %s on %s\n", res.Name, res.Mailbox)
	return err
}

// hooksDelete deletes a hook as the current user over aimx.sock
// (hook_delete); with the daemon down the operator's change edits
// config.toml (book/admin.md).
func (a *app) hooksDelete(name string) error {
	var raw json.RawMessage
	var text string
	var res admin.HookInfo
	fellBack, err := a.asUser("delete hooks",
		func() error {
			var err error
			raw, text, err = a.callTool("hook_delete", map[string]any{"name": name})
			return err
		},
		func(adm *admin.Admin) error {
			var err error
			res, err = adm.DeleteHook(a.ctx, name)
			return err
		}, false)
	if err != nil {
		return err
	}
	if !fellBack {
		return a.printToolResult(raw, text)
	}
	fmt.Fprintln(a.stderr, restartHint)
	if a.json {
		return a.printJSON(res)
	}
	_, err = fmt.Fprintf(a.stdout, "deleted hook %s of %s\n", res.Name, res.Mailbox)
	return err
}

// shellQuote renders an argv so that it can be pasted back after
// `aimx hooks create ... --`: arguments holding anything but safe
// characters are single-quoted, and a single quote inside becomes '\”.
func shellQuote(argv []string) string {
	out := make([]string, len(argv))
	for i, a := range argv {
		safe := a != ""
		for _, r := range a {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@%+=:,./_-", r)) {
				safe = false
				break
			}
		}
		if safe {
			out[i] = a
		} else {
			out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(out, " ")
}
