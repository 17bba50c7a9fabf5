package mcp

import (
	"context"
	"errors"
	"strings"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/hooks"
)

// Guard is an authorization check that a hook change re-runs under the
// config lock, against the very config it is about to change: what the
// caller saw in its snapshot may have changed since (the mailbox deleted
// and re-created by another owner, the hook deleted and its name taken).
// A non-nil error aborts the change and is what the caller gets.
type Guard func(c *domains.Config) error

// EditorHooks is the HookAdmin the daemon uses: the hooks package's
// Editor (config rewrite plus publish), with the guard run inside the same
// locked update and its errors turned into sentences for the agent. No
// error it returns carries a file path or another owner's mailbox or
// command.
type EditorHooks struct {
	Editor *hooks.Editor
}

var _ HookAdmin = EditorHooks{}

// guarded is an Editor whose every update runs guard first, under the
// lock the update holds.
func (a EditorHooks) guarded(guard Guard) *hooks.Editor {
	return &hooks.Editor{Config: guardedUpdater{next: a.Editor.Config, guard: guard}}
}

// guardedUpdater runs guard on the config loaded under the lock, before
// the change.
type guardedUpdater struct {
	next  domains.Updater
	guard Guard
}

// Update applies guard, then fn, to the locked config.
func (g guardedUpdater) Update(fn func(*domains.Config) error) (*domains.Config, error) {
	return g.next.Update(func(c *domains.Config) error {
		if g.guard != nil {
			if err := g.guard(c); err != nil {
				return err
			}
		}
		return fn(c)
	})
}

// CreateHook adds the hook through the Editor, guard first.
func (a EditorHooks) CreateHook(_ context.Context, mailbox string, h domains.Hook, guard Guard) (string, error) {
	ref, err := a.guarded(guard).Create(hooks.NewHook{Mailbox: mailbox, Event: h.Event, Cmd: h.Cmd, Name: h.Name,
		TimeoutSecs: h.TimeoutSecs, FireOnUntrusted: h.FireOnUntrusted})
	var te *toolError
	switch {
	case errors.As(err, &te):
		return "", te
	case errors.Is(err, hooks.ErrHookExists):
		// The guard sees every clash first; this is a clash it could not
		// see, which must answer like one with a hook the caller may not
		// see.
		return "", errHookNameUnavailable(h)
	case errors.Is(err, hooks.ErrInvalidHook):
		return "", hookRuleError(err, mailbox)
	case err != nil:
		return "", err
	}
	return ref.EffectiveName(), nil
}

// DeleteHook removes the hook through the Editor, guard first.
func (a EditorHooks) DeleteHook(_ context.Context, name string, guard Guard) error {
	_, err := a.guarded(guard).Delete(name)
	var te *toolError
	switch {
	case errors.As(err, &te):
		return te
	case errors.Is(err, hooks.ErrHookNotFound):
		return errHookNotFound(name)
	}
	return err
}

// hookRuleError words a validation failure of the new hook from the rules
// it broke: only the messages about this mailbox's hooks, never the
// error's text, which names the config file.
func hookRuleError(err error, mailbox string) error {
	prefix := `mailboxes."` + mailbox + `".hooks`
	var msgs []string
	for _, ce := range configErrors(err) {
		if strings.HasPrefix(ce.Key, prefix) {
			msgs = append(msgs, strings.TrimSuffix(ce.Msg, "."))
		}
	}
	if len(msgs) == 0 {
		return errorf("the hook was not created: it breaks a rule of hook definitions (see the tool's input schema).")
	}
	return errorf("the hook was not created: %s.", strings.Join(msgs, "; "))
}

// configErrors collects every *domains.ConfigError in err's tree.
func configErrors(err error) []*domains.ConfigError {
	var out []*domains.ConfigError
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		if ce, ok := e.(*domains.ConfigError); ok {
			out = append(out, ce)
			return
		}
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, x := range u.Unwrap() {
				walk(x)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	walk(err)
	return out
}
