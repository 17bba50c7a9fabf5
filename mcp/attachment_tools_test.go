package mcp

import (
	"bytes"
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/storage"
)

// putWith stores a message with attachments through the storage API.
func (e *env) putWith(mailbox string, fm storage.Frontmatter, body string, atts ...storage.Attachment) string {
	e.t.Helper()
	st, err := e.store.Put(context.Background(), storage.PutRequest{Mailbox: domains.MailboxRef(mailbox), Folder: storage.Inbox,
		At: t0, Frontmatter: fm, Body: body, Attachments: atts})
	if err != nil {
		e.t.Fatal(err)
	}
	return st.ID
}

func TestAttachmentRead(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cl := e.client(protocolVersions[1])
	csv := "name,amount\nrésumé,12\n" + strings.Repeat("row,1\n", 10)
	png := []byte{0x89, 'P', 'N', 'G', 0, 1, 2, 3}
	latin1 := []byte("caf\xe9\n")
	id := e.putWith(support, inbound("files", "Carol <carol@example.org>", "false"), "see attached",
		storage.Attachment{Filename: "quote.csv", ContentType: "text/csv", Data: []byte(csv)},
		storage.Attachment{Filename: "logo.png", ContentType: "image/png", Data: png},
		storage.Attachment{Filename: "menu.txt", ContentType: "text/plain", Data: latin1},
		storage.Attachment{Filename: "notes.md", ContentType: "application/octet-stream", Data: []byte("# notes\n")},
	)
	flat := e.put(support, storage.Inbox, t0.Add(time.Second), inbound("plain", "carol@example.org", "true"), "no files")

	// email_read lists names and sizes, never a server path.
	r := e.callAs(cl, alice, "email_read", map[string]any{"mailbox": support, "id": id}).ok(t)
	atts := r.structured["attachments"].([]any)
	first := atts[0].(map[string]any)
	if len(atts) != 4 || first["filename"] != "quote.csv" || first["size"] != float64(len(csv)) {
		t.Fatalf("email_read attachments = %v", atts)
	}
	if _, ok := first["path"]; ok {
		t.Fatalf("email_read still sends a path: %v", first)
	}

	// Text: fenced (the sender is not trusted), paged by characters.
	r = e.callAs(cl, alice, "attachment_read", map[string]any{"mailbox": "support", "id": id, "filename": "quote.csv"}).ok(t)
	s := r.structured
	if s["encoding"] != "text" || s["total_chars"] != float64(len([]rune(csv))) || s["truncated"] != false || s["content_type"] != "text/csv" {
		t.Fatalf("attachment_read text = %v", s)
	}
	checkFenced(t, s["text"].(string), csv, "false")
	if !strings.Contains(r.text, `Attachment "quote.csv"`) || !strings.Contains(r.text, "untrusted-email") {
		t.Fatalf("text rendering = %q", r.text)
	}
	r = e.callAs(cl, alice, "attachment_read", map[string]any{"mailbox": support, "id": id, "filename": "QUOTE.CSV", "offset": 12, "max_chars": "6"}).ok(t)
	s = r.structured
	if s["offset"] != 12.0 || s["truncated"] != true || s["next_offset"] != 18.0 {
		t.Fatalf("page = %v", s)
	}
	checkFenced(t, s["text"].(string), "résumé\n", "false") // the fence ends the text with a newline

	// Binary, and text that is not UTF-8, come back as base64, byte for byte.
	for name, want := range map[string][]byte{"logo.png": png, "menu.txt": latin1} {
		s := e.callAs(cl, alice, "attachment_read", map[string]any{"mailbox": support, "id": id, "filename": name}).ok(t).structured
		got, err := base64.StdEncoding.DecodeString(s["content_base64"].(string))
		if err != nil || s["encoding"] != "base64" || !bytes.Equal(got, want) || s["text"] != nil {
			t.Fatalf("%s = %v", name, s)
		}
	}
	// A generic type with a text extension reads as text.
	if s := e.callAs(cl, alice, "attachment_read", map[string]any{"mailbox": support, "id": id, "filename": "notes.md"}).ok(t).structured; s["encoding"] != "text" {
		t.Fatalf("notes.md = %v", s)
	}

	// Refusals, each a sentence.
	e.callAs(cl, alice, "attachment_read", map[string]any{"mailbox": support, "id": id, "filename": "../../etc/passwd"}).
		fails(t, `has no attachment named "../../etc/passwd". Call email_read to see its attachments.`)
	e.callAs(cl, alice, "attachment_read", map[string]any{"mailbox": support, "id": flat, "filename": "quote.csv"}).fails(t, "has no attachment named")
	e.callAs(cl, alice, "attachment_read", map[string]any{"mailbox": support, "id": "../" + id, "filename": "quote.csv"}).fails(t, "no email with id")
	e.callAs(cl, alice, "attachment_read", map[string]any{"mailbox": support, "id": id, "filename": "quote.csv", "folder": "drafts"}).
		fails(t, `folder must be inbox, sent, archive or trash, not "drafts".`)
	e.callAs(cl, alice, "attachment_read", map[string]any{"mailbox": support, "id": id, "filename": "quote.csv", "max_chars": 0}).
		fails(t, "max_chars must be between 1 and 200000")
	e.callAs(cl, alice, "attachment_read", map[string]any{"mailbox": support, "id": id}).fails(t, "")
}

func TestAttachmentReadTrustedAndLarge(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cl := e.client(protocolVersions[0])
	big := bytes.Repeat([]byte{0xff}, maxAttachmentBase64+1)
	id := e.putWith(support, inbound("trusted", "alice@example.com", "true"), "b",
		storage.Attachment{Filename: "plan.txt", ContentType: "text/plain", Data: []byte("step one\n")},
		storage.Attachment{Filename: "video.mp4", ContentType: "video/mp4", Data: big},
	)
	s := e.callAs(cl, alice, "attachment_read", map[string]any{"mailbox": support, "id": id, "filename": "plan.txt"}).ok(t).structured
	if s["text"] != "step one\n" {
		t.Fatalf("a trusted sender's text is fenced or changed: %q", s["text"])
	}
	e.callAs(cl, alice, "attachment_read", map[string]any{"mailbox": support, "id": id, "filename": "video.mp4"}).
		fails(t, `"video.mp4" is 5.0 MiB (5242881 bytes), over the 5 MiB that attachment_read returns as base64`)
}
