package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTokensCLIFallback: with no daemon, the operator's `aimx tokens`
// edits tokens.json directly: create prints the secret once (the file has
// only its hash), list shows no secret, revoke removes it.
func TestTokensCLIFallback(t *testing.T) {
	t.Parallel()
	configDir, dataDir := newInstall(t)
	env := []string{"AIMX_CONFIG_DIR=" + configDir, "AIMX_DATA_DIR=" + dataDir, "AIMX_RUNTIME_DIR=" + t.TempDir()}
	r := aimx(t, env, "tokens", "create", "--owner", "root", "--mailbox", "support", "--allow-hooks", "--name", "ci", "--json")
	if r.code != 0 {
		t.Fatalf("create: %d %s", r.code, r.stderr)
	}
	if r.stderr != tokenHint+"\n" {
		t.Errorf("create stderr %q, want the hint", r.stderr)
	}
	var created struct {
		ID, Token, Owner string
		Mailboxes        []string
		AllowHooks       bool `json:"allow_hooks"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &created); err != nil || !strings.HasPrefix(created.Token, "aimx_") ||
		created.Owner != "root" || !created.AllowHooks || strings.Join(created.Mailboxes, ",") != "support@a.test" {
		t.Fatalf("create: %s (%v)", r.stdout, err)
	}
	data, err := os.ReadFile(filepath.Join(configDir, "tokens.json"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), created.Token) {
		t.Fatal("tokens.json holds the secret")
	}
	if fi, err := os.Stat(filepath.Join(configDir, "tokens.json")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("tokens.json mode: %v %v", fi.Mode(), err)
	}
	r = aimx(t, env, "tokens", "list")
	if r.code != 0 || !strings.Contains(r.stdout, created.ID) || !strings.Contains(r.stdout, "support@a.test") || strings.Contains(r.stdout, "aimx_") {
		t.Errorf("list: %d %q %q", r.code, r.stdout, r.stderr)
	}
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"tokens", "create"}, 2, "owner"},
		{[]string{"tokens", "create", "--owner", "no-such-user-x"}, 1, "not a user"},
		{[]string{"tokens", "create", "--owner", "root", "--mailbox", "nobody"}, 1, "no mailbox nobody@a.test"},
		{[]string{"tokens", "revoke", "tok_nope"}, 1, "no token tok_nope"},
	} {
		if r := aimx(t, env, c.args...); r.code != c.code || !strings.Contains(r.stderr, c.msg) {
			t.Errorf("%v: %d %q, want %d %q", c.args, r.code, r.stderr, c.code, c.msg)
		}
	}
	if r = aimx(t, env, "tokens", "revoke", created.ID); r.code != 0 || !strings.Contains(r.stdout, "revoked token "+created.ID) {
		t.Fatalf("revoke: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r = aimx(t, env, "tokens", "list", "--json"); r.code != 0 || !strings.Contains(r.stdout, `"tokens": []`) {
		t.Errorf("list after revoke: %q", r.stdout)
	}
}

// TestMailboxesCLIFallback: with no daemon, the operator's create and
// delete edit config.toml and print the restart hint; catchalls and
// --owner take the same path; reload says the daemon is not running.
func TestMailboxesCLIFallback(t *testing.T) {
	t.Parallel()
	configDir, dataDir := newInstall(t)
	env := []string{"AIMX_CONFIG_DIR=" + configDir, "AIMX_DATA_DIR=" + dataDir, "AIMX_RUNTIME_DIR=" + t.TempDir()}
	cfg := func() string {
		b, err := os.ReadFile(filepath.Join(configDir, "config.toml"))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	me, err := currentUser()
	if err != nil {
		t.Fatal(err)
	}
	r := aimx(t, env, "mailboxes", "create", "sales")
	if r.code != 0 || r.stdout != "created mailbox sales@a.test (owner "+me+")\n" || r.stderr != restartHint+"\n" {
		t.Fatalf("create: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(cfg(), `[mailboxes."sales@a.test"]`) {
		t.Errorf("config.toml lacks sales:\n%s", cfg())
	}
	if _, err := os.Stat(filepath.Join(dataDir, "a.test", "inbox", "sales")); err != nil {
		t.Errorf("storage of sales: %v", err)
	}
	// Again: nothing changes, so no hint.
	if r = aimx(t, env, "mailboxes", "create", "sales", "--json"); r.code != 0 || r.stderr != "" || !strings.Contains(r.stdout, `"created": false`) {
		t.Errorf("create again: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r = aimx(t, env, "mailboxes", "create", "*@b.test", "--owner", me); r.code != 0 || !strings.Contains(r.stdout, "created mailbox *@b.test") {
		t.Errorf("create catchall: %d %q %q", r.code, r.stdout, r.stderr)
	}
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"mailboxes", "create", "x@c.test"}, "not one of this server's domains"},
		{[]string{"mailboxes", "create", "Bad Name"}, "not a valid mailbox name"},
		{[]string{"mailboxes", "create", "newbox", "--owner", "no-such-user-x"}, "not a user"},
		{[]string{"mailboxes", "delete", "nope"}, "no mailbox nope@a.test"},
	} {
		if r := aimx(t, env, c.args...); r.code != 1 || !strings.Contains(r.stderr, c.msg) {
			t.Errorf("%v: %d %q, want %q", c.args, r.code, r.stderr, c.msg)
		}
	}
	if r = aimx(t, env, "mailboxes", "delete", "*@b.test"); r.code != 0 || !strings.Contains(r.stdout, "deleted mailbox *@b.test (0 files)") || r.stderr != restartHint+"\n" {
		t.Errorf("delete catchall: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r = aimx(t, env, "mailbox", "delete", "sales", "--json"); r.code != 0 || !strings.Contains(r.stdout, `"name": "sales@a.test"`) {
		t.Errorf("delete: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(cfg(), "sales@") || strings.Contains(cfg(), "*@b.test") {
		t.Errorf("deleted mailboxes still in config.toml:\n%s", cfg())
	}
	if r = aimx(t, env, "reload"); r.code != 1 || !strings.Contains(r.stderr, "daemon not running") || !strings.Contains(r.stderr, "admin.sock") {
		t.Errorf("reload: %d %q", r.code, r.stderr)
	}
}

// TestClientFindsRuntimeDirOfABrokenConfig: a config that does not load
// still names its daemon's runtime dir, and client commands look there
// (not in /run/aimx) for the sockets.
func TestClientFindsRuntimeDirOfABrokenConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rt := filepath.Join(dir, "my-run")
	broken := "runtime_dir = \"" + rt + "\"\ndomains = [\"a.test\"\n[smtp\n"
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	r := aimx(t, []string{"AIMX_CONFIG_DIR=" + dir}, "reload")
	if r.code != 1 || !strings.Contains(r.stderr, filepath.Join(rt, "admin.sock")) {
		t.Fatalf("reload with a broken config: %d %q", r.code, r.stderr)
	}
	for _, tc := range []struct{ in, want string }{
		{"runtime_dir = '" + rt + "'\n", rt},
		{"# c\nruntime_dir=\"" + rt + "\" \n", rt},
		{"[smtp]\nruntime_dir = \"" + rt + "\"\n", ""},
		{"runtime_dir = \"relative\"\n", ""},
	} {
		p := filepath.Join(t.TempDir(), "config.toml")
		if err := os.WriteFile(p, []byte(tc.in), 0o600); err != nil {
			t.Fatal(err)
		}
		if got := peekRuntimeDir(p); got != tc.want {
			t.Errorf("peek %q = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestCLIWording: refusals the daemon words for agents name the CLI's own
// commands when the CLI prints them.
func TestCLIWording(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		`mailbox "x@a.test" not found. Call mailbox_list to see the mailboxes you can use.`:                                                                              `mailbox "x@a.test" not found. Run aimx mailboxes list to see the mailboxes you can use.`,
		`hook "h" not found. Call hook_list to see the hooks you can use.`:                                                                                               `hook "h" not found. Run aimx hooks list to see the hooks you can use.`,
		"mailbox a@a.test still holds 3 emails; nothing was deleted. Confirm with the user, then call mailbox_delete again with force: true to delete it and its email.": "mailbox a@a.test still holds 3 emails; nothing was deleted. Run aimx mailboxes delete again with --force to delete it and its email.",
		"unrelated": "unrelated",
	} {
		if got := cliWording(in); got != want {
			t.Errorf("cliWording(%q) = %q", in, got)
		}
	}
}
