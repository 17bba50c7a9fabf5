// Package agents wires agent harnesses (Claude Code, Codex CLI, Gemini CLI,
// Goose, OpenCode) to aimx: `aimx agents setup|list|remove` (book/agents.md).
//
// For one harness, setup writes two things into the agent user's home (or a
// project directory):
//
//   - the harness's own MCP configuration, with an "aimx" server that runs the
//     stdio bridge `aimx mcp` (book/mcp.md) or reaches the daemon's MCP over
//     HTTP with a bearer token (book/tokens.md). The entry is merged into the
//     existing file (JSON, TOML or YAML), keeping every other key, and the file
//     as it was before aimx first changed it is kept beside it as
//     `<file>.aimx-bak`;
//   - a short instructions file (a skill, or a marked block in the harness's
//     AGENTS.md-like file) that tells the agent its addresses and tools.
//
// Everything is computed first as a Plan, a list of file changes, which is
// either printed (`--print`) or applied. Each harness is a Harness value
// built by a function in its own file; Harnesses lists them, so adding a
// harness is one file plus one line there.
package agents
