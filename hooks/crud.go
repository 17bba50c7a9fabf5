package hooks

import (
	"errors"
	"fmt"

	"github.com/aimx-dev/aimx/domains"
)

// Errors of the hook CRUD operations, for callers that map them to an API
// code (validation, not_found, conflict).
var (
	// ErrInvalidHook: the hook breaks a book/hooks.md rule.
	ErrInvalidHook = errors.New("invalid hook")
	// ErrHookNotFound: no hook has that name.
	ErrHookNotFound = errors.New("no such hook")
	// ErrMailboxNotFound: the mailbox is not configured.
	ErrMailboxNotFound = errors.New("no such mailbox")
	// ErrHookExists: another hook already has that (effective) name.
	ErrHookExists = errors.New("hook name already used")
)

// Editor creates and deletes hooks as config (book/hooks.md, book/admin.md): each change is
// a locked, durable rewrite of config.toml. In the daemon Config is the
// domains.Changer, which also publishes the result so the next message sees
// it; the CLI with no daemon passes the domains.Store and signals the
// daemon itself.
type Editor struct {
	Config domains.Updater
}

// NewHook is a hook to create.
type NewHook struct {
	// Mailbox is the mailbox name (FQDN, or a bare local part of the
	// default domain); catchalls cannot have hooks.
	Mailbox string
	Event   domains.Event
	Cmd     []string
	// Name is optional; without it the name is derived (book/hooks.md).
	Name string
	// TimeoutSecs zero means domains.DefaultHookTimeoutSecs.
	TimeoutSecs     int
	FireOnUntrusted bool
}

// Create adds a hook and returns it with its mailbox's canonical name; its
// EffectiveName is the name to report.
func (e *Editor) Create(h NewHook) (domains.HookRef, error) {
	hook := domains.Hook{Name: h.Name, Event: h.Event, Cmd: h.Cmd, TimeoutSecs: h.TimeoutSecs, FireOnUntrusted: h.FireOnUntrusted}
	if hook.TimeoutSecs == 0 {
		hook.TimeoutSecs = domains.DefaultHookTimeoutSecs
	}
	var ref domains.HookRef
	_, err := e.Config.Update(func(c *domains.Config) error {
		name, err := c.ResolveName(h.Mailbox)
		if err != nil {
			return fmt.Errorf("%w: mailbox %q: %v", ErrInvalidHook, h.Mailbox, err)
		}
		mb, ok := c.Mailboxes[name]
		if !ok {
			return fmt.Errorf("%w: %s", ErrMailboxNotFound, name)
		}
		if domains.IsCatchall(name) {
			return fmt.Errorf("%w: %s is a catchall, and catchalls cannot have hooks", ErrInvalidHook, name)
		}
		if other, ok := c.FindHook(hook.EffectiveName()); ok {
			return fmt.Errorf("%w: %q is a hook of %s (names are unique across the server)", ErrHookExists, hook.EffectiveName(), other.Mailbox)
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

// Delete removes the hook with that effective name and returns it. Jobs of
// the hook not yet run are skipped when their turn comes.
func (e *Editor) Delete(name string) (domains.HookRef, error) {
	var ref domains.HookRef
	_, err := e.Config.Update(func(c *domains.Config) error {
		found, ok := c.FindHook(name)
		if !ok {
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
