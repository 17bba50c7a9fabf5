package hooks

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/aimx-dev/aimx/domains"
)

func newEditor(t *testing.T) (*Editor, *[]*domains.Config) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	opts := domains.LoadOptions{LookupOwner: func(n string) (domains.Owner, error) { return domains.Owner{Name: n}, nil }}
	st := &domains.Store{Path: path, Options: opts}
	if err := st.Save(testConfig()); err != nil {
		t.Fatal(err)
	}
	var published []*domains.Config
	reg := domains.NewRegistry(testConfig())
	ch := &domains.Changer{Store: st, Registry: reg, OnPublish: func(c *domains.Config) { published = append(published, c) }}
	return &Editor{Config: ch}, &published
}

func TestEditorCreateDelete(t *testing.T) {
	t.Parallel()
	ed, published := newEditor(t)
	ref, err := ed.Create(NewHook{Mailbox: "support", Event: domains.EventOnReceive, Cmd: []string{"/bin/echo", "hi"}})
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
	live := (*published)[0]
	if _, ok := live.FindHook(derived); !ok {
		t.Error("published config lacks the new hook")
	}
	onDisk, err := domains.Load(ed.Config.(*domains.Changer).Store.Path, ed.Config.(*domains.Changer).Store.Options)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := onDisk.FindHook(derived); !ok {
		t.Error("config.toml lacks the new hook")
	}

	errCases := []struct {
		name string
		h    NewHook
		want error
	}{
		{"same derived name again", NewHook{Mailbox: testMailbox, Event: domains.EventOnReceive, Cmd: []string{"/bin/echo", "hi"}}, ErrHookExists},
		{"relative cmd[0]", NewHook{Mailbox: testMailbox, Event: domains.EventOnReceive, Cmd: []string{"echo"}}, ErrInvalidHook},
		{"empty cmd", NewHook{Mailbox: testMailbox, Event: domains.EventOnReceive}, ErrInvalidHook},
		{"bad event", NewHook{Mailbox: testMailbox, Event: "on_open", Cmd: []string{"/bin/x"}}, ErrInvalidHook},
		{"timeout too long", NewHook{Mailbox: testMailbox, Event: domains.EventOnReceive, Cmd: []string{"/bin/x"}, TimeoutSecs: 601}, ErrInvalidHook},
		{"bad name", NewHook{Mailbox: testMailbox, Name: "-x y", Event: domains.EventOnReceive, Cmd: []string{"/bin/x"}}, ErrInvalidHook},
		{"fire_on_untrusted on after_send", NewHook{Mailbox: testMailbox, Event: domains.EventAfterSend, Cmd: []string{"/bin/x"}, FireOnUntrusted: true}, ErrInvalidHook},
		{"catchall", NewHook{Mailbox: "*@a.test", Event: domains.EventOnReceive, Cmd: []string{"/bin/x"}}, ErrInvalidHook},
		{"unknown mailbox", NewHook{Mailbox: "nobody@a.test", Event: domains.EventOnReceive, Cmd: []string{"/bin/x"}}, ErrMailboxNotFound},
	}
	for _, c := range errCases {
		if _, err := ed.Create(c.h); !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.want)
		}
	}
	if len(*published) != 1 {
		t.Errorf("a refused change published a config")
	}

	if _, err := ed.Delete("nope"); !errors.Is(err, ErrHookNotFound) {
		t.Errorf("delete unknown: %v", err)
	}
	got, err := ed.Delete(derived)
	if err != nil || got.Mailbox != testMailbox {
		t.Fatalf("delete: %+v %v", got, err)
	}
	onDisk, err = domains.Load(ed.Config.(*domains.Changer).Store.Path, ed.Config.(*domains.Changer).Store.Options)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := onDisk.FindHook(derived); ok {
		t.Error("config.toml still has the deleted hook")
	}
	if _, ok := (*published)[len(*published)-1].FindHook(derived); ok {
		t.Error("live config still has the deleted hook")
	}
}
