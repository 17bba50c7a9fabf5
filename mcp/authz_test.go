package mcp

import (
	"context"
	"testing"

	"github.com/aimx-dev/aimx/operations"
	"github.com/aimx-dev/aimx/storage"
)

// Every tool answers a mailbox (or hook) the caller may not see exactly as
// it answers one that does not exist, byte for byte (book/admin.md), and changes
// nothing.
func TestOtherOwnersMailboxLooksMissing(t *testing.T) {
	t.Parallel()
	withBilling := newEnv(t)
	without := newEnv(t)
	for _, e := range []*env{withBilling, without} {
		e.put(billing, storage.Inbox, t0, inbound("receipt", "billing@pay.example", "true"), "b")
	}
	if _, err := without.ops.Delete(context.Background(), operations.DeleteMailbox{Name: billing, Force: true, Door: operations.OperatorDoor}); err != nil {
		t.Fatal(err)
	}
	clA := withBilling.client(protocolVersions[0])
	clB := without.client(protocolVersions[0])
	bobHook := map[string]any{"mailbox": billing, "event": "on_receive", "cmd": []string{"/bin/true"}, "name": "bobs"}
	withBilling.callAs(clA, bob, "hook_create", bobHook).ok(t)
	withBilling.callAs(clA, bob, "webhook_create", map[string]any{"mailbox": billing, "url": "https://bob.example/hook",
		"events": []string{"on_receive"}, "name": "bobw"}).ok(t)
	id := withBilling.callAs(clA, bob, "email_list", map[string]any{"mailbox": billing}).ok(t).
		structured["emails"].([]any)[0].(map[string]any)["id"].(string)

	calls := []struct {
		tool string
		args map[string]any
	}{
		{"email_list", map[string]any{"mailbox": "billing"}},
		{"email_list", map[string]any{"mailbox": billing, "folder": "sent", "unread": true}},
		{"email_search", map[string]any{"mailbox": billing, "query": "receipt"}},
		{"email_read", map[string]any{"mailbox": billing, "id": id}},
		{"email_read", map[string]any{"mailbox": billing, "id": id, "folder": "sent"}},
		{"email_wait", map[string]any{"mailbox": billing, "timeout_secs": 0}},
		{"thread_read", map[string]any{"mailbox": billing, "thread_id": "0123456789abcdef"}},
		{"email_mark_read", map[string]any{"mailbox": billing, "id": id}},
		{"email_mark_unread", map[string]any{"mailbox": billing, "id": id}},
		{"attachment_read", map[string]any{"mailbox": billing, "id": id, "filename": "receipt.pdf"}},
		{"email_label", map[string]any{"mailbox": billing, "id": id, "add": []string{"x"}}},
		{"email_move", map[string]any{"mailbox": billing, "id": id, "to_folder": "archive"}},
		{"email_delete", map[string]any{"mailbox": billing, "id": id}},
		{"email_delete", map[string]any{"mailbox": billing, "id": id, "force": true}},
		{"email_restore", map[string]any{"mailbox": billing, "id": id}},
		{"email_send", map[string]any{"from_mailbox": billing, "to": "x@example.org", "subject": "s", "body": "b"}},
		{"email_reply", map[string]any{"mailbox": billing, "id": id, "body": "b"}},
		{"email_status", map[string]any{"mailbox": billing, "id": id}},
		{"draft_list", map[string]any{"mailbox": billing}},
		{"mailbox_delete", map[string]any{"name": billing, "force": true}},
		{"mailbox_delete", map[string]any{"name": "billing"}},
		{"hook_create", map[string]any{"mailbox": billing, "event": "on_receive", "cmd": []string{"/bin/true"}}},
		{"hook_list", map[string]any{"mailbox": billing}},
		{"hook_delete", map[string]any{"name": "bobs"}},
		{"webhook_create", map[string]any{"mailbox": billing, "url": "https://h.example/", "events": []string{"on_receive"}}},
		{"webhook_list", map[string]any{"mailbox": billing}},
		{"webhook_delete", map[string]any{"name": "bobw"}},
	}
	callers := map[string]Caller{
		"another owner":           alice,
		"token for another box":   {Owner: "bob", Mailboxes: []string{sales}, AllowHooks: true},
		"operator token narrowed": {Owner: "root", Operator: true, Mailboxes: []string{support}, AllowHooks: true},
	}
	covered := map[string]bool{}
	for who, c := range callers {
		for _, tc := range calls {
			covered[tc.tool] = true
			hidden := withBilling.callAs(clA, c, tc.tool, tc.args)
			missing := without.callAs(clB, c, tc.tool, tc.args)
			if !hidden.isError || !missing.isError {
				t.Fatalf("%s %s %v: hidden error %v, missing error %v", who, tc.tool, tc.args, hidden.isError, missing.isError)
			}
			if hidden.text != missing.text {
				t.Errorf("%s %s %v:\nhidden:  %q\nmissing: %q", who, tc.tool, tc.args, hidden.text, missing.text)
			}
		}
		// Lists leave the mailbox, its hooks and its webhooks out.
		for _, name := range []string{"mailbox_list", "hook_list", "webhook_list"} {
			hidden := withBilling.callAs(clA, c, name, nil).ok(t)
			missing := without.callAs(clB, c, name, nil).ok(t)
			if hidden.text != missing.text {
				t.Errorf("%s %s:\nhidden:  %q\nmissing: %q", who, name, hidden.text, missing.text)
			}
		}
	}
	// Nothing changed for bob.
	r := withBilling.callAs(clA, bob, "email_list", map[string]any{"mailbox": billing, "unread": true}).ok(t)
	if r.structured["total"] != 1.0 {
		t.Fatalf("bob's mail changed: %v", r.structured)
	}
	if _, ok := withBilling.reg.Current().FindHook("bobs"); !ok {
		t.Fatal("bob's hook was deleted")
	}
	if _, ok := withBilling.reg.Current().FindWebhook("bobw"); !ok {
		t.Fatal("bob's webhook was deleted")
	}
	// Every tool that names a mailbox or hook is covered (mailbox_create
	// creates; a taken name is refused as taken, see TestMailboxCreateDelete).
	for _, tool := range withBilling.srv.Tools() {
		if !covered[tool.Name] && tool.Name != "mailbox_list" && tool.Name != "mailbox_create" {
			t.Errorf("tool %s has no authorization case", tool.Name)
		}
	}
}
