package mcp

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/storage"
)

// email_read pages a long body by characters: the parts put back together
// are the body, a multi-byte character is never split, and the new text
// comes first within the budget (book/mcp.md, "Size control").
func TestEmailReadSizeControl(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cl := e.client(protocolVersions[0])
	body := strings.Repeat("Grüße, €uro ✓ ", 40) + "end\n"
	id := e.put(support, storage.Inbox, t0, inbound("long", "a@example.org", "true"), body)
	var got strings.Builder
	offset, calls := 0, 0
	for {
		r := e.callAs(cl, alice, "email_read", map[string]any{"mailbox": support, "id": id, "max_body_chars": 37, "body_offset": offset}).ok(t)
		part, _ := r.structured["body"].(string)
		if n := len([]rune(part)); n > 37 || r.structured["body_chars"] != float64(len([]rune(body))) {
			t.Fatalf("part of %d characters, body_chars %v", n, r.structured["body_chars"])
		}
		got.WriteString(part)
		calls++
		if r.structured["body_truncated"] != true {
			if _, ok := r.structured["next_body_offset"]; ok {
				t.Fatalf("next_body_offset on the last part: %v", r.structured)
			}
			break
		}
		offset = int(r.structured["next_body_offset"].(float64))
	}
	if got.String() != body || calls != (len([]rune(body))+36)/37 {
		t.Fatalf("%d calls put back %q", calls, got.String())
	}
	r := e.callAs(cl, alice, "email_read", map[string]any{"mailbox": support, "id": id, "max_body_chars": 0}).ok(t)
	if _, ok := r.structured["body"]; ok || r.structured["body_truncated"] != true {
		t.Fatalf("max_body_chars 0: %v", r.structured)
	}
	for _, bad := range []map[string]any{
		{"mailbox": support, "id": id, "max_body_chars": -1},
		{"mailbox": support, "id": id, "max_body_chars": maxBodyChars + 1},
		{"mailbox": support, "id": id, "body_offset": -3},
	} {
		e.callAs(cl, alice, "email_read", bad).fails(t, "must")
	}

	// A reply quoting a long history: body_new first, the body gets the rest.
	reply := "Yes, Tuesday works.\n\nOn Mon, Oct 5, 2026 Bob <bob@example.com> wrote:\n" + strings.Repeat("> earlier mail\n", 100)
	rid := e.put(support, storage.Inbox, t0.Add(time.Minute), inbound("Re: meeting", "Bob <bob@example.com>", "false"), reply)
	r = e.callAs(cl, alice, "email_read", map[string]any{"mailbox": support, "id": rid, "max_body_chars": 100}).ok(t)
	checkFenced(t, r.structured["body_new"].(string), "Yes, Tuesday works.\n", "false")
	if !strings.Contains(r.structured["body"].(string), "Yes, Tuesday works.\n\nOn Mon") || r.structured["next_body_offset"] != float64(100-len("Yes, Tuesday works.\n")) {
		t.Fatalf("body beside body_new: %v", r.structured)
	}
	r = e.callAs(cl, alice, "email_read", map[string]any{"mailbox": support, "id": rid, "body_offset": 10}).ok(t)
	if _, ok := r.structured["body_new"]; ok {
		t.Fatalf("body_new past offset 0: %v", r.structured["body_new"])
	}
	// in_text: the body (and the new text) in the text rendering only.
	r = e.callAs(cl, alice, "email_read", map[string]any{"mailbox": support, "id": rid, "in_text": true}).ok(t)
	if _, ok := r.structured["body"]; ok || !strings.Contains(r.text, "> earlier mail") || strings.Count(r.text, "<untrusted-email nonce=") != 2 {
		t.Fatalf("in_text:\n%s\n%v", r.text, r.structured)
	}
	if !strings.Contains(r.text, "\nReply-To: ") && !strings.Contains(r.text, "\nMessage-ID: <Re: meeting@example.com>\n") {
		t.Fatalf("text rendering lacks Message-ID:\n%s", r.text)
	}
}

// email_list's thread_id, message_id and trusted filters, and paging by
// cursor while mail arrives.
func TestEmailListFiltersAndCursor(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cl := e.client(protocolVersions[0])
	var ids []string
	for i := range 5 {
		fm := inbound(fmt.Sprintf("m%d", i), "a@example.org", []string{"true", "false"}[i%2])
		fm.ThreadID = []string{"aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb"}[i%2]
		fm.ReceivedAt = t0.Add(time.Duration(i) * time.Second)
		ids = append(ids, e.put(support, storage.Inbox, fm.ReceivedAt, fm, "b"))
	}
	ofList := func(r result) []string {
		var out []string
		for _, em := range r.structured["emails"].([]any) {
			out = append(out, em.(map[string]any)["id"].(string))
		}
		return out
	}
	r := e.callAs(cl, alice, "email_list", map[string]any{"mailbox": support, "thread_id": "bbbbbbbbbbbbbbbb"}).ok(t)
	if got := ofList(r); fmt.Sprint(got) != fmt.Sprint([]string{ids[3], ids[1]}) {
		t.Fatalf("thread filter: %v", got)
	}
	r = e.callAs(cl, alice, "email_list", map[string]any{"mailbox": support, "message_id": "<m2@example.com>"}).ok(t)
	if got := ofList(r); len(got) != 1 || got[0] != ids[2] {
		t.Fatalf("message_id filter: %v", got)
	}
	r = e.callAs(cl, alice, "email_list", map[string]any{"mailbox": support, "trusted": "true"}).ok(t)
	if r.structured["total"] != 3.0 {
		t.Fatalf("trusted filter: %v", r.structured)
	}
	e.callAs(cl, alice, "email_list", map[string]any{"mailbox": support, "trusted": "yes"}).fails(t, "trusted must be true, false or none")
	e.callAs(cl, alice, "email_list", map[string]any{"mailbox": support, "cursor": "nonsense"}).fails(t, "cursor is not one email_list returned")

	r = e.callAs(cl, alice, "email_list", map[string]any{"mailbox": support, "limit": 2}).ok(t)
	cursor, _ := r.structured["next_cursor"].(string)
	if got := ofList(r); cursor == "" || fmt.Sprint(got) != fmt.Sprint([]string{ids[4], ids[3]}) {
		t.Fatalf("first page %v, cursor %q", got, cursor)
	}
	e.put(support, storage.Inbox, t0.Add(time.Hour), inbound("newer", "a@example.org", "true"), "b")
	r = e.callAs(cl, alice, "email_list", map[string]any{"mailbox": support, "limit": 2, "cursor": cursor}).ok(t)
	if got := ofList(r); fmt.Sprint(got) != fmt.Sprint([]string{ids[2], ids[1]}) || r.structured["total"] != 6.0 {
		t.Fatalf("second page %v (%v)", got, r.structured["total"])
	}
	r = e.callAs(cl, alice, "email_list", map[string]any{"mailbox": support, "limit": 2, "cursor": r.structured["next_cursor"]}).ok(t)
	if got := ofList(r); fmt.Sprint(got) != fmt.Sprint([]string{ids[0]}) || r.structured["next_cursor"] != nil {
		t.Fatalf("last page %v, %v", got, r.structured)
	}
	// in_text: the rows in the text only, From quoted like Subject.
	r = e.callAs(cl, alice, "email_list", map[string]any{"mailbox": support, "limit": 1, "in_text": true}).ok(t)
	if len(ofList(r)) != 0 || !strings.Contains(r.text, `from "a@example.org" "newer" to support@agent.example.com thread 0123456789abcdef unread trusted=true`) {
		t.Fatalf("in_text:\n%s\n%v", r.text, r.structured)
	}
}

// thread_read: inbox and sent mail of one thread, oldest first, with the
// new text of each, the budget shared, paged by offset.
func TestThreadRead(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cl := e.client(protocolVersions[0])
	const thread = "17d50eabc248a8b0"
	in := func(i int, subject, trusted, body string) string {
		fm := inbound(subject, "Pat <pat@partners.test>", trusted)
		fm.ThreadID, fm.ReceivedAt = thread, t0.Add(time.Duration(i)*time.Minute)
		return e.put(support, storage.Inbox, fm.ReceivedAt, fm, body)
	}
	first := in(0, "Project kickoff", "true", "Shall we start Monday?\n")
	sent := e.put(support, storage.Sent, t0.Add(time.Minute), storage.Frontmatter{MessageID: "s1@agent.example.com", ThreadID: thread,
		From: support, To: []string{"pat@partners.test"}, Subject: "Re: Project kickoff", Trusted: "none", DMARC: "none"},
		"Monday is fine.\n\nOn Mon, Pat wrote:\n> Shall we start Monday?\n")
	last := in(2, "RE: Project kickoff", "false", strings.Repeat("Long answer. ", 50)+"\n-- \nPat\n")
	other := inbound("Other", "x@example.org", "true")
	other.ThreadID = "ffffffffffffffff"
	e.put(support, storage.Inbox, t0.Add(5*time.Minute), other, "unrelated\n")

	r := e.callAs(cl, alice, "thread_read", map[string]any{"mailbox": "support", "thread_id": thread}).ok(t)
	ems := r.structured["emails"].([]any)
	if r.structured["total"] != 3.0 || len(ems) != 3 {
		t.Fatalf("thread: %v", r.structured)
	}
	row := func(i int) map[string]any { return ems[i].(map[string]any) }
	if row(0)["id"] != first || row(1)["id"] != sent || row(1)["folder"] != "sent" || row(2)["id"] != last {
		t.Fatalf("order: %v", ems)
	}
	if row(0)["body"] != "Shall we start Monday?\n" || row(1)["body_part"] != "new" || row(0)["body_part"] != "full" {
		t.Fatalf("compact bodies: %v / %v", row(0), row(1))
	}
	checkFenced(t, row(1)["body"].(string), "Monday is fine.\n", "none")
	checkFenced(t, row(2)["body"].(string), strings.Repeat("Long answer. ", 50)+"\n", "false")
	// A small budget: the short ones whole, the long one cut.
	r = e.callAs(cl, alice, "thread_read", map[string]any{"mailbox": support, "thread_id": thread, "max_body_chars": 100}).ok(t)
	ems = r.structured["emails"].([]any)
	if row(0)["body_truncated"] != false || row(2)["body_truncated"] != true {
		t.Fatalf("shares: %v", ems)
	}
	// Pages by offset, and one folder.
	r = e.callAs(cl, alice, "thread_read", map[string]any{"mailbox": support, "thread_id": thread, "limit": 2}).ok(t)
	if r.structured["next_offset"] != 2.0 || len(r.structured["emails"].([]any)) != 2 {
		t.Fatalf("first page: %v", r.structured)
	}
	r = e.callAs(cl, alice, "thread_read", map[string]any{"mailbox": support, "thread_id": thread, "limit": 2, "offset": 2}).ok(t)
	if ems = r.structured["emails"].([]any); len(ems) != 1 || row(0)["id"] != last || r.structured["next_offset"] != nil {
		t.Fatalf("second page: %v", r.structured)
	}
	r = e.callAs(cl, alice, "thread_read", map[string]any{"mailbox": support, "thread_id": thread, "folder": "sent"}).ok(t)
	if r.structured["total"] != 1.0 {
		t.Fatalf("sent only: %v", r.structured)
	}
	// Archived mail stays in the conversation; email_list and email_read
	// reach the archive.
	if _, err := e.store.Move(context.Background(), domains.MailboxRef(support), storage.Inbox, storage.Archive, first); err != nil {
		t.Fatal(err)
	}
	r = e.callAs(cl, alice, "thread_read", map[string]any{"mailbox": support, "thread_id": thread}).ok(t)
	if ems = r.structured["emails"].([]any); r.structured["total"] != 3.0 || row(0)["folder"] != "archive" || row(0)["id"] != first {
		t.Fatalf("after archiving: %v", r.structured)
	}
	r = e.callAs(cl, alice, "email_list", map[string]any{"mailbox": support, "folder": "archive", "thread_id": thread}).ok(t)
	if r.structured["total"] != 1.0 {
		t.Fatalf("email_list folder archive: %v", r.structured)
	}
	e.callAs(cl, alice, "email_read", map[string]any{"mailbox": support, "folder": "archive", "id": first}).ok(t)
	e.callAs(cl, alice, "thread_read", map[string]any{"mailbox": support, "thread_id": "0000000000000000"}).fails(t, "no email with thread_id")
	e.callAs(cl, alice, "thread_read", map[string]any{"mailbox": support, "thread_id": thread, "limit": 51}).fails(t, "limit must be between 1 and 50")
}
