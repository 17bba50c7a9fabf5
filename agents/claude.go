package agents

import "path/filepath"

// claudeCode is Claude Code.
//
// MCP servers (https://docs.anthropic.com/en/docs/claude-code/mcp): user
// scope is the top-level "mcpServers" of ~/.claude.json, project scope is
// "mcpServers" in .mcp.json at the project root. An entry is
// {"type": "stdio", "command", "args", "env"} or {"type": "http", "url",
// "headers"}. CLAUDE_CONFIG_DIR moves ~/.claude.json and ~/.claude into
// that directory (https://docs.anthropic.com/en/docs/claude-code/settings).
//
// Instructions are a skill (https://docs.anthropic.com/en/docs/claude-code/skills):
// ~/.claude/skills/aimx/SKILL.md, or .claude/skills/aimx/SKILL.md in the
// project, with name and description in YAML front matter; Claude loads it
// when a task is about email.
func claudeCode() Harness {
	home := func(e Env) string { return e.dirFromEnv("CLAUDE_CONFIG_DIR", filepath.Join(e.Home, ".claude")) }
	return Harness{
		Name:    "claude-code",
		Aliases: []string{"claude"},
		Title:   "Claude Code",
		Docs: []string{
			"https://docs.anthropic.com/en/docs/claude-code/mcp",
			"https://docs.anthropic.com/en/docs/claude-code/skills",
		},
		Scopes:      []Scope{UserScope, ProjectScope},
		Format:      JSON,
		ServersPath: []string{"mcpServers"},
		Config: func(e Env, sc Scope) string {
			if sc == ProjectScope {
				return filepath.Join(e.ProjectDir, ".mcp.json")
			}
			if d := e.dirFromEnv("CLAUDE_CONFIG_DIR", ""); d != "" {
				return filepath.Join(d, ".claude.json")
			}
			return filepath.Join(e.Home, ".claude.json")
		},
		Entry: func(s Server) Entry {
			if s.HTTP() {
				return Entry{{"type", "http"}, {"url", s.URL}, {"headers", Entry{{"Authorization", s.Authorization()}}}}
			}
			return Entry{{"type", "stdio"}, {"command", s.Command[0]}, {"args", s.Command[1:]}, {"env", Entry{}}}
		},
		Instructions: func(e Env, sc Scope) Instructions {
			dir := home(e)
			if sc == ProjectScope {
				dir = filepath.Join(e.ProjectDir, ".claude")
			}
			return Instructions{Path: filepath.Join(dir, "skills", "aimx", "SKILL.md"), Own: true}
		},
		Skill: func(description string) string {
			return "---\nname: aimx\ndescription: " + yamlQuote(description) + "\n---\n\n"
		},
		// -p runs one prompt and exits; --allowedTools lets it use every
		// aimx tool without asking (https://docs.anthropic.com/en/docs/claude-code/cli-reference).
		Headless: []string{"claude", "--allowedTools", "mcp__aimx", "-p"},
		Verify:   "claude mcp list",
	}
}
