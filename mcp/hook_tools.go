package mcp

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/operations"
)

// HookRuns answers how the hook with this effective name last ran, nil
// when it has not run since the daemon started. The daemon adapts its
// hook scheduler (hooks.Scheduler.LastRun) to it: the doors do not import
// package hooks.
type HookRuns func(hook string) *operations.HookLastRun

// hookCreateTool is hook_create's manifest entry. It is destructive: it
// installs command execution on incoming mail (book/mcp.md).
func (s *Server) hookCreateTool() *toolDef {
	return &toolDef{
		name:  "hook_create",
		title: "Create a hook",
		description: "Make a command run automatically on a mailbox event: on_receive runs once for each email stored in the mailbox (by default only trusted ones), after_send once per delivery round of an email it sent. " +
			"The command runs as the mailbox owner, without a shell, with the email's .md file on stdin and AIMX_* variables describing it; cmd[0] must be an executable file on this host. " +
			"An on_receive hook skips untrusted mail (on a mailbox with trust none, that is all mail) unless fire_on_untrusted, and automatic mail (auto-replies, bounces, loops) unless fire_on_auto_submitted; the result's warnings say when that applies. " +
			"Only create hooks the user asked for: a hook runs commands on this host. Not available for catchalls or to tokens without hook rights.",
		destructive: true,
		needs:       needHookRights,
		in: object("",
			req("mailbox", mailboxParam()),
			req("event", enum("When it runs: on_receive (each stored email) or after_send (each delivery round of a sent email).", eventNames()...)),
			req("cmd", array("The command as an argument list; the first element is the absolute path of an executable file (/usr/local/bin/triage). No shell is involved.", str("")).with("minItems", 1)),
			opt("name", str("A name, unique on the server: letters, digits, '_', '.', '-', up to 128 characters. Left out, a name is derived from the event and command.")),
			opt("timeout_secs", integer("Seconds the command may run before it is stopped, 1 to 600.").with("minimum", 1, "maximum", domains.MaxHookTimeoutSecs, "default", domains.DefaultHookTimeoutSecs)),
			opt("fire_on_untrusted", boolean("on_receive only: also run for emails that are not trusted. Their content is attacker-controlled; leave false unless the command treats it as data.").with("default", false)),
			opt("fire_on_auto_submitted", boolean("on_receive only: also run for automatic mail (Auto-Submitted, bounces, mail that looped through this server), which loop protection holds back by default. Leave false for a hook that replies.").with("default", false)),
		),
		out:     resultSchema[HookCreateResult](""),
		example: map[string]any{"mailbox": "support", "event": "on_receive", "cmd": []string{"/usr/local/bin/triage", "--queue", "support"}},
		handle:  s.hookCreate,
	}
}

// hookListTool is hook_list's manifest entry.
func (s *Server) hookListTool() *toolDef {
	return &toolDef{
		name:        "hook_list",
		title:       "List hooks",
		description: "List the hooks of the mailboxes you can use, or of one mailbox, with their event, command, settings and last run since the daemon started (time, exit code, duration). It changes nothing.",
		readOnly:    true, idempotent: true,
		needs:   needHookRights,
		in:      object("", opt("mailbox", str("Only this mailbox's hooks: a full address or a bare local part. Left out, the hooks of every mailbox you can use."))),
		out:     withEnum(resultSchema[HookListResult](""), eventNames(), "hooks[]", "event"),
		example: map[string]any{"mailbox": "support"},
		handle:  s.hookList,
	}
}

// hookDeleteTool is hook_delete's manifest entry.
func (s *Server) hookDeleteTool() *toolDef {
	return &toolDef{
		name:        "hook_delete",
		title:       "Delete a hook",
		description: "Delete a hook by name so its command no longer runs. Runs already under way finish. Use hook_list to find the name.",
		destructive: true, idempotent: true,
		needs:   needHookRights,
		in:      object("", req("name", str("The hook's name, as hook_list shows it."))),
		out:     resultSchema[HookDeleteResult](""),
		example: map[string]any{"name": "triage"},
		handle:  s.hookDelete,
	}
}

// errNoHookRights refuses the hook tools to a caller without hook rights.
func errNoHookRights() error {
	return errorf("this connection may not manage hooks (a hook runs commands on the host); ask the operator for a token created with --allow-hooks.")
}

// errHookNotFound is the one answer for a missing hook and for one on a
// mailbox the caller may not see.
func errHookNotFound(name string) error {
	return errorf("hook %q not found. Call hook_list to see the hooks you can use.", name)
}

// hookCreate answers hook_create (book/hooks.md, book/mcp.md).
func (s *Server) hookCreate(ctx context.Context, c *call) (any, string, error) {
	if !c.caller.AllowHooks {
		return nil, "", errNoHookRights()
	}
	var args struct {
		Mailbox         string   `json:"mailbox"`
		Event           string   `json:"event"`
		Cmd             []string `json:"cmd"`
		Name            string   `json:"name"`
		TimeoutSecs     *int     `json:"timeout_secs"`
		FireOnUntrusted bool     `json:"fire_on_untrusted"`
		FireOnAuto      bool     `json:"fire_on_auto_submitted"`
	}
	if err := c.bind(&args); err != nil {
		return nil, "", err
	}
	m, err := visibleMailbox(c.cfg, c.caller, args.Mailbox)
	if err != nil {
		return nil, "", err
	}
	if domains.IsCatchall(m.Name) {
		return nil, "", errorf("%s is a catchall; catchalls have no hooks. Create a mailbox for the address and hook that.", m.Name)
	}
	if s.deps.Hooks == nil {
		return nil, "", errorf("hooks cannot be changed on this server.")
	}
	h := domains.Hook{Name: args.Name, Event: domains.Event(args.Event), Cmd: args.Cmd, TimeoutSecs: domains.DefaultHookTimeoutSecs,
		FireOnUntrusted: args.FireOnUntrusted, FireOnAutoSubmitted: args.FireOnAuto}
	if args.TimeoutSecs != nil {
		h.TimeoutSecs = *args.TimeoutSecs
	}
	if err := hookRuleRefusal(h); err != nil {
		return nil, "", err
	}
	if err := checkHookCmd(h.Cmd[0]); err != nil {
		return nil, "", err
	}
	ref, err := s.deps.Hooks.Create(ctx, operations.NewHook{Mailbox: m.Name, Hook: h, Sees: c.caller.seesMailbox})
	if err != nil {
		return nil, "", hookCreateRefusal(err, m.Name, h)
	}
	name := ref.EffectiveName()
	res := HookCreateResult{Name: name, Warnings: hookWarnings(c.cfg, m.Name, h)}
	text := fmt.Sprintf("created %s hook %s on %s", h.Event, name, m.Name)
	for _, w := range res.Warnings {
		text += "\nwarning: " + w
	}
	return res, text, nil
}

// errHookNameUnavailable is the one refusal of a name that breaks the
// grammar or is taken by a hook the caller may not see: it names no
// mailbox, command or file, so a taken name reads like any invalid one.
func errHookNameUnavailable(h domains.Hook) error {
	if h.Name == "" {
		return errorf("the hook was not created: the name %q derived from its event and command cannot be used. Pass a name of your own: letters, digits, '_', '.', '-', up to 128 characters, unique on the server.", h.EffectiveName())
	}
	return errorf("the hook was not created: the name %q cannot be used. Hook names are letters, digits, '_', '.', '-' (up to 128 characters, not starting with '.' or '-') and unique on the server; choose another name.", h.Name)
}

// hookList answers hook_list: the hooks of visible mailboxes, from the
// live config.
func (s *Server) hookList(_ context.Context, c *call) (any, string, error) {
	if !c.caller.AllowHooks {
		return nil, "", errNoHookRights()
	}
	var args struct {
		Mailbox string `json:"mailbox"`
	}
	if err := c.bind(&args); err != nil {
		return nil, "", err
	}
	only := ""
	if args.Mailbox != "" {
		m, err := visibleMailbox(c.cfg, c.caller, args.Mailbox)
		if err != nil {
			return nil, "", err
		}
		only = m.Name
	}
	res := HookListResult{Hooks: operations.HookRows(c.cfg, only, c.caller.seesMailbox)}
	var b strings.Builder
	for i, h := range res.Hooks {
		res.Hooks[i].LastRun = s.lastRun(h.Name)
		// An argument may hold a newline; the text keeps one hook a line.
		fmt.Fprintf(&b, "%s  %s  %s  %s  %s\n", h.Name, h.Mailbox, h.Event, cleanHeader(strings.Join(h.Cmd, " ")), lastRunText(res.Hooks[i].LastRun))
	}
	return res, fmt.Sprintf("%d hooks\n%s", len(res.Hooks), b.String()), nil
}

// lastRun is the hook's last run as hook_list shows it; nil when it has
// not run since the daemon started, or nothing here runs hooks.
func (s *Server) lastRun(hook string) *operations.HookLastRun {
	if s.deps.HookRuns == nil {
		return nil
	}
	return s.deps.HookRuns(hook)
}

// lastRunText renders a last run for hook_list's text.
func lastRunText(lr *operations.HookLastRun) string {
	switch {
	case lr == nil:
		return "not run since the daemon started"
	case !lr.Started:
		return "last run " + lr.At + ": did not start (see the aimx log)"
	case lr.TimedOut:
		return fmt.Sprintf("last run %s: timed out after %dms (exit %d)", lr.At, lr.DurationMS, lr.ExitCode)
	}
	return fmt.Sprintf("last run %s: exit %d in %dms", lr.At, lr.ExitCode, lr.DurationMS)
}

// hookDelete answers hook_delete.
func (s *Server) hookDelete(ctx context.Context, c *call) (any, string, error) {
	if !c.caller.AllowHooks {
		return nil, "", errNoHookRights()
	}
	var args struct {
		Name string `json:"name"`
	}
	if err := c.bind(&args); err != nil {
		return nil, "", err
	}
	if s.deps.Hooks == nil {
		return nil, "", errorf("hooks cannot be changed on this server.")
	}
	if _, err := s.deps.Hooks.Delete(ctx, args.Name, c.caller.seesMailbox); err != nil {
		if errors.Is(err, operations.ErrHookNotFound) {
			return nil, "", errHookNotFound(args.Name)
		}
		return nil, "", err
	}
	return HookDeleteResult{Name: args.Name}, "deleted hook " + args.Name, nil
}
