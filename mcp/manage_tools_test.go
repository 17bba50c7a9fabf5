package mcp

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/storage"
)

// ids lists a folder of a mailbox through the store, newest first.
func (e *env) ids(mailbox string, folder storage.Folder) []string {
	e.t.Helper()
	res, err := e.store.List(context.Background(), storage.ListQuery{Mailbox: domains.MailboxRef(mailbox), Folder: folder, Limit: 200})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, m := range res.Messages {
		out = append(out, m.ID)
	}
	return out
}

func TestEmailDeleteAndRestore(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cl := e.client(protocolVersions[0])
	a := e.put(support, storage.Inbox, t0, inbound("first", "carol@example.org", "false"), "a")
	b := e.put(support, storage.Inbox, t0.Add(time.Second), inbound("second", "carol@example.org", "false"), "b")
	e.callAs(cl, alice, "email_mark_read", map[string]any{"mailbox": support, "id": a}).ok(t)

	before := time.Now()
	r := e.callAs(cl, alice, "email_delete", map[string]any{"mailbox": "support", "id": a}).ok(t)
	s := r.structured
	if s["id"] != a || s["folder"] != "trash" || s["deleted_for_good"] != false {
		t.Fatalf("email_delete = %v", s)
	}
	purge, err := time.Parse(time.RFC3339Nano, s["purge_after"].(string))
	if err != nil || purge.Before(before.Add(storage.DefaultTrashRetention-time.Minute)) || purge.After(time.Now().Add(storage.DefaultTrashRetention)) {
		t.Fatalf("purge_after = %v (%v)", s["purge_after"], err)
	}
	if !strings.Contains(r.text, "moved to the trash of "+support) || !strings.Contains(r.text, "email_restore") {
		t.Fatalf("text = %q", r.text)
	}
	if got := e.ids(support, storage.Inbox); !slices.Equal(got, []string{b}) {
		t.Fatalf("inbox after delete = %v", got)
	}
	if got := e.ids(support, storage.Trash); !slices.Equal(got, []string{a}) {
		t.Fatalf("trash = %v", got)
	}
	mb := e.callAs(cl, alice, "mailbox_list", nil).ok(t).structured["mailboxes"].([]any)
	for _, m := range mb {
		if m := m.(map[string]any); m["name"] == support && m["total"] != 1.0 {
			t.Fatalf("mailbox_list counts the trash: %v", m)
		}
	}
	// Deleting it again from the inbox: it is not there.
	e.callAs(cl, alice, "email_delete", map[string]any{"mailbox": support, "id": a}).
		fails(t, `no email with id "`+a+`" in the inbox folder of `+support)

	r = e.callAs(cl, alice, "email_restore", map[string]any{"mailbox": support, "id": a}).ok(t)
	if r.structured["folder"] != "inbox" || !strings.Contains(r.text, "back in the inbox folder") {
		t.Fatalf("email_restore = %v %q", r.structured, r.text)
	}
	read := e.callAs(cl, alice, "email_read", map[string]any{"mailbox": support, "id": a}).ok(t).structured
	if read["read"] != true || len(read["extra"].(map[string]any)) != 0 {
		t.Fatalf("restored email = %v", read)
	}
	e.callAs(cl, alice, "email_restore", map[string]any{"mailbox": support, "id": a}).
		fails(t, `no email with id "`+a+`" in the trash folder of `+support)

	// Deleting from the trash, or with force, is for good.
	e.callAs(cl, alice, "email_delete", map[string]any{"mailbox": support, "id": a}).ok(t)
	r = e.callAs(cl, alice, "email_delete", map[string]any{"mailbox": support, "id": a, "folder": "trash"}).ok(t)
	if r.structured["deleted_for_good"] != true || r.structured["folder"] != nil {
		t.Fatalf("delete from the trash = %v", r.structured)
	}
	r = e.callAs(cl, alice, "email_delete", map[string]any{"mailbox": support, "id": b, "force": "true"}).ok(t)
	if r.structured["deleted_for_good"] != true || !strings.Contains(r.text, "deleted for good") {
		t.Fatalf("forced delete = %v", r.structured)
	}
	for _, f := range storage.Folders {
		if got := e.ids(support, f); len(got) != 0 {
			t.Fatalf("%s after deleting for good = %v", f, got)
		}
	}
	e.callAs(cl, alice, "email_delete", map[string]any{"mailbox": support, "id": b, "folder": "outbox"}).fails(t, "folder must be inbox, sent, archive or trash")
}

// Sent copies: not while they are being delivered; afterwards to the
// trash and back to sent. A trash that already holds the id refuses.
func TestEmailDeleteSentCopies(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cl := e.client(protocolVersions[1])
	fm := inbound("same subject", support, "none")
	fm.DeliveryStatus = "deferred"
	sent := e.put(support, storage.Sent, t0, fm, "sent body")
	in := e.put(support, storage.Inbox, t0, inbound("same subject", "carol@example.org", "false"), "received")
	if in != sent {
		t.Fatalf("the test needs one stem in both folders: %s %s", in, sent)
	}
	e.callAs(cl, alice, "email_delete", map[string]any{"mailbox": support, "id": sent, "folder": "sent"}).
		fails(t, "is still being delivered (delivery_status deferred)")
	_, err := e.store.SetDelivery(context.Background(), domains.MailboxRef(support), sent, func(cur []storage.Recipient) (string, []storage.Recipient) {
		return "delivered", cur
	})
	if err != nil {
		t.Fatal(err)
	}
	e.callAs(cl, alice, "email_delete", map[string]any{"mailbox": support, "id": in}).ok(t)
	e.callAs(cl, alice, "email_delete", map[string]any{"mailbox": support, "id": sent, "folder": "sent"}).
		fails(t, `the trash folder of `+support+` already holds an email with id "`+sent+`"`)
	e.callAs(cl, alice, "email_delete", map[string]any{"mailbox": support, "id": in, "folder": "trash"}).ok(t)
	e.callAs(cl, alice, "email_delete", map[string]any{"mailbox": support, "id": sent, "folder": "sent"}).ok(t)
	if r := e.callAs(cl, alice, "email_restore", map[string]any{"mailbox": support, "id": sent}).ok(t); r.structured["folder"] != "sent" {
		t.Fatalf("a sent copy restored to %v", r.structured)
	}
	e.callAs(cl, alice, "email_move", map[string]any{"mailbox": support, "id": sent, "folder": "sent", "to_folder": "archive"}).
		fails(t, "is a sent copy: sent copies stay in the sent folder")
}

func TestEmailMove(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cl := e.client(protocolVersions[0])
	id := e.put(support, storage.Inbox, t0, inbound("archive me", "carol@example.org", "false"), "body")
	e.callAs(cl, alice, "email_mark_read", map[string]any{"mailbox": support, "id": id}).ok(t)
	r := e.callAs(cl, alice, "email_move", map[string]any{"mailbox": support, "id": id, "to_folder": "archive"}).ok(t)
	if r.structured["folder"] != "archive" || !strings.Contains(r.text, "from the inbox folder to the archive folder") {
		t.Fatalf("email_move = %v %q", r.structured, r.text)
	}
	if got := e.ids(support, storage.Archive); !slices.Equal(got, []string{id}) || len(e.ids(support, storage.Inbox)) != 0 {
		t.Fatalf("archive = %v", got)
	}
	e.callAs(cl, alice, "email_move", map[string]any{"mailbox": support, "id": id, "to_folder": "archive"}).fails(t, "no email with id")
	e.callAs(cl, alice, "email_move", map[string]any{"mailbox": support, "id": id, "folder": "archive", "to_folder": "archive"}).
		fails(t, "cannot go to archive")
	e.callAs(cl, alice, "email_move", map[string]any{"mailbox": support, "id": id, "folder": "archive", "to_folder": "trash"}).
		fails(t, "to delete an email, call email_delete")
	e.callAs(cl, alice, "email_move", map[string]any{"mailbox": support, "id": id, "folder": "archive", "to_folder": "sent"}).
		fails(t, `to_folder must be archive or inbox, not "sent".`)
	// Archived mail is mail: mailbox_delete without force refuses.
	e.callAs(cl, alice, "mailbox_delete", map[string]any{"name": support}).fails(t, "")
	// Deleting from the archive restores to the archive.
	e.callAs(cl, alice, "email_delete", map[string]any{"mailbox": support, "id": id, "folder": "archive"}).ok(t)
	if r := e.callAs(cl, alice, "email_restore", map[string]any{"mailbox": support, "id": id}).ok(t); r.structured["folder"] != "archive" {
		t.Fatalf("restored to %v", r.structured)
	}
	r = e.callAs(cl, alice, "email_move", map[string]any{"mailbox": support, "id": id, "folder": "archive", "to_folder": "Inbox"}).ok(t)
	if r.structured["folder"] != "inbox" {
		t.Fatalf("unarchive = %v", r.structured)
	}
	if read := e.callAs(cl, alice, "email_read", map[string]any{"mailbox": support, "id": id}).ok(t).structured; read["read"] != true {
		t.Fatalf("the read state did not move with it: %v", read)
	}
}

func TestEmailLabel(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cl := e.client(protocolVersions[1])
	id := e.put(support, storage.Inbox, t0, inbound("label me", "carol@example.org", "false"), "body")
	r := e.callAs(cl, alice, "email_label", map[string]any{"mailbox": support, "id": id, "add": []string{"Invoice", "waiting on customer"}}).ok(t)
	if got := r.structured["labels"].([]any); len(got) != 2 || got[0] != "invoice" || got[1] != "waiting on customer" {
		t.Fatalf("labels = %v", r.structured)
	}
	if !strings.Contains(r.text, "labelled invoice, waiting on customer") {
		t.Fatalf("text = %q", r.text)
	}
	read := e.callAs(cl, alice, "email_read", map[string]any{"mailbox": support, "id": id}).ok(t).structured
	if labels := read["extra"].(map[string]any)["labels"].([]any); len(labels) != 2 {
		t.Fatalf("email_read extra = %v", read["extra"])
	}
	r = e.callAs(cl, alice, "email_label", map[string]any{"mailbox": support, "id": id, "remove": []string{"INVOICE", "waiting on customer"}}).ok(t)
	if got := r.structured["labels"].([]any); len(got) != 0 || !strings.Contains(r.text, "has no labels now") {
		t.Fatalf("after removing = %v %q", r.structured, r.text)
	}
	e.callAs(cl, alice, "email_label", map[string]any{"mailbox": support, "id": id}).fails(t, "pass the labels to add or remove")
	e.callAs(cl, alice, "email_label", map[string]any{"mailbox": support, "id": id, "add": []string{"evil\u202elabel"}}).
		fails(t, "the label \"evil\ufffdlabel\" cannot be used")
	e.callAs(cl, alice, "email_label", map[string]any{"mailbox": support, "id": id, "add": "invoice"}).fails(t, "add must be an array")
	many := make([]string, storage.MaxLabels+1)
	for i := range many {
		many[i] = strings.Repeat("l", i+1)
	}
	e.callAs(cl, alice, "email_label", map[string]any{"mailbox": support, "id": id, "add": many}).fails(t, "at most 32 labels")
	e.callAs(cl, alice, "email_label", map[string]any{"mailbox": support, "id": "nope", "add": []string{"x"}}).fails(t, "no email with id")
	// Labels follow the email into the archive.
	e.callAs(cl, alice, "email_label", map[string]any{"mailbox": support, "id": id, "add": []string{"done"}}).ok(t)
	e.callAs(cl, alice, "email_move", map[string]any{"mailbox": support, "id": id, "to_folder": "archive"}).ok(t)
	r = e.callAs(cl, alice, "email_label", map[string]any{"mailbox": support, "id": id, "folder": "archive", "add": []string{"kept"}}).ok(t)
	if got := r.structured["labels"].([]any); len(got) != 2 || got[0] != "done" {
		t.Fatalf("labels in the archive = %v", got)
	}
}
