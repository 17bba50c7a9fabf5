package mcp

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	mcpgo "github.com/mark3labs/mcp-go/mcp"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/operations"
)

// listAs is tools/list as who sees it.
func (e *env) listAs(cl *client.Client, who Caller) []string {
	e.t.Helper()
	res, err := cl.ListTools(WithCaller(context.Background(), who), mcpgo.ListToolsRequest{})
	if err != nil {
		e.t.Fatal(err)
	}
	var names []string
	for _, tool := range res.Tools {
		names = append(names, tool.Name)
	}
	return names
}

// Item 10: tools/list leaves out what the caller can never use, keeps
// manifest order (mailbox_list first), and a call of a tool left out still
// gets the sentence saying why.
func TestToolsListFitsTheCaller(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	all := make([]string, 0, len(e.srv.tools))
	for _, d := range e.srv.tools {
		all = append(all, d.name)
	}
	hookish := func(n string) bool { return strings.HasPrefix(n, "hook_") || strings.HasPrefix(n, "webhook_") }
	without := func(drop func(string) bool) []string {
		return slices.DeleteFunc(slices.Clone(all), drop)
	}
	noHooks := Caller{Owner: "alice"}
	narrow := Caller{Owner: "alice", Mailboxes: []string{support}, AllowHooks: true}
	narrowNoHooks := Caller{Owner: "alice", Mailboxes: []string{support}}
	for _, v := range protocolVersions {
		cl := e.client(v)
		for _, tc := range []struct {
			name string
			who  Caller
			want []string
		}{
			{"socket caller", alice, all},
			{"operator", operator, all},
			{"token without hook rights", noHooks, without(hookish)},
			{"narrowed token", narrow, without(func(n string) bool { return n == "mailbox_create" })},
			{"narrowed token without hook rights", narrowNoHooks, without(func(n string) bool { return hookish(n) || n == "mailbox_create" })},
		} {
			got := e.listAs(cl, tc.who)
			if !slices.Equal(got, tc.want) {
				t.Errorf("%s %s: tools/list\n got %v\nwant %v", v, tc.name, got, tc.want)
			}
			if len(got) == 0 || got[0] != "mailbox_list" {
				t.Errorf("%s %s: first tool %v, want mailbox_list", v, tc.name, got)
			}
		}
		if n := len(without(hookish)); n == len(all) || n < len(all)-6 {
			t.Fatalf("%d of %d tools are hook tools", len(all)-n, len(all))
		}
		// Left out of the list, still answered with a sentence.
		e.callAs(cl, noHooks, "hook_list", nil).fails(t, "--allow-hooks")
		e.callAs(cl, noHooks, "webhook_list", nil).fails(t, "--allow-hooks")
		e.callAs(cl, narrowNoHooks, "mailbox_create", map[string]any{"name": "more"}).fails(t, "cannot create mailboxes")
	}
}

// hook_create is destructive: it installs command execution on mail.
func TestHookCreateAnnotatedDestructive(t *testing.T) {
	t.Parallel()
	for _, tool := range Manifest() {
		if tool.Name == "hook_create" {
			if a := tool.Annotations; a.DestructiveHint == nil || !*a.DestructiveHint || *a.ReadOnlyHint {
				t.Fatalf("hook_create annotations %+v", a)
			}
			return
		}
	}
	t.Fatal("no hook_create")
}

// hook_create refuses a cmd[0] that is not an executable file, with one
// sentence whatever the reason.
func TestHookCreateChecksCmd(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cl := e.client(protocolVersions[0])
	dir := t.TempDir()
	plain := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(plain, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"/no/such/triage", plain, dir} {
		r := e.callAs(cl, alice, "hook_create", map[string]any{"mailbox": support, "event": "on_receive", "cmd": []string{cmd}, "name": "h"}).
			fails(t, "is not an executable file on this host")
		if !strings.Contains(r.text, "command -v") {
			t.Errorf("refusal %q does not say how to find a path", r.text)
		}
	}
	if _, ok := e.reg.Current().FindHook("h"); ok {
		t.Fatal("a refused hook was written")
	}
	// A symlink to an executable (as /usr/bin/python3 often is) is fine.
	link := filepath.Join(dir, "sh")
	if err := os.Symlink("/bin/sh", link); err != nil {
		t.Fatal(err)
	}
	e.callAs(cl, alice, "hook_create", map[string]any{"mailbox": support, "event": "after_send", "cmd": []string{link}, "name": "h"}).ok(t)
}

// hook_create warns when the mailbox's trust means the hook never runs
// for ordinary mail, and mentions loop protection.
func TestHookCreateWarns(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cl := e.client(protocolVersions[0])
	// support has the default trust = "none".
	r := e.callAs(cl, alice, "hook_create", map[string]any{"mailbox": support, "event": "on_receive", "cmd": []string{"/bin/true"}, "name": "gated"}).ok(t)
	warns, _ := r.structured["warnings"].([]any)
	if len(warns) != 2 || !strings.Contains(warns[0].(string), `trust = "none"`) || !strings.Contains(warns[0].(string), "will not run for any email") ||
		!strings.Contains(warns[1].(string), "fire_on_auto_submitted") {
		t.Fatalf("warnings %v", warns)
	}
	if !strings.Contains(r.text, "warning: "+support+` has trust = "none"`) {
		t.Errorf("text %q does not carry the warning", r.text)
	}
	// fire_on_untrusted and fire_on_auto_submitted: nothing to warn of.
	r = e.callAs(cl, alice, "hook_create", map[string]any{"mailbox": support, "event": "on_receive", "cmd": []string{"/bin/true", "1"}, "name": "open",
		"fire_on_untrusted": true, "fire_on_auto_submitted": true}).ok(t)
	if _, ok := r.structured["warnings"]; ok {
		t.Errorf("warnings %v", r.structured["warnings"])
	}
	if h, _ := e.reg.Current().FindHook("open"); !h.FireOnAutoSubmitted {
		t.Error("fire_on_auto_submitted not written")
	}
	// after_send is not gated.
	r = e.callAs(cl, alice, "hook_create", map[string]any{"mailbox": support, "event": "after_send", "cmd": []string{"/bin/true", "2"}, "name": "sent"}).ok(t)
	if _, ok := r.structured["warnings"]; ok {
		t.Errorf("after_send warnings %v", r.structured["warnings"])
	}
	e.callAs(cl, alice, "hook_create", map[string]any{"mailbox": support, "event": "after_send", "cmd": []string{"/bin/true", "3"}, "fire_on_auto_submitted": true}).
		fails(t, "fire_on_auto_submitted applies to on_receive hooks only")
	// trust = "verified" with trusted senders: only loop protection.
	setTrust(t, e, support, domains.TrustVerified, []string{"*@example.com"})
	r = e.callAs(cl, alice, "hook_create", map[string]any{"mailbox": support, "event": "on_receive", "cmd": []string{"/bin/true", "4"}, "name": "verified"}).ok(t)
	if warns, _ := r.structured["warnings"].([]any); len(warns) != 1 || !strings.Contains(warns[0].(string), "Loop protection") {
		t.Errorf("verified warnings %v", warns)
	}
	// verified with nobody trusted: never fires either.
	setTrust(t, e, support, domains.TrustVerified, []string{})
	r = e.callAs(cl, alice, "hook_create", map[string]any{"mailbox": support, "event": "on_receive", "cmd": []string{"/bin/true", "5"}, "name": "nobody"}).ok(t)
	if warns, _ := r.structured["warnings"].([]any); len(warns) != 2 || !strings.Contains(warns[0].(string), "no trusted_senders") {
		t.Errorf("verified, nobody trusted: warnings %v", warns)
	}
}

// setTrust sets a mailbox's own trust policy.
func setTrust(t *testing.T, e *env, mailbox string, trust domains.Trust, senders []string) {
	t.Helper()
	_, err := e.ops.Config.Update(func(c *domains.Config) error {
		m := c.Mailboxes[mailbox]
		m.Trust, m.TrustedSenders = domains.Ptr(trust), senders
		c.Mailboxes[mailbox] = m
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// hook_list shows each hook's last run; mailbox_list each mailbox's trust;
// mailbox_delete the hooks and webhooks it removed.
func TestHookListLastRunAndMailboxRows(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.srv.deps.HookRuns = func(hook string) *operations.HookLastRun {
		if hook != "ran" {
			return nil
		}
		return &operations.HookLastRun{At: "2026-10-07T14:45:13Z", Started: true, ExitCode: 3, DurationMS: 1250}
	}
	cl := e.client(protocolVersions[0])
	for _, n := range []string{"ran", "idle"} {
		e.callAs(cl, alice, "hook_create", map[string]any{"mailbox": support, "event": "after_send", "cmd": []string{"/bin/true", n}, "name": n}).ok(t)
	}
	r := e.callAs(cl, alice, "hook_list", nil).ok(t)
	rows := r.structured["hooks"].([]any)
	if len(rows) != 2 {
		t.Fatalf("rows %v", rows)
	}
	for _, row := range rows {
		m := row.(map[string]any)
		lr, has := m["last_run"].(map[string]any)
		switch m["name"] {
		case "ran":
			if !has || lr["exit_code"] != 3.0 || lr["duration_ms"] != 1250.0 || lr["at"] != "2026-10-07T14:45:13Z" || lr["started"] != true {
				t.Errorf("ran: last_run %v", m["last_run"])
			}
		case "idle":
			if has {
				t.Errorf("idle: last_run %v", lr)
			}
		}
	}
	if !strings.Contains(r.text, "last run 2026-10-07T14:45:13Z: exit 3 in 1250ms") || !strings.Contains(r.text, "not run since the daemon started") {
		t.Errorf("text %q", r.text)
	}

	r = e.callAs(cl, bob, "mailbox_list", nil).ok(t)
	for _, row := range r.structured["mailboxes"].([]any) {
		if m := row.(map[string]any); m["trust"] != "none" {
			t.Errorf("row %v", m)
		}
	}
	if !strings.Contains(r.text, "(owner bob, trust none)") {
		t.Errorf("mailbox_list text %q", r.text)
	}

	r = e.callAs(cl, alice, "mailbox_delete", map[string]any{"name": support, "force": true}).ok(t)
	if got := r.structured["hooks"]; !slices.Equal(toStrings(got), []string{"ran", "idle"}) {
		t.Errorf("hooks removed %v", got)
	}
	if !strings.Contains(r.text, "removed its hooks: ran, idle") {
		t.Errorf("mailbox_delete text %q", r.text)
	}
}

func toStrings(v any) []string {
	var out []string
	xs, _ := v.([]any)
	for _, x := range xs {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// The stdio bridge lists in the daemon's order too.
func TestBridgeListsInManifestOrder(t *testing.T) {
	t.Parallel()
	b := NewBridge(BridgeOptions{SocketPath: filepath.Join(t.TempDir(), "aimx.sock")})
	cl, err := client.NewInProcessClient(b.MCP())
	if err != nil {
		t.Fatal(err)
	}
	initClient(t, cl, protocolVersions[0])
	res, err := cl.ListTools(context.Background(), mcpgo.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	want := Manifest()
	if len(res.Tools) != len(want) || res.Tools[0].Name != "mailbox_list" {
		t.Fatalf("bridge lists %d tools, first %q", len(res.Tools), res.Tools[0].Name)
	}
	for i := range want {
		if res.Tools[i].Name != want[i].Name {
			t.Fatalf("tool %d is %s, want %s", i, res.Tools[i].Name, want[i].Name)
		}
	}
}
