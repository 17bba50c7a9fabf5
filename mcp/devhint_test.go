package mcp

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	mcpgo "github.com/mark3labs/mcp-go/mcp"
	"github.com/rs/zerolog"
)

// In dev mode a 401 names the dev token file (book/dev-mode.md); outside
// it, no file is named.
func TestUnauthorizedNamesDevTokenFile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	none := TokenVerifierFunc(func(string) (Caller, bool) { return Caller{}, false })
	for _, dev := range []string{"", "/home/you/aimx/.aimx-dev/mcp-token"} {
		h := e.srv.HTTPServer(none, zerolog.Nop())
		h.DevTokenFile = dev
		ts := httptest.NewServer(h.Handler())
		for _, auth := range []string{"", "Bearer wrong"} {
			req, err := http.NewRequest(http.MethodPost, ts.URL+EndpointPath, strings.NewReader("{}"))
			if err != nil {
				t.Fatal(err)
			}
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status %d", res.StatusCode)
			}
			named := strings.Contains(string(body), "/home/you/aimx/.aimx-dev/mcp-token")
			if named != (dev != "") {
				t.Errorf("dev %q, auth %q: 401 body %q", dev, auth, body)
			}
		}
		ts.Close()
	}
}

// The bridge's "daemon is not running" answer ends with its DownHint.
func TestBridgeDownHint(t *testing.T) {
	t.Parallel()
	path := SocketPath(sockDir(t)) // nothing listens here
	b := NewBridge(BridgeOptions{SocketPath: path, DownHint: "pass --config-dir .aimx-dev"})
	cl, err := client.NewInProcessClient(b.MCP())
	if err != nil {
		t.Fatal(err)
	}
	initClient(t, cl, protocolVersions[0])
	res := mustCall(t, cl, "mailbox_list", nil)
	if want := DaemonNotRunning(path) + " pass --config-dir .aimx-dev"; !res.IsError || res.Content[0].(mcpgo.TextContent).Text != want {
		t.Fatalf("daemon down: %+v", res)
	}
}
