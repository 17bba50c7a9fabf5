package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aimx-dev/aimx/daemon"
)

// The dev banner's commands work without an installed aimx: the running
// binary's absolute path, or `go run -C <checkout> ./cmd/aimx` for a
// `go run` build (book/dev-mode.md).
func TestSelfCommand(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module "+modulePath+"\n\ngo 1.26\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(root, "cmd", "aimx")
	if err := os.MkdirAll(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	goRun := filepath.Join(os.TempDir(), "go-build123456", "b001", "exe", "aimx")
	for _, tc := range []struct {
		name, exe, wd string
		want          []string
	}{
		{"installed binary", "/usr/local/bin/aimx", other, []string{"/usr/local/bin/aimx"}},
		{"built binary in a checkout", filepath.Join(root, "aimx"), root, []string{filepath.Join(root, "aimx")}},
		{"go run from the checkout", goRun, root, []string{"go", "run", "-C", root, "./cmd/aimx"}},
		{"go run from below it", goRun, sub, []string{"go", "run", "-C", root, "./cmd/aimx"}},
		{"go run elsewhere", goRun, other, []string{"go", "run", "./cmd/aimx"}},
		{"unknown executable", "", other, []string{"aimx"}},
	} {
		if got := selfCommand(tc.exe, tc.wd); strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestDevAgentLines(t *testing.T) {
	t.Parallel()
	dev := &daemon.DevDir{Dir: "/home/you/aimx/.aimx-dev"}
	got := devAgentLines([]string{"go", "run", "-C", "/home/you/aimx", "./cmd/aimx"}, dev, "127.0.0.1:3025")
	for _, want := range []string{
		"The dev token for MCP over HTTP is in /home/you/aimx/.aimx-dev/mcp-token\n",
		"An agent harness on this host runs: go run -C /home/you/aimx ./cmd/aimx --config-dir /home/you/aimx/.aimx-dev mcp\n",
		"  claude mcp add aimx -- go run -C /home/you/aimx ./cmd/aimx --config-dir /home/you/aimx/.aimx-dev mcp\n",
		`  claude mcp add --transport http aimx http://127.0.0.1:3025/mcp --header "Authorization: Bearer $(cat /home/you/aimx/.aimx-dev/mcp-token)"` + "\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("banner lacks %q:\n%s", want, got)
		}
	}
	// A path with a space is quoted for the shell.
	got = devAgentLines([]string{"/opt/my tools/aimx"}, &daemon.DevDir{Dir: "/tmp/a b"}, "")
	if !strings.Contains(got, "claude mcp add aimx -- '/opt/my tools/aimx' --config-dir '/tmp/a b' mcp") || strings.Contains(got, "--transport http") {
		t.Errorf("quoted banner:\n%s", got)
	}
}

// `aimx mcp` with no path given finds a dev daemon of the current
// directory when its socket answers, and otherwise says how to reach one.
func TestAgentSocketFindsDevDaemon(t *testing.T) {
	wd := t.TempDir()
	t.Chdir(wd)
	resolve := func(env ...string) (string, string) {
		a := &app{ctx: context.Background(), env: envMap(env)}
		root := newTestRoot(a)
		root.SetArgs([]string{"version"})
		if err := root.Execute(); err != nil {
			t.Fatal(err)
		}
		return a.agentSocket()
	}
	// Nothing here: the default socket, with the hint.
	if path, hint := resolve(); path != "/run/aimx/aimx.sock" || !strings.Contains(hint, "--config-dir .aimx-dev") {
		t.Fatalf("no dev dir: %s, %q", path, hint)
	}
	// A dev dir that is not serving: named in the hint.
	run := filepath.Join(wd, devDirName, "run")
	if err := os.MkdirAll(run, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, hint := resolve(); !strings.Contains(hint, "--config-dir "+filepath.Join(wd, devDirName)) {
		t.Fatalf("idle dev dir: hint %q", hint)
	}
	// A dev daemon answering.
	sock := filepath.Join(run, "aimx.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Skipf("unix socket: %v", err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	if path, hint := resolve(); path != sock || hint != "" {
		t.Fatalf("dev daemon: %s, %q", path, hint)
	}
	// A path setting given wins, and gets no hint.
	if path, hint := resolve("AIMX_RUNTIME_DIR=/elsewhere"); path != "/elsewhere/aimx.sock" || hint != "" {
		t.Fatalf("env given: %s, %q", path, hint)
	}
}
