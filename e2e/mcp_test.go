package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// The tools of book/mcp.md without the send tools (the outbound issue).
var wantTools = []string{"attachment_read", "draft_list", "email_delete", "email_label", "email_list",
	"email_mark_read", "email_mark_unread", "email_move", "email_read", "email_reply", "email_restore", "email_search",
	"email_send", "email_status", "email_wait", "hook_create", "hook_delete", "hook_list", "mailbox_create", "mailbox_delete",
	"mailbox_list", "thread_read", "webhook_create", "webhook_delete", "webhook_list"}

const devDomain = "agent.localhost"

// TestMCPEveryToolEveryTransport drives every tool over stdio (`aimx mcp`),
// aimx.sock, streamable HTTP and SSE, on both protocol versions, against
// one dev daemon: mail delivered over SMTP is read back with email_list,
// email_read and the mark tools, and every structuredContent is validated
// against its tool's outputSchema.
func TestMCPEveryToolEveryTransport(t *testing.T) {
	t.Parallel()
	d := StartDev(t, DaemonOptions{})
	if d.Listen["mcp_unix"] == "" || d.Listen["mcp_http"] == "" {
		t.Fatalf("listen.json lacks the MCP listeners: %v", d.Listen)
	}
	for _, via := range transports {
		for _, v := range protocolVersions {
			t.Run(via+"/"+v, func(t *testing.T) {
				t.Parallel()
				s := d.devConnect(t, via, v)
				var names []string
				for _, tool := range s.tools {
					names = append(names, tool.Name)
				}
				slices.Sort(names)
				if !slices.Equal(names, wantTools) {
					t.Fatalf("tools/list = %v, want %v", names, wantTools)
				}
				exerciseTools(t, d, s, fmt.Sprintf("t-%s-%s", via, strings.ReplaceAll(v, "-", "")))
			})
		}
	}
}

// exerciseTools runs every tool once or more on a fresh mailbox local@dev.
func exerciseTools(t *testing.T, d *Daemon, s *mcpSession, local string) {
	t.Helper()
	name := local + "@" + devDomain
	if got := s.call("mailbox_create", map[string]any{"name": local}).ok(t).s["name"]; got != name {
		t.Fatalf("mailbox_create = %v, want %s", got, name)
	}
	s.call("mailbox_create", map[string]any{"name": name}).ok(t) // idempotent for its owner

	for i, subj := range []string{"first " + local, "second " + local} {
		msg := fmt.Sprintf("From: Carol <carol@example.org>\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%d.%s@example.org>\r\n"+
			"Date: Mon, 23 Nov 2026 10:0%d:00 +0000\r\n\r\nBody of %s.\r\n", name, subj, i, local, i, subj)
		if err := d.Deliver("carol@example.org", []string{name}, []byte(msg)); err != nil {
			t.Fatalf("deliver to %s: %v", name, err)
		}
	}

	var mine map[string]any
	for _, m := range s.call("mailbox_list", nil).ok(t).s["mailboxes"].([]any) {
		if mb := m.(map[string]any); mb["name"] == name {
			mine = mb
		}
	}
	if mine == nil || mine["total"] != 2.0 || mine["unread"] != 2.0 || mine["sent"] != 0.0 {
		t.Fatalf("mailbox_list entry for %s: %v", name, mine)
	}

	list := s.call("email_list", map[string]any{"mailbox": local}).ok(t).s
	emails := list["emails"].([]any)
	if list["total"] != 2.0 || len(emails) != 2 || emails[0].(map[string]any)["subject"] != "second "+local {
		t.Fatalf("email_list (newest first) = %v", list)
	}
	first := emails[1].(map[string]any)
	id := first["id"].(string)
	if first["read"] != false || first["trusted"] != "none" || first["from"] != "Carol <carol@example.org>" {
		t.Fatalf("summary = %v", first)
	}
	if got := s.call("email_list", map[string]any{"mailbox": name, "subject": "FIRST", "limit": 10}).ok(t).s; got["total"] != 1.0 {
		t.Fatalf("email_list subject filter = %v", got)
	}
	// Strict arguments and names as agents write them (book/mcp.md, "Arguments").
	s.call("email_list", map[string]any{"mailbox": local, "threadid": "x"}).
		fails(t, `unknown argument "threadid" for email_list; it accepts: mailbox, cursor, folder, from,`)
	s.call("email_list", map[string]any{"mailbox": local, "limit": "abc"}).fails(t, `limit must be an integer, such as 50, not "abc".`)
	if got := s.call("email_list", map[string]any{"mailbox": "Carol <" + strings.ToUpper(name) + ">", "limit": "1", "unread": "true",
		"since": "2026-11-01"}).ok(t).s; got["total"] != 2.0 || len(got["emails"].([]any)) != 1 {
		t.Fatalf("email_list with coerced arguments = %v", got)
	}
	s.call("email_list", map[string]any{"mailbox": "catchall"}).fails(t, `"catchall" is a reserved name`)

	read := s.call("email_read", map[string]any{"mailbox": local, "id": id}).ok(t).s
	body := read["body"].(string)
	if read["subject"] != "first "+local || read["trusted"] != "none" || !strings.Contains(body, "Body of first "+local+".") ||
		!strings.Contains(body, "<untrusted-email") {
		t.Fatalf("email_read = %v", read)
	}

	if got := s.call("email_mark_read", map[string]any{"mailbox": local, "id": id}).ok(t).s; got["read"] != true || got["id"] != id {
		t.Fatalf("email_mark_read = %v", got)
	}
	if got := s.call("email_list", map[string]any{"mailbox": local, "unread": true}).ok(t).s; got["total"] != 1.0 {
		t.Fatalf("unread after mark_read = %v", got)
	}
	if got := s.call("email_mark_unread", map[string]any{"mailbox": local, "id": id}).ok(t).s; got["read"] != false {
		t.Fatalf("email_mark_unread = %v", got)
	}
	if got := s.call("email_list", map[string]any{"mailbox": local, "folder": "sent"}).ok(t).s; got["total"] != 0.0 {
		t.Fatalf("sent folder = %v", got)
	}
	s.call("email_read", map[string]any{"mailbox": local, "id": "2026-01-01-000000-nope"}).fails(t, "")

	hook := "h-" + local
	if got := s.call("hook_create", map[string]any{"mailbox": local, "event": "on_receive", "cmd": []string{"/bin/true"}, "name": hook}).ok(t).s; got["name"] != hook {
		t.Fatalf("hook_create = %v", got)
	}
	hooks := s.call("hook_list", map[string]any{"mailbox": local}).ok(t).s["hooks"].([]any)
	if len(hooks) != 1 || hooks[0].(map[string]any)["name"] != hook {
		t.Fatalf("hook_list = %v", hooks)
	}
	s.call("hook_delete", map[string]any{"name": hook}).ok(t)
	if hooks := s.call("hook_list", map[string]any{"mailbox": local}).ok(t).s["hooks"].([]any); len(hooks) != 0 {
		t.Fatalf("hook_list after delete = %v", hooks)
	}

	s.call("mailbox_delete", map[string]any{"name": local}).fails(t, "")
	if got := s.call("mailbox_delete", map[string]any{"name": local, "force": true}).ok(t).s; got["name"] != name || got["deleted_files"].(float64) < 2 {
		t.Fatalf("mailbox_delete = %v", got)
	}
	s.call("email_list", map[string]any{"mailbox": local}).fails(t, "not found")
}

// TestMCPHTTPIdentity: TCP needs a valid bearer token on every request;
// a revoked token stops at once; a mailbox-narrowed token sees only its
// mailboxes and cannot create any; a token without --allow-hooks cannot
// create hooks.
func TestMCPHTTPIdentity(t *testing.T) {
	t.Parallel()
	d := StartDev(t, DaemonOptions{})
	base := "http://" + d.Listen["mcp_http"]
	for _, tc := range []struct{ path, method, auth string }{
		{"/mcp", http.MethodPost, ""},
		{"/mcp", http.MethodPost, "Bearer aimx_wrong"},
		{"/sse", http.MethodGet, ""},
		{"/sse", http.MethodGet, "Bearer aimx_wrong"},
		{"/message?sessionId=x", http.MethodPost, "Bearer " + d.MCPToken() + "x"},
	} {
		req, _ := http.NewRequest(tc.method, base+tc.path, strings.NewReader(`{}`))
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s %s with %q: %d %q", tc.method, tc.path, tc.auth, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	}
	if strings.Contains(d.Stderr(), d.MCPToken()) {
		t.Error("the daemon log carries a token")
	}

	user := currentUser(t)
	hello := "hello@" + devDomain
	v := protocolVersions[0]
	for _, via := range []string{viaHTTP, viaSSE} {
		t.Run(via, func(t *testing.T) {
			_, narrow := d.mintToken("--owner", user, "--mailbox", hello, "--allow-hooks")
			s := connect(t, connectOpts{via: via, version: v, token: narrow, httpAddr: d.Listen["mcp_http"]})
			mbs := s.call("mailbox_list", nil).ok(t).s["mailboxes"].([]any)
			if len(mbs) != 1 || mbs[0].(map[string]any)["name"] != hello {
				t.Fatalf("narrowed token lists %v, want only %s", mbs, hello)
			}
			s.call("email_list", map[string]any{"mailbox": "*@" + devDomain}).fails(t, "not found")
			s.call("mailbox_create", map[string]any{"name": "more-" + via}).fails(t, "cannot create mailboxes")

			_, noHooks := d.mintToken("--owner", user)
			s = connect(t, connectOpts{via: via, version: v, token: noHooks, httpAddr: d.Listen["mcp_http"]})
			s.call("mailbox_list", nil).ok(t)
			s.call("hook_create", map[string]any{"mailbox": "hello", "event": "on_receive", "cmd": []string{"/bin/true"}}).
				fails(t, "--allow-hooks")

			id, revoked := d.mintToken("--owner", user)
			s = connect(t, connectOpts{via: via, version: v, token: revoked, httpAddr: d.Listen["mcp_http"]})
			s.call("mailbox_list", nil).ok(t)
			if _, errOut, code := d.CLI("tokens", "revoke", id); code != 0 {
				t.Fatalf("tokens revoke: %d %s", code, errOut)
			}
			req := callRequest("mailbox_list")
			if res, err := s.cl.CallTool(t.Context(), req); err == nil && !res.IsError {
				t.Fatalf("a revoked token still calls tools: %+v", res)
			}
		})
	}
}

// TestMCPBridgeDaemonDown: `aimx mcp` with no daemon lists every tool,
// answers each call with "aimx daemon is not running", writes nothing but
// JSON-RPC to stdout and exits 0 when stdin ends.
func TestMCPBridgeDaemonDown(t *testing.T) {
	t.Parallel()
	run, err := os.MkdirTemp("", "axr")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(run) })
	env := []string{"AIMX_RUNTIME_DIR=" + run}
	for _, v := range protocolVersions {
		t.Run(v, func(t *testing.T) {
			s := connect(t, connectOpts{via: viaStdio, version: v, stdioEnv: env})
			if len(s.tools) != len(wantTools) {
				t.Fatalf("tools/list has %d tools with the daemon down", len(s.tools))
			}
			for _, tool := range wantTools {
				s.call(tool, nil).fails(t, "aimx daemon is not running")
			}
		})
	}

	cmd := exec.Command(aimxBinary(t), "mcp")
	cmd.Env = append(os.Environ(), env...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := []string{`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`,
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`}
	for i, tool := range wantTools {
		lines = append(lines, fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":%q,"arguments":{}}}`, i+2, tool))
	}
	answered := map[float64]bool{}
	sc := bufio.NewScanner(stdout)
	sc.Buffer(nil, 1<<20)
	go func() {
		for _, l := range lines {
			_, _ = io.WriteString(stdin, l+"\n")
		}
	}()
	for len(answered) < len(wantTools)+2 && sc.Scan() {
		var msg map[string]any
		if err := json.Unmarshal(sc.Bytes(), &msg); err != nil || msg["jsonrpc"] != "2.0" {
			t.Fatalf("stdout carries a non-protocol line: %q", sc.Text())
		}
		answered[msg["id"].(float64)] = true
	}
	stdin.Close() // EOF
	if rest, _ := io.ReadAll(stdout); len(strings.TrimSpace(string(rest))) != 0 {
		for _, l := range strings.Split(strings.TrimSpace(string(rest)), "\n") {
			if !json.Valid([]byte(l)) {
				t.Errorf("stdout carries a non-protocol line: %q", l)
			}
		}
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("aimx mcp at EOF: %v\nstderr: %s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("aimx mcp still running 30 s after stdin EOF")
	}
	if len(answered) != len(wantTools)+2 {
		t.Fatalf("answered %d of %d requests", len(answered), len(wantTools)+2)
	}
}
