package domains

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/gofrs/flock"

	"github.com/aimx-dev/aimx/storage"
)

func writeConfig(t *testing.T, text string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(text), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // WriteFile's mode passes through the umask
		t.Fatal(err)
	}
	return path
}

func store(path string) *Store {
	return &Store{Path: path, Options: LoadOptions{LookupOwner: stubOwners}}
}

func TestUpdateConcurrentChangesAllLand(t *testing.T) {
	t.Parallel()
	path := writeConfig(t, base, 0o640)
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			// Each Update opens its own lock fd, so this is real flock
			// contention, as between the daemon and a CLI process.
			_, err := store(path).Update(func(c *Config) error {
				name := fmt.Sprintf("u%d@a.com", i)
				c.Mailboxes[name] = Mailbox{Name: name, Owner: "u"}
				return nil
			})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if c := loadFile(t, path); len(c.Mailboxes) != n {
		t.Fatalf("%d mailboxes after %d concurrent Updates: changes were lost", len(c.Mailboxes), n)
	}
}

func TestUpdateHoldsTheLock(t *testing.T) {
	t.Parallel()
	path := writeConfig(t, base, 0o640)
	inside := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := store(path).Update(func(c *Config) error {
			close(inside)
			<-release
			c.Trust = TrustVerified
			return nil
		})
		done <- err
	}()
	<-inside
	// While fn runs, the lock is held: another taker (its own fd) fails.
	other := flock.New(path + LockSuffix)
	if ok, err := other.TryLock(); err != nil || ok {
		t.Fatalf("took the config lock while Update held it (ok=%v, err=%v)", ok, err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if ok, err := other.TryLock(); err != nil || !ok {
		t.Fatalf("lock not released after Update (ok=%v, err=%v)", ok, err)
	}
	_ = other.Close()
}

func TestUpdateResult(t *testing.T) {
	t.Parallel()
	path := writeConfig(t, base+mbox("x@a.com"), 0o640)
	c, err := store(path).Update(func(c *Config) error {
		m := c.Mailboxes["x@a.com"]
		m.Hooks = append(m.Hooks, Hook{Event: EventOnReceive, Cmd: []string{"/bin/echo", "hi"}, TimeoutSecs: DefaultHookTimeoutSecs})
		c.Mailboxes["x@a.com"] = m
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.FindHook("9f5503741a28"); !ok || c.Source == nil || c.Source.File != path {
		t.Fatalf("returned config lacks the change or its source: %+v", c.Source)
	}
	if !Equal(c, loadFile(t, path)) {
		t.Fatal("returned config differs from the file")
	}
}

func TestUpdateFailuresLeaveTheFile(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		fn   func(*Config) error
		want string
	}{
		{"fn error", func(*Config) error { return errors.New("refused") }, "refused"},
		{"invalid change", func(c *Config) error {
			c.Mailboxes["x@c.com"] = Mailbox{Name: "x@c.com", Owner: "u"}
			return nil
		}, "not in domains"},
		{"hook without timeout", func(c *Config) error {
			c.Mailboxes["x@a.com"] = Mailbox{Name: "x@a.com", Owner: "u", Hooks: []Hook{{Event: EventOnReceive, Cmd: []string{"/bin/true"}}}}
			return nil
		}, "timeout_secs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := writeConfig(t, base, 0o640)
			_, err := store(path).Update(tc.fn)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if got, _ := os.ReadFile(path); string(got) != base {
				t.Fatalf("file changed to %q", got)
			}
		})
	}
}

func TestUpdateMissingOrBrokenFile(t *testing.T) {
	t.Parallel()
	if _, err := Update(filepath.Join(t.TempDir(), "config.toml"), func(*Config) error { return nil }); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	path := writeConfig(t, "domains = [", 0o640)
	if _, err := Update(path, func(*Config) error { return nil }); err == nil {
		t.Fatal("broken file updated")
	}
}

func TestUnchangedUpdateDoesNotWrite(t *testing.T) {
	t.Parallel()
	text := "# a comment the operator wrote\n" + base
	path := writeConfig(t, text, 0o640)
	if _, err := store(path).Update(func(*Config) error { return nil }); err != nil {
		t.Fatal(err)
	}
	// The content differs from the canonical encoding, so it is rewritten...
	if got, _ := os.ReadFile(path); string(got) != base {
		t.Fatalf("file = %q", got)
	}
	// ...and a second no-op Update leaves the now canonical file alone.
	fi1, _ := os.Stat(path)
	s := store(path)
	s.Writer.Fault = func(storage.Step, string) error { return errors.New("must not write") }
	if _, err := s.Update(func(*Config) error { return nil }); err != nil {
		t.Fatal(err)
	}
	fi2, _ := os.Stat(path)
	if !os.SameFile(fi1, fi2) {
		t.Fatal("canonical file was replaced")
	}
}

func TestSaveKeepsMode(t *testing.T) {
	t.Parallel()
	for _, mode := range []os.FileMode{0o600, 0o640, 0o644} {
		path := writeConfig(t, base, mode)
		if _, err := Update(path, func(c *Config) error { c.Trust = TrustVerified; return nil }); err != nil {
			t.Fatal(err)
		}
		if fi, _ := os.Stat(path); fi.Mode().Perm() != mode {
			t.Errorf("mode %v became %v", mode, fi.Mode().Perm())
		}
	}
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := Save(path, Default("a.com")); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != NewFileMode {
		t.Errorf("new file mode %v, want %v", fi.Mode().Perm(), NewFileMode)
	}
}

func TestSaveKeepsOwnerAsRoot(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("chown to another user needs root")
	}
	path := writeConfig(t, base, 0o640)
	if err := os.Chown(path, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if _, err := Update(path, func(c *Config) error { c.Trust = TrustVerified; return nil }); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 65534 || st.Gid != 65534 {
		t.Fatalf("owner became %d:%d", st.Uid, st.Gid)
	}
}

func TestSaveRejectsInvalid(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "config.toml")
	c := Default("a.com")
	c.DKIMSelector = "Bad"
	err := Save(path, c)
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("invalid config written")
	}
}

func TestSaveCrashLeavesOldOrNew(t *testing.T) {
	t.Parallel()
	for _, step := range []storage.Step{storage.StepCreateTemp, storage.StepWrite, storage.StepSyncFile, storage.StepPublish, storage.StepSyncDir} {
		path := writeConfig(t, base, 0o640)
		s := store(path)
		s.Writer.Fault = func(st storage.Step, _ string) error {
			if st == step {
				return errors.New("crash")
			}
			return nil
		}
		_, err := s.Update(func(c *Config) error { c.Trust = TrustVerified; return nil })
		if err == nil {
			t.Fatalf("%v: no error", step)
		}
		c := loadFile(t, path)
		if step < storage.StepSyncDir && c.Trust != TrustNone || step == storage.StepSyncDir && c.Trust != TrustVerified {
			t.Fatalf("%v: trust = %v", step, c.Trust)
		}
	}
}
