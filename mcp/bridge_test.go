package mcp

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	mcpgo "github.com/mark3labs/mcp-go/mcp"
	"github.com/rs/zerolog"

	"github.com/aimx-dev/aimx/storage"
)

// bridgeClient is an in-process client of a bridge to path.
func bridgeClient(t *testing.T, path, version string) (*Bridge, *client.Client) {
	t.Helper()
	b := NewBridge(BridgeOptions{SocketPath: path})
	t.Cleanup(func() { _ = b.Close() })
	cl, err := client.NewInProcessClientWithOptions(b.MCP(), client.WithProtocolVersion(version))
	if err != nil {
		t.Fatal(err)
	}
	initClient(t, cl, version)
	return b, cl
}

// With no daemon the bridge still lists the compiled-in tools, and every
// call answers that the daemon is not running.
func TestBridgeDaemonDown(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// The daemon's list as an agent sees it over aimx.sock.
	daemonPath, _ := e.serveSocket(as(alice))
	dl, err := dial(t, daemonPath, protocolVersions[1]).ListTools(t.Context(), mcpgo.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	daemonTools := dl.Tools
	if len(daemonTools) != len(Manifest()) {
		t.Fatalf("daemon lists %d tools, the manifest has %d", len(daemonTools), len(Manifest()))
	}
	path := SocketPath(sockDir(t)) // nothing listens here
	for _, v := range protocolVersions {
		t.Run(v, func(t *testing.T) {
			_, cl := bridgeClient(t, path, v)
			lr, err := cl.ListTools(t.Context(), mcpgo.ListToolsRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(toolsByName(t, lr.Tools), toolsByName(t, daemonTools)) {
				t.Fatalf("the bridge's tool list differs from the daemon's:\nbridge %v\ndaemon %v", toolsByName(t, lr.Tools), toolsByName(t, daemonTools))
			}
			for _, tool := range lr.Tools {
				res, err := cl.CallTool(t.Context(), callReq(tool.Name, nil))
				if err != nil {
					t.Fatalf("%s: %v", tool.Name, err)
				}
				if !res.IsError || len(res.Content) != 1 || res.Content[0].(mcpgo.TextContent).Text != DaemonNotRunning(path) {
					t.Errorf("%s with the daemon down: %+v", tool.Name, res)
				}
			}
		})
	}
	if !strings.Contains(DaemonNotRunning(path), "aimx daemon is not running") {
		t.Errorf("daemon-down text %q", DaemonNotRunning(path))
	}
}

// The bridge forwards every call to aimx.sock as its own peer and returns
// the daemon's result verbatim; it reconnects to a restarted daemon and
// reports one that went away.
func TestBridgeForwards(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.put(support, storage.Inbox, t0, inbound("via bridge", "x@y.example", "false"), "hello\n")
	path, stop := e.serveSocket(as(alice))
	for _, v := range protocolVersions {
		t.Run(v, func(t *testing.T) {
			_, cl := bridgeClient(t, path, v)
			viaBridge, err := cl.CallTool(t.Context(), callReq("mailbox_list", nil))
			if err != nil {
				t.Fatal(err)
			}
			direct, err := dial(t, path, v).CallTool(t.Context(), callReq("mailbox_list", nil))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(viaBridge.Content, direct.Content) || !reflect.DeepEqual(viaBridge.StructuredContent, direct.StructuredContent) ||
				string(viaBridge.RawStructuredContent) != string(direct.RawStructuredContent) || viaBridge.IsError != direct.IsError {
				t.Fatalf("bridge changed the result:\nbridge %+v\ndirect %+v", viaBridge, direct)
			}
			r := e.check("email_read", mustCall(t, cl, "email_read", map[string]any{"mailbox": "support", "id": id})).ok(t)
			checkFenced(t, r.structured["body"].(string), "hello\n", "false")
			e.check("email_read", mustCall(t, cl, "email_read", map[string]any{"mailbox": "billing", "id": id})).
				fails(t, `mailbox "billing@agent.example.com" not found`)
		})
	}
	_, cl := bridgeClient(t, path, protocolVersions[0])
	e.check("mailbox_list", mustCall(t, cl, "mailbox_list", nil)).ok(t)
	stop()
	if res := mustCall(t, cl, "mailbox_list", nil); !res.IsError || res.Content[0].(mcpgo.TextContent).Text != DaemonNotRunning(path) {
		t.Fatalf("after the daemon stopped: %+v", res)
	}
	// A daemon started again on the same path is found on the next call.
	ss := e.srv.SocketServer(as(alice), zerolog.Nop())
	ln, err := ss.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = ss.Serve(ln) }()
	t.Cleanup(func() { _ = ss.Shutdown(context.Background()) })
	e.check("mailbox_list", mustCall(t, cl, "mailbox_list", nil)).ok(t)
}

func mustCall(t *testing.T, cl *client.Client, tool string, args map[string]any) *mcpgo.CallToolResult {
	t.Helper()
	res, err := cl.CallTool(t.Context(), callReq(tool, args))
	if err != nil {
		t.Fatalf("%s: %v", tool, err)
	}
	return res
}

// Serve speaks newline-delimited JSON-RPC on stdout and nothing else, and
// returns nil when stdin ends (`aimx mcp` exits 0 on EOF). Stdin stays open
// until every answer is in, as a harness keeps it: mcp-go cancels requests
// still in flight when its input ends.
func TestBridgeServeStdio(t *testing.T) {
	t.Parallel()
	path := SocketPath(sockDir(t))
	b := NewBridge(BridgeOptions{SocketPath: path})
	in := strings.Join([]string{
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`,
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`,
		`{"jsonrpc":"2.0","id":2,"method":"tools/list"}`,
		`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"mailbox_list","arguments":{}}}`,
	}, "\n") + "\n"
	stdinR, stdinW := io.Pipe()
	stdoutR, stdoutW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- b.Serve(context.Background(), stdinR, stdoutW)
		stdoutW.Close()
	}()
	go func() { _, _ = io.WriteString(stdinW, in) }()
	ids := map[float64]map[string]any{}
	sc := bufio.NewScanner(stdoutR)
	sc.Buffer(nil, 1<<20)
	for len(ids) < 3 && sc.Scan() {
		var msg map[string]any
		if err := json.Unmarshal(sc.Bytes(), &msg); err != nil || msg["jsonrpc"] != "2.0" {
			t.Fatalf("stdout carries a non-protocol line: %q", sc.Text())
		}
		if id, ok := msg["id"].(float64); ok {
			ids[id] = msg
		}
	}
	stdinW.Close()
	for sc.Scan() {
		t.Errorf("output after the last answer: %q", sc.Text())
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve at EOF = %v, want nil", err)
	}
	if _, ok := ids[1]["result"]; !ok {
		t.Errorf("no initialize result: %v", ids)
	}
	list, ok := ids[2]["result"].(map[string]any)
	if !ok {
		t.Fatalf("tools/list answered %v", ids[2])
	}
	if tools := list["tools"].([]any); len(tools) != len(Manifest()) {
		t.Errorf("tools/list has %d tools", len(tools))
	}
	res, ok := ids[3]["result"].(map[string]any)
	if !ok || res["isError"] != true || !strings.Contains(res["content"].([]any)[0].(map[string]any)["text"].(string), "not running") {
		t.Errorf("tools/call with the daemon down: %v", ids[3])
	}
}

// toolsByName is a tool list as JSON by name (order is the server's).
func toolsByName(t *testing.T, tools []mcpgo.Tool) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, tool := range tools {
		b, err := json.Marshal(tool)
		if err != nil {
			t.Fatal(err)
		}
		m[tool.Name] = string(b)
	}
	return m
}
