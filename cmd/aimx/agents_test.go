package main

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// asAgent is the flag a test needs to run `aimx agents` when the tests
// themselves run as root.
func asAgent() []string {
	if os.Geteuid() == 0 {
		return []string{"--dangerously-allow-root"}
	}
	return nil
}

func agentsRun(t *testing.T, home string, args ...string) result {
	t.Helper()
	env := []string{"HOME=" + home, "PATH=/nonexistent"}
	if slices.Contains(args, "setup") || slices.Contains(args, "remove") {
		args = append(args, asAgent()...)
	}
	return aimx(t, env, args...)
}

// files lists what is under dir.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if p != dir {
			out = append(out, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAgentsRefusesRoot(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("not running as root: the refusal is tested in package agents (CheckUser)")
	}
	home := t.TempDir()
	for _, args := range [][]string{{"agents", "setup", "claude-code"}, {"agents", "remove", "codex"}, {"agents", "setup", "goose", "--print"}} {
		r := aimx(t, []string{"HOME=" + home}, args...)
		if r.code != 1 || !strings.Contains(r.stderr, "--dangerously-allow-root") {
			t.Errorf("%v: %d %q", args, r.code, r.stderr)
		}
	}
	if left := files(t, home); len(left) != 0 {
		t.Errorf("wrote %v", left)
	}
}

func TestAgentsPrintWritesNothing(t *testing.T) {
	t.Parallel()
	home, tok := t.TempDir(), filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tok, []byte("aimx_secretsecretsecret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"claude-code", "codex", "gemini", "goose", "opencode"} {
		r := agentsRun(t, home, "agents", "setup", name, "--print", "--http", "http://127.0.0.1:3025", "--token-file", tok, "--mailbox", "hello@agent.localhost", "--with-hook-recipes")
		if r.code != 0 || !strings.Contains(r.stdout, "==> "+home) || !strings.Contains(r.stdout, "http://127.0.0.1:3025/mcp") ||
			!strings.Contains(r.stdout, "hello@agent.localhost") || !strings.Contains(r.stderr, "nothing was written") {
			t.Errorf("%s: %d\n%s\n%s", name, r.code, r.stdout, r.stderr)
		}
		if strings.Contains(r.stdout+r.stderr, "secretsecret") {
			t.Errorf("%s: --print shows the token", name)
		}
	}
	if left := files(t, home); len(left) != 0 {
		t.Errorf("--print wrote %v", left)
	}
}

func TestAgentsSetupListRemove(t *testing.T) {
	t.Parallel()
	cfgDir, _ := newInstall(t)
	home := t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// A bare local part is on the default domain of the config the CLI
	// was pointed at, and the stdio bridge is pointed at it too.
	r := agentsRun(t, home, "--config-dir", cfgDir, "agents", "setup", "claude", "--mailbox", "support")
	if r.code != 0 || !strings.Contains(r.stdout, "addresses: support@a.test") {
		t.Fatalf("setup: %d %q %q", r.code, r.stdout, r.stderr)
	}
	var cfg struct {
		MCPServers map[string]struct {
			Type    string   `json:"type"`
			Command string   `json:"command"`
			Args    []string `json:"args"`
		} `json:"mcpServers"`
	}
	b, err := os.ReadFile(filepath.Join(home, ".claude.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	got := cfg.MCPServers["aimx"]
	if got.Type != "stdio" || got.Command != exe || strings.Join(got.Args, " ") != "--config-dir "+cfgDir+" mcp" {
		t.Errorf("entry %+v", got)
	}
	skill, err := os.ReadFile(filepath.Join(home, ".claude", "skills", "aimx", "SKILL.md"))
	if err != nil || !strings.Contains(string(skill), "`support@a.test`") {
		t.Errorf("skill: %v %q", err, skill)
	}

	// Over HTTP: the token goes into the file, never to the terminal.
	tok := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tok, []byte("aimx_secretsecretsecret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = agentsRun(t, home, "agents", "setup", "opencode", "--http", "https://mail.example.com/mcp", "--token-file", tok, "--mailbox", "x@a.test")
	if r.code != 0 || strings.Contains(r.stdout+r.stderr, "secretsecret") {
		t.Fatalf("http setup: %d %q %q", r.code, r.stdout, r.stderr)
	}
	oc := filepath.Join(home, ".config", "opencode", "opencode.json")
	if b, err := os.ReadFile(oc); err != nil || !strings.Contains(string(b), `"Bearer aimx_secretsecretsecret"`) {
		t.Errorf("opencode.json: %v %s", err, b)
	}
	if fi, err := os.Stat(oc); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("opencode.json mode: %v", fi.Mode())
	}

	r = agentsRun(t, home, "--json", "agents", "list")
	var list struct {
		Agents []struct {
			Agent   string `json:"agent"`
			Servers []struct {
				Transport, Target string
			} `json:"servers"`
		} `json:"agents"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || strings.Contains(r.stdout, "secretsecret") {
		t.Fatalf("list: %v %q", err, r.stdout)
	}
	seen := map[string]string{}
	for _, s := range list.Agents {
		for _, sv := range s.Servers {
			seen[s.Agent] = sv.Transport + " " + sv.Target
		}
	}
	if seen["claude-code"] != "stdio "+exe+" --config-dir "+cfgDir+" mcp" || seen["opencode"] != "http https://mail.example.com/mcp" || len(seen) != 2 {
		t.Errorf("list: %v", seen)
	}
	if r := agentsRun(t, home, "agents", "list"); r.code != 0 || !strings.Contains(r.stdout, "AGENT") {
		t.Errorf("list table: %q", r.stdout)
	}

	for _, name := range []string{"claude-code", "opencode"} {
		if r := agentsRun(t, home, "agents", "remove", name); r.code != 0 || !strings.Contains(r.stdout, "deleted") {
			t.Errorf("remove %s: %d %q %q", name, r.code, r.stdout, r.stderr)
		}
	}
	for _, f := range files(t, home) {
		if fi, err := os.Stat(f); err == nil && !fi.IsDir() {
			t.Errorf("remove left %s", f)
		}
	}
	if r := agentsRun(t, home, "agents", "remove", "codex"); r.code != 0 || !strings.Contains(r.stdout, "nothing changed") {
		t.Errorf("remove of nothing: %d %q", r.code, r.stdout)
	}
}

func TestAgentsUsage(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"agents", "setup", "cursor"}, 2, `unknown agent "cursor"`},
		{[]string{"agents", "setup", "codex", "--scope", "team"}, 2, "scope must be user or project"},
		{[]string{"agents", "setup", "codex", "--scope", "project"}, 1, "--scope user"},
		{[]string{"agents", "setup", "codex", "--http", "http://h/mcp"}, 2, "token-file"},
		{[]string{"agents", "setup", "codex", "--http", "ftp://h", "--token-file", "/dev/null"}, 2, "--http must be a URL"},
		{[]string{"agents", "setup", "codex", "--http", "http://h", "--token-file", "/dev/null"}, 1, "does not hold one aimx token"},
		{[]string{"agents", "setup"}, 2, "accepts 1 arg"},
	} {
		if r := agentsRun(t, home, c.args...); r.code != c.code || !strings.Contains(r.stderr, c.msg) {
			t.Errorf("%v: %d %q, want %d and %q", c.args, r.code, r.stderr, c.code, c.msg)
		}
	}
	if r := aimx(t, []string{"HOME=relative"}, append([]string{"agents", "setup", "codex"}, asAgent()...)...); r.code != 1 || !strings.Contains(r.stderr, "HOME") {
		t.Errorf("no HOME: %d %q", r.code, r.stderr)
	}
}

// TestAgentsOwnMailboxes: without --mailbox the instructions name the
// mailboxes the user owns (here read from the config, the daemon being
// down), catchalls left out.
func TestAgentsOwnMailboxes(t *testing.T) {
	t.Parallel()
	me, err := currentUser()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	conf := "domains = [\"a.test\"]\nruntime_dir = \"" + filepath.Join(dir, "run") + "\"\n\n" +
		"[mailboxes.\"bob@a.test\"]\naddress = \"bob@a.test\"\nowner = \"" + me + "\"\n\n" +
		"[mailboxes.\"*@a.test\"]\naddress = \"*@a.test\"\nowner = \"" + me + "\"\n\n" +
		"[mailboxes.\"other@a.test\"]\naddress = \"other@a.test\"\nowner = \"nobody-else\"\n"
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(conf), 0o640); err != nil {
		t.Fatal(err)
	}
	r := agentsRun(t, t.TempDir(), "--config-dir", dir, "agents", "setup", "gemini", "--print")
	if r.code != 0 || !strings.Contains(r.stdout, "served by the aimx mail server: `bob@a.test`") ||
		strings.Contains(r.stdout, "*@a.test") || strings.Contains(r.stdout, "other@a.test") {
		t.Errorf("%d %q %q", r.code, r.stdout, r.stderr)
	}
}
