package agents

import "path/filepath"

// codex is OpenAI's Codex CLI.
//
// MCP servers (https://github.com/openai/codex/blob/main/docs/config.md#mcp_servers):
// tables [mcp_servers.<name>] in $CODEX_HOME/config.toml (default
// ~/.codex/config.toml), with command, args and env for stdio, or url and
// http_headers for streamable HTTP. Codex reads only this user-level file,
// so there is no project scope.
//
// Instructions (https://github.com/openai/codex/blob/main/docs/getting-started.md#memory-with-agentsmd):
// $CODEX_HOME/AGENTS.md holds the user's global guidance; aimx adds a
// marked block to it.
func codex() Harness {
	home := func(e Env) string { return e.dirFromEnv("CODEX_HOME", filepath.Join(e.Home, ".codex")) }
	return Harness{
		Name:  "codex",
		Title: "Codex CLI",
		Docs: []string{
			"https://github.com/openai/codex/blob/main/docs/config.md#mcp_servers",
			"https://github.com/openai/codex/blob/main/docs/getting-started.md#memory-with-agentsmd",
		},
		Scopes:      []Scope{UserScope},
		Format:      TOML,
		ServersPath: []string{"mcp_servers"},
		Config:      func(e Env, _ Scope) string { return filepath.Join(home(e), "config.toml") },
		Entry: func(s Server) Entry {
			if s.HTTP() {
				return Entry{{"url", s.URL}, {"http_headers", Entry{{"Authorization", s.Authorization()}}}}
			}
			return Entry{{"command", s.Command[0]}, {"args", s.Command[1:]}}
		},
		Instructions: func(e Env, _ Scope) Instructions {
			return Instructions{Path: filepath.Join(home(e), "AGENTS.md")}
		},
		// https://github.com/openai/codex/blob/main/docs/exec.md
		Headless: []string{"codex", "exec"},
		Verify:   "codex mcp list",
	}
}
