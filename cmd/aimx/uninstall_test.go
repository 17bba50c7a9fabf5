package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/internal/systemd"
	"github.com/aimx-dev/aimx/storage"
)

// uninstallFixture is an install under a temp dir: config with a key and
// tokens, data with a message, a runtime dir, and a fake systemd with the
// unit installed, enabled and running.
type uninstallFixture struct {
	root string
	env  uninstallEnv
	fake *systemd.Fake
}

func newUninstallFixture(t *testing.T) *uninstallFixture {
	t.Helper()
	root := t.TempDir()
	p := domains.Paths{ConfigDir: filepath.Join(root, "etc", "aimx"), DataDir: filepath.Join(root, "var", "lib", "aimx"),
		RuntimeDir: filepath.Join(root, "run", "aimx")}
	for path, body := range map[string]string{
		filepath.Join(p.ConfigDir, "config.toml"):                   "domains = [\"a.test\"]\n",
		filepath.Join(p.ConfigDir, "dkim", "a.test", "private.key"): "key",
		filepath.Join(p.ConfigDir, "tokens.json"):                   "{}",
		filepath.Join(p.DataDir, storage.LayoutMarkerName):          "2\n",
		filepath.Join(p.DataDir, "a.test", "inbox", "x", "m.md"):    "mail",
		filepath.Join(p.RuntimeDir, "listen.json"):                  "{}",
	} {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	fake := &systemd.Fake{Unit: []byte("[Unit]\n"), Enabled: true, Active: true}
	return &uninstallFixture{root: root, fake: fake, env: uninstallEnv{
		euid: 0, manager: fake, unitPath: "/etc/systemd/system/aimx.service", paths: p,
		tls: []string{"/srv/tls/cert.pem", filepath.Join(p.ConfigDir, "key.pem")}, binary: "/usr/local/bin/aimx",
		running: func(string) (int, error) { return 0, errors.New("no daemon") },
	}}
}

func exists(path string) bool { _, err := os.Lstat(path); return err == nil }

func TestUninstallKeepsMailConfigAndKeys(t *testing.T) {
	t.Parallel()
	f := newUninstallFixture(t)
	a, out, _ := testApp(context.Background())
	if err := a.uninstall(uninstallFlags{}, f.env); err != nil {
		t.Fatal(err)
	}
	if want := []string{"stop", "disable", "remove"}; !reflect.DeepEqual(f.fake.Calls, want) {
		t.Fatalf("systemd calls %q, want %q", f.fake.Calls, want)
	}
	if f.fake.Active || f.fake.Enabled || f.fake.Unit != nil {
		t.Fatalf("service left active=%v enabled=%v unit=%v", f.fake.Active, f.fake.Enabled, f.fake.Unit != nil)
	}
	p := f.env.paths
	for _, keep := range []string{p.ConfigFile(), filepath.Join(p.ConfigDir, "dkim", "a.test", "private.key"),
		filepath.Join(p.DataDir, "a.test", "inbox", "x", "m.md")} {
		if !exists(keep) {
			t.Errorf("%s was deleted without --purge", keep)
		}
	}
	for _, want := range []string{"Stopped aimx.service.", "Disabled aimx.service", "Removed /etc/systemd/system/aimx.service.",
		"Kept (aimx uninstall --purge deletes them):", p.ConfigDir, p.DataDir, "the TLS file /srv/tls/cert.pem",
		"the aimx binary /usr/local/bin/aimx"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestUninstallPurge(t *testing.T) {
	t.Parallel()
	f := newUninstallFixture(t)
	a, out, _ := testApp(context.Background())
	if err := a.uninstall(uninstallFlags{purge: true, yes: true}, f.env); err != nil {
		t.Fatal(err)
	}
	p := f.env.paths
	for _, gone := range []string{p.ConfigDir, p.DataDir, p.RuntimeDir} {
		if exists(gone) {
			t.Errorf("%s still there after --purge", gone)
		}
	}
	if !exists(filepath.Dir(p.DataDir)) {
		t.Error("--purge deleted the data dir's parent")
	}
	s := out.String()
	if !strings.Contains(s, "Deleted "+p.DataDir) || !strings.Contains(s, "Deleted "+p.ConfigDir) {
		t.Errorf("output does not say what was deleted:\n%s", s)
	}
	// The TLS file outside the config dir stays and is named; the one
	// inside went with it.
	if !strings.Contains(s, "the TLS file /srv/tls/cert.pem") || strings.Contains(s, "key.pem") {
		t.Errorf("TLS files reported wrongly:\n%s", s)
	}
}

func TestUninstallPurgeConfirmation(t *testing.T) {
	t.Parallel()
	f := newUninstallFixture(t)
	a, _, _ := testApp(context.Background())
	// Nobody to ask and no --yes: refused before anything changes.
	err := a.uninstall(uninstallFlags{purge: true}, f.env)
	var ue usageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "--yes") {
		t.Fatalf("purge without --yes and no terminal: %v", err)
	}
	if len(f.fake.Calls) != 0 || !exists(f.env.paths.DataDir) {
		t.Fatal("something changed before the purge was confirmed")
	}
	// A terminal, and the operator does not type "purge".
	var asked string
	f.env.confirm = func(prompt string) bool { asked = prompt; return false }
	if err := a.uninstall(uninstallFlags{purge: true}, f.env); err == nil || !strings.Contains(err.Error(), "not confirmed") {
		t.Fatalf("unconfirmed purge: %v", err)
	}
	if !strings.Contains(asked, f.env.paths.DataDir) || len(f.fake.Calls) != 0 || !exists(f.env.paths.DataDir) {
		t.Fatalf("prompt %q; calls %q", asked, f.fake.Calls)
	}
	f.env.confirm = func(string) bool { return true }
	if err := a.uninstall(uninstallFlags{purge: true}, f.env); err != nil || exists(f.env.paths.DataDir) {
		t.Fatalf("confirmed purge: %v", err)
	}
}

func TestUninstallRefusals(t *testing.T) {
	t.Parallel()
	f := newUninstallFixture(t)
	a, _, _ := testApp(context.Background())
	env := f.env
	env.euid = 1000
	if err := a.uninstall(uninstallFlags{}, env); err == nil || !strings.Contains(err.Error(), "as root") {
		t.Fatalf("non-root: %v", err)
	}
	if err := a.uninstall(uninstallFlags{yes: true}, f.env); err == nil {
		t.Fatal("--yes without --purge accepted")
	}
	// A data dir that is not aimx's (a home, say) is never purged.
	home := filepath.Join(f.root, "home", "alice")
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "thesis.tex"), []byte("years"), 0o644); err != nil {
		t.Fatal(err)
	}
	env = f.env
	env.paths.DataDir = home
	if err := a.uninstall(uninstallFlags{purge: true, yes: true}, env); err == nil || !strings.Contains(err.Error(), "may not be aimx's") {
		t.Fatalf("foreign data dir: %v", err)
	}
	if !exists(filepath.Join(home, "thesis.tex")) || len(f.fake.Calls) != 0 {
		t.Fatal("a refused purge changed something")
	}
	for _, bad := range []string{"/", "/etc", "/var/lib", "relative/dir", "/home"} {
		env = f.env
		env.paths.ConfigDir = bad
		if err := a.uninstall(uninstallFlags{purge: true, yes: true}, env); err == nil || !strings.Contains(err.Error(), "refusing to purge") {
			t.Errorf("config dir %q: %v", bad, err)
		}
	}
	// A daemon still running on the runtime dir stops the purge after
	// the service is removed, before anything is deleted.
	env = f.env
	env.running = func(string) (int, error) { return 4242, nil }
	if err := a.uninstall(uninstallFlags{purge: true, yes: true}, env); err == nil || !strings.Contains(err.Error(), "pid 4242") {
		t.Fatalf("running daemon: %v", err)
	}
	if !exists(f.env.paths.DataDir) {
		t.Fatal("data deleted under a running daemon")
	}
}

func TestUninstallWithoutSystemdOrUnit(t *testing.T) {
	t.Parallel()
	f := newUninstallFixture(t)
	f.fake.NotBooted = true
	a, out, _ := testApp(context.Background())
	if err := a.uninstall(uninstallFlags{}, f.env); err != nil {
		t.Fatal(err)
	}
	if len(f.fake.Calls) != 0 || !strings.Contains(out.String(), "systemd is not running") {
		t.Fatalf("calls %q, output %q", f.fake.Calls, out)
	}
	f = newUninstallFixture(t)
	f.fake.Unit = nil
	a, out, _ = testApp(context.Background())
	if err := a.uninstall(uninstallFlags{}, f.env); err != nil {
		t.Fatal(err)
	}
	if want := []string{"is-active", "stop"}; !reflect.DeepEqual(f.fake.Calls, want) || !strings.Contains(out.String(), "No /etc/systemd/system/aimx.service to remove.") {
		t.Fatalf("calls %q, output %q", f.fake.Calls, out)
	}
	// A failing stop is reported, and nothing further is done.
	f = newUninstallFixture(t)
	f.fake.Fail = map[string]error{"stop": errors.New("Job for aimx.service failed")}
	a, _, _ = testApp(context.Background())
	if err := a.uninstall(uninstallFlags{}, f.env); err == nil || !strings.Contains(err.Error(), "Job for aimx.service failed") {
		t.Fatalf("failing stop: %v", err)
	}
	if want := []string{"stop"}; !reflect.DeepEqual(f.fake.Calls, want) {
		t.Fatalf("calls after a failed stop %q", f.fake.Calls)
	}
}
