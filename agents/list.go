package agents

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
)

// Status is what one harness's config in one scope says about aimx.
type Status struct {
	Agent  string `json:"agent"`
	Title  string `json:"title"`
	Scope  Scope  `json:"scope"`
	Config string `json:"config"`
	// ConfigExists is false when the harness has no config file there.
	ConfigExists bool `json:"config_exists"`
	// Servers are the MCP server entries that are aimx: the one named
	// "aimx", and any other whose command is an aimx binary.
	Servers []ServerStatus `json:"servers"`
	// Instructions is the instructions file when it holds aimx's text.
	Instructions string `json:"instructions,omitempty"`
	// Error is why the config could not be read.
	Error string `json:"error,omitempty"`
}

// ServerStatus is one aimx entry of a harness config. It never carries a
// header, so never a token.
type ServerStatus struct {
	Name string `json:"name"`
	// Transport is stdio or http.
	Transport string `json:"transport"`
	// Target is the command line (stdio) or the URL (http).
	Target string `json:"target"`
}

// List reads every harness's config in the user scope, and in the
// project scope where the project has the harness's files.
func List(env Env) []Status {
	var out []Status
	for _, h := range Harnesses() {
		for _, sc := range h.Scopes {
			if sc == ProjectScope && !filepath.IsAbs(env.ProjectDir) {
				continue
			}
			s := inspect(h, env, sc)
			if sc == ProjectScope && !s.ConfigExists && s.Instructions == "" {
				continue
			}
			out = append(out, s)
		}
	}
	return out
}

func inspect(h Harness, env Env, sc Scope) Status {
	s := Status{Agent: h.Name, Title: h.Title, Scope: sc, Config: h.Config(env, sc), Servers: []ServerStatus{}}
	if ins := h.Instructions(env, sc); ins.Path != "" {
		b, ok, err := readFile(ins.Path)
		if err == nil && ok && (bytes.Contains(b, []byte(ownMarker)) || bytes.Contains(b, []byte("<!-- BEGIN aimx"))) {
			s.Instructions = ins.Path
		}
	}
	doc, existed, err := readFile(s.Config)
	s.ConfigExists = existed
	if err != nil {
		s.Error = err.Error()
		return s
	}
	c, err := codecFor(h.Format)
	if err != nil {
		s.Error = err.Error()
		return s
	}
	m, err := c.decode(doc)
	if err != nil {
		s.Error = err.Error()
		return s
	}
	servers, _ := lookup(m, h.ServersPath...)
	sm, _ := servers.(map[string]any)
	for _, name := range sortedKeys(sm) {
		transport, target, isAimx := describe(sm[name])
		if name == ServerName || isAimx {
			s.Servers = append(s.Servers, ServerStatus{Name: name, Transport: transport, Target: target})
		}
	}
	return s
}

// describe reads a server entry in any of the harnesses' spellings:
// command (a string with args, or an argv array), cmd with args (Goose),
// url, httpUrl or uri.
func describe(v any) (transport, target string, isAimx bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return "unknown", "", false
	}
	for _, k := range []string{"url", "httpUrl", "uri"} {
		if u, ok := m[k].(string); ok && u != "" {
			return "http", u, false
		}
	}
	var argv []string
	for _, k := range []string{"command", "cmd"} {
		switch c := m[k].(type) {
		case string:
			argv = append(argv, c)
		case []any:
			argv = append(argv, strs(c)...)
		}
	}
	if a, ok := m["args"].([]any); ok {
		argv = append(argv, strs(a)...)
	}
	if len(argv) == 0 {
		return "unknown", "", false
	}
	return "stdio", strings.Join(argv, " "), filepath.Base(argv[0]) == "aimx"
}

func strs(a []any) []string {
	out := make([]string, 0, len(a))
	for _, x := range a {
		out = append(out, fmt.Sprint(x))
	}
	return out
}
