package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// Reading as an agent does, through the real binary (book/mcp.md, "Size
// control", "Threads", "Order and paging"): a long email comes in parts,
// a reply that names its parent only in In-Reply-To joins its thread,
// thread_read returns the conversation oldest first with the new text of
// each email, and paging by cursor repeats no row when mail arrives
// between pages. Over streamable HTTP and stdio.
func TestReadingAsAnAgent(t *testing.T) {
	t.Parallel()
	d := StartDev(t, DaemonOptions{})
	for _, via := range []string{viaHTTP, viaStdio} {
		t.Run(via, func(t *testing.T) {
			t.Parallel()
			s := d.devConnect(t, via, protocolVersions[0])
			local := "read-" + via
			box := local + "@" + devDomain
			s.call("mailbox_create", map[string]any{"name": local}).ok(t)
			deliver := func(headers, body string) {
				t.Helper()
				msg := "From: Pat Example <pat@partners.example>\r\nTo: " + box + "\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n" + headers + "\r\n" + body
				if err := d.Deliver("pat@partners.example", []string{box}, []byte(msg)); err != nil {
					t.Fatal(err)
				}
			}
			ids := func(r toolResult) []string {
				var out []string
				for _, e := range r.s["emails"].([]any) {
					out = append(out, e.(map[string]any)["id"].(string))
				}
				return out
			}

			// A conversation: the kickoff, then a reply with In-Reply-To only.
			deliver("Subject: Project kickoff\r\nMessage-ID: <kickoff."+via+"@partners.example>\r\n", "Shall we start Monday?\r\n")
			deliver("Subject: RE: Project kickoff\r\nMessage-ID: <re1."+via+"@partners.example>\r\nIn-Reply-To: <kickoff."+via+"@partners.example>\r\n",
				"Monday works.\r\n\r\nOn Mon, 23 Nov 2026, Pat Example wrote:\r\n> Shall we start Monday?\r\n")
			kick := s.call("email_list", map[string]any{"mailbox": local, "message_id": "<kickoff." + via + "@partners.example>"}).ok(t)
			re := s.call("email_list", map[string]any{"mailbox": local, "message_id": "re1." + via + "@partners.example"}).ok(t)
			if len(ids(kick)) != 1 || len(ids(re)) != 1 {
				t.Fatalf("message_id filter: %v / %v", kick.s, re.s)
			}
			thread := kick.s["emails"].([]any)[0].(map[string]any)["thread_id"].(string)
			if got := re.s["emails"].([]any)[0].(map[string]any)["thread_id"]; got != thread {
				t.Fatalf("the reply (In-Reply-To only) is in thread %v, its parent in %s", got, thread)
			}
			tr := s.call("thread_read", map[string]any{"mailbox": local, "thread_id": thread}).ok(t)
			ems := tr.s["emails"].([]any)
			if tr.s["total"] != 2.0 || len(ems) != 2 || ems[0].(map[string]any)["subject"] != "Project kickoff" {
				t.Fatalf("thread_read: %v", tr.s)
			}
			if second := ems[1].(map[string]any); second["body_part"] != "new" || !strings.Contains(second["body"].(string), "Monday works.") ||
				strings.Contains(second["body"].(string), "> Shall we") {
				t.Fatalf("thread_read's compact body: %v", second)
			}

			// A 200 KB email: one part of it per call, the rest by offset.
			long := strings.Repeat("All work and no play makes Jack a dull boy.\r\n", 200<<10/45)
			deliver("Subject: Big report\r\nMessage-ID: <big."+via+"@partners.example>\r\n", long)
			bigID := ids(s.call("email_list", map[string]any{"mailbox": local, "subject": "big report"}).ok(t))[0]
			r := s.call("email_read", map[string]any{"mailbox": local, "id": bigID}).ok(t)
			raw, _ := json.Marshal(r.s)
			if r.s["body_truncated"] != true || r.s["body_chars"].(float64) < 190_000 || len(raw)+len(r.text) > 30_000 {
				t.Fatalf("a 200 KB email read with the defaults: %d bytes of result, truncated %v, body_chars %v", len(raw)+len(r.text), r.s["body_truncated"], r.s["body_chars"])
			}
			next := r.s["next_body_offset"].(float64)
			r2 := s.call("email_read", map[string]any{"mailbox": local, "id": bigID, "body_offset": next, "max_body_chars": 50}).ok(t)
			if r2.s["body_offset"] != next || !strings.Contains(r2.s["body"].(string), "untrusted-email") {
				t.Fatalf("the next part: %v", r2.s)
			}
			if !strings.Contains(r.text, "Message-ID: <big."+via+"@partners.example>") || !strings.Contains(r.text, "Thread: ") ||
				!strings.Contains(r.text, "Auth: DKIM ") || !strings.Contains(r.text, `From: "Pat Example <pat@partners.example>"`) {
				t.Fatalf("email_read's text rendering:\n%s", r.text)
			}

			// Paging by cursor while mail arrives.
			page := s.call("email_list", map[string]any{"mailbox": local, "limit": 2}).ok(t)
			seen := ids(page)
			deliver("Subject: Arrived between pages\r\nMessage-ID: <late."+via+"@partners.example>\r\n", "late\r\n")
			page = s.call("email_list", map[string]any{"mailbox": local, "limit": 2, "cursor": page.s["next_cursor"]}).ok(t)
			seen = append(seen, ids(page)...)
			if page.s["next_cursor"] != nil || page.s["total"] != 4.0 || fmt.Sprint(seen) != fmt.Sprint(dedupe(seen)) || len(seen) != 3 {
				t.Fatalf("pages by cursor: %v, last %v", seen, page.s)
			}
			rows := s.call("email_list", map[string]any{"mailbox": local, "in_text": true}).ok(t)
			if len(ids(rows)) != 0 || !strings.Contains(rows.text, `from "Pat Example <pat@partners.example>" "Arrived between pages" to `+box+" thread ") {
				t.Fatalf("email_list in_text:\n%s", rows.text)
			}
			if got := s.call("email_list", map[string]any{"mailbox": local, "trusted": "none"}).ok(t).s["total"]; got != 4.0 {
				t.Fatalf("trusted filter: %v", got)
			}
		})
	}
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
