package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	mcpgo "github.com/mark3labs/mcp-go/mcp"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Issue 12 items 10 and 11 through the real binary: tools/list fits the
// caller, hook_create warns and checks cmd[0], the dev banner prints
// commands that work without an installed aimx, a 401 names the dev token
// file, `aimx mcp` finds a dev daemon of its directory, and `aimx version`
// and serverInfo.version agree.
func TestCallerFit(t *testing.T) {
	t.Parallel()
	// The dev dir under its default name, so `aimx mcp` run next to it
	// finds it (short path: Unix socket paths stay under 108 bytes).
	parent, err := os.MkdirTemp("", "ax")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(parent) })
	d := StartDev(t, DaemonOptions{Dir: filepath.Join(parent, ".aimx-dev")})
	user := currentUser(t)
	hello := "hello@" + devDomain
	v := protocolVersions[0]

	t.Run("tools/list fits the caller", func(t *testing.T) {
		_, narrow := d.mintToken("--owner", user, "--mailbox", hello)
		s := connect(t, connectOpts{via: viaHTTP, version: v, token: narrow, httpAddr: d.Listen["mcp_http"]})
		var names []string
		for _, tool := range s.tools {
			names = append(names, tool.Name)
		}
		if len(names) == 0 || names[0] != "mailbox_list" {
			t.Fatalf("tools/list starts %v, want mailbox_list first", names)
		}
		for _, n := range names {
			if strings.HasPrefix(n, "hook_") || strings.HasPrefix(n, "webhook_") || n == "mailbox_create" {
				t.Errorf("a narrowed token without hook rights is listed %s", n)
			}
		}
		if !slices.Contains(names, "email_read") || !slices.Contains(names, "mailbox_delete") {
			t.Errorf("tools/list %v lacks tools the token can use", names)
		}
		// The dev token has hook rights and is not narrowed: everything.
		all := d.devConnect(t, viaHTTP, v)
		if len(all.tools) != len(wantTools) || all.tools[0].Name != "mailbox_list" {
			t.Fatalf("dev token lists %d tools starting %s, want %d starting mailbox_list", len(all.tools), all.tools[0].Name, len(wantTools))
		}
	})

	t.Run("hook_create", func(t *testing.T) {
		s := d.devConnect(t, viaStdio, v)
		// Dev mailboxes have trust = "none": the hook would never fire.
		r := s.call("hook_create", map[string]any{"mailbox": "hello", "event": "on_receive", "cmd": []string{"/bin/true"}, "name": "fit-gated"}).ok(t)
		warns, _ := r.s["warnings"].([]any)
		if len(warns) == 0 || !strings.Contains(warns[0].(string), `trust = "none"`) || !strings.Contains(r.text, "will not run for any email") {
			t.Fatalf("hook_create on a trust=none mailbox: %q, warnings %v", r.text, warns)
		}
		if !strings.Contains(r.text, "fire_on_auto_submitted") {
			t.Errorf("no word of loop protection: %q", r.text)
		}
		s.call("hook_create", map[string]any{"mailbox": "hello", "event": "on_receive", "cmd": []string{"/no/such/program"}, "name": "fit-missing"}).
			fails(t, "is not an executable file on this host")
		rows := s.call("hook_list", nil).ok(t).s["hooks"].([]any)
		if len(rows) != 1 || rows[0].(map[string]any)["name"] != "fit-gated" {
			t.Fatalf("hooks %v", rows)
		}
		mbs := s.call("mailbox_list", nil).ok(t).s["mailboxes"].([]any)
		if mbs[0].(map[string]any)["trust"] != "none" {
			t.Errorf("mailbox_list row %v", mbs[0])
		}
	})

	t.Run("dev banner", func(t *testing.T) {
		bin := aimxBinary(t)
		token := filepath.Join(d.Dir, "mcp-token")
		for _, want := range []string{
			"An agent harness on this host runs: " + bin + " --config-dir " + d.Dir + " mcp\n",
			"  claude mcp add aimx -- " + bin + " --config-dir " + d.Dir + " mcp\n",
			"  claude mcp add --transport http aimx http://" + d.Listen["mcp_http"] + "/mcp --header \"Authorization: Bearer $(cat " + token + ")\"\n",
			"Other commands reach this daemon with --config-dir: " + bin + " --config-dir " + d.Dir + " mailboxes list\n",
		} {
			if !strings.Contains(d.Stdout(), want) {
				t.Errorf("banner lacks %q:\n%s", want, d.Stdout())
			}
		}
		// The printed command works as printed.
		out, errOut, code := runCLI(t, "--config-dir", d.Dir, "mailboxes", "list")
		if code != 0 || !strings.Contains(out, hello) {
			t.Errorf("mailboxes list: exit %d\n%s%s", code, out, errOut)
		}
	})

	t.Run("401 names the dev token file", func(t *testing.T) {
		res, err := http.Post("http://"+d.Listen["mcp_http"]+"/mcp", "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), filepath.Join(d.Dir, "mcp-token")) {
			t.Fatalf("401: %d %q", res.StatusCode, body)
		}
	})

	t.Run("aimx mcp finds the dev daemon of its directory", func(t *testing.T) {
		s := stdioIn(t, parent)
		mbs := s.call("mailbox_list", nil).ok(t).s["mailboxes"].([]any)
		if len(mbs) == 0 {
			t.Fatal("no mailboxes")
		}
		// Elsewhere, the answer says to pass --config-dir.
		s = stdioIn(t, t.TempDir())
		s.call("mailbox_list", nil).fails(t, "--config-dir .aimx-dev")
	})

	t.Run("versions agree", func(t *testing.T) {
		out, errOut, code := runCLI(t, "--json", "version")
		var vi struct{ Version string }
		if code != 0 || json.Unmarshal([]byte(out), &vi) != nil || vi.Version == "" {
			t.Fatalf("aimx version: exit %d %q %q", code, out, errOut)
		}
		for _, via := range []string{viaHTTP, viaStdio} {
			if got := serverVersion(t, d, via); got != vi.Version {
				t.Errorf("%s serverInfo.version %q, aimx version %q", via, got, vi.Version)
			}
		}
	})
}

// stdioIn connects through `aimx mcp` run in dir with no AIMX_* variable
// and no path flag.
func stdioIn(t *testing.T, dir string) *mcpSession {
	t.Helper()
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AIMX_") {
			env = append(env, kv)
		}
	}
	tr := transport.NewStdioWithOptions(aimxBinary(t), nil, []string{"mcp"},
		transport.WithCommandFunc(func(ctx context.Context, command string, _, args []string) (*exec.Cmd, error) {
			cmd := exec.CommandContext(ctx, command, args...)
			cmd.Env, cmd.Dir = env, dir
			return cmd, nil
		}))
	return sessionOver(t, tr)
}

// sessionOver initializes a client over tr and lists its tools.
func sessionOver(t *testing.T, tr transport.Interface) *mcpSession {
	t.Helper()
	cl := client.NewClient(tr, client.WithProtocolVersion(protocolVersions[0]))
	if err := cl.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	init := mcpgo.InitializeRequest{}
	init.Params.ClientInfo = mcpgo.Implementation{Name: "aimx-e2e", Version: "1"}
	init.Params.ProtocolVersion = protocolVersions[0]
	if _, err := cl.Initialize(context.Background(), init); err != nil {
		t.Fatal(err)
	}
	lr, err := cl.ListTools(context.Background(), mcpgo.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
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

// serverVersion is serverInfo.version at initialize over via.
func serverVersion(t *testing.T, d *Daemon, via string) string {
	t.Helper()
	var tr transport.Interface
	var err error
	switch via {
	case viaHTTP:
		tr, err = transport.NewStreamableHTTP("http://"+d.Listen["mcp_http"]+"/mcp",
			transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + d.MCPToken()}))
	default:
		tr = transport.NewStdio(aimxBinary(t), nil, "--config-dir", d.Dir, "mcp")
	}
	if err != nil {
		t.Fatal(err)
	}
	cl := client.NewClient(tr)
	if err := cl.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	init := mcpgo.InitializeRequest{}
	init.Params.ClientInfo = mcpgo.Implementation{Name: "aimx-e2e", Version: "1"}
	init.Params.ProtocolVersion = protocolVersions[0]
	res, err := cl.Initialize(context.Background(), init)
	if err != nil {
		t.Fatal(err)
	}
	return res.ServerInfo.Version
}
