package mcp

import (
	"context"
	"errors"
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

// hookCreate answers hook_create (SPEC §7, §10).
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
	name, err := s.deps.Hooks.CreateHook(ctx, m.Name, h)
	var cerr *domains.ConfigError
	if errors.As(err, &cerr) {
		return nil, "", errorf("the hook was not created: %s.", strings.TrimSuffix(cerr.Msg, "."))
	}
	if err != nil {
		return nil, "", err
	}
	return HookNameResult{Name: name}, fmt.Sprintf("created %s hook %s on %s", ev, name, m.Name), nil
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
		fmt.Fprintf(&b, "%s  %s  %s  %s\n", h.EffectiveName(), h.Mailbox, h.Event, strings.Join(h.Cmd, " "))
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
	h, ok := c.cfg.FindHook(args.Name)
	if !ok {
		return nil, "", errHookNotFound(args.Name)
	}
	m := c.cfg.Mailboxes[h.Mailbox]
	if !c.caller.sees(m.Name, m.Owner) {
		return nil, "", errHookNotFound(args.Name)
	}
	if s.deps.Hooks == nil {
		return nil, "", errorf("hooks cannot be changed on this server.")
	}
	if err := s.deps.Hooks.DeleteHook(ctx, args.Name); err != nil {
		return nil, "", err
	}
	return HookNameResult{Name: args.Name}, "deleted hook " + args.Name, nil
}
