package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	mcpgo "github.com/mark3labs/mcp-go/mcp"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Helpers for the MCP tests: a real mcp-go client over each transport,
// tool results validated against the tool's own outputSchema.

// The four transports (book/mcp.md) and the two protocol versions.
const (
	viaStdio = "stdio" // `aimx mcp` spawned as a process
	viaUnix  = "unix"  // aimx.sock directly
	viaHTTP  = "http"  // TCP streamable HTTP with a bearer token
	viaSSE   = "sse"   // TCP SSE with a bearer token
)

var (
	transports       = []string{viaStdio, viaUnix, viaHTTP, viaSSE}
	protocolVersions = []string{mcpgo.ProtocolVersion20251125, mcpgo.ProtocolVersion20260728}
)

// mcpSession is one initialized client and the output schemas of the
// tools it listed.
type mcpSession struct {
	t       testing.TB
	cl      *client.Client
	tools   []mcpgo.Tool
	schemas map[string]*jsonschema.Schema
}

// connectOpts say how to reach the daemon.
type connectOpts struct {
	via, version string
	// token for viaHTTP and viaSSE; socket for viaUnix; env for viaStdio
	// (the process's AIMX_* variables).
	token, socket, httpAddr string
	stdioArgs, stdioEnv     []string
	// uid, when set, runs the stdio bridge as that user (root only).
	uid *uint32
}

// connect opens and initializes a client, lists the tools and compiles
// their output schemas.
func connect(t testing.TB, o connectOpts) *mcpSession {
	t.Helper()
	var tr transport.Interface
	var err error
	bearer := map[string]string{"Authorization": "Bearer " + o.token}
	switch o.via {
	case viaStdio:
		var opts []transport.StdioOption
		if o.uid != nil {
			uid := *o.uid
			opts = append(opts, transport.WithCommandFunc(func(ctx context.Context, command string, env, args []string) (*exec.Cmd, error) {
				cmd := exec.CommandContext(ctx, command, args...)
				cmd.Env = append([]string{"PATH=/usr/bin:/bin"}, env...)
				cmd.Dir = "/"
				cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
				return cmd, nil
			}))
		}
		tr = transport.NewStdioWithOptions(aimxBinary(t), o.stdioEnv, append(o.stdioArgs, "mcp"), opts...)
	case viaUnix:
		tr, err = transport.NewStreamableHTTP("http://aimx.sock/mcp", transport.WithHTTPBasicClient(unixHTTPClient(o.socket)))
	case viaHTTP:
		tr, err = transport.NewStreamableHTTP("http://"+o.httpAddr+"/mcp", transport.WithHTTPHeaders(bearer))
	case viaSSE:
		tr, err = transport.NewSSE("http://"+o.httpAddr+"/sse", transport.WithHeaders(bearer))
	default:
		t.Fatalf("unknown transport %q", o.via)
	}
	if err != nil {
		t.Fatal(err)
	}
	cl := client.NewClient(tr, client.WithProtocolVersion(o.version))
	ctx := context.Background()
	if err := cl.Start(ctx); err != nil {
		t.Fatalf("%s: start: %v", o.via, err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	init := mcpgo.InitializeRequest{}
	init.Params.ClientInfo = mcpgo.Implementation{Name: "aimx-e2e", Version: "1"}
	init.Params.ProtocolVersion = o.version
	res, err := cl.Initialize(ctx, init)
	if err != nil {
		t.Fatalf("%s %s: initialize: %v", o.via, o.version, err)
	}
	if res.ProtocolVersion != o.version {
		t.Fatalf("%s: negotiated %s, want %s", o.via, res.ProtocolVersion, o.version)
	}
	lr, err := cl.ListTools(ctx, mcpgo.ListToolsRequest{})
	if err != nil {
		t.Fatalf("%s: tools/list: %v", o.via, err)
	}
	s := &mcpSession{t: t, cl: cl, tools: lr.Tools, schemas: map[string]*jsonschema.Schema{}}
	for _, tool := range lr.Tools {
		raw := tool.RawOutputSchema
		if len(raw) == 0 {
			if raw, err = json.Marshal(tool.OutputSchema); err != nil {
				t.Fatal(err)
			}
		}
		s.schemas[tool.Name] = compileStrict(t, tool.Name, raw)
	}
	return s
}

// unixHTTPClient sends every request to the Unix socket at path.
func unixHTTPClient(path string) *http.Client {
	var d net.Dialer
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return d.DialContext(ctx, "unix", path)
	}}}
}

// compileStrict compiles an output schema with additionalProperties false
// on every object that does not say otherwise, so a result field the
// schema does not describe fails too (stricter agent clients do this).
func compileStrict(t testing.TB, name string, raw json.RawMessage) *jsonschema.Schema {
	t.Helper()
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("%s output schema: %v", name, err)
	}
	if m, ok := doc.(map[string]any); !ok || m["type"] != "object" {
		t.Fatalf("%s output schema is not object-rooted: %s", name, raw)
	}
	strictify(doc)
	c := jsonschema.NewCompiler()
	if err := c.AddResource(name+".json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(name + ".json")
	if err != nil {
		t.Fatalf("%s output schema does not compile: %v", name, err)
	}
	return sch
}

func strictify(v any) {
	switch x := v.(type) {
	case map[string]any:
		if x["type"] == "object" {
			if _, ok := x["additionalProperties"]; !ok {
				x["additionalProperties"] = false
			}
		}
		for _, e := range x {
			strictify(e)
		}
	case []any:
		for _, e := range x {
			strictify(e)
		}
	}
}

// toolResult is one call's outcome as the agent sees it.
type toolResult struct {
	isError bool
	text    string
	s       map[string]any // structuredContent
}

// call calls a tool; a success's structuredContent must match the tool's
// outputSchema.
func (s *mcpSession) call(tool string, args map[string]any) toolResult {
	s.t.Helper()
	req := mcpgo.CallToolRequest{}
	req.Params.Name = tool
	if args == nil {
		args = map[string]any{}
	}
	req.Params.Arguments = args
	res, err := s.cl.CallTool(context.Background(), req)
	if err != nil {
		s.t.Fatalf("%s: protocol error: %v", tool, err)
	}
	r := toolResult{isError: res.IsError}
	for _, c := range res.Content {
		if tc, ok := c.(mcpgo.TextContent); ok {
			r.text = tc.Text
			break
		}
	}
	if r.text == "" {
		s.t.Fatalf("%s: no text content: %+v", tool, res)
	}
	if res.IsError {
		return r
	}
	raw, err := json.Marshal(res.StructuredContent)
	if err != nil {
		s.t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		s.t.Fatalf("%s: structuredContent: %v", tool, err)
	}
	sch, ok := s.schemas[tool]
	if !ok {
		s.t.Fatalf("%s: not in tools/list", tool)
	}
	if err := sch.Validate(inst); err != nil {
		s.t.Fatalf("%s: structuredContent does not match the outputSchema: %v\n%s", tool, err, raw)
	}
	if err := json.Unmarshal(raw, &r.s); err != nil {
		s.t.Fatal(err)
	}
	return r
}

func (r toolResult) ok(t testing.TB) toolResult {
	t.Helper()
	if r.isError {
		t.Fatalf("tool error: %s", r.text)
	}
	return r
}

func (r toolResult) fails(t testing.TB, want string) toolResult {
	t.Helper()
	if !r.isError || !strings.Contains(r.text, want) {
		t.Fatalf("got (error=%v) %q, want an error containing %q", r.isError, r.text, want)
	}
	return r
}

// devConnect reaches a dev daemon over via: stdio through --config-dir
// (socket discovery from config.toml), the socket directly, or TCP with
// the dev dir's mcp-token.
func (d *Daemon) devConnect(t testing.TB, via, version string) *mcpSession {
	t.Helper()
	return connect(t, connectOpts{via: via, version: version, token: d.MCPToken(),
		socket: d.Listen["mcp_unix"], httpAddr: d.Listen["mcp_http"], stdioArgs: []string{"--config-dir", d.Dir}})
}

// MCPToken is the dev dir's mcp-token.
func (d *Daemon) MCPToken() string {
	d.t.Helper()
	b, err := os.ReadFile(filepath.Join(d.Dir, "mcp-token"))
	if err != nil {
		d.t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// mintToken runs `aimx tokens create` against the daemon and returns the
// token's id and secret.
func (d *Daemon) mintToken(args ...string) (id, secret string) {
	d.t.Helper()
	out, errOut, code := d.CLI(append([]string{"--json", "tokens", "create"}, args...)...)
	if code != 0 {
		d.t.Fatalf("tokens create %v: exit %d: %s", args, code, errOut)
	}
	var res struct{ ID, Token string }
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Token == "" {
		d.t.Fatalf("tokens create output %q: %v", out, err)
	}
	return res.ID, res.Token
}

// callRequest is a tools/call of tool with no arguments.
func callRequest(tool string) mcpgo.CallToolRequest {
	req := mcpgo.CallToolRequest{}
	req.Params.Name = tool
	req.Params.Arguments = map[string]any{}
	return req
}
