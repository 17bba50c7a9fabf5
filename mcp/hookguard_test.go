package mcp

import (
	"strings"
	"sync"
	"testing"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/operations"
)

// A name taken by a hook the caller may not see is refused exactly like a
// name that breaks the grammar: no mailbox, no owner, no argv, no path.
func TestM7_HookNameClashLeaksNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cl := e.client(protocolVersions[0])
	secretCmd := []string{"/bin/sh", "-c", "/usr/local/bin/bob-secret-tool --api-key hunter2"}
	e.callAs(cl, bob, "hook_create", map[string]any{"mailbox": billing, "event": "on_receive", "cmd": secretCmd, "name": "shared"}).ok(t)
	e.callAs(cl, bob, "hook_create", map[string]any{"mailbox": billing, "event": "on_receive", "cmd": []string{"/bin/true"}}).ok(t)

	leaks := []string{"bob", billing, "billing", "bob-secret-tool", "hunter2", e.cfgPath, "config.toml", "/tmp"}
	noLeak := func(r result) {
		t.Helper()
		for _, l := range leaks {
			if strings.Contains(r.text, l) {
				t.Errorf("refusal %q leaks %q", r.text, l)
			}
		}
	}
	clash := e.callAs(cl, alice, "hook_create", map[string]any{"mailbox": support, "event": "after_send", "cmd": []string{"/bin/echo"}, "name": "shared"}).fails(t, "not created")
	noLeak(clash)
	invalid := e.callAs(cl, alice, "hook_create", map[string]any{"mailbox": support, "event": "after_send", "cmd": []string{"/bin/echo"}, "name": "-bad"}).fails(t, "not created")
	if a, b := strings.ReplaceAll(clash.text, `"shared"`, "N"), strings.ReplaceAll(invalid.text, `"-bad"`, "N"); a != b {
		t.Errorf("a taken name and an invalid one answer differently:\n%s\n%s", clash.text, invalid.text)
	}
	// A derived name that clashes says nothing about whose it is either.
	derived := e.callAs(cl, alice, "hook_create", map[string]any{"mailbox": support, "event": "on_receive", "cmd": []string{"/bin/true"}}).fails(t, "Pass a name of your own")
	noLeak(derived)
	// A rule broken deep in validation is worded without the file.
	nul := e.callAs(cl, alice, "hook_create", map[string]any{"mailbox": support, "event": "on_receive", "cmd": []string{"/bin/true", "a\x00b"}}).fails(t, "NUL")
	noLeak(nul)
	// One's own clash may say where.
	e.callAs(cl, alice, "hook_create", map[string]any{"mailbox": support, "event": "after_send", "cmd": []string{"/bin/echo"}, "name": "mine"}).ok(t)
	e.callAs(cl, alice, "hook_create", map[string]any{"mailbox": support, "event": "after_send", "cmd": []string{"/bin/echo", "2"}, "name": "mine"}).fails(t, support+" already has a hook named")
	if h, _ := e.reg.Current().FindHook("shared"); h.Mailbox != billing {
		t.Fatalf("bob's hook moved: %+v", h)
	}
}

// racingUpdater runs before once, just ahead of the first update it is
// given: the seam that changes the config between a tool's snapshot check
// and the locked change.
type racingUpdater struct {
	next   domains.Updater
	once   sync.Once
	before func(domains.Updater)
}

func (r *racingUpdater) Update(fn func(*domains.Config) error) (*domains.Config, error) {
	r.once.Do(func() { r.before(r.next) })
	return r.next.Update(fn)
}

// raceEnv is an env whose hook changes run before first.
func raceEnv(t *testing.T, before func(domains.Updater)) *env {
	e := newEnv(t)
	racing := &racingUpdater{next: e.ops.Config, before: before}
	e.srv = NewServer(Deps{Registry: e.reg, Store: e.store, Mailboxes: e.ops, Hooks: &operations.Hooks{Config: racing}})
	return e
}

// hook_delete re-checks ownership under the lock it deletes under: a hook
// that was the caller's when it looked, and is another owner's by the time
// the lock is held, is not deleted.
func TestM7_HookDeleteRechecksOwnershipUnderLock(t *testing.T) {
	t.Parallel()
	e := raceEnv(t, func(u domains.Updater) {
		// Between alice's check and her delete: her hook "h" goes and
		// bob's "h" arrives.
		_, err := u.Update(func(c *domains.Config) error {
			s := c.Mailboxes[support]
			s.Hooks = nil
			c.Mailboxes[support] = s
			b := c.Mailboxes[billing]
			b.Hooks = append(b.Hooks, domains.Hook{Name: "h", Event: domains.EventOnReceive, Cmd: []string{"/bin/bob"}, TimeoutSecs: 60})
			c.Mailboxes[billing] = b
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	})
	if _, err := e.ops.Config.Update(func(c *domains.Config) error {
		s := c.Mailboxes[support]
		s.Hooks = []domains.Hook{{Name: "h", Event: domains.EventOnReceive, Cmd: []string{"/bin/alice"}, TimeoutSecs: 60}}
		c.Mailboxes[support] = s
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	cl := e.client(protocolVersions[0])
	r := e.callAs(cl, alice, "hook_delete", map[string]any{"name": "h"}).fails(t, `hook "h" not found`)
	if strings.Contains(r.text, "bob") || strings.Contains(r.text, billing) {
		t.Errorf("refusal leaks: %q", r.text)
	}
	if h, ok := e.reg.Current().FindHook("h"); !ok || h.Mailbox != billing {
		t.Fatalf("bob's hook was deleted by alice: %+v %v", h, ok)
	}
}

// hook_create re-checks the mailbox under the lock: a mailbox re-created
// by another owner after the caller looked gets no hook of the caller's
// (which would run as that owner).
func TestM7_HookCreateRechecksMailboxUnderLock(t *testing.T) {
	t.Parallel()
	e := raceEnv(t, func(u domains.Updater) {
		_, err := u.Update(func(c *domains.Config) error {
			c.Mailboxes[support] = domains.Mailbox{Name: support, Owner: "bob"}
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	})
	cl := e.client(protocolVersions[0])
	e.callAs(cl, alice, "hook_create", map[string]any{"mailbox": support, "event": "on_receive", "cmd": []string{"/bin/true", "alice"}, "name": "a1"}).
		fails(t, `mailbox "`+support+`" not found`)
	if _, ok := e.reg.Current().FindHook("a1"); ok {
		t.Fatal("alice's hook landed on bob's mailbox")
	}
}
