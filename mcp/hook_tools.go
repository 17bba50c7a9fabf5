package mcp

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/operations"
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
	h := domains.Hook{Name: args.Name, Event: domains.Event(args.Event), Cmd: args.Cmd, TimeoutSecs: domains.DefaultHookTimeoutSecs, FireOnUntrusted: args.FireOnUntrusted}
	if args.TimeoutSecs != nil {
		h.TimeoutSecs = *args.TimeoutSecs
	}
	if err := hookRuleRefusal(h); err != nil {
		return nil, "", err
	}
	ref, err := s.deps.Hooks.Create(ctx, operations.NewHook{Mailbox: m.Name, Hook: h, Sees: c.caller.seesMailbox})
	if err != nil {
		return nil, "", hookCreateRefusal(err, m.Name, h)
	}
	name := ref.EffectiveName()
	return HookCreateResult{Name: name}, fmt.Sprintf("created %s hook %s on %s", h.Event, name, m.Name), nil
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
	for _, h := range res.Hooks {
		// An argument may hold a newline; the text keeps one hook a line.
		fmt.Fprintf(&b, "%s  %s  %s  %s\n", h.Name, h.Mailbox, h.Event, cleanHeader(strings.Join(h.Cmd, " ")))
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
