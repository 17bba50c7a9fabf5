package mcp

import (
	"context"
	"fmt"
	"strings"

	"github.com/aimx-dev/aimx/domains"
)

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
	ev := domains.Event(args.Event)
	if ev != domains.EventOnReceive && ev != domains.EventAfterSend {
		return nil, "", errorf("event must be on_receive or after_send, not %q.", args.Event)
	}
	if len(args.Cmd) == 0 || !strings.HasPrefix(args.Cmd[0], "/") {
		return nil, "", errorf("cmd must be an argument list whose first element is an absolute path, such as [\"/usr/local/bin/triage\", \"--fast\"].")
	}
	if args.FireOnUntrusted && ev != domains.EventOnReceive {
		return nil, "", errorf("fire_on_untrusted applies to on_receive hooks only.")
	}
	h := domains.Hook{Name: args.Name, Event: ev, Cmd: args.Cmd, TimeoutSecs: domains.DefaultHookTimeoutSecs, FireOnUntrusted: args.FireOnUntrusted}
	if args.TimeoutSecs != nil {
		h.TimeoutSecs = *args.TimeoutSecs
	}
	if h.TimeoutSecs < 1 || h.TimeoutSecs > domains.MaxHookTimeoutSecs {
		return nil, "", errorf("timeout_secs must be between 1 and %d.", domains.MaxHookTimeoutSecs)
	}
	if h.Name != "" && domains.ValidHookName(h.Name) != nil {
		return nil, "", errHookNameUnavailable(h)
	}
	guard := createGuard(c.caller, m.Name, h)
	if err := guard(c.cfg); err != nil {
		return nil, "", err
	}
	name, err := s.deps.Hooks.CreateHook(ctx, m.Name, h, guard)
	if err != nil {
		return nil, "", err
	}
	return HookNameResult{Name: name}, fmt.Sprintf("created %s hook %s on %s", ev, name, m.Name), nil
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

// createGuard is hook_create's authorization, run on the snapshot and
// again under the config lock (Guard): the mailbox is still one the caller
// sees, and the name clashes with no hook. A clash with one of the
// caller's own hooks says so; any other is errHookNameUnavailable.
func createGuard(who Caller, mailbox string, h domains.Hook) Guard {
	return func(cfg *domains.Config) error {
		m, ok := cfg.Mailboxes[mailbox]
		if !ok || !who.sees(m.Name, m.Owner) {
			return errMailboxNotFound(mailbox)
		}
		other, ok := cfg.FindHook(h.EffectiveName())
		if !ok {
			return nil
		}
		if om := cfg.Mailboxes[other.Mailbox]; who.sees(om.Name, om.Owner) {
			return errorf("the hook was not created: %s already has a hook named %q (names are unique on the server); choose another name, or delete that hook first.", other.Mailbox, other.EffectiveName())
		}
		return errHookNameUnavailable(h)
	}
}

// deleteGuard is hook_delete's authorization, run on the snapshot and
// again under the lock the delete holds: the hook exists on a mailbox the
// caller sees. Anything else answers like a missing hook.
func deleteGuard(who Caller, name string) Guard {
	return func(cfg *domains.Config) error {
		h, ok := cfg.FindHook(name)
		if !ok {
			return errHookNotFound(name)
		}
		if m := cfg.Mailboxes[h.Mailbox]; !who.sees(m.Name, m.Owner) {
			return errHookNotFound(name)
		}
		return nil
	}
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
	res := HookListResult{Hooks: []HookInfo{}}
	var b strings.Builder
	for _, h := range c.cfg.AllHooks() {
		m := c.cfg.Mailboxes[h.Mailbox]
		if (only != "" && h.Mailbox != only) || !c.caller.sees(m.Name, m.Owner) {
			continue
		}
		res.Hooks = append(res.Hooks, HookInfo{Name: h.EffectiveName(), Mailbox: h.Mailbox, Event: string(h.Event),
			Cmd: nonNil(h.Cmd), TimeoutSecs: h.TimeoutSecs, FireOnUntrusted: h.FireOnUntrusted})
		// An argument may hold a newline; the text keeps one hook a line.
		fmt.Fprintf(&b, "%s  %s  %s  %s\n", h.EffectiveName(), h.Mailbox, h.Event, cleanHeader(strings.Join(h.Cmd, " ")))
	}
	return res, fmt.Sprintf("%d hooks\n%s", len(res.Hooks), b.String()), nil
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
	guard := deleteGuard(c.caller, args.Name)
	if err := guard(c.cfg); err != nil {
		return nil, "", err
	}
	if s.deps.Hooks == nil {
		return nil, "", errorf("hooks cannot be changed on this server.")
	}
	if err := s.deps.Hooks.DeleteHook(ctx, args.Name, guard); err != nil {
		return nil, "", err
	}
	return HookNameResult{Name: args.Name}, "deleted hook " + args.Name, nil
}
