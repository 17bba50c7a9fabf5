package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"
)

// aimx.sock is found from the flag, then AIMX_RUNTIME_DIR, then
// runtime_dir in a readable config.toml, then /run/aimx (book/configuration.md).
func TestAgentSocketPath(t *testing.T) {
	t.Parallel()
	cfgDir := t.TempDir()
	cfg := "domains = [\"a.test\"]\nruntime_dir = \"/from/config\"\n"
	if err := os.WriteFile(filepath.Join(cfgDir, "config.toml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"flag beats env and config", []string{"AIMX_RUNTIME_DIR=/from/env", "AIMX_CONFIG_DIR=" + cfgDir}, []string{"--runtime-dir", "/from/flag"}, "/from/flag/aimx.sock"},
		{"env beats config", []string{"AIMX_RUNTIME_DIR=/from/env", "AIMX_CONFIG_DIR=" + cfgDir}, nil, "/from/env/aimx.sock"},
		{"config", []string{"AIMX_CONFIG_DIR=" + cfgDir}, nil, "/from/config/aimx.sock"},
		{"config dir flag", nil, []string{"--config-dir", cfgDir}, "/from/config/aimx.sock"},
		{"unreadable or missing config", []string{"AIMX_CONFIG_DIR=" + filepath.Join(cfgDir, "nope")}, nil, "/run/aimx/aimx.sock"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := &app{ctx: context.Background(), env: envMap(tc.env)}
			root := newTestRoot(a)
			root.SetArgs(append(tc.args, "version"))
			if err := root.Execute(); err != nil {
				t.Fatal(err)
			}
			if got := a.agentSocketPath(); got != tc.want {
				t.Fatalf("socket = %s, want %s", got, tc.want)
			}
		})
	}
}

// newTestRoot builds the root command for a, whose flags and environment
// then resolve as in a real run.
func newTestRoot(a *app) *cobra.Command {
	var out bytes.Buffer
	a.stdout, a.stderr = &out, &out
	a.v = viper.New()
	root := a.rootCommand()
	root.SetOut(&out)
	root.SetErr(&out)
	return root
}

// `aimx mcp` with no daemon: the tools are listed, every call answers that
// the daemon is not running, stdout carries only JSON-RPC, and stdin EOF
// is a clean exit.
func TestMCPCommandDaemonDown(t *testing.T) {
	t.Parallel()
	run := t.TempDir()
	in := strings.Join([]string{
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`,
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`,
		`{"jsonrpc":"2.0","id":2,"method":"tools/list"}`,
		`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"email_list","arguments":{"mailbox":"support"}}}`,
	}, "\n") + "\n"
	var out, errb bytes.Buffer
	err := runWithStdin(t, []string{"--runtime-dir", run, "mcp"}, strings.NewReader(in), &out, &errb)
	if err != nil {
		t.Fatalf("aimx mcp at EOF: %v (stderr %s)", err, errb.String())
	}
	got := map[float64]map[string]any{}
	sc := bufio.NewScanner(&out)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var msg map[string]any
		if err := json.Unmarshal(sc.Bytes(), &msg); err != nil || msg["jsonrpc"] != "2.0" {
			t.Fatalf("stdout carries a non-protocol line: %q", sc.Text())
		}
		got[msg["id"].(float64)] = msg
	}
	if len(got) != 3 {
		t.Fatalf("answers: %v", got)
	}
	if tools := got[2]["result"].(map[string]any)["tools"].([]any); len(tools) < 9 {
		t.Errorf("tools/list: %d tools", len(tools))
	}
	res := got[3]["result"].(map[string]any)
	text := res["content"].([]any)[0].(map[string]any)["text"].(string)
	if res["isError"] != true || !strings.Contains(text, "aimx daemon is not running") || !strings.Contains(text, filepath.Join(run, "aimx.sock")) {
		t.Errorf("tools/call: %v", res)
	}
}

func runWithStdin(t *testing.T, args []string, stdin *strings.Reader, stdout, stderr *bytes.Buffer) error {
	t.Helper()
	return run(context.Background(), args, nil, stdin, stdout, stderr)
}
