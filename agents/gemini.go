package agents

import "path/filepath"

// geminiCLI is Google's Gemini CLI.
//
// MCP servers (https://github.com/google-gemini/gemini-cli/blob/main/docs/tools/mcp-server.md):
// "mcpServers" in ~/.gemini/settings.json (user) or .gemini/settings.json
// in the project (https://github.com/google-gemini/gemini-cli/blob/main/docs/get-started/configuration.md).
// An entry is {"command", "args"} for stdio, or {"httpUrl", "headers"} for
// streamable HTTP ("url" would mean SSE).
//
// Instructions are context files (https://github.com/google-gemini/gemini-cli/blob/main/docs/cli/gemini-md.md):
// ~/.gemini/GEMINI.md for every project, GEMINI.md at the project root;
// aimx adds a marked block.
func geminiCLI() Harness {
	return Harness{
		Name:    "gemini",
		Aliases: []string{"gemini-cli"},
		Title:   "Gemini CLI",
		Docs: []string{
			"https://github.com/google-gemini/gemini-cli/blob/main/docs/tools/mcp-server.md",
			"https://github.com/google-gemini/gemini-cli/blob/main/docs/cli/gemini-md.md",
		},
		Scopes:      []Scope{UserScope, ProjectScope},
		Format:      JSON,
		ServersPath: []string{"mcpServers"},
		Config: func(e Env, sc Scope) string {
			if sc == ProjectScope {
				return filepath.Join(e.ProjectDir, ".gemini", "settings.json")
			}
			return filepath.Join(e.Home, ".gemini", "settings.json")
		},
		Entry: func(s Server) Entry {
			if s.HTTP() {
				return Entry{{"httpUrl", s.URL}, {"headers", Entry{{"Authorization", s.Authorization()}}}}
			}
			return Entry{{"command", s.Command[0]}, {"args", s.Command[1:]}}
		},
		Instructions: func(e Env, sc Scope) Instructions {
			if sc == ProjectScope {
				return Instructions{Path: filepath.Join(e.ProjectDir, "GEMINI.md")}
			}
			return Instructions{Path: filepath.Join(e.Home, ".gemini", "GEMINI.md")}
		},
		// https://github.com/google-gemini/gemini-cli/blob/main/docs/cli/headless.md
		Headless: []string{"gemini", "-p"},
		Verify:   "gemini mcp list",
	}
}
