package agents

import "path/filepath"

// openCode is OpenCode.
//
// MCP servers (https://opencode.ai/docs/mcp-servers/): the "mcp" object of
// opencode.json, global in $XDG_CONFIG_HOME/opencode/opencode.json (default
// ~/.config/opencode) or at the project root (https://opencode.ai/docs/config/).
// An entry is {"type": "local", "command": [argv], "enabled"} or
// {"type": "remote", "url", "enabled", "headers"}. A new file starts with
// the documented "$schema".
//
// Instructions are rules (https://opencode.ai/docs/rules/):
// ~/.config/opencode/AGENTS.md globally, AGENTS.md at the project root;
// aimx adds a marked block.
func openCode() Harness {
	dir := func(e Env) string { return filepath.Join(e.xdgConfigHome(), "opencode") }
	return Harness{
		Name:  "opencode",
		Title: "OpenCode",
		Docs: []string{
			"https://opencode.ai/docs/mcp-servers/",
			"https://opencode.ai/docs/rules/",
		},
		Scopes:      []Scope{UserScope, ProjectScope},
		Format:      JSON,
		ServersPath: []string{"mcp"},
		Skeleton:    Entry{{"$schema", "https://opencode.ai/config.json"}},
		Config: func(e Env, sc Scope) string {
			if sc == ProjectScope {
				return filepath.Join(e.ProjectDir, "opencode.json")
			}
			return filepath.Join(dir(e), "opencode.json")
		},
		Entry: func(s Server) Entry {
			if s.HTTP() {
				return Entry{{"type", "remote"}, {"url", s.URL}, {"enabled", true},
					{"headers", Entry{{"Authorization", s.Authorization()}}}}
			}
			return Entry{{"type", "local"}, {"command", s.Command}, {"enabled", true}}
		},
		Instructions: func(e Env, sc Scope) Instructions {
			if sc == ProjectScope {
				return Instructions{Path: filepath.Join(e.ProjectDir, "AGENTS.md")}
			}
			return Instructions{Path: filepath.Join(dir(e), "AGENTS.md")}
		},
		// https://opencode.ai/docs/cli/#run
		Headless: []string{"opencode", "run"},
		Verify:   "opencode mcp list",
	}
}
