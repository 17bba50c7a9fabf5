package domains

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func newTestChanger(t *testing.T) *Changer {
	t.Helper()
	st := &Store{Path: filepath.Join(t.TempDir(), "config.toml"),
		Options: LoadOptions{LookupOwner: func(n string) (Owner, error) { return Owner{Name: n}, nil }}}
	cfg := Default("a.test")
	if err := st.Save(cfg); err != nil {
		t.Fatal(err)
	}
	return &Changer{Store: st, Registry: NewRegistry(cfg)}
}

func addMailbox(name string) func(*Config) error {
	return func(c *Config) error {
		c.Mailboxes[name] = Mailbox{Name: name, Owner: "u"}
		return nil
	}
}

func TestChangerPublishesPreparedConfig(t *testing.T) {
	t.Parallel()
	ch := newTestChanger(t)
	var told []*Config
	ch.Prepare = func(c *Config) *Config { c = c.Clone(); c.SMTP.Listen = "127.0.0.1:0"; return c }
	ch.OnPublish = func(c *Config) { told = append(told, c) }
	cfg, err := ch.Update(addMailbox("x@a.test"))
	if err != nil {
		t.Fatal(err)
	}
	live := ch.Registry.Current()
	if live != cfg || live.SMTP.Listen != "127.0.0.1:0" || len(told) != 1 || told[0] != live {
		t.Fatalf("published %+v (told %d), want the prepared config", live.SMTP, len(told))
	}
	if _, ok := live.Mailboxes["x@a.test"]; !ok {
		t.Fatal("change not live")
	}
	// The file holds the change but not the run-time override.
	onDisk, err := Load(ch.Store.Path, ch.Store.Options)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := onDisk.Mailboxes["x@a.test"]; !ok || onDisk.SMTP.Listen == "127.0.0.1:0" {
		t.Errorf("file: mailbox present %v, listen %q", ok, onDisk.SMTP.Listen)
	}
}

func TestChangerRejectedChangesPublishNothing(t *testing.T) {
	t.Parallel()
	ch := newTestChanger(t)
	before := ch.Registry.Current()
	boom := errors.New("boom")
	if _, err := ch.Update(func(*Config) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("Update = %v", err)
	}
	if _, err := ch.Update(func(c *Config) error { c.Domains = nil; return nil }); err == nil {
		t.Fatal("an invalid config was accepted")
	}
	if err := os.WriteFile(ch.Store.Path, []byte("bogus = 1\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.Reload(); err == nil {
		t.Fatal("a bad file reloaded")
	}
	if ch.Registry.Current() != before {
		t.Fatal("a rejected change was published")
	}
}

// TestChangerNeverGoesBack: concurrent changes each land, and the live
// config is always the newest one written.
func TestChangerNeverGoesBack(t *testing.T) {
	t.Parallel()
	ch := newTestChanger(t)
	const n = 12
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := ch.Update(addMailbox(fmt.Sprintf("m%d@a.test", i))); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got := len(ch.Registry.Current().Mailboxes); got != n {
		t.Fatalf("live config has %d mailboxes, want all %d", got, n)
	}
}

// TestChangerBackend: with a Backend set, changes and reloads go to it and
// the host's own file (Store) is left alone.
func TestChangerBackend(t *testing.T) {
	t.Parallel()
	ch := newTestChanger(t)
	before, err := os.ReadFile(ch.Store.Path)
	if err != nil {
		t.Fatal(err)
	}
	shared := &Store{Path: filepath.Join(t.TempDir(), "shared.toml"), Options: ch.Store.Options}
	if err := shared.Save(Default("a.test")); err != nil {
		t.Fatal(err)
	}
	ch.Backend = shared
	if _, err := ch.Update(addMailbox("x@a.test")); err != nil {
		t.Fatal(err)
	}
	if _, ok := ch.Registry.Current().Mailboxes["x@a.test"]; !ok {
		t.Fatal("change not live")
	}
	after, err := os.ReadFile(ch.Store.Path)
	if err != nil {
		t.Fatal(err)
	}
	if string(after) != string(before) {
		t.Fatal("the change was written to Store, not to Backend")
	}
	// A change made to the backend by someone else goes live on Reload.
	if _, err := shared.Update(addMailbox("y@a.test")); err != nil {
		t.Fatal(err)
	}
	cfg, err := ch.Reload()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cfg.Mailboxes["y@a.test"]; !ok || ch.Registry.Current() != cfg {
		t.Fatal("Reload did not publish the backend's config")
	}
	if err := os.WriteFile(shared.Path, []byte("bogus = 1\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.Reload(); err == nil || ch.Registry.Current() != cfg {
		t.Fatalf("a backend that does not load: Reload = %v, live config replaced: %v", err, ch.Registry.Current() != cfg)
	}
}
