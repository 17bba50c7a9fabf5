package mcp

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	mcpgo "github.com/mark3labs/mcp-go/mcp"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/storage"
)

func TestEmailSendQueuesSignedMessageAndSentCopy(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cl := e.client(protocolVersions[1])
	r := e.callAs(cl, alice, "email_send", map[string]any{
		"from_mailbox": "support", "to": "Bob <bob@example.org>, carol@example.org", "cc": "dave@example.org",
		"bcc": "eve@example.org", "subject": "Quarterly numbers", "body": "Hi **all**.",
		"attachments": []any{map[string]any{"filename": "report.txt", "content_type": "text/plain", "content_base64": "aGVsbG8="}},
	}).ok(t)
	st := r.structured
	if st["mailbox"] != support || st["delivery_status"] != "queued" || !strings.HasSuffix(st["message_id"].(string), "@"+dom) {
		t.Fatalf("result %v", st)
	}
	rcpts := st["recipients"].([]any)
	var addrs []string
	for _, x := range rcpts {
		m := x.(map[string]any)
		addrs = append(addrs, m["address"].(string))
		if m["status"] != "queued" {
			t.Fatalf("recipient %v", m)
		}
	}
	if strings.Join(addrs, ",") != "bob@example.org,carol@example.org,dave@example.org,eve@example.org" {
		t.Fatalf("recipients %v", addrs)
	}
	// The queue holds the signed message; Bcc is delivered, never shown.
	items, err := e.queue.Due(context.Background(), t0.AddDate(10, 0, 0))
	if err != nil || len(items) != 1 {
		t.Fatalf("queue: %v %v", items, err)
	}
	data, err := e.queue.Data(context.Background(), items[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	head := string(data[:strings.Index(string(data), "\r\n\r\n")])
	if !strings.HasPrefix(head, "DKIM-Signature: ") || !strings.Contains(head, "a=rsa-sha256;") || !strings.Contains(head, "d="+dom+";") ||
		strings.Contains(strings.ToLower(head), "eve@") || !strings.Contains(head, "multipart/mixed") {
		t.Fatalf("queued header:\n%s", head)
	}
	if items[0].SentID != st["id"] || items[0].Mailbox != support || items[0].From != support {
		t.Fatalf("queue item %+v", items[0])
	}
	// The sent copy: listed, readable, with its recipients and attachment.
	list := e.callAs(cl, alice, "email_list", map[string]any{"mailbox": "support", "folder": "sent"}).ok(t)
	row := list.structured["emails"].([]any)[0].(map[string]any)
	if row["id"] != st["id"] || row["delivery_status"] != "queued" || row["subject"] != "Quarterly numbers" {
		t.Fatalf("sent row %v", row)
	}
	read := e.callAs(cl, alice, "email_read", map[string]any{"mailbox": "support", "folder": "sent", "id": st["id"]}).ok(t)
	if got := read.structured["recipients"].([]any); len(got) != 4 {
		t.Fatalf("sent copy recipients %v", got)
	}
	if !strings.Contains(read.structured["body"].(string), "Hi **all**.") || !strings.Contains(read.structured["body"].(string), "Sent from aimx") {
		t.Fatalf("sent copy body %q", read.structured["body"])
	}
	if atts, _ := read.structured["attachments"].([]any); len(atts) != 1 {
		t.Fatalf("sent copy attachments %v", read.structured["attachments"])
	}
	// email_status reads the same state.
	status := e.callAs(cl, alice, "email_status", map[string]any{"mailbox": support, "id": st["id"]}).ok(t)
	if status.structured["message_id"] != st["message_id"] || len(status.structured["recipients"].([]any)) != 4 {
		t.Fatalf("status %v", status.structured)
	}
}

func TestEmailReplyThreads(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cl := e.client(protocolVersions[0])
	fm := inbound("Project kickoff", "Dana <dana@example.com>", "true")
	fm.MessageID = "orig@example.com"
	fm.InReplyTo = "root@example.com"
	fm.References = []string{"root@example.com"}
	fm.Cc = []string{"frank@example.com", support}
	id := e.put(support, storage.Inbox, t0, fm, "Shall we start?")

	r := e.callAs(cl, alice, "email_reply", map[string]any{"mailbox": "support", "id": id, "body": "Yes.", "reply_all": true}).ok(t)
	sent, err := e.store.Read(context.Background(), domains.MailboxRef(support), storage.Sent, r.structured["id"].(string))
	if err != nil {
		t.Fatal(err)
	}
	got := sent.Frontmatter
	sum := sha256.Sum256([]byte("root@example.com"))
	if got.InReplyTo != "orig@example.com" || strings.Join(got.References, " ") != "root@example.com orig@example.com" ||
		got.Subject != "Re: Project kickoff" || got.ThreadID != hex.EncodeToString(sum[:8]) {
		t.Fatalf("reply threading: %+v", got)
	}
	if strings.Join(got.To, ",") != "Dana <dana@example.com>" || strings.Join(got.Cc, ",") != "frank@example.com" {
		t.Fatalf("reply recipients to=%v cc=%v", got.To, got.Cc)
	}
	e.callAs(cl, alice, "email_reply", map[string]any{"mailbox": "support", "id": "2026-01-01-000000-nope", "body": "x"}).
		fails(t, "no email with id")
}

func TestEmailSendRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cl := e.client(protocolVersions[0])
	base := func(kv ...any) map[string]any {
		m := map[string]any{"from_mailbox": "support", "to": "bob@example.org", "subject": "s", "body": "b"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		name string
		args map[string]any
		want string
	}{
		{"catchall", base("from_mailbox", catchall), "is a catchall"},
		{"header injection", base("subject", "hi\r\nBcc: spy@example.net"), "subject: contains a line break"},
		{"bad address", base("to", "not an address"), "the email was not sent: to:"},
		{"no recipients", base("to", ""), "no recipients"},
		{"a path over the socket", base("paths", []any{"/etc/shadow"}), "paths only works through the stdio bridge"},
		{"bad base64", base("attachments", []any{map[string]any{"filename": "a", "content_base64": "%%%"}}), "not valid base64"},
		{"text_only with html", base("text_only", true, "html_body", "<p>x</p>"), "exclude each other"},
		{"another owner's mailbox", base("from_mailbox", billing), "not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.callAs(cl, alice, "email_send", tc.args).fails(t, tc.want)
		})
	}
	if n := e.queue.Len(); n != 0 {
		t.Fatalf("refused sends queued %d messages", n)
	}
	id := e.put(support, storage.Inbox, t0, inbound("x", "a@example.com", "true"), "b")
	e.callAs(cl, alice, "email_status", map[string]any{"mailbox": "support", "id": id}).fails(t, "no email with id")
}

func TestBridgeReadsPathsAsTheCaller(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(file, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "pipe")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.bin")
	if err := os.WriteFile(big, make([]byte, 11), 0o600); err != nil {
		t.Fatal(err)
	}
	prep := ReadAttachments(10)
	call := func(tool string, args map[string]any) (mcpgo.CallToolRequest, error) {
		var req mcpgo.CallToolRequest
		req.Params.Name = tool
		req.Params.Arguments = args
		return req, prep(context.Background(), &req)
	}
	req, err := call("email_send", map[string]any{"to": "x@example.org", "paths": []any{file}})
	if err != nil {
		t.Fatal(err)
	}
	args := req.Params.Arguments.(map[string]any)
	atts := args["attachments"].([]any)
	if _, ok := args["paths"]; ok || len(atts) != 1 {
		t.Fatalf("args %v", args)
	}
	a := atts[0].(map[string]any)
	if a["filename"] != "notes.txt" || a["content_base64"] != "aGVsbG8=" || !strings.HasPrefix(a["content_type"].(string), "text/plain") {
		t.Fatalf("attachment %v", a)
	}
	for _, bad := range []string{fifo, big, filepath.Join(dir, "missing")} {
		if _, err := call("email_reply", map[string]any{"paths": []any{bad}}); err == nil {
			t.Errorf("%s was read", bad)
		}
	}
	// Other tools pass through untouched.
	req, err = call("email_list", map[string]any{"paths": []any{fifo}})
	if err != nil || req.Params.Arguments.(map[string]any)["paths"] == nil {
		t.Fatalf("email_list rewritten: %v %v", req.Params.Arguments, err)
	}
}
