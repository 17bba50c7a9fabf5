package upgrade

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/aimx-dev/aimx/domains/dkimkey"
	"github.com/aimx-dev/aimx/internal/safefs"
	"github.com/aimx-dev/aimx/storage"
)

// runFails runs the migration, expects an error matching target whose
// text names each of says, and checks that nothing changed.
func runFails(t *testing.T, o Options, target error, says ...string) error {
	t.Helper()
	before := snapshot(t, installRoot(o.Paths))
	_, err := Run(o)
	if !errors.Is(err, target) {
		t.Fatalf("Run = %v, want %v", err, target)
	}
	for _, s := range says {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}
	if d := diffSnap(before, snapshot(t, installRoot(o.Paths))); d != "" {
		t.Errorf("a refused migration changed something:\n%s", d)
	}
	return err
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestUpgradeCorruptMarker(t *testing.T) {
	t.Parallel()
	p := install(t, "v1")
	write(t, filepath.Join(p.DataDir, ".layout-version"), "3\n")
	runFails(t, Options{Paths: p}, storage.ErrBadMarker, ".layout-version", "remove it", "book/upgrade.md")
}

// A legacy tree beside the v2 marker stops start-up: the daemon used to
// start over it and never show its mail.
func TestUpgradeLegacyBesideMarker(t *testing.T) {
	t.Parallel()
	p := install(t, "v1")
	write(t, filepath.Join(p.DataDir, ".layout-version"), "2\n")
	runFails(t, Options{Paths: p}, storage.ErrMixedLayout, filepath.Join(p.DataDir, "inbox"), "by hand")

	p = install(t, "v2")
	if err := os.MkdirAll(filepath.Join(p.DataDir, "sent", "support"), 0o700); err != nil {
		t.Fatal(err)
	}
	runFails(t, Options{Paths: p}, storage.ErrMixedLayout, filepath.Join(p.DataDir, "sent"))
	if _, err := storage.Open(p.DataDir, storage.Options{}); !errors.Is(err, storage.ErrMixedLayout) {
		t.Errorf("storage.Open over a mixed layout: %v", err)
	}
}

// The same mailbox in its old and its new place, both holding mail, is
// never merged: nothing moves, and the error says how to merge by hand.
func TestUpgradeOldAndNewPresent(t *testing.T) {
	t.Parallel()
	p := install(t, "v1")
	write(t, filepath.Join(p.DataDir, dom, "sent", "support", "2026-10-01-000000-x.md"), "+++\n+++\n\nx\n")
	old, newer := filepath.Join(p.DataDir, "sent", "support"), filepath.Join(p.DataDir, dom, "sent", "support")
	err := runFails(t, Options{Paths: p}, ErrConflict, old, newer, "by hand", "start again")
	var ce *ConflictError
	if !errors.As(err, &ce) || ce.Old != old || ce.New != newer {
		t.Errorf("conflict %#v", err)
	}

	// An empty dir on either side is no conflict: it is dropped.
	p = install(t, "v1")
	for _, d := range []string{filepath.Join(dom, "inbox", "support"), filepath.Join(dom, "sent", "catchall")} {
		if err := os.MkdirAll(filepath.Join(p.DataDir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(t, filepath.Join(p.DataDir, dom, "sent", "catchall", "2026-10-01-000000-x.md"), "+++\n+++\n\nx\n")
	rep := mustRun(t, Options{Paths: p})
	if rep.Messages != 11 {
		t.Errorf("report %+v", rep)
	}
	for _, f := range []string{
		filepath.Join(dom, "inbox", "support", "2026-09-14-081502-can-t-log-in-to-the.md"),
		filepath.Join(dom, "sent", "catchall", "2026-10-01-000000-x.md"),
	} {
		if _, err := os.Stat(filepath.Join(p.DataDir, f)); err != nil {
			t.Error(err)
		}
	}
	for _, legacy := range []string{"inbox", "sent"} {
		if _, err := os.Lstat(filepath.Join(p.DataDir, legacy)); !os.IsNotExist(err) {
			t.Errorf("legacy %s left: %v", legacy, err)
		}
	}
}

// A DKIM key in both places: byte-identical is no conflict; different
// bytes are, unless dev mode seeded the new one at this very start.
func TestUpgradeKeyConflict(t *testing.T) {
	t.Parallel()
	p := install(t, "v1")
	keys := dkimkey.NewStore(p.ConfigDir)
	if _, err := keys.Generate(dom, dkimkey.RSA, false); err != nil {
		t.Fatal(err)
	}
	runFails(t, Options{Paths: p}, ErrConflict, filepath.Join(p.ConfigDir, "dkim", dom), "DNS record", "remove private.key")

	// Dev mode seeded it: the install's own key wins, public key included.
	legacy, _ := os.ReadFile(filepath.Join(p.ConfigDir, "dkim", "private.key"))
	if err := os.Remove(filepath.Join(p.ConfigDir, "dkim", "public.key")); err != nil {
		t.Fatal(err)
	}
	mustRun(t, Options{Paths: p, DevSeeded: []string{"config.toml", "dkim/" + dom}})
	got, _ := os.ReadFile(filepath.Join(p.ConfigDir, "dkim", dom, "private.key"))
	if !bytes.Equal(got, legacy) {
		t.Error("the seeded key was kept over the install's")
	}
	if _, err := keys.LoadSet(dom); err != nil {
		t.Fatal(err)
	}
	pub, _ := os.ReadFile(filepath.Join(p.ConfigDir, "dkim", dom, "public.key"))
	fixturePub, _ := os.ReadFile(filepath.Join(fixtureRoot, "v1", "etc", "dkim", "public.key"))
	if !bytes.Equal(pub, fixturePub) {
		t.Errorf("public key not the pair of the install's private key:\n%s", pub)
	}

	// Identical copies: the legacy one is dropped.
	p = install(t, "v1")
	for _, n := range []string{"private.key", "public.key"} {
		b, _ := os.ReadFile(filepath.Join(p.ConfigDir, "dkim", n))
		write(t, filepath.Join(p.ConfigDir, "dkim", dom, n), string(b))
	}
	mustRun(t, Options{Paths: p})
	if _, err := os.Lstat(filepath.Join(p.ConfigDir, "dkim", "private.key")); !os.IsNotExist(err) {
		t.Errorf("identical legacy key left: %v", err)
	}
}

// A move across file systems is reported, never done by copying; the
// error says what to do, and the migration completes once it can rename.
func TestUpgradeCrossDevice(t *testing.T) {
	t.Parallel()
	p := install(t, "v1")
	o := Options{Paths: p}
	o.seams.rename = func(from *safefs.Dir, oldName string, to *safefs.Dir, newName string, _ bool) error {
		return &os.LinkError{Op: "rename", Old: from.Join(oldName), New: to.Join(newName), Err: unix.EXDEV}
	}
	before := snapshot(t, installRoot(p))
	_, err := Run(o)
	var xe *CrossDeviceError
	if !errors.Is(err, ErrCrossDevice) || !errors.As(err, &xe) || !errors.Is(err, unix.EXDEV) {
		t.Fatalf("Run = %v", err)
	}
	for _, s := range []string{filepath.Join(p.DataDir, "inbox"), "different file systems", "mv ", "never by copying"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}
	// Only the empty domain dir may have been made; no mail moved or copied.
	after := snapshot(t, installRoot(p))
	delete(after, filepath.Join("data", dom))
	if d := diffSnap(before, after); d != "" {
		t.Errorf("a cross-device failure changed something:\n%s", d)
	}
	mustRun(t, Options{Paths: p})
	checkConfig(t, p)
}

// Legacy paths are never followed through a symlink (book/security.md).
func TestUpgradeSymlinkRefused(t *testing.T) {
	t.Parallel()
	p := install(t, "v1")
	elsewhere := filepath.Join(t.TempDir(), "inbox")
	if err := os.Rename(filepath.Join(p.DataDir, "inbox"), elsewhere); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, filepath.Join(p.DataDir, "inbox")); err != nil {
		t.Fatal(err)
	}
	runFails(t, Options{Paths: p}, ErrNotDir, filepath.Join(p.DataDir, "inbox"), "symlink")

	p = install(t, "v1")
	key := filepath.Join(p.ConfigDir, "dkim", "private.key")
	if err := os.Rename(key, key+".real"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(key+".real", key); err != nil {
		t.Fatal(err)
	}
	o := Options{Paths: p}
	if _, err := Run(o); !errors.Is(err, ErrNotDir) {
		t.Fatalf("symlinked key: %v", err)
	}
}
