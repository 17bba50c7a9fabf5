package mcp

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	mcpgo "github.com/mark3labs/mcp-go/mcp"
	"github.com/rs/zerolog"

	"github.com/aimx-dev/aimx/storage"
)

// testTokens is an in-memory TokenVerifier with revocation.
type testTokens struct {
	mu sync.Mutex
	m  map[string]Caller
}

func (tt *testTokens) Verify(secret string) (Caller, bool) {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	c, ok := tt.m[secret]
	return c, ok
}

func (tt *testTokens) revoke(secret string) {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	delete(tt.m, secret)
}

const (
	tokAlice  = "aimx_alice_secret"
	tokBob    = "aimx_bob_secret"
	tokNarrow = "aimx_narrow_secret"
	tokNoHook = "aimx_nohooks_secret"
	tokRevoke = "aimx_revoked_secret"
)

// httpEnv serves e's tools over the TCP transport on loopback.
func httpEnv(t *testing.T) (*env, *testTokens, *httptest.Server) {
	t.Helper()
	e := newEnv(t)
	tokens := &testTokens{m: map[string]Caller{
		tokAlice:  alice,
		tokBob:    bob,
		tokNarrow: {Owner: "alice", Mailboxes: []string{support}, AllowHooks: true},
		tokNoHook: {Owner: "alice"},
		tokRevoke: alice,
	}}
	h := e.srv.HTTPServer(tokens, zerolog.Nop())
	ts := httptest.NewServer(h.Handler())
	t.Cleanup(func() {
		_ = h.Shutdown(context.Background())
		ts.Close()
	})
	return e, tokens, ts
}

// httpClient connects over streamable HTTP (sse false) or SSE with token.
func httpClient(t *testing.T, base, token, version string, sse bool) *client.Client {
	t.Helper()
	hdr := map[string]string{"Authorization": "Bearer " + token}
	var tr transport.Interface
	var err error
	if sse {
		tr, err = transport.NewSSE(base+SSEPath, transport.WithHeaders(hdr))
	} else {
		tr, err = transport.NewStreamableHTTP(base+EndpointPath, transport.WithHTTPHeaders(hdr))
	}
	if err != nil {
		t.Fatal(err)
	}
	cl := client.NewClient(tr, client.WithProtocolVersion(version))
	initClient(t, cl, version)
	return cl
}

// Every tool path over TCP: the token's caller, its narrowing and its
// hook right reach the tools, on streamable HTTP and SSE and on both
// protocol versions; a revoked token stops at once.
func TestHTTPServerTokens(t *testing.T) {
	t.Parallel()
	e, tokens, ts := httpEnv(t)
	id := e.put(support, storage.Inbox, t0, inbound("over tcp", "x@y.example", "false"), "hello\n")
	for _, v := range protocolVersions {
		for _, sse := range []bool{false, true} {
			name := v + "/streamable"
			if sse {
				name = v + "/sse"
			}
			t.Run(name, func(t *testing.T) {
				ctx := t.Context()
				r := e.callCtx(httpClient(t, ts.URL, tokAlice, v, sse), ctx, "email_read", map[string]any{"mailbox": "support", "id": id}).ok(t)
				checkFenced(t, r.structured["body"].(string), "hello\n", "false")
				e.callCtx(httpClient(t, ts.URL, tokBob, v, sse), ctx, "email_read", map[string]any{"mailbox": "support", "id": id}).
					fails(t, `mailbox "support@agent.example.com" not found`)

				narrow := httpClient(t, ts.URL, tokNarrow, v, sse)
				r = e.callCtx(narrow, ctx, "mailbox_list", nil).ok(t)
				if mbs := r.structured["mailboxes"].([]any); len(mbs) != 1 || mbs[0].(map[string]any)["name"] != support {
					t.Fatalf("narrowed token lists %v, want only %s", mbs, support)
				}
				e.callCtx(narrow, ctx, "email_list", map[string]any{"mailbox": catchall}).fails(t, "not found")
				e.callCtx(narrow, ctx, "mailbox_create", map[string]any{"name": "fresh"}).fails(t, "cannot create mailboxes")

				e.callCtx(httpClient(t, ts.URL, tokNoHook, v, sse), ctx, "hook_create",
					map[string]any{"mailbox": "support", "event": "on_receive", "cmd": []string{"/bin/true"}}).
					fails(t, "--allow-hooks")
			})
		}
	}
	t.Run("revoked", func(t *testing.T) {
		for _, sse := range []bool{false, true} {
			cl := httpClient(t, ts.URL, tokRevoke, protocolVersions[0], sse)
			e.callCtx(cl, t.Context(), "mailbox_list", nil).ok(t)
			tokens.revoke(tokRevoke)
			req := callReq("mailbox_list", nil)
			if res, err := cl.CallTool(t.Context(), req); err == nil && !res.IsError {
				t.Fatalf("sse=%v: a revoked token still calls tools: %+v", sse, res)
			}
			tokens.mu.Lock()
			tokens.m[tokRevoke] = alice
			tokens.mu.Unlock()
		}
	})
}

// Requests without a valid bearer token get 401 with a Bearer challenge,
// on every endpoint.
func TestHTTPServerUnauthorized(t *testing.T) {
	t.Parallel()
	_, _, ts := httpEnv(t)
	for _, path := range []string{EndpointPath, SSEPath, MessagePath + "?sessionId=x"} {
		for _, tc := range []struct {
			auth, challenge string
		}{
			{"", `Bearer realm="aimx"`},
			{"Basic YWxpY2U6cHc=", `Bearer realm="aimx"`},
			{"Bearer ", `Bearer realm="aimx"`},
			{"Bearer wrong", `Bearer realm="aimx", error="invalid_token"`},
		} {
			method := http.MethodPost
			if path == SSEPath {
				method = http.MethodGet
			}
			req, _ := http.NewRequestWithContext(t.Context(), method, ts.URL+path, strings.NewReader(`{}`))
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != tc.challenge {
				t.Errorf("%s %s with %q: %d %q", method, path, tc.auth, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
			}
		}
	}
}

// An SSE session accepts POSTs only with the token that opened it.
func TestHTTPServerSSEPrincipal(t *testing.T) {
	t.Parallel()
	_, _, ts := httpEnv(t)
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, ts.URL+SSEPath, nil)
	req.Header.Set("Authorization", "Bearer "+tokAlice)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 512)
	n, err := resp.Body.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	_, endpoint, ok := strings.Cut(strings.SplitN(string(buf[:n]), "\n", 3)[1], "data: ")
	if !ok || !strings.HasPrefix(endpoint, MessagePath+"?sessionId=") {
		t.Fatalf("endpoint event: %q", buf[:n])
	}
	endpoint = strings.TrimSpace(endpoint)
	post := func(token string) int {
		body := `{"jsonrpc":"2.0","id":1,"method":"ping"}`
		r, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, ts.URL+endpoint, strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+token)
		r.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	if code := post(tokBob); code != http.StatusForbidden {
		t.Errorf("POST with another valid token: %d, want 403", code)
	}
	if code := post(tokAlice); code != http.StatusAccepted {
		t.Errorf("POST with the session's token: %d, want 202", code)
	}
}

// Loopback Host names always pass; another Host passes only when listed in
// [mcp] allowed_hosts (the DNS-rebinding guard, which mcp-go alone would
// answer with 403 whatever the list says).
func TestHTTPServerAllowedHosts(t *testing.T) {
	t.Parallel()
	e, _, ts := httpEnv(t)
	status := func(host string) int {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, ts.URL+EndpointPath, strings.NewReader(`{}`))
		req.Host = host
		// No token: a Host that passes gets 401, one that does not 403.
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, h := range []string{"localhost:3025", "127.0.0.1:3025", "[::1]:3025", "localhost"} {
		if got := status(h); got != http.StatusUnauthorized {
			t.Errorf("Host %s: %d, want it past the Host check (401)", h, got)
		}
	}
	if got := status("mcp.example.com:3025"); got != http.StatusForbidden {
		t.Errorf("unlisted Host: %d, want 403", got)
	}
	cfg := e.reg.Current().Clone()
	cfg.MCP.AllowedHosts = []string{"mcp.example.com"}
	e.reg.Swap(cfg)
	for h, want := range map[string]int{
		"mcp.example.com:3025": http.StatusUnauthorized,
		"MCP.example.com":      http.StatusUnauthorized,
		"evil.example.com":     http.StatusForbidden,
		"localhost:3025":       http.StatusUnauthorized,
	} {
		if got := status(h); got != want {
			t.Errorf("allowed_hosts set, Host %s: %d, want %d", h, got, want)
		}
	}
	// A listed Host reaches the tools with a token.
	hdr := map[string]string{"Authorization": "Bearer " + tokAlice}
	tr, err := transport.NewStreamableHTTP(ts.URL+EndpointPath, transport.WithHTTPHeaders(hdr), transport.WithStreamableHTTPHost("mcp.example.com"))
	if err != nil {
		t.Fatal(err)
	}
	cl := client.NewClient(tr)
	initClient(t, cl, protocolVersions[1])
	e.callCtx(cl, t.Context(), "mailbox_list", nil).ok(t)
}

// The TCP body cap is 2 × max_message_bytes too.
func TestHTTPServerBodyCap(t *testing.T) {
	t.Parallel()
	e, _, ts := httpEnv(t)
	cfg := e.reg.Current().Clone()
	cfg.SMTP.MaxMessageBytes = 500
	e.reg.Swap(cfg)
	body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},` +
		`"clientInfo":{"name":"` + strings.Repeat("x", 1100) + `","version":"1"}}}`
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, ts.URL+EndpointPath, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tokAlice)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "too large") {
		t.Fatalf("over the cap answered %d %s", resp.StatusCode, b)
	}
}

// callReq is a tools/call request.
func callReq(tool string, args map[string]any) mcpgo.CallToolRequest {
	req := mcpgo.CallToolRequest{}
	req.Params.Name = tool
	if args == nil {
		args = map[string]any{}
	}
	req.Params.Arguments = args
	return req
}
