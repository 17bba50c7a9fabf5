package upgrade

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/domains/dkimkey"
	"github.com/aimx-dev/aimx/storage"
)

const dom = "agent.example.com"

// The v1 fixture migrates end to end (book/upgrade.md): mail under
// <data>/<domain>/, keys where dkimkey reads them, the config rewritten
// and loading with FQDN keys, the marker last; a second run is a no-op.
func TestUpgradeV1(t *testing.T) {
	t.Parallel()
	p := install(t, "v1")
	fixtureKey, err := os.ReadFile(filepath.Join(p.ConfigDir, "dkim", "private.key"))
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	rep := mustRun(t, Options{Paths: p, Log: logTo(&log)})
	want := Report{Migrated: true, Domain: dom, Mailboxes: 6, Messages: 11, Folders: []string{"inbox", "sent"}, Keys: 2,
		ConfigRewritten: true, MarkerWritten: true}
	if !equalReport(rep, want) {
		t.Errorf("report %+v, want %+v", rep, want)
	}

	// Storage: moved whole, files untouched, the legacy trees gone.
	for _, rel := range []string{
		"inbox/support/2026-09-14-081502-can-t-log-in-to-the.md",
		"inbox/support/2026-09-15-142009-logs-from-the-failed/health page.png",
		"inbox/catchall/2026-09-15-093344-grüße-aus-münchen-an.md",
		"inbox/billing/2026-09-16-090014-your-receipt-1042-fr.md",
		"sent/support/2026-09-16-103046-weekly-support-summa.md",
	} {
		got, err := os.ReadFile(filepath.Join(p.DataDir, dom, rel))
		if err != nil {
			t.Fatal(err)
		}
		orig, _ := os.ReadFile(filepath.Join(fixtureRoot, "v1", "data", rel))
		if !bytes.Equal(got, orig) {
			t.Errorf("%s changed in the move", rel)
		}
	}
	for _, d := range []string{"sent/catchall", "sent/billing"} {
		if fi, err := os.Stat(filepath.Join(p.DataDir, dom, d)); err != nil || !fi.IsDir() {
			t.Errorf("%s: %v", d, err)
		}
	}
	for _, legacy := range []string{"inbox", "sent"} {
		if _, err := os.Lstat(filepath.Join(p.DataDir, legacy)); !os.IsNotExist(err) {
			t.Errorf("legacy %s still there: %v", legacy, err)
		}
	}
	if fi, _ := os.Stat(filepath.Join(p.DataDir, dom)); fi.Mode().Perm() != 0o755 {
		t.Errorf("domain dir mode %v", fi.Mode())
	}
	if b, err := os.ReadFile(filepath.Join(p.DataDir, ".layout-version")); err != nil || string(b) != "2\n" {
		t.Errorf("marker %q %v", b, err)
	}

	// Keys: in dkim/<domain>/ (0700), byte-identical, loadable.
	keys := dkimkey.NewStore(p.ConfigDir)
	if _, err := keys.LoadSet(dom); err != nil {
		t.Fatalf("dkimkey: %v", err)
	}
	moved, _ := os.ReadFile(filepath.Join(p.ConfigDir, "dkim", dom, "private.key"))
	if !bytes.Equal(moved, fixtureKey) {
		t.Error("private key bytes changed")
	}
	if fi, _ := os.Stat(filepath.Join(p.ConfigDir, "dkim", dom)); fi.Mode().Perm() != 0o700 {
		t.Errorf("key dir mode %v", fi.Mode())
	}
	for _, n := range []string{"private.key", "public.key"} {
		if _, err := os.Lstat(filepath.Join(p.ConfigDir, "dkim", n)); !os.IsNotExist(err) {
			t.Errorf("legacy %s still there: %v", n, err)
		}
	}

	checkConfig(t, p)

	// The store opens it as a current layout and lists the old mail.
	st, err := storage.Open(p.DataDir, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := st.Counts(context.Background(), storage.MailboxRef{Domain: dom, Local: "support"})
	if err != nil || c != (storage.Counts{Total: 5, Unread: 4, Sent: 3}) {
		t.Errorf("support counts %+v %v", c, err)
	}
	st.Close()

	// One log line says what moved.
	lines := strings.Split(strings.TrimSpace(log.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("log lines: %q", log.String())
	}
	var line map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &line); err != nil {
		t.Fatal(err)
	}
	if line["domain"] != dom || line["messages"] != 11.0 || line["mailbox_dirs"] != 6.0 || line["dkim_files"] != 2.0 ||
		line["data_to"] != filepath.Join(p.DataDir, dom) || line["config_rewritten"] != true {
		t.Errorf("log line %s", lines[0])
	}

	// A second run is a no-op.
	before := snapshot(t, installRoot(p))
	log.Reset()
	if rep := mustRun(t, Options{Paths: p, Log: logTo(&log)}); rep.Migrated {
		t.Errorf("second run: %+v", rep)
	}
	if d := diffSnap(before, snapshot(t, installRoot(p))); d != "" || log.Len() != 0 {
		t.Errorf("second run changed something:\n%s\nlog %s", d, log.String())
	}
}

// checkConfig loads the rewritten config: domains, FQDN keys, no Rust or
// legacy forms, the file's mode kept, the hooks' names as they were.
func checkConfig(t *testing.T, p domains.Paths) {
	t.Helper()
	cfg, err := domains.Load(p.ConfigFile(), domains.LoadOptions{LookupOwner: noLookup})
	if err != nil {
		t.Fatal(err)
	}
	if s := cfg.Source; s.LegacyDomain || s.LegacyMailboxKeys || s.RustKeys || len(s.Warnings) != 0 {
		t.Errorf("rewritten config still legacy: %+v", s)
	}
	if !slices.Equal(cfg.Domains, []string{dom}) {
		t.Errorf("domains %v", cfg.Domains)
	}
	if got := cfg.MailboxNames(); !slices.Equal(got, []string{"*@" + dom, "billing@" + dom, "support@" + dom}) {
		t.Errorf("mailboxes %v", got)
	}
	raw, _ := os.ReadFile(p.ConfigFile())
	for _, s := range []string{"domains = [\"agent.example.com\"]", "[mailboxes.\"*@agent.example.com\"]"} {
		if !bytes.Contains(raw, []byte(s)) {
			t.Errorf("config lacks %s:\n%s", s, raw)
		}
	}
	for _, s := range []string{"domain =", "[mailboxes.support]", "enable_ipv6", "verify_host", "[upgrade]", "type = "} {
		if bytes.Contains(raw, []byte(s)) {
			t.Errorf("config still has %s:\n%s", s, raw)
		}
	}
	if fi, _ := os.Stat(p.ConfigFile()); fi.Mode().Perm() != 0o600 {
		t.Errorf("config mode %v, want the fixture's 0600", fi.Mode())
	}
	var names []string
	for _, h := range cfg.Mailboxes["support@"+dom].Hooks {
		names = append(names, h.EffectiveName())
	}
	if !slices.Equal(names, []string{"triage-agent", "7c6d418c1a76", "untrusted-log", "sent-audit"}) {
		t.Errorf("hook names %v", names)
	}
}

func equalReport(a, b Report) bool {
	return a.Migrated == b.Migrated && a.Domain == b.Domain && a.Mailboxes == b.Mailboxes && a.Messages == b.Messages &&
		slices.Equal(a.Folders, b.Folders) && a.Keys == b.Keys && a.ConfigRewritten == b.ConfigRewritten &&
		a.MarkerWritten == b.MarkerWritten
}

// A migrated multi-domain install (the Rust v2 fixture) is left alone and
// opens as it is.
func TestUpgradeV2Untouched(t *testing.T) {
	t.Parallel()
	p := install(t, "v2")
	before := snapshot(t, installRoot(p))
	if rep := mustRun(t, Options{Paths: p}); rep.Migrated {
		t.Errorf("v2: %+v", rep)
	}
	if d := diffSnap(before, snapshot(t, installRoot(p))); d != "" {
		t.Errorf("v2 changed:\n%s", d)
	}
	st, err := storage.Open(p.DataDir, storage.Options{})
	if err != nil {
		t.Fatalf("v2 does not open: %v", err)
	}
	st.Close()
}

// A new install (no data dir, or an empty one, and a current config) is
// not a migration: nothing is written.
func TestUpgradeNewInstall(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	p := domains.Paths{ConfigDir: filepath.Join(root, "etc"), DataDir: filepath.Join(root, "data")}
	if err := os.MkdirAll(p.ConfigDir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := "domains = [\"a.example\"]\n\n[mailboxes.\"x@a.example\"]\naddress = \"x@a.example\"\nowner = \"root\"\n"
	if err := os.WriteFile(p.ConfigFile(), []byte(cfg), 0o640); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		before := snapshot(t, root)
		if rep := mustRun(t, Options{Paths: p}); rep.Migrated {
			t.Errorf("new install: %+v", rep)
		}
		if d := diffSnap(before, snapshot(t, root)); d != "" {
			t.Errorf("new install changed:\n%s", d)
		}
		if err := os.MkdirAll(p.DataDir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}
