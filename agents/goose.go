package agents

import "path/filepath"

// goose is Block's Goose.
//
// MCP servers are extensions (https://block.github.io/goose/docs/guides/config-files
// and https://block.github.io/goose/docs/getting-started/using-extensions):
// the "extensions" mapping of $XDG_CONFIG_HOME/goose/config.yaml (default
// ~/.config/goose/config.yaml), keyed by name, each with enabled, name,
// type (stdio: cmd, args; streamable_http: uri, headers), envs, env_keys,
// timeout (seconds) and description. Goose has no project-level extension
// config.
//
// Instructions are goosehints (https://block.github.io/goose/docs/guides/using-goosehints):
// the global $XDG_CONFIG_HOME/goose/.goosehints; aimx adds a marked block.
func goose() Harness {
	dir := func(e Env) string { return filepath.Join(e.xdgConfigHome(), "goose") }
	const desc = "Email through aimx: read, send and answer mail"
	return Harness{
		Name:  "goose",
		Title: "Goose",
		Docs: []string{
			"https://block.github.io/goose/docs/guides/config-files",
			"https://block.github.io/goose/docs/guides/using-goosehints",
		},
		Scopes:      []Scope{UserScope},
		Format:      YAML,
		ServersPath: []string{"extensions"},
		Config:      func(e Env, _ Scope) string { return filepath.Join(dir(e), "config.yaml") },
		Entry: func(s Server) Entry {
			if s.HTTP() {
				return Entry{{"enabled", true}, {"name", ServerName}, {"type", "streamable_http"}, {"uri", s.URL},
					{"headers", Entry{{"Authorization", s.Authorization()}}}, {"envs", Entry{}}, {"env_keys", []string{}},
					{"timeout", 300}, {"description", desc}}
			}
			return Entry{{"enabled", true}, {"name", ServerName}, {"type", "stdio"}, {"cmd", s.Command[0]},
				{"args", s.Command[1:]}, {"envs", Entry{}}, {"env_keys", []string{}}, {"timeout", 300}, {"description", desc}}
		},
		Instructions: func(e Env, _ Scope) Instructions {
			return Instructions{Path: filepath.Join(dir(e), ".goosehints")}
		},
		// https://block.github.io/goose/docs/guides/goose-cli-commands#run-options
		Headless: []string{"goose", "run", "-t"},
		Verify:   "goose info -v",
	}
}
