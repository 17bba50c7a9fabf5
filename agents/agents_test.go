package agents

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"
	"go.yaml.in/yaml/v3"
)

// The golden files pin each harness's files against its documented format:
//
//   - Claude Code: https://docs.anthropic.com/en/docs/claude-code/mcp (mcpServers
//     in ~/.claude.json and .mcp.json, type stdio|http) and
//     https://docs.anthropic.com/en/docs/claude-code/skills (SKILL.md);
//   - Codex CLI: https://github.com/openai/codex/blob/main/docs/config.md#mcp_servers
//     ([mcp_servers.<name>] command/args, url/http_headers) and AGENTS.md;
//   - Gemini CLI: https://github.com/google-gemini/gemini-cli/blob/main/docs/tools/mcp-server.md
//     (mcpServers command/args, httpUrl/headers) and GEMINI.md;
//   - Goose: https://block.github.io/goose/docs/guides/config-files
//     (extensions: type stdio cmd/args, streamable_http uri/headers) and .goosehints;
//   - OpenCode: https://opencode.ai/docs/mcp-servers/ (mcp: type local
//     command[], remote url/headers) and https://opencode.ai/docs/rules/ (AGENTS.md).
//
// Run `go test ./agents -update` to rewrite them, and check the diff
// against those pages.

// parseBack parses a config with the format's own library (not the
// codec) and returns the aimx entry.
func parseBack(t *testing.T, h Harness, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	var err error
	switch h.Format {
	case JSON:
		err = json.Unmarshal(b, &m)
	case TOML:
		err = toml.Unmarshal(b, &m)
	case YAML:
		err = yaml.Unmarshal(b, &m)
	}
	if err != nil {
		t.Fatalf("%s: %s does not parse: %v\n%s", h.Name, h.Format, err, b)
	}
	return m
}

// withoutAimx is a parsed config without the aimx entry.
func withoutAimx(t *testing.T, h Harness, m map[string]any) any {
	t.Helper()
	c, err := canonical(m)
	if err != nil {
		t.Fatal(err)
	}
	cur := c.(map[string]any)
	for _, k := range h.ServersPath {
		cur = cur[k].(map[string]any)
	}
	delete(cur, ServerName)
	return c
}

func TestSetupFresh(t *testing.T) {
	t.Parallel()
	for _, h := range Harnesses() {
		t.Run(h.Name, func(t *testing.T) {
			t.Parallel()
			env := testEnv(t, nil)
			r := Request{Scope: UserScope, Server: stdioServer(), HookRecipes: true,
				Mailboxes: []string{"support@agent.example.com", "sales@agent.example.com"}}
			p, err := PlanSetup(h, env, r)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, h.Name+"-fresh", rendered(t, p, env))
			if err := p.Apply(); err != nil {
				t.Fatal(err)
			}
			for _, c := range p.Changes {
				if got := readTest(t, c.Path); !bytes.Equal(got, c.Content) {
					t.Errorf("%s holds %q, the plan said %q", c.Path, got, c.Content)
				}
				if _, err := os.Stat(c.Path + BackupSuffix); err == nil {
					t.Errorf("%s: a new file got a backup", c.Path)
				}
			}
			cfg := parseBack(t, h, readTest(t, h.Config(env, UserScope)))
			got, _ := lookup(cfg, append(h.ServersPath, ServerName)...)
			gc, _ := canonical(got)
			wc, _ := canonical(h.Entry(r.Server).generic())
			if !reflect.DeepEqual(gc, wc) {
				t.Errorf("entry parses back as %v, want %v", gc, wc)
			}
			// Running it again changes nothing.
			again, err := PlanSetup(h, env, r)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range again.Changes {
				if !c.Unchanged {
					t.Errorf("second setup changes %s", c.Path)
				}
			}
			// Remove takes everything away again.
			rm, err := PlanRemove(h, env, UserScope)
			if err != nil {
				t.Fatal(err)
			}
			if err := rm.Apply(); err != nil {
				t.Fatal(err)
			}
			left := tree(t, env.Home)
			for p := range left {
				if !strings.HasSuffix(p, "/") {
					t.Errorf("remove left %s: %q", p, left[p])
				}
			}
		})
	}
}

func TestSetupMergeAndRemove(t *testing.T) {
	t.Parallel()
	for _, h := range Harnesses() {
		t.Run(h.Name, func(t *testing.T) {
			t.Parallel()
			env := testEnv(t, nil)
			orig := readTest(t, filepath.Join("testdata", "existing", h.Name+"."+fixtureExt(h)))
			cfgPath := h.Config(env, UserScope)
			writeFile(t, cfgPath, orig)
			notes := readTest(t, filepath.Join("testdata", "existing", "AGENTS.md"))
			ins := h.Instructions(env, UserScope)
			if !ins.Own {
				writeFile(t, ins.Path, notes)
			}
			r := Request{Scope: UserScope, Server: httpServer(), HookRecipes: true, Mailboxes: []string{"support@agent.example.com"}}
			p, err := PlanSetup(h, env, r)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, h.Name+"-merge-http", rendered(t, p, env))
			if err := p.Apply(); err != nil {
				t.Fatal(err)
			}
			if got := readTest(t, cfgPath+BackupSuffix); !bytes.Equal(got, orig) {
				t.Errorf("backup holds %q", got)
			}
			fi, err := os.Stat(cfgPath)
			if err != nil || fi.Mode().Perm()&0o077 != 0 {
				t.Errorf("a config holding a token is %v (%v), want private", fi.Mode(), err)
			}
			merged := readTest(t, cfgPath)
			if !reflect.DeepEqual(withoutAimx(t, h, parseBack(t, h, merged)), withoutAimx(t, h, parseBack(t, h, orig))) {
				t.Errorf("the other keys changed:\n%s", merged)
			}
			if h.Format != JSON && !bytes.Contains(merged, []byte("# ")) {
				t.Errorf("comments were lost:\n%s", merged)
			}
			// A second setup (stdio now) keeps the first backup.
			writeFile(t, cfgPath+BackupSuffix, []byte("first backup"))
			r2 := Request{Scope: UserScope, Server: stdioServer()}
			p2, err := PlanSetup(h, env, r2)
			if err != nil {
				t.Fatal(err)
			}
			if err := p2.Apply(); err != nil {
				t.Fatal(err)
			}
			if got := readTest(t, cfgPath+BackupSuffix); string(got) != "first backup" {
				t.Errorf("the backup was rewritten: %q", got)
			}
			rm, err := PlanRemove(h, env, UserScope)
			if err != nil {
				t.Fatal(err)
			}
			if err := rm.Apply(); err != nil {
				t.Fatal(err)
			}
			if got := readTest(t, cfgPath); !bytes.Equal(got, orig) {
				t.Errorf("remove left\n%s\nwant the original\n%s", got, orig)
			}
			if !ins.Own {
				if got := readTest(t, ins.Path); !bytes.Equal(got, notes) {
					t.Errorf("remove left instructions %q, want %q", got, notes)
				}
			} else if _, err := os.Stat(ins.Path); err == nil {
				t.Errorf("remove left %s", ins.Path)
			}
		})
	}
}

func TestPrintWritesNothing(t *testing.T) {
	t.Parallel()
	for _, h := range Harnesses() {
		env := testEnv(t, nil)
		p, err := PlanSetup(h, env, Request{Scope: UserScope, Server: httpServer(), HookRecipes: true})
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := p.Print(&b); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(b.String(), testToken) || !strings.Contains(b.String(), Redacted) {
			t.Errorf("%s: --print shows the token or no placeholder:\n%s", h.Name, b.String())
		}
		if !strings.Contains(b.String(), "==> "+h.Config(env, UserScope)) {
			t.Errorf("%s: --print does not name the config file:\n%s", h.Name, b.String())
		}
		if left := tree(t, env.Home); len(left) != 0 {
			t.Errorf("%s: planning and printing wrote %v", h.Name, left)
		}
	}
}

func TestCheckUser(t *testing.T) {
	t.Parallel()
	if err := CheckUser(0, false); err == nil || !strings.Contains(err.Error(), "--dangerously-allow-root") {
		t.Errorf("root: %v", err)
	}
	if CheckUser(0, true) != nil || CheckUser(1000, false) != nil {
		t.Error("refused a user or an allowed root")
	}
}

func TestScopes(t *testing.T) {
	t.Parallel()
	env := testEnv(t, nil)
	h, _ := Lookup("claude")
	p, err := PlanSetup(h, env, Request{Scope: ProjectScope, Server: stdioServer()})
	if err != nil {
		t.Fatal(err)
	}
	if p.Changes[0].Path != filepath.Join(env.ProjectDir, ".mcp.json") ||
		p.Changes[1].Path != filepath.Join(env.ProjectDir, ".claude", "skills", "aimx", "SKILL.md") {
		t.Errorf("project paths: %s, %s", p.Changes[0].Path, p.Changes[1].Path)
	}
	if _, err := PlanSetup(h, env, Request{Scope: ProjectScope, Server: httpServer()}); err == nil {
		t.Error("a token was written into a project's config")
	}
	for _, name := range []string{"codex", "goose"} {
		h, _ := Lookup(name)
		if _, err := PlanSetup(h, env, Request{Scope: ProjectScope, Server: stdioServer()}); err == nil || !strings.Contains(err.Error(), "--scope user") {
			t.Errorf("%s project scope: %v", name, err)
		}
	}
	if _, err := Lookup("cursor"); err == nil || !strings.Contains(err.Error(), "claude-code, codex, gemini, goose, opencode") {
		t.Errorf("unknown agent: %v", err)
	}
}

func TestEnvironmentVariables(t *testing.T) {
	t.Parallel()
	env := testEnv(t, nil)
	dirs := map[string]string{"XDG_CONFIG_HOME": filepath.Join(env.Home, "xdg"), "CODEX_HOME": filepath.Join(env.Home, "cx"),
		"CLAUDE_CONFIG_DIR": filepath.Join(env.Home, "cl")}
	env.Getenv = func(k string) string { return dirs[k] }
	want := map[string][2]string{
		"claude-code": {"cl/.claude.json", "cl/skills/aimx/SKILL.md"},
		"codex":       {"cx/config.toml", "cx/AGENTS.md"},
		"gemini":      {".gemini/settings.json", ".gemini/GEMINI.md"},
		"goose":       {"xdg/goose/config.yaml", "xdg/goose/.goosehints"},
		"opencode":    {"xdg/opencode/opencode.json", "xdg/opencode/AGENTS.md"},
	}
	for _, h := range Harnesses() {
		got := [2]string{h.Config(env, UserScope), h.Instructions(env, UserScope).Path}
		w := want[h.Name]
		if got[0] != filepath.Join(env.Home, w[0]) || got[1] != filepath.Join(env.Home, w[1]) {
			t.Errorf("%s: %v, want %v under HOME", h.Name, got, w)
		}
	}
	// A relative XDG_CONFIG_HOME is ignored (XDG Base Directory spec).
	env.Getenv = func(string) string { return "relative" }
	h, _ := Lookup("goose")
	if got := h.Config(env, UserScope); got != filepath.Join(env.Home, ".config", "goose", "config.yaml") {
		t.Errorf("relative XDG_CONFIG_HOME: %s", got)
	}
}

func TestList(t *testing.T) {
	t.Parallel()
	env := testEnv(t, nil)
	claude, _ := Lookup("claude-code")
	p, err := PlanSetup(claude, env, Request{Scope: UserScope, Server: stdioServer()})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Apply(); err != nil {
		t.Fatal(err)
	}
	gem, _ := Lookup("gemini")
	writeFile(t, gem.Config(env, UserScope), []byte(`{"mcpServers":{"mail":{"command":"/opt/aimx/aimx","args":["mcp"]},"x":{"command":"y"}}}`))
	oc, _ := Lookup("opencode")
	writeFile(t, oc.Config(env, UserScope), []byte(`{"mcp": {"aimx": {"type": "remote", "url": "http://h/mcp", "headers": {"Authorization": "Bearer `+testToken+`"}}}}`))
	writeFile(t, filepath.Join(env.Home, ".codex", "config.toml"), []byte("not = [toml"))
	got := map[string]Status{}
	for _, s := range List(env) {
		if s.Scope == ProjectScope {
			t.Errorf("a project without harness files is listed: %+v", s)
		}
		got[s.Agent] = s
	}
	if s := got["claude-code"]; len(s.Servers) != 1 || s.Servers[0].Target != "/usr/local/bin/aimx --config-dir /home/agent/.aimx-dev mcp" || s.Instructions == "" {
		t.Errorf("claude-code: %+v", s)
	}
	if s := got["gemini"]; len(s.Servers) != 1 || s.Servers[0].Name != "mail" || s.Instructions != "" {
		t.Errorf("gemini: %+v", s)
	}
	if s := got["opencode"]; len(s.Servers) != 1 || s.Servers[0].Transport != "http" || s.Servers[0].Target != "http://h/mcp" {
		t.Errorf("opencode: %+v", s)
	}
	if s := got["codex"]; s.Error == "" || !s.ConfigExists {
		t.Errorf("codex: %+v", s)
	}
	if s := got["goose"]; s.ConfigExists || len(s.Servers) != 0 {
		t.Errorf("goose: %+v", s)
	}
	b, _ := json.Marshal(List(env))
	if strings.Contains(string(b), testToken) {
		t.Error("list shows a token")
	}
}

func TestUnparsableConfigIsLeftAlone(t *testing.T) {
	t.Parallel()
	env := testEnv(t, nil)
	h, _ := Lookup("opencode")
	jsonc := []byte("{\n  // my comment\n  \"mcp\": {}\n}\n")
	writeFile(t, h.Config(env, UserScope), jsonc)
	if _, err := PlanSetup(h, env, Request{Scope: UserScope, Server: stdioServer()}); err == nil || !strings.Contains(err.Error(), h.Config(env, UserScope)) {
		t.Errorf("JSONC: %v", err)
	}
	if got := readTest(t, h.Config(env, UserScope)); !bytes.Equal(got, jsonc) {
		t.Error("the file changed")
	}
}

// TestSymlinkedConfig: a config that is a symlink (a dotfile manager's)
// is written through to its target and stays a symlink.
func TestSymlinkedConfig(t *testing.T) {
	t.Parallel()
	env := testEnv(t, nil)
	h, _ := Lookup("gemini")
	target := filepath.Join(env.Home, "dotfiles", "settings.json")
	writeFile(t, target, []byte("{\"theme\": \"x\"}\n"))
	link := h.Config(env, UserScope)
	if err := os.MkdirAll(filepath.Dir(link), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	p, err := PlanSetup(h, env, Request{Scope: UserScope, Server: stdioServer()})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Apply(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the symlink was replaced: %v", err)
	}
	if b := readTest(t, target); !strings.Contains(string(b), `"aimx"`) || !strings.Contains(string(b), `"theme": "x"`) {
		t.Errorf("target: %s", b)
	}
	if b := readTest(t, link+BackupSuffix); string(b) != "{\"theme\": \"x\"}\n" {
		t.Errorf("backup: %s", b)
	}
}

// TestInstructionsToolsExist: every tool the instructions' table names is
// in the tool manifest (mcp/testdata/manifest.golden.json, book/mcp.md), so
// a renamed or removed tool fails here. The table names the main tools, not
// every one (the agent sees them all in tools/list); the others are logged.
func TestInstructionsToolsExist(t *testing.T) {
	t.Parallel()
	var tools []struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal(readTest(t, filepath.Join("..", "mcp", "testdata", "manifest.golden.json")), &tools); err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, tool := range tools {
		known[tool.Name] = true
	}
	h, _ := Lookup("codex")
	body := instructionsBody(h, testEnv(t, nil), Request{Scope: UserScope, Server: stdioServer()})
	named := map[string]bool{}
	for _, line := range strings.Split(body, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cell := strings.Split(line, "|")[1]
		for _, name := range strings.Split(cell, ",") {
			name = strings.Trim(strings.TrimSpace(name), "`")
			named[name] = true
			if !known[name] {
				t.Errorf("the instructions name %s, which is not in the manifest (agents/instructions.go)", name)
			}
		}
	}
	if len(named) < 10 {
		t.Errorf("the table names %d tools", len(named))
	}
	for name := range known {
		if !named[name] {
			t.Logf("the instructions' table does not name %s", name)
		}
	}
}
