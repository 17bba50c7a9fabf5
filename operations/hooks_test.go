package operations

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/aimx-dev/aimx/domains"
)

const testMailbox = "support@a.test"

func testConfig() *domains.Config {
	c := domains.Default("a.test")
	c.Mailboxes[testMailbox] = domains.Mailbox{Name: testMailbox, Owner: "tester"}
	c.Mailboxes["bob@a.test"] = domains.Mailbox{Name: "bob@a.test", Owner: "bob",
		Hooks: []domains.Hook{{Name: "bobs", Event: domains.EventOnReceive, Cmd: []string{"/bin/bob"}, TimeoutSecs: 5}}}
	c.Mailboxes["*@a.test"] = domains.Mailbox{Name: "*@a.test", Owner: "tester"}
	return c
}

func newHooks(t *testing.T) (*Hooks, *domains.Changer, *[]*domains.Config) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	opts := domains.LoadOptions{LookupOwner: func(n string) (domains.Owner, error) { return domains.Owner{Name: n}, nil }}
	st := &domains.Store{Path: path, Options: opts}
	if err := st.Save(testConfig()); err != nil {
		t.Fatal(err)
	}
	var published []*domains.Config
	ch := &domains.Changer{Store: st, Registry: domains.NewRegistry(testConfig()), OnPublish: func(c *domains.Config) { published = append(published, c) }}
	return &Hooks{Config: ch}, ch, &published
}

func TestHooksCreateDelete(t *testing.T) {
	t.Parallel()
	ed, ch, published := newHooks(t)
	ctx := context.Background()
	ref, err := ed.Create(ctx, NewHook{Mailbox: "support", Hook: domains.Hook{Event: domains.EventOnReceive, Cmd: []string{"/bin/echo", "hi"}}})
	if err != nil {
		t.Fatal(err)
	}
	derived := domains.DeriveHookName(domains.EventOnReceive, []string{"/bin/echo", "hi"}, false)
	if ref.Mailbox != testMailbox || ref.EffectiveName() != derived || ref.TimeoutSecs != domains.DefaultHookTimeoutSecs {
		t.Errorf("created %+v, want derived name %s on %s with the default timeout", ref, derived, testMailbox)
	}
	if len(*published) != 1 {
		t.Fatalf("published %d configs, want 1", len(*published))
	}
	onDisk, err := domains.Load(ch.Store.Path, ch.Store.Options)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := onDisk.FindHook(derived); !ok {
		t.Error("config.toml lacks the new hook")
	}
	hook := func(ev domains.Event, cmd ...string) domains.Hook { return domains.Hook{Event: ev, Cmd: cmd} }
	errCases := []struct {
		name string
		h    NewHook
		want error
	}{
		{"same derived name again", NewHook{Mailbox: testMailbox, Hook: hook(domains.EventOnReceive, "/bin/echo", "hi")}, ErrHookExists},
		{"relative cmd[0]", NewHook{Mailbox: testMailbox, Hook: hook(domains.EventOnReceive, "echo")}, ErrInvalidHook},
		{"empty cmd", NewHook{Mailbox: testMailbox, Hook: hook(domains.EventOnReceive)}, ErrInvalidHook},
		{"bad event", NewHook{Mailbox: testMailbox, Hook: hook("on_open", "/bin/x")}, ErrInvalidHook},
		{"timeout too long", NewHook{Mailbox: testMailbox, Hook: domains.Hook{Event: domains.EventOnReceive, Cmd: []string{"/bin/x"}, TimeoutSecs: 601}}, ErrInvalidHook},
		{"bad name", NewHook{Mailbox: testMailbox, Hook: domains.Hook{Name: "-x y", Event: domains.EventOnReceive, Cmd: []string{"/bin/x"}}}, ErrInvalidHook},
		{"fire_on_untrusted on after_send", NewHook{Mailbox: testMailbox, Hook: domains.Hook{Event: domains.EventAfterSend, Cmd: []string{"/bin/x"}, FireOnUntrusted: true}}, ErrInvalidHook},
		{"catchall", NewHook{Mailbox: "*@a.test", Hook: hook(domains.EventOnReceive, "/bin/x")}, ErrInvalidHook},
		{"unknown mailbox", NewHook{Mailbox: "nobody@a.test", Hook: hook(domains.EventOnReceive, "/bin/x")}, ErrNoSuchMailbox},
	}
	for _, c := range errCases {
		if _, err := ed.Create(ctx, c.h); !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.want)
		}
	}
	if len(*published) != 1 {
		t.Errorf("a refused change published a config")
	}
	if _, err := ed.Delete(ctx, "nope", nil); !errors.Is(err, ErrHookNotFound) {
		t.Errorf("delete unknown: %v", err)
	}
	got, err := ed.Delete(ctx, derived, nil)
	if err != nil || got.Mailbox != testMailbox {
		t.Fatalf("delete: %+v %v", got, err)
	}
	if _, ok := (*published)[len(*published)-1].FindHook(derived); ok {
		t.Error("live config still has the deleted hook")
	}
}

// What a caller may see is re-checked under the lock: a mailbox or hook
// it may not see is refused like a missing one, and a clash with a hook
// it may not see is marked Hidden.
func TestHooksSees(t *testing.T) {
	t.Parallel()
	ed, _, published := newHooks(t)
	ctx := context.Background()
	tester := Sees(func(m domains.Mailbox) bool { return m.Owner == "tester" })
	if _, err := ed.Create(ctx, NewHook{Mailbox: "bob@a.test", Hook: domains.Hook{Event: domains.EventOnReceive, Cmd: []string{"/bin/x"}}, Sees: tester}); !errors.Is(err, ErrNoSuchMailbox) {
		t.Errorf("create on an unseen mailbox: %v", err)
	}
	_, err := ed.Create(ctx, NewHook{Mailbox: testMailbox, Hook: domains.Hook{Name: "bobs", Event: domains.EventOnReceive, Cmd: []string{"/bin/x"}}, Sees: tester})
	var taken *HookTakenError
	if !errors.As(err, &taken) || !taken.Hidden || !errors.Is(err, ErrHookExists) {
		t.Errorf("clash with an unseen hook: %v", err)
	}
	if _, err := ed.Delete(ctx, "bobs", tester); !errors.Is(err, ErrHookNotFound) {
		t.Errorf("delete of an unseen hook: %v", err)
	}
	if len(*published) != 0 {
		t.Error("a refused change published a config")
	}
}
