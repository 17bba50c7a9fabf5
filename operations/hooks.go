package operations

import (
	"context"
	"fmt"

	"github.com/aimx-dev/aimx/domains"
)

// Hooks creates and deletes hooks as config (book/hooks.md, book/admin.md):
// each change is a locked, durable rewrite of config.toml. In the daemon
// Config is the domains.Changer, which also publishes the result so the
// next message sees it; the CLI with no daemon passes the domains.Store
// and signals the daemon itself.
type Hooks struct {
	Config domains.Updater
}

// NewHook is a hook to create.
type NewHook struct {
	// Mailbox is the mailbox name (FQDN, or a bare local part of the
	// default domain); catchalls cannot have hooks.
	Mailbox string
	// Hook is the definition; a zero TimeoutSecs is
	// domains.DefaultHookTimeoutSecs, an empty Name a derived one.
	Hook domains.Hook
	// Sees is re-checked under the config lock, against the config about
	// to change: the mailbox must be one the caller sees, and a clash
	// with a hook it may not see is reported Hidden.
	Sees Sees
}

// Create adds a hook and returns it with its mailbox's canonical name; its
// EffectiveName is the name to report.
func (e *Hooks) Create(_ context.Context, req NewHook) (domains.HookRef, error) {
	hook := req.Hook
	if hook.TimeoutSecs == 0 {
		hook.TimeoutSecs = domains.DefaultHookTimeoutSecs
	}
	var ref domains.HookRef
	_, err := e.Config.Update(func(c *domains.Config) error {
		name, err := c.ResolveName(req.Mailbox)
		if err != nil {
			return fmt.Errorf("%w: mailbox %q: %v", ErrInvalidHook, req.Mailbox, err)
		}
		mb, ok := c.Mailboxes[name]
		if !ok || !req.Sees.sees(mb) {
			return fmt.Errorf("%w: %s", ErrNoSuchMailbox, name)
		}
		if domains.IsCatchall(name) {
			return fmt.Errorf("%w: %s is a catchall, and catchalls cannot have hooks", ErrInvalidHook, name)
		}
		if other, ok := c.FindHook(hook.EffectiveName()); ok {
			return &HookTakenError{Name: hook.EffectiveName(), Mailbox: other.Mailbox, Hidden: !req.Sees.sees(c.Mailboxes[other.Mailbox])}
		}
		mb.Hooks = append(mb.Hooks, hook)
		c.Mailboxes[name] = mb
		ref = domains.HookRef{Mailbox: name, Hook: hook}
		// book/hooks.md rules (absolute cmd[0], timeout range, events, name
		// grammar) are checked by Update's validation; name them here.
		if err := c.Validate(); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidHook, err)
		}
		return nil
	})
	if err != nil {
		return domains.HookRef{}, fmt.Errorf("create hook: %w", err)
	}
	return ref, nil
}

// Delete removes the hook with that effective name, if it is on a
// mailbox sees admits (re-checked under the config lock), and returns it.
// Jobs of the hook not yet run are skipped when their turn comes.
func (e *Hooks) Delete(_ context.Context, name string, sees Sees) (domains.HookRef, error) {
	var ref domains.HookRef
	_, err := e.Config.Update(func(c *domains.Config) error {
		found, ok := c.FindHook(name)
		if !ok || !sees.sees(c.Mailboxes[found.Mailbox]) {
			return fmt.Errorf("%w: %q", ErrHookNotFound, name)
		}
		ref = found
		mb := c.Mailboxes[found.Mailbox]
		kept := mb.Hooks[:0:0]
		for _, h := range mb.Hooks {
			if h.EffectiveName() != name {
				kept = append(kept, h)
			}
		}
		mb.Hooks = kept
		c.Mailboxes[found.Mailbox] = mb
		return nil
	})
	if err != nil {
		return domains.HookRef{}, fmt.Errorf("delete hook: %w", err)
	}
	return ref, nil
}
