package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHooksCLI: list, create (validated, derived or given name), delete,
// with the config file edited in place (the operator, daemon down) and the
// restart hint of book/admin.md.
func TestHooksCLI(t *testing.T) {
	t.Parallel()
	configDir, dataDir := newInstall(t)
	runDir := t.TempDir()
	env := []string{"AIMX_CONFIG_DIR=" + configDir, "AIMX_DATA_DIR=" + dataDir, "AIMX_RUNTIME_DIR=" + runDir}

	list := func() []hookRow {
		t.Helper()
		r := aimx(t, env, "--json", "hooks", "list")
		if r.code != 0 {
			t.Fatalf("list: %d %s", r.code, r.stderr)
		}
		var out struct{ Hooks []hookRow }
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
			t.Fatalf("list JSON: %v\n%s", err, r.stdout)
		}
		return out.Hooks
	}
	if h := list(); len(h) != 1 || h[0].Mailbox != "support@a.test" || h[0].TimeoutSecs != 60 {
		t.Fatalf("initial hooks %+v", h)
	}

	r := aimx(t, env, "hooks", "create", "--mailbox", "support", "--event", "on_receive", "--name", "triage",
		"--timeout-secs", "30", "--fire-on-untrusted", "--", "/usr/bin/env", "-i", "x=$(id)")
	if r.code != 0 || !strings.Contains(r.stdout, "created hook triage on support@a.test") || r.stderr != restartHint+"\n" {
		t.Fatalf("create: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	var found *hookRow
	for _, h := range list() {
		if h.Name == "triage" {
			found = &h
		}
	}
	if found == nil || found.TimeoutSecs != 30 || !found.FireOnUntrusted || strings.Join(found.Cmd, "|") != "/usr/bin/env|-i|x=$(id)" {
		t.Fatalf("created hook %+v", found)
	}
	data, err := os.ReadFile(filepath.Join(configDir, "config.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `name = "triage"`) {
		t.Errorf("config.toml lacks the hook:\n%s", data)
	}

	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"hooks", "create", "--mailbox", "support", "--event", "on_receive", "--", "echo"}, 2, "absolute"},
		{[]string{"hooks", "create", "--mailbox", "support", "--event", "on_receive", "--name", "triage", "--", "/bin/true"}, 1, "already used"},
		{[]string{"hooks", "create", "--mailbox", "*@a.test", "--event", "on_receive", "--", "/bin/true"}, 2, "catchall"},
		{[]string{"hooks", "create", "--mailbox", "nobody", "--event", "on_receive", "--", "/bin/true"}, 1, "no such mailbox"},
		{[]string{"hooks", "create", "--mailbox", "support", "--event", "on_receive"}, 2, "after --"},
		{[]string{"hooks", "delete", "nope"}, 1, "no such hook"},
	} {
		r := aimx(t, env, c.args...)
		if r.code != c.code || !strings.Contains(r.stderr, c.msg) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, r.code, r.stderr, c.code, c.msg)
		}
	}

	if r := aimx(t, env, "hooks", "delete", "triage"); r.code != 0 {
		t.Fatalf("delete: %d %s", r.code, r.stderr)
	}
	if h := list(); len(h) != 1 {
		t.Errorf("after delete: %+v", h)
	}
	if r := aimx(t, env, "hook", "list", "--mailbox", "support"); r.code != 0 || !strings.Contains(r.stdout, "/bin/echo hi") {
		t.Errorf("alias and text list: %d %s %s", r.code, r.stdout, r.stderr)
	}
}

func TestShellQuote(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		argv []string
		want string
	}{
		{[]string{"/usr/bin/logger", "-t", "aimx"}, "/usr/bin/logger -t aimx"},
		{[]string{"/usr/bin/env", "-i", "x=$(id)"}, `/usr/bin/env -i 'x=$(id)'`},
		{[]string{"/bin/echo", "two words", "it's", ""}, `/bin/echo 'two words' 'it'\''s' ''`},
	} {
		if got := shellQuote(tc.argv); got != tc.want {
			t.Errorf("shellQuote(%q) = %s, want %s", tc.argv, got, tc.want)
		}
	}
}
