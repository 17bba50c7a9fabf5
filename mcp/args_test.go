package mcp

import (
	"strings"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/storage"
)

// Strict arguments (book/mcp.md, "Arguments"), through the MCP client.
func TestStrictArguments(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cl := e.client(protocolVersions[0])
	id := e.put(support, storage.Inbox, t0, inbound("pricing", "x@y.example", "true"), "b")
	e.put(support, storage.Inbox, t0.Add(time.Minute), inbound("second", "x@y.example", "true"), "b")

	cases := []struct {
		name, tool string
		args       map[string]any
		want       string // error text; "" means success
		total      int    // email_list: rows returned, when > 0
	}{
		{"unknown argument", "email_list", map[string]any{"mailbox": "support", "threadid": "t1"},
			`unknown argument "threadid" for email_list; it accepts: mailbox, cursor, folder, from, in_text, label, limit, message_id, offset, since, subject, thread_id, trusted, unread.`, 0},
		{"unknown on a tool without arguments", "mailbox_list", map[string]any{"verbose": true},
			`unknown argument "verbose" for mailbox_list; it takes no arguments.`, 0},
		{"unknown on email_read", "email_read", map[string]any{"mailbox": "support", "id": id, "format": "text"},
			`unknown argument "format" for email_read; it accepts: mailbox, id, body_offset, folder, in_text, max_body_chars.`, 0},
		{"string for integer", "email_list", map[string]any{"mailbox": "support", "limit": "1"}, "", 1},
		{"float integral", "email_list", map[string]any{"mailbox": "support", "limit": 1.0}, "", 1},
		{"bad string for integer", "email_list", map[string]any{"mailbox": "support", "limit": "abc"},
			`limit must be an integer, such as 50, not "abc".`, 0},
		{"fraction for integer", "email_list", map[string]any{"mailbox": "support", "limit": 1.5},
			`limit must be a whole number, such as 50, not 1.5.`, 0},
		{"bool for integer", "email_list", map[string]any{"mailbox": "support", "offset": true},
			`offset must be an integer, such as 0, not true.`, 0},
		{"string true", "email_list", map[string]any{"mailbox": "support", "unread": "true"}, "", 2},
		{"string false", "mailbox_delete", map[string]any{"name": "support", "force": "false"}, "still holds 2 emails", 0},
		{"bad string for boolean", "email_list", map[string]any{"mailbox": "support", "unread": "yes please"},
			`unread must be true or false, not "yes please".`, 0},
		{"number for string", "email_read", map[string]any{"mailbox": "support", "id": 5},
			`id must be a string (text in quotes), not 5.`, 0},
		{"array items", "hook_create", map[string]any{"mailbox": "support", "event": "on_receive", "cmd": []any{"/bin/true", 3}},
			`cmd[1] must be a string (text in quotes), not 3.`, 0},
		{"null is left out", "email_list", map[string]any{"mailbox": "support", "limit": nil}, "", 2},
	}
	for _, tc := range cases {
		r := e.callAs(cl, alice, tc.tool, tc.args)
		if tc.want != "" {
			if !r.isError || !strings.Contains(r.text, tc.want) {
				t.Errorf("%s: got %q (error %v), want %q", tc.name, r.text, r.isError, tc.want)
			}
			continue
		}
		if r.isError {
			t.Errorf("%s: %s", tc.name, r.text)
			continue
		}
		if tc.total > 0 {
			if got := len(r.structured["emails"].([]any)); got != tc.total {
				t.Errorf("%s: %d emails, want %d", tc.name, got, tc.total)
			}
		}
	}
}

// Names as agents write them (book/mcp.md, "Arguments").
func TestNamesAsAgentsWriteThem(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cl := e.client(protocolVersions[0])
	e.put(support, storage.Inbox, time.Date(2026, 11, 30, 23, 0, 0, 0, time.UTC), inbound("old", "x@y.example", "true"), "b")
	e.put(support, storage.Inbox, time.Date(2026, 12, 1, 0, 30, 0, 0, time.UTC), inbound("new", "x@y.example", "true"), "b")

	for _, name := range []string{"support", "Support", "SUPPORT@Agent.Example.COM", "Support <support@agent.example.com>",
		`"Support Desk" <SUPPORT@agent.example.com>`, " support@agent.example.com "} {
		r := e.callAs(cl, alice, "email_list", map[string]any{"mailbox": name}).ok(t)
		if len(r.structured["emails"].([]any)) != 2 {
			t.Errorf("%q: %v", name, r.structured)
		}
	}
	// Visibility holds whatever the spelling: bob's billing answers like a missing mailbox.
	e.callAs(cl, alice, "email_list", map[string]any{"mailbox": "Billing <BILLING@agent.example.com>"}).
		fails(t, `mailbox "billing@agent.example.com" not found. Call mailbox_list`)
	e.callAs(cl, alice, "email_list", map[string]any{"mailbox": "nobody"}).
		fails(t, `mailbox "nobody@agent.example.com" not found. Call mailbox_list`)

	e.callAs(cl, alice, "email_list", map[string]any{"mailbox": "catchall"}).fails(t, `"catchall" is a reserved name`)
	e.callAs(cl, alice, "mailbox_create", map[string]any{"name": "Catchall@agent.example.com"}).fails(t, "is a reserved name")
	e.callAs(cl, alice, "mailbox_create", map[string]any{"name": strings.Repeat("a", 65)}).
		fails(t, "is too long: the part before the @ may hold at most 64 characters, and this one has 65.")
	e.callAs(cl, alice, "email_list", map[string]any{"mailbox": "two words"}).fails(t, "is not a valid mailbox name")

	r := e.callAs(cl, alice, "email_list", map[string]any{"mailbox": "support", "since": "2026-12-01"}).ok(t)
	if got := r.structured["emails"].([]any); len(got) != 1 || got[0].(map[string]any)["subject"] != "new" {
		t.Errorf("since a date: %v", got)
	}
	r = e.callAs(cl, alice, "email_list", map[string]any{"mailbox": "support", "since": "2026-11-30T22:00:00Z"}).ok(t)
	if got := r.structured["emails"].([]any); len(got) != 2 {
		t.Errorf("since RFC 3339: %v", got)
	}
	e.callAs(cl, alice, "email_list", map[string]any{"mailbox": "support", "since": "yesterday"}).
		fails(t, `since must be a date such as 2026-10-07 or an RFC 3339 time`)
}
