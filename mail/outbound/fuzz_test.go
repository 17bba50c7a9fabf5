package outbound

import (
	"strings"
	"testing"

	"github.com/aimx-dev/aimx/mail/message"
)

// FuzzCompose feeds arbitrary header values, bodies and attachment names to
// Compose: it must never panic, and whatever it accepts must be clean SMTP
// data whose header reads back to what was asked.
func FuzzCompose(f *testing.F) {
	f.Add("Zoë", "Subject – ✓", "# hi\n\n<b>x</b>", "a.txt", "text/plain", false, false)
	f.Add("A\r\nB", "x\ny", "body", "../../x", "", true, false)
	f.Add("", "=?utf-8?q?x?=", "", "", "image/png; name=x", false, true)
	f.Add("\"quoted\"", strings.Repeat("word ", 300), "```\ncode\n```", "é.csv", "text/csv", false, false)
	f.Fuzz(func(t *testing.T, name, subject, body, filename, ctype string, textOnly, html bool) {
		req := Request{
			From:     Address{Name: name, Addr: "zoe@a.test"},
			To:       []Address{{Name: name, Addr: "bob@b.test"}},
			Subject:  subject,
			Body:     body,
			TextOnly: textOnly,
		}
		if html && !textOnly {
			req.HTMLBody = body
		}
		if filename != "" || ctype != "" {
			req.Attachments = []Attachment{{Filename: filename, ContentType: ctype, Data: []byte(body)}}
		}
		out, err := testComposer().Compose(req)
		if err != nil {
			return
		}
		if err := message.CheckData(out.Raw); err != nil {
			t.Fatalf("unclean data: %v", err)
		}
		for _, line := range strings.Split(headerBlock(out.Raw), "\r\n") {
			if len(line) > 998 {
				t.Fatalf("header line of %d octets", len(line))
			}
		}
		m, err := message.Parse(out.Raw)
		if err != nil {
			t.Fatalf("parse: %v", err)
		}
		if m.MessageID != out.MessageID {
			t.Fatalf("message id %q, want %q", m.MessageID, out.MessageID)
		}
		if strings.TrimSpace(subject) == subject && !strings.Contains(subject, "  ") && m.Subject != subject {
			t.Fatalf("subject %q read back as %q", subject, m.Subject)
		}
	})
}
