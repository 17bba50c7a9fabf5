package e2e

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The upgrade from a single-domain install the Rust aimx wrote
// (book/upgrade.md): read-only commands read it as it is, the first
// `aimx serve` migrates it before anything listens, its mailboxes receive,
// list and read under their FQDN names, its hooks keep their names, and
// the next start is a no-op.

const upgradeDomain = "agent.example.com"

// rustV1 is the fixture of a Rust single-domain install.
var rustV1 = filepath.Join("..", "testdata", "fixtures", "rust-install", "v1")

// layRustV1 lays the v1 fixture into a dev dir: its config.toml (with
// data_dir and runtime_dir pointed into the dev dir, as a dev dir's
// config records them: book/dev-mode.md), its DKIM keys in dkim/ and its
// mail in data/, plus the empty mailbox dirs git cannot keep (fixture
// README, "How to use").
func layRustV1(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ax") // short: socket paths stay under 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	cfg, err := os.ReadFile(filepath.Join(rustV1, "etc", "config.toml"))
	if err != nil {
		t.Fatal(err)
	}
	paths := "data_dir = " + quote(filepath.Join(dir, "data")) + "\nruntime_dir = " + quote(filepath.Join(dir, "run"))
	cfg = bytes.Replace(cfg, []byte(`data_dir = "/var/lib/aimx"`), []byte(paths), 1)
	if !bytes.Contains(cfg, []byte(paths)) {
		t.Fatal("fixture config has no data_dir line to point into the dev dir")
	}
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	copyDir(t, filepath.Join(rustV1, "etc", "dkim"), filepath.Join(dir, "dkim"))
	copyDir(t, filepath.Join(rustV1, "data"), filepath.Join(dir, "data"))
	for _, d := range []string{"sent/catchall", "sent/billing"} {
		if err := os.MkdirAll(filepath.Join(dir, "data", d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func quote(s string) string { b, _ := json.Marshal(s); return string(b) }

// copyDir copies a tree of dirs (0700) and files (0600), the Rust modes.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o700)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(to, b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// listing records every path below dir with its size: what a read-only
// command must leave as it was.
func listing(t *testing.T, dir string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		out[p] = fi.Size()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func cliJSON(t *testing.T, dir string, v any, args ...string) {
	t.Helper()
	out, errOut, code := runCLI(t, append([]string{"--config-dir", dir, "--json"}, args...)...)
	if code != 0 {
		t.Fatalf("aimx %v: exit %d: %s", args, code, errOut)
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("aimx %v: %v\n%s", args, err, out)
	}
}

type upgradeRows struct {
	Mailboxes []struct {
		Name                string
		Total, Unread, Sent int
	}
	Hooks []struct{ Name, Mailbox string }
}

func TestUpgradeRustV1(t *testing.T) {
	dir := layRustV1(t)
	fixtureKey, _ := os.ReadFile(filepath.Join(rustV1, "etc", "dkim", "private.key"))

	// Before any start: read-only commands read the legacy layout as it
	// is, and write nothing.
	before := listing(t, dir)
	var rows upgradeRows
	cliJSON(t, dir, &rows, "mailboxes", "list")
	counts := map[string][3]int{}
	for _, m := range rows.Mailboxes {
		counts[m.Name] = [3]int{m.Total, m.Unread, m.Sent}
	}
	wantCounts := map[string][3]int{"support@" + upgradeDomain: {5, 4, 3}, "*@" + upgradeDomain: {2, 2, 0}, "billing@" + upgradeDomain: {1, 1, 0}}
	if len(counts) != 3 || counts["support@"+upgradeDomain] != wantCounts["support@"+upgradeDomain] ||
		counts["*@"+upgradeDomain] != wantCounts["*@"+upgradeDomain] || counts["billing@"+upgradeDomain] != wantCounts["billing@"+upgradeDomain] {
		t.Errorf("mailboxes list before the migration: %+v", counts)
	}
	wantHooks := []string{"7c6d418c1a76", "sent-audit", "triage-agent", "untrusted-log"}
	if got := hookNames(t, dir); !slices.Equal(got, wantHooks) {
		t.Errorf("hooks list before the migration: %v, want %v", got, wantHooks)
	}
	if after := listing(t, dir); !equalListing(before, after) {
		t.Fatal("a read-only command wrote into an unmigrated install")
	}

	// The first start migrates, with one log line, before it listens.
	d := StartDev(t, DaemonOptions{Dir: dir})
	if n := strings.Count(d.Stderr(), "single-domain install migrated"); n != 1 {
		t.Fatalf("migration log lines: %d\n%s", n, d.Stderr())
	}
	data := d.DataDir()
	for _, p := range []string{
		filepath.Join(data, ".layout-version"),
		filepath.Join(data, upgradeDomain, "inbox", "support", "2026-09-14-081502-can-t-log-in-to-the.md"),
		filepath.Join(data, upgradeDomain, "sent", "support", "2026-09-16-103046-weekly-support-summa.md"),
	} {
		if _, err := os.Stat(p); err != nil {
			t.Error(err)
		}
	}
	for _, p := range []string{filepath.Join(data, "inbox"), filepath.Join(data, "sent"), filepath.Join(dir, "dkim", "private.key")} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("%s left after the migration: %v", p, err)
		}
	}
	if key, _ := os.ReadFile(filepath.Join(dir, "dkim", upgradeDomain, "private.key")); !bytes.Equal(key, fixtureKey) {
		t.Error("the install's DKIM key is not the domain's key after the migration (dev mode's seeded one kept?)")
	}
	cfg, _ := os.ReadFile(filepath.Join(dir, "config.toml"))
	if !bytes.Contains(cfg, []byte(`domains = ["agent.example.com"]`)) || !bytes.Contains(cfg, []byte(`[mailboxes."support@agent.example.com"]`)) {
		t.Errorf("config not rewritten:\n%s", cfg)
	}

	// SMTP: an old mailbox receives.
	msg := crlf([]byte("From: Alice <alice@example.com>\nTo: support@agent.example.com\nSubject: After the upgrade\n" +
		"Message-ID: <after-upgrade@example.com>\nDate: Mon, 12 Oct 2026 10:00:00 +0000\n\nStill there?\n"))
	if err := d.Deliver("alice@example.com", []string{"support@" + upgradeDomain}, msg); err != nil {
		t.Fatalf("RCPT to an old mailbox: %v", err)
	}

	// MCP: old mail lists and reads under the FQDN names.
	s := d.devConnect(t, viaUnix, protocolVersions[0])
	list := s.call("email_list", map[string]any{"mailbox": "support@" + upgradeDomain}).ok(t)
	if total, _ := list.s["total"].(float64); total != 6 {
		t.Errorf("support inbox after one new message: total %v, want 6", list.s["total"])
	}
	sent := s.call("email_list", map[string]any{"mailbox": "support", "folder": "sent"}).ok(t)
	if total, _ := sent.s["total"].(float64); total != 3 {
		t.Errorf("support sent: total %v, want 3", sent.s["total"])
	}
	catch := s.call("email_list", map[string]any{"mailbox": "*@" + upgradeDomain}).ok(t)
	emails, _ := catch.s["emails"].([]any)
	if len(emails) != 2 {
		t.Fatalf("catchall: %v", catch.s)
	}
	id, _ := emails[1].(map[string]any)["id"].(string)
	if id != "2026-09-15-093344-grüße-aus-münchen-an" {
		t.Errorf("catchall's oldest id %q", id)
	}
	read := s.call("email_read", map[string]any{"mailbox": "*@" + upgradeDomain, "id": id}).ok(t)
	if !strings.Contains(read.s["subject"].(string), "Grüße") {
		t.Errorf("email_read subject %v", read.s["subject"])
	}
	t.Run("email_read names the mailbox by its FQDN", func(t *testing.T) {
		// The Rust frontmatter says mailbox = "catchall" (its config key);
		// agents get the mailbox's name (book/upgrade.md).
		if got := read.s["mailbox"]; got != "*@"+upgradeDomain {
			t.Errorf("mailbox %v, want *@%s", got, upgradeDomain)
		}
	})

	// Hooks keep their names, derived ones included.
	if got := hookNames(t, dir); !slices.Equal(got, wantHooks) {
		t.Errorf("hooks list after the migration: %v, want %v", got, wantHooks)
	}

	// A second start is a no-op.
	cfgBefore, _ := os.ReadFile(filepath.Join(dir, "config.toml"))
	_ = s.cl.Close()
	d.Stop()
	d.Restart()
	if strings.Contains(d.Stderr(), "single-domain install migrated") {
		t.Errorf("second start migrated again:\n%s", d.Stderr())
	}
	if cfgAfter, _ := os.ReadFile(filepath.Join(dir, "config.toml")); !bytes.Equal(cfgBefore, cfgAfter) {
		t.Error("second start rewrote the config")
	}
	s = d.devConnect(t, viaUnix, protocolVersions[1])
	list = s.call("email_list", map[string]any{"mailbox": "support@" + upgradeDomain}).ok(t)
	if total, _ := list.s["total"].(float64); total != 6 {
		t.Errorf("after restart: total %v, want 6", list.s["total"])
	}
	_ = s.cl.Close()
	d.Stop()
}

func hookNames(t *testing.T, dir string) []string {
	t.Helper()
	var rows upgradeRows
	cliJSON(t, dir, &rows, "hooks", "list")
	var names []string
	for _, h := range rows.Hooks {
		if h.Mailbox != "support@"+upgradeDomain {
			t.Errorf("hook %s on %q", h.Name, h.Mailbox)
		}
		names = append(names, h.Name)
	}
	slices.Sort(names)
	return names
}

func equalListing(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || v != w {
			return false
		}
	}
	return true
}

// A start that the migration refuses stops before anything listens, with
// one error line that names the path, and writes nothing over the data:
// a legacy tree beside the layout marker (which used to start silently
// over it), a corrupt marker, and a mailbox both in its old and its new
// place.
func TestUpgradeRefusedStartStops(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		lay  func(t *testing.T, data string)
		says []string
	}{
		{"legacy beside marker", func(t *testing.T, data string) {
			writeFile(t, filepath.Join(data, ".layout-version"), "2\n")
			writeFile(t, filepath.Join(data, "inbox", "support", "2026-10-01-000000-x.md"), "+++\n+++\n\nx\n")
		}, []string{"layout marker", "inbox", "by hand"}},
		{"corrupt marker", func(t *testing.T, data string) {
			writeFile(t, filepath.Join(data, ".layout-version"), "7\n")
		}, []string{".layout-version", "remove it"}},
		{"old and new", func(t *testing.T, data string) {
			writeFile(t, filepath.Join(data, upgradeDomain, "sent", "support", "2026-10-01-000000-x.md"), "+++\n+++\n\nx\n")
		}, []string{filepath.Join("sent", "support"), "will not merge"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := layRustV1(t)
			c.lay(t, filepath.Join(dir, "data"))
			before := listing(t, filepath.Join(dir, "data"))
			_, errOut, code := runCLI(t, "serve", "--dev", "--dir", dir, "--smtp", "127.0.0.1:0", "--mcp-http", "127.0.0.1:0")
			lines := strings.Split(strings.TrimSpace(errOut), "\n")
			last := lines[len(lines)-1]
			if code != 1 || !strings.HasPrefix(last, "Error: ") {
				t.Fatalf("exit %d, %q", code, errOut)
			}
			for _, s := range c.says {
				if !strings.Contains(last, s) {
					t.Errorf("error %q does not say %q", last, s)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "run", "listen.json")); !os.IsNotExist(err) {
				t.Errorf("something listened: %v", err)
			}
			if !equalListing(before, listing(t, filepath.Join(dir, "data"))) {
				t.Error("a refused start wrote into the data dir")
			}
		})
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
