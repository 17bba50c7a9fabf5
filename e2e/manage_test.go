package e2e

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// attachmentMail is a multipart message with a CSV and a small binary file.
func attachmentMail(to, subject string, bin []byte) []byte {
	return []byte(fmt.Sprintf("From: Carol <carol@example.org>\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s@example.org>\r\n"+
		"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"+
		"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee the quote.\r\n"+
		"--b1\r\nContent-Type: text/csv; charset=utf-8\r\nContent-Disposition: attachment; filename=\"quote.csv\"\r\n\r\nitem,price\r\nseat,12\r\n"+
		"--b1\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"blob.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n%s\r\n"+
		"--b1--\r\n", to, subject, strings.ReplaceAll(subject, " ", "."), base64.StdEncoding.EncodeToString(bin)))
}

// TestManageMailOverMCP drives attachment_read, email_label, email_move,
// email_delete and email_restore through the real binary, over the stdio
// bridge and over HTTP with a bearer token: mail delivered over SMTP is
// read by attachment (text fenced, binary as base64, no path in
// email_read), labelled, archived and back, deleted to the trash and
// restored, and deleted for good, with the files on disk following.
func TestManageMailOverMCP(t *testing.T) {
	t.Parallel()
	d := StartDev(t, DaemonOptions{})
	v := protocolVersions[0]
	bin := []byte{0, 1, 2, 0xfe, 0xff}
	for _, via := range []string{viaStdio, viaHTTP} {
		t.Run(via, func(t *testing.T) {
			t.Parallel()
			s := d.devConnect(t, via, v)
			local := "m-" + via
			name := local + "@" + devDomain
			s.call("mailbox_create", map[string]any{"name": local}).ok(t)
			for _, subj := range []string{"quote one", "quote two"} {
				if err := d.Deliver("carol@example.org", []string{name}, attachmentMail(name, subj, bin)); err != nil {
					t.Fatalf("deliver: %v", err)
				}
			}
			emails := s.call("email_list", map[string]any{"mailbox": local}).ok(t).s["emails"].([]any)
			if len(emails) != 2 {
				t.Fatalf("email_list = %v", emails)
			}
			id := emails[1].(map[string]any)["id"].(string)
			other := emails[0].(map[string]any)["id"].(string)

			// Attachments: names and sizes in email_read, content by name.
			read := s.call("email_read", map[string]any{"mailbox": local, "id": id}).ok(t).s
			atts := read["attachments"].([]any)
			if len(atts) != 2 {
				t.Fatalf("attachments = %v", atts)
			}
			for _, a := range atts {
				if _, ok := a.(map[string]any)["path"]; ok {
					t.Fatalf("email_read sends a path: %v", a)
				}
			}
			txt := s.call("attachment_read", map[string]any{"mailbox": local, "id": id, "filename": "quote.csv"}).ok(t).s
			if txt["encoding"] != "text" || !strings.Contains(txt["text"].(string), "item,price\r\nseat,12") ||
				!strings.Contains(txt["text"].(string), "<untrusted-email nonce=") {
				t.Fatalf("attachment_read quote.csv = %v", txt)
			}
			b64 := s.call("attachment_read", map[string]any{"mailbox": local, "id": id, "filename": "blob.bin"}).ok(t).s
			if got, err := base64.StdEncoding.DecodeString(b64["content_base64"].(string)); err != nil || !bytes.Equal(got, bin) {
				t.Fatalf("attachment_read blob.bin = %v", b64)
			}
			s.call("attachment_read", map[string]any{"mailbox": local, "id": id, "filename": "../" + id + ".md"}).fails(t, "has no attachment named")

			// Labels, then archive and back: the labels move with it.
			if got := s.call("email_label", map[string]any{"mailbox": local, "id": id, "add": []string{"Quote", "todo"}}).ok(t).s["labels"].([]any); len(got) != 2 {
				t.Fatalf("email_label = %v", got)
			}
			s.call("email_move", map[string]any{"mailbox": local, "id": id, "to_folder": "archive"}).ok(t)
			if got := s.call("email_list", map[string]any{"mailbox": local}).ok(t).s["total"]; got != 1.0 {
				t.Fatalf("inbox after archiving: %v", got)
			}
			inArchive := filepath.Join(d.DataDir(), devDomain, "archive", local, id)
			if _, err := os.Stat(filepath.Join(inArchive, id+".md")); err != nil {
				t.Fatalf("archived bundle: %v", err)
			}
			s.call("attachment_read", map[string]any{"mailbox": local, "id": id, "folder": "archive", "filename": "quote.csv"}).ok(t)
			s.call("email_move", map[string]any{"mailbox": local, "id": id, "folder": "archive", "to_folder": "inbox"}).ok(t)
			read = s.call("email_read", map[string]any{"mailbox": local, "id": id}).ok(t).s
			if labels := read["extra"].(map[string]any)["labels"].([]any); len(labels) != 2 || labels[0] != "quote" {
				t.Fatalf("labels after the round trip = %v", read["extra"])
			}

			// Delete to the trash, restore, delete for good.
			del := s.call("email_delete", map[string]any{"mailbox": local, "id": id}).ok(t).s
			if del["folder"] != "trash" || del["purge_after"] == nil {
				t.Fatalf("email_delete = %v", del)
			}
			if _, err := os.Stat(filepath.Join(d.DataDir(), devDomain, "trash", local, id, id+".md")); err != nil {
				t.Fatalf("trashed bundle: %v", err)
			}
			if got := s.call("email_restore", map[string]any{"mailbox": local, "id": id}).ok(t).s["folder"]; got != "inbox" {
				t.Fatalf("email_restore = %v", got)
			}
			if got := s.call("email_list", map[string]any{"mailbox": local}).ok(t).s["total"]; got != 2.0 {
				t.Fatalf("inbox after restore: %v", got)
			}
			s.call("email_delete", map[string]any{"mailbox": local, "id": other, "force": true}).ok(t)
			if _, err := os.Stat(filepath.Join(d.DataDir(), devDomain, "inbox", local, other)); !os.IsNotExist(err) {
				t.Fatalf("forced delete left %v", err)
			}
			s.call("email_restore", map[string]any{"mailbox": local, "id": other}).fails(t, "no email with id")
			s.call("email_delete", map[string]any{"mailbox": "*@" + devDomain, "id": id}).fails(t, "")
		})
	}
}
