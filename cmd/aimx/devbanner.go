package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/aimx-dev/aimx/daemon"
	"github.com/aimx-dev/aimx/mcp"
)

// modulePath is this repository's module, how a checkout is recognised.
const modulePath = "github.com/aimx-dev/aimx"

// selfCommand is how a shell on this host runs the aimx that is running:
// its absolute path, or, for a `go run` build (a binary in the Go build
// cache's temp dir, gone when the run ends), `go run -C <checkout>
// ./cmd/aimx`, which works from any directory (book/dev-mode.md). exe is
// os.Executable's answer, wd the working directory.
func selfCommand(exe, wd string) []string {
	if !isGoRunBinary(exe) {
		if exe == "" {
			return []string{"aimx"}
		}
		return []string{exe}
	}
	if root := checkoutRoot(wd); root != "" {
		return []string{"go", "run", "-C", root, "./cmd/aimx"}
	}
	return []string{"go", "run", "./cmd/aimx"}
}

// isGoRunBinary reports whether exe is a binary `go run` built: it lives
// in <tmp>/go-build<N>/.../exe/.
func isGoRunBinary(exe string) bool {
	return exe != "" && filepath.Base(filepath.Dir(exe)) == "exe" &&
		strings.Contains(exe, string(filepath.Separator)+"go-build")
}

// checkoutRoot is the nearest directory at or above dir whose go.mod
// declares this module; "" when there is none.
func checkoutRoot(dir string) string {
	for dir != "" {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil {
			for _, line := range strings.Split(string(data), "\n") {
				if f := strings.Fields(line); len(f) == 2 && f[0] == "module" && f[1] == modulePath {
					return dir
				}
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
	return ""
}

// cmdLine is self followed by args, quoted for a shell.
func cmdLine(self []string, args ...string) string {
	return shellQuote(slices.Concat(self, args))
}

// devAgentLines are the dev banner's lines for wiring an agent: the
// stdio command and paste-ready `claude mcp add` lines for stdio and for
// HTTP with the dev token (book/dev-mode.md, book/mcp.md). self is
// selfCommand's answer; httpAddr the bound MCP HTTP address ("" when
// not listening).
func devAgentLines(self []string, dev *daemon.DevDir, httpAddr string) string {
	stdio := cmdLine(self, "--config-dir", dev.Dir, "mcp")
	var b strings.Builder
	fmt.Fprintf(&b, "The dev token for MCP over HTTP is in %s\n", dev.MCPTokenFile())
	fmt.Fprintf(&b, "An agent harness on this host runs: %s\n", stdio)
	fmt.Fprintf(&b, "\nAdd it to Claude Code over stdio:\n\n  claude mcp add aimx -- %s\n", stdio)
	if httpAddr != "" {
		fmt.Fprintf(&b, "\nor over HTTP with the dev token:\n\n  claude mcp add --transport http aimx http://%s%s --header \"Authorization: Bearer $(cat %s)\"\n",
			httpAddr, mcp.EndpointPath, shellQuote([]string{dev.MCPTokenFile()}))
	}
	return b.String()
}
