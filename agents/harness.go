package agents

import (
	"errors"
	"fmt"
	"net/url"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// ServerName is the key of aimx's entry in every harness's server map: the
// name the agent sees its tools under (Claude Code's mcp__aimx__email_list).
const ServerName = "aimx"

// Scope says whose configuration is written: the user's (in $HOME, for every
// project) or one project's (in its directory, often shared with others).
type Scope string

// The scopes.
const (
	UserScope    Scope = "user"
	ProjectScope Scope = "project"
)

// ParseScope reads a --scope value.
func ParseScope(s string) (Scope, error) {
	switch Scope(s) {
	case UserScope, ProjectScope:
		return Scope(s), nil
	}
	return "", fmt.Errorf("scope must be user or project, not %q", s)
}

// Env is where a harness's files are: the agent user's home, the
// environment variables harnesses honor (XDG_CONFIG_HOME, CODEX_HOME,
// CLAUDE_CONFIG_DIR) and the project directory. Tests point it at a temp
// dir; nothing here reads the process's own environment.
type Env struct {
	// Home is $HOME; required.
	Home string
	// Getenv returns an environment variable ("" when unset); nil: none set.
	Getenv func(string) string
	// ProjectDir is the project for ProjectScope (normally the working
	// directory).
	ProjectDir string
	// LookPath finds a harness's own binary for the hook recipes; nil:
	// exec.LookPath.
	LookPath func(string) (string, error)
}

func (e Env) getenv(k string) string {
	if e.Getenv == nil {
		return ""
	}
	return e.Getenv(k)
}

// dirFromEnv returns the absolute directory an environment variable names,
// else def (relative values are ignored, as the XDG spec says).
func (e Env) dirFromEnv(name, def string) string {
	if v := e.getenv(name); filepath.IsAbs(v) {
		return filepath.Clean(v)
	}
	return def
}

// xdgConfigHome is $XDG_CONFIG_HOME, else ~/.config (XDG Base Directory
// spec, https://specifications.freedesktop.org/basedir-spec/latest/).
func (e Env) xdgConfigHome() string {
	return e.dirFromEnv("XDG_CONFIG_HOME", filepath.Join(e.Home, ".config"))
}

func (e Env) lookPath(name string) (string, error) {
	if e.LookPath != nil {
		return e.LookPath(name)
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("find %s: %w", name, err)
	}
	return p, nil
}

// Server is how the agent reaches aimx: the stdio bridge (Command) or MCP
// over HTTP (URL and Token).
type Server struct {
	// Command is the argv of the stdio bridge: an absolute path to aimx,
	// global flags such as --config-dir, then "mcp" (book/mcp.md).
	Command []string
	// URL is the streamable HTTP endpoint (http://host:3025/mcp).
	URL string
	// Token is the bearer token (book/tokens.md). It is written to the
	// harness's config and never printed.
	Token string
}

// HTTP reports whether the agent reaches aimx over HTTP.
func (s Server) HTTP() bool { return s.URL != "" }

// Check validates the server for a harness config.
func (s Server) Check() error {
	switch {
	case s.HTTP() && len(s.Command) > 0:
		return errors.New("give either a command (stdio) or a URL (HTTP), not both")
	case s.HTTP():
		u, err := url.Parse(s.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("the MCP URL must be http://host:port/mcp or https://..., not %q", s.URL)
		}
		if s.Token == "" {
			return errors.New("MCP over HTTP needs a token (book/tokens.md)")
		}
	case len(s.Command) == 0 || !filepath.IsAbs(s.Command[0]):
		return errors.New("the stdio command must start with the absolute path of aimx")
	}
	return nil
}

// Authorization is the header value the HTTP transport checks.
func (s Server) Authorization() string { return "Bearer " + s.Token }

// Instructions is where a harness reads the text that tells the agent
// about aimx.
type Instructions struct {
	// Path is the file.
	Path string
	// Own is true when the file is aimx's alone (a skill): setup writes it
	// whole and remove deletes it. Otherwise it is a file the user shares
	// (AGENTS.md, GEMINI.md, .goosehints), and aimx owns one marked block
	// in it.
	Own bool
}

// Harness is one agent harness: where its files are and how it spells an
// MCP server. Each harness's file documents its sources.
type Harness struct {
	// Name is what `aimx agents setup NAME` takes; Aliases are accepted too.
	Name    string
	Aliases []string
	// Title is the product's name.
	Title string
	// Docs are the documentation pages the paths and formats follow.
	Docs []string
	// Scopes are the scopes the harness has a configuration for.
	Scopes []Scope
	// Format is the format of the MCP configuration file.
	Format Format
	// ServersPath are the keys from the top of the file to the map of MCP
	// servers (["mcpServers"], ["mcp_servers"], ...).
	ServersPath []string
	// Skeleton are the top-level fields of a config file aimx creates.
	Skeleton Entry
	// Config returns the MCP configuration file of a scope.
	Config func(Env, Scope) string
	// Entry is aimx's server entry.
	Entry func(Server) Entry
	// Instructions returns where the agent's instructions go in a scope.
	Instructions func(Env, Scope) Instructions
	// Skill is the text before the instructions in an Own file (a skill's
	// front matter), given the body's one-line description.
	Skill func(description string) string
	// Headless is the harness's one-shot command, to which the prompt is
	// appended, for the hook recipe ("claude", "-p").
	Headless []string
	// Verify is a command that shows the harness sees the server.
	Verify string
}

// Harnesses returns every supported harness. To add one, write a file with
// a function returning its Harness and list it here.
func Harnesses() []Harness {
	return []Harness{claudeCode(), codex(), geminiCLI(), goose(), openCode()}
}

// Lookup finds a harness by name or alias, case-insensitively.
func Lookup(name string) (Harness, error) {
	n := strings.ToLower(name)
	var names []string
	for _, h := range Harnesses() {
		if h.Name == n || slices.Contains(h.Aliases, n) {
			return h, nil
		}
		names = append(names, h.Name)
	}
	return Harness{}, fmt.Errorf("unknown agent %q; aimx knows: %s", name, strings.Join(names, ", "))
}

// supports reports whether the harness has a configuration for sc.
func (h Harness) supports(sc Scope) error {
	if slices.Contains(h.Scopes, sc) {
		return nil
	}
	return fmt.Errorf("%s has no %s-scope MCP configuration; use --scope %s", h.Title, sc, h.Scopes[0])
}
