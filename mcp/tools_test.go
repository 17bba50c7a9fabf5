package mcp

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/storage"
)

func TestToolsEveryVersion(t *testing.T) {
	t.Parallel()
	for _, v := range protocolVersions {
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			cl := e.client(v)
			ids := []string{}
			for i, tr := range []string{"true", "false", "none"} {
				ids = append(ids, e.put(support, storage.Inbox, t0.Add(time.Duration(i)*time.Minute),
					inbound(fmt.Sprintf("Hello %d", i), "Carol <carol@example.org>", tr), "Body "+tr+"\n"))
			}
			sentFM := inbound("Re: Hello", support, "none")
			sentFM.DeliveryStatus = "deferred"
			sentFM.OutboundFormat = "markdown"
			sentFM.Recipients = []storage.Recipient{{Address: "carol@example.org", Status: "deferred", Detail: "451 try later", Attempts: 2, TLS: "verified", UpdatedAt: t0}}
			sentID := e.put(support, storage.Sent, t0.Add(time.Hour), sentFM, "reply body")

			t.Run("mailbox_list", func(t *testing.T) {
				r := e.callAs(cl, alice, "mailbox_list", nil).ok(t)
				want := []any{
					map[string]any{"name": catchall, "owner": "alice", "total": 0.0, "unread": 0.0, "sent": 0.0, "trust": "none"},
					map[string]any{"name": support, "owner": "alice", "total": 3.0, "unread": 3.0, "sent": 1.0, "trust": "none"},
				}
				if got := r.structured["mailboxes"]; !reflect.DeepEqual(got, want) {
					t.Fatalf("mailboxes = %v", got)
				}
				r = e.callAs(cl, operator, "mailbox_list", nil).ok(t)
				if n := len(r.structured["mailboxes"].([]any)); n != 4 {
					t.Fatalf("operator sees %d mailboxes, want 4", n)
				}
			})
			t.Run("email_list", func(t *testing.T) {
				r := e.callAs(cl, alice, "email_list", map[string]any{"mailbox": "support"}).ok(t)
				emails := r.structured["emails"].([]any)
				if r.structured["total"] != 3.0 || len(emails) != 3 || emails[0].(map[string]any)["id"] != ids[2] {
					t.Fatalf("list = %v", r.structured)
				}
				first := emails[2].(map[string]any)
				if first["trusted"] != "true" || first["read"] != false || first["thread_id"] != "0123456789abcdef" ||
					!reflect.DeepEqual(first["to"], []any{support}) || first["subject"] != "Hello 0" {
					t.Fatalf("summary = %v", first)
				}
				if _, ok := first["delivery_status"]; ok {
					t.Fatalf("inbox summary has delivery_status: %v", first)
				}
				r = e.callAs(cl, alice, "email_list", map[string]any{"mailbox": support, "limit": 1, "offset": 1}).ok(t)
				if r.structured["total"] != 3.0 || r.structured["emails"].([]any)[0].(map[string]any)["id"] != ids[1] {
					t.Fatalf("page = %v", r.structured)
				}
				r = e.callAs(cl, alice, "email_list", map[string]any{"mailbox": support, "subject": "HELLO 1"}).ok(t)
				if r.structured["total"] != 1.0 {
					t.Fatalf("subject filter = %v", r.structured)
				}
				r = e.callAs(cl, alice, "email_list", map[string]any{"mailbox": support, "from": "nobody"}).ok(t)
				if r.structured["total"] != 0.0 || len(r.structured["emails"].([]any)) != 0 {
					t.Fatalf("from filter = %v", r.structured)
				}
				r = e.callAs(cl, alice, "email_list", map[string]any{"mailbox": support, "since": t0.Add(time.Minute).Format(time.RFC3339)}).ok(t)
				if r.structured["total"] != 2.0 {
					t.Fatalf("since filter = %v", r.structured)
				}
				r = e.callAs(cl, alice, "email_list", map[string]any{"mailbox": support, "folder": "sent"}).ok(t)
				sent := r.structured["emails"].([]any)[0].(map[string]any)
				if sent["id"] != sentID || sent["delivery_status"] != "deferred" {
					t.Fatalf("sent = %v", sent)
				}
				for _, bad := range []map[string]any{
					{"mailbox": support, "limit": 201},
					{"mailbox": support, "limit": 0},
					{"mailbox": support, "offset": -1},
					{"mailbox": support, "folder": "drafts"},
					{"mailbox": support, "since": "yesterday"},
					{"mailbox": support, "limit": "ten"},
				} {
					e.callAs(cl, alice, "email_list", bad).fails(t, "")
				}
			})
			t.Run("email_read", func(t *testing.T) {
				r := e.callAs(cl, alice, "email_read", map[string]any{"mailbox": "support", "id": ids[0]}).ok(t)
				if r.structured["body"] != "Body true\n" || r.structured["read"] != false || r.structured["dkim"] != "pass" {
					t.Fatalf("trusted read = %v", r.structured)
				}
				for i, verdict := range []string{"false", "none"} {
					r := e.callAs(cl, alice, "email_read", map[string]any{"mailbox": support, "id": ids[i+1]}).ok(t)
					checkFenced(t, r.structured["body"].(string), "Body "+verdict+"\n", verdict)
					if strings.Contains(r.text, "Body "+verdict) {
						t.Fatalf("text rendering repeats the body: %s", r.text)
					}
					r = e.callAs(cl, alice, "email_read", map[string]any{"mailbox": support, "id": ids[i+1], "in_text": true}).ok(t)
					if !strings.Contains(r.text, `<untrusted-email nonce="`) || !strings.Contains(r.text, "Body "+verdict) || r.structured["body"] != nil {
						t.Fatalf("in_text: text rendering not fenced, or the body twice: %s\n%v", r.text, r.structured)
					}
				}
				a := e.callAs(cl, alice, "email_read", map[string]any{"mailbox": support, "id": ids[1]}).ok(t)
				b := e.callAs(cl, alice, "email_read", map[string]any{"mailbox": support, "id": ids[1]}).ok(t)
				if a.structured["body"] == b.structured["body"] {
					t.Fatal("two reads share a fence nonce")
				}
				r = e.callAs(cl, alice, "email_read", map[string]any{"mailbox": support, "id": sentID, "folder": "sent"}).ok(t)
				if r.structured["delivery_status"] != "deferred" || r.structured["outbound"] != true || r.structured["outbound_format"] != "markdown" {
					t.Fatalf("sent read = %v", r.structured)
				}
				if _, ok := r.structured["read"]; ok {
					t.Fatal("sent copy has a read field")
				}
				rcpt := r.structured["recipients"].([]any)[0].(map[string]any)
				if rcpt["status"] != "deferred" || rcpt["attempts"] != 2.0 || rcpt["tls"] != "verified" || rcpt["updated_at"] != t0.Format(time.RFC3339) {
					t.Fatalf("recipient = %v", rcpt)
				}
				e.callAs(cl, alice, "email_read", map[string]any{"mailbox": support, "id": "2020-01-01-000000-nope"}).
					fails(t, `no email with id "2020-01-01-000000-nope" in the inbox folder of support@agent.example.com`)
				e.callAs(cl, alice, "email_read", map[string]any{"mailbox": support, "id": "../../etc/passwd"}).fails(t, "no email with id")
				e.callAs(cl, alice, "email_read", map[string]any{"mailbox": support}).fails(t, "no email with id")
			})
			t.Run("mark", func(t *testing.T) {
				r := e.callAs(cl, alice, "email_mark_read", map[string]any{"mailbox": "support", "id": ids[0]}).ok(t)
				if !reflect.DeepEqual(r.structured, map[string]any{"id": ids[0], "read": true}) {
					t.Fatalf("mark read = %v", r.structured)
				}
				e.callAs(cl, alice, "email_mark_read", map[string]any{"mailbox": "support", "id": ids[0]}).ok(t)
				r = e.callAs(cl, alice, "mailbox_list", nil).ok(t)
				if got := r.structured["mailboxes"].([]any)[1].(map[string]any)["unread"]; got != 2.0 {
					t.Fatalf("unread after mark = %v", got)
				}
				r = e.callAs(cl, alice, "email_list", map[string]any{"mailbox": support, "unread": true}).ok(t)
				if r.structured["total"] != 2.0 {
					t.Fatalf("unread list = %v", r.structured)
				}
				r = e.callAs(cl, alice, "email_read", map[string]any{"mailbox": support, "id": ids[0]}).ok(t)
				if r.structured["read"] != true || r.structured["read_at"] == nil {
					t.Fatalf("read state = %v", r.structured)
				}
				r = e.callAs(cl, alice, "email_mark_unread", map[string]any{"mailbox": support, "id": ids[0]}).ok(t)
				if r.structured["read"] != false {
					t.Fatalf("mark unread = %v", r.structured)
				}
				e.callAs(cl, alice, "email_mark_read", map[string]any{"mailbox": support, "id": sentID}).fails(t, "no email with id")
			})
		})
	}
}

var fenceRE = regexp.MustCompile(`(?s)^WARNING: untrusted email: ([^\n]*)\n<untrusted-email nonce="([0-9a-f]{16})">\n(.*)</untrusted-email nonce="([0-9a-f]{16})">$`)

// checkFenced checks the fence shape around body and that the warning
// names the verdict.
func checkFenced(t *testing.T, got, body, verdict string) {
	t.Helper()
	m := fenceRE.FindStringSubmatch(got)
	if m == nil {
		t.Fatalf("body not fenced as expected:\n%s", got)
	}
	if m[2] != m[4] || m[3] != body || !strings.Contains(m[1], `trusted = "`+verdict+`"`) {
		t.Fatalf("fence: nonces %s/%s, body %q, warning %q", m[2], m[4], m[3], m[1])
	}
}

func TestMailboxCreateDelete(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cl := e.client(protocolVersions[0])

	r := e.callAs(cl, alice, "mailbox_create", map[string]any{"name": "help desk"})
	r.fails(t, "not a valid mailbox name")
	// Names are case-insensitive (book/mcp.md, "Arguments"): Helpdesk is helpdesk.
	r = e.callAs(cl, alice, "mailbox_create", map[string]any{"name": "Helpdesk"}).ok(t)
	if r.structured["name"] != "helpdesk@"+dom {
		t.Fatalf("create = %v", r.structured)
	}
	// Live at once, in the registry and on disk, and owned by alice.
	if m, ok := e.reg.Current().Mailboxes["helpdesk@"+dom]; !ok || m.Owner != "alice" {
		t.Fatalf("registry: %+v %v", m, ok)
	}
	if _, err := os.Stat(filepath.Join(e.data, dom, "inbox", "helpdesk")); err != nil {
		t.Fatal(err)
	}
	onDisk, err := domains.Load(e.cfgPath, domains.LoadOptions{LookupOwner: testOwners})
	if err != nil || onDisk.Mailboxes["helpdesk@"+dom].Owner != "alice" {
		t.Fatalf("config file: %v", err)
	}
	// Idempotent for its owner; taken for anyone else.
	e.callAs(cl, alice, "mailbox_create", map[string]any{"name": "helpdesk@" + dom}).ok(t)
	e.callAs(cl, bob, "mailbox_create", map[string]any{"name": "helpdesk"}).fails(t, "already taken")
	e.callAs(cl, alice, "mailbox_create", map[string]any{"name": "*@" + dom2}).fails(t, "catchall")
	e.callAs(cl, alice, "mailbox_create", map[string]any{"name": "x@nowhere.example"}).fails(t, "does not receive mail for nowhere.example")
	e.callAs(cl, alice, "mailbox_create", map[string]any{"name": "x", "owner": "bob"}).fails(t, "only the operator")
	e.callAs(cl, Caller{Owner: "alice", Mailboxes: []string{support}}, "mailbox_create", map[string]any{"name": "y"}).fails(t, "cannot create mailboxes")
	e.callAs(cl, operator, "mailbox_create", map[string]any{"name": "ops", "owner": "nosuchuser"}).fails(t, `owner "nosuchuser" is not a user`)
	r = e.callAs(cl, operator, "mailbox_create", map[string]any{"name": "team@" + dom2, "owner": "bob"}).ok(t)
	if e.reg.Current().Mailboxes["team@"+dom2].Owner != "bob" {
		t.Fatal("operator could not create for bob")
	}
	_ = r

	// Delete: refused while holding mail, then forced; catchalls never.
	e.put("helpdesk@"+dom, storage.Inbox, t0, inbound("x", "a@b.example", "true"), "b")
	e.callAs(cl, alice, "mailbox_delete", map[string]any{"name": "helpdesk"}).fails(t, "still holds 1 emails")
	if _, ok := e.reg.Current().Mailboxes["helpdesk@"+dom]; !ok {
		t.Fatal("refused delete removed the mailbox")
	}
	r = e.callAs(cl, alice, "mailbox_delete", map[string]any{"name": "helpdesk", "force": true}).ok(t)
	if r.structured["deleted_files"] != 1.0 { // the owner marker is not counted
		t.Fatalf("delete = %v", r.structured)
	}
	if _, ok := e.reg.Current().Mailboxes["helpdesk@"+dom]; ok {
		t.Fatal("mailbox still in registry")
	}
	if _, err := os.Stat(filepath.Join(e.data, dom, "inbox", "helpdesk")); !os.IsNotExist(err) {
		t.Fatalf("storage left: %v", err)
	}
	e.callAs(cl, alice, "mailbox_delete", map[string]any{"name": "helpdesk"}).fails(t, "not found")
	e.callAs(cl, alice, "mailbox_delete", map[string]any{"name": catchall, "force": true}).fails(t, "catchall")
	e.callAs(cl, operator, "mailbox_delete", map[string]any{"name": catchall, "force": true}).fails(t, "catchall")
	// An empty mailbox goes without force.
	e.callAs(cl, bob, "mailbox_delete", map[string]any{"name": "team@" + dom2}).ok(t)
}

func TestHookTools(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cl := e.client(protocolVersions[1])
	r := e.callAs(cl, alice, "hook_create", map[string]any{"mailbox": "support", "event": "on_receive", "cmd": []string{"/bin/true", "x"}}).ok(t)
	derived := domains.DeriveHookName(domains.EventOnReceive, []string{"/bin/true", "x"}, false)
	if r.structured["name"] != derived {
		t.Fatalf("derived name = %v, want %s", r.structured["name"], derived)
	}
	e.callAs(cl, alice, "hook_create", map[string]any{"mailbox": support, "event": "after_send", "cmd": []string{"/bin/echo"}, "name": "notify", "timeout_secs": 30}).ok(t)
	e.callAs(cl, bob, "hook_create", map[string]any{"mailbox": billing, "event": "on_receive", "cmd": []string{"/bin/true"}, "name": "bobs", "fire_on_untrusted": true}).ok(t)
	if h, ok := e.reg.Current().FindHook("notify"); !ok || h.TimeoutSecs != 30 || h.Mailbox != support {
		t.Fatalf("registry hook = %+v %v", h, ok)
	}
	for _, tc := range []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"mailbox": support, "event": "on_open", "cmd": []string{"/bin/true"}}, "event must be"},
		{map[string]any{"mailbox": support, "event": "on_receive", "cmd": []string{"true"}}, "absolute path"},
		{map[string]any{"mailbox": support, "event": "on_receive", "cmd": []string{}}, "absolute path"},
		{map[string]any{"mailbox": support, "event": "on_receive", "cmd": []string{"/bin/true"}, "timeout_secs": 601}, "timeout_secs"},
		{map[string]any{"mailbox": support, "event": "after_send", "cmd": []string{"/bin/true"}, "fire_on_untrusted": true}, "on_receive hooks only"},
		{map[string]any{"mailbox": support, "event": "on_receive", "cmd": []string{"/bin/true"}, "name": "notify"}, "not created"},
		{map[string]any{"mailbox": support, "event": "on_receive", "cmd": []string{"/bin/true"}, "name": "bad name!"}, "not created"},
		{map[string]any{"mailbox": catchall, "event": "on_receive", "cmd": []string{"/bin/true"}}, "catchalls have no hooks"},
	} {
		e.callAs(cl, alice, "hook_create", tc.args).fails(t, tc.want)
	}
	r = e.callAs(cl, alice, "hook_list", nil).ok(t)
	hooks := r.structured["hooks"].([]any)
	if len(hooks) != 2 || hooks[0].(map[string]any)["mailbox"] != support {
		t.Fatalf("alice's hooks = %v", hooks)
	}
	r = e.callAs(cl, operator, "hook_list", nil).ok(t)
	if n := len(r.structured["hooks"].([]any)); n != 3 {
		t.Fatalf("operator sees %d hooks", n)
	}
	r = e.callAs(cl, operator, "hook_list", map[string]any{"mailbox": "billing"}).ok(t)
	want := []any{map[string]any{"name": "bobs", "mailbox": billing, "event": "on_receive", "cmd": []any{"/bin/true"}, "timeout_secs": 60.0, "fire_on_untrusted": true}}
	if !reflect.DeepEqual(r.structured["hooks"], want) {
		t.Fatalf("billing hooks = %v", r.structured["hooks"])
	}
	e.callAs(cl, alice, "hook_delete", map[string]any{"name": "notify"}).ok(t)
	if _, ok := e.reg.Current().FindHook("notify"); ok {
		t.Fatal("hook still live")
	}
	e.callAs(cl, alice, "hook_delete", map[string]any{"name": "notify"}).fails(t, `hook "notify" not found`)

	// Hook rights: a token without --allow-hooks gets none of the three.
	noHooks := Caller{Owner: "alice"}
	e.callAs(cl, noHooks, "hook_list", nil).fails(t, "may not manage hooks")
	e.callAs(cl, noHooks, "hook_create", map[string]any{"mailbox": support, "event": "on_receive", "cmd": []string{"/bin/true"}}).fails(t, "may not manage hooks")
	e.callAs(cl, noHooks, "hook_delete", map[string]any{"name": derived}).fails(t, "may not manage hooks")
}

// Bare local parts resolve against the default domain in every tool that
// takes a mailbox; an FQDN of the second domain works too.
func TestBareNamesAndNarrowedToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cl := e.client(protocolVersions[0])
	id := e.put(sales, storage.Inbox, t0, inbound("pricing", "x@y.example", "true"), "b")
	e.callAs(cl, bob, "email_list", map[string]any{"mailbox": "sales"}).fails(t, `mailbox "sales@agent.example.com" not found`)
	e.callAs(cl, bob, "email_read", map[string]any{"mailbox": "SALES@Other.Example.NET", "id": id}).ok(t)
	e.callAs(cl, bob, "email_read", map[string]any{"mailbox": "sales@OTHER.example.net", "id": id}).ok(t)
	e.callAs(cl, bob, "email_list", map[string]any{"mailbox": "billing"}).ok(t)

	narrowed := Caller{Owner: "bob", Mailboxes: []string{sales}}
	r := e.callAs(cl, narrowed, "mailbox_list", nil).ok(t)
	if got := r.structured["mailboxes"].([]any); len(got) != 1 || got[0].(map[string]any)["name"] != sales {
		t.Fatalf("narrowed mailbox_list = %v", got)
	}
	e.callAs(cl, narrowed, "email_list", map[string]any{"mailbox": "billing"}).fails(t, `mailbox "billing@agent.example.com" not found`)
}

// A call no transport identified is refused by every tool.
func TestNoCaller(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cl := e.client(protocolVersions[0])
	for _, tool := range e.srv.Tools() {
		e.callCtx(cl, context.Background(), tool.Name, map[string]any{"mailbox": support, "name": "x", "id": "x"}).fails(t, "no caller identity")
	}
}

// Mail written by the Rust aimx reads through email_read, with its
// unknown keys under extra.
func TestRustMail(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	src := "../testdata/fixtures/rust-install/v2/data"
	// Point a second server at the copy, sharing the config.
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	st, err := storage.Open(dir, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e.store = st
	e.srv = NewServer(Deps{Registry: e.reg, Store: st, Mailboxes: e.ops})
	cl := e.client(protocolVersions[1])

	r := e.callAs(cl, bob, "email_read", map[string]any{"mailbox": "billing", "id": "2026-09-16-090014-your-receipt-1042-fr"}).ok(t)
	if !reflect.DeepEqual(r.structured["extra"], map[string]any{"labels": []any{"finance", "receipts"}}) {
		t.Fatalf("extra = %v", r.structured["extra"])
	}
	if r.structured["mailbox"] != "billing@"+dom || r.structured["auto_submitted"] != "auto-generated" {
		t.Fatalf("rust fields = %v", r.structured)
	}
	checkFenced(t, r.structured["body"].(string), readBody(t, filepath.Join(dir, dom, "inbox", "billing", "2026-09-16-090014-your-receipt-1042-fr.md")), "none")

	r = e.callAs(cl, alice, "email_list", map[string]any{"mailbox": "support", "folder": "sent"}).ok(t)
	if r.structured["total"] != 3.0 {
		t.Fatalf("rust sent = %v", r.structured)
	}
	for _, em := range r.structured["emails"].([]any) {
		id := em.(map[string]any)["id"].(string)
		e.callAs(cl, alice, "email_read", map[string]any{"mailbox": support, "folder": "sent", "id": id}).ok(t)
	}
	r = e.callAs(cl, alice, "email_read", map[string]any{"mailbox": support, "folder": "sent", "id": "2026-09-16-103046-weekly-support-summa"}).ok(t)
	if _, ok := r.structured["extra"].(map[string]any)["delivery_details"]; !ok {
		t.Fatalf("failed Rust send lacks delivery_details in extra: %v", r.structured["extra"])
	}
	r = e.callAs(cl, alice, "email_list", map[string]any{"mailbox": support}).ok(t)
	for _, em := range r.structured["emails"].([]any) {
		id := em.(map[string]any)["id"].(string)
		e.callAs(cl, alice, "email_read", map[string]any{"mailbox": support, "id": id}).ok(t)
	}
	r = e.callAs(cl, alice, "email_list", map[string]any{"mailbox": catchall}).ok(t)
	if r.structured["total"] != 3.0 {
		t.Fatalf("rust catchall = %v", r.structured)
	}
}

// readBody returns the body of a .md file as storage decodes it.
func readBody(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, body, err := storage.DecodeMD(data)
	if err != nil {
		t.Fatal(err)
	}
	return body
}
