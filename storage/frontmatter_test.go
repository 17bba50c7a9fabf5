package storage

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func goldenFM() map[string]struct {
	fm   Frontmatter
	body string
} {
	full := inboundFM(`Re: "quoted" \ back\slash`)
	full.ID = "2026-10-07-144513-re-quoted-back-slas"
	full.Cc = []string{"Carol Ng <carol@example.net>", "dave@example.net"}
	full.ReplyTo = []string{"help@example.net"}
	full.ReceivedFromIP = "2001:db8::25"
	full.SizeBytes = 4096
	full.Attachments = []AttachmentInfo{
		{Filename: "deploy.log", ContentType: "text/plain", Size: 272, Path: "deploy.log"},
		{Filename: "health page.png", ContentType: "image/png", Size: 73, Path: "health page.png"},
	}
	full.InReplyTo = "parent@example.com"
	full.References = []string{"root@example.com", "parent@example.com"}
	full.ListID = "Status <alerts.example.net>"
	full.AutoSubmitted = "auto-generated"
	full.Mailbox = "support@agent.example.com"
	full.Read = true
	full.ReadAt = time.Date(2026, 10, 7, 15, 0, 0, 123000000, time.UTC)
	full.HooksDue = []string{"triage-agent", "7c6d418c1a76"}
	full.Extra = []Field{{Key: "labels", Value: []any{"finance", "receipts"}}, {Key: "x-weird key", Value: int64(7)}}

	minimal := Frontmatter{ID: "2026-10-07-144513-no-subject", ReceivedAt: t0, Mailbox: "*@agent.example.com"}

	sent := Frontmatter{
		ID: "2026-10-07-150241-re-pricing", MessageID: "b5c6@other.example.net", ThreadID: "c4d6d349b77604b6",
		From: "sales@other.example.net", To: []string{"pat@partners.test"}, Subject: "Re: Pricing – Q4\ttab\x01ctl",
		Date: "2026-10-07T15:02:40Z", SizeBytes: 1690, InReplyTo: "orig@partners.test",
		DKIM: "pass", SPF: "none", DMARC: "none", Trusted: "none", Mailbox: "sales@other.example.net",
		Outbound: true, OutboundFormat: "markdown", DeliveryStatus: "deferred",
		Recipients: []Recipient{
			{Address: "pat@partners.test", Status: "delivered", Detail: "250 2.0.0 OK", Attempts: 1, TLS: "verified", UpdatedAt: time.Date(2026, 10, 7, 15, 2, 41, 0, time.UTC)},
			{Address: "lee@partners.test", Status: "deferred", Attempts: 2},
		},
	}
	return map[string]struct {
		fm   Frontmatter
		body string
	}{
		"inbound-full.md": {full, "Hello,\n\nbody line\n"},
		"minimal.md":      {minimal, ""},
		"sent.md":         {sent, "Thanks!\r\n\r\nSent from aimx"},
	}
}

// TestEncodeGolden pins the exact bytes of book/storage.md: field order, quoting,
// omitted optionals, inline tables, Extra last.
func TestEncodeGolden(t *testing.T) {
	t.Parallel()
	for name, c := range goldenFM() {
		got := EncodeMD(&c.fm, c.body)
		path := filepath.Join("testdata", name)
		if *update {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("read golden (run with -update): %v", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", name, got, want)
		}
		// And it decodes back to the same struct (bodies included).
		fm, body, err := DecodeMD(want)
		if err != nil {
			t.Fatalf("%s: decode: %v", name, err)
		}
		if again := EncodeMD(fm, body); !bytes.Equal(again, want) {
			t.Errorf("%s: decode+encode not identical:\n%s", name, again)
		}
		if fm.Subject != c.fm.Subject || fm.ID != c.fm.ID {
			t.Errorf("%s: decoded subject/id %q/%q", name, fm.Subject, fm.ID)
		}
	}
}

func TestEncodeRules(t *testing.T) {
	t.Parallel()
	c := goldenFM()
	full := string(EncodeFrontmatter(ptr(c["inbound-full.md"].fm)))
	minimal := string(EncodeFrontmatter(ptr(c["minimal.md"].fm)))
	sent := string(EncodeFrontmatter(ptr(c["sent.md"].fm)))
	tests := []struct {
		name, doc, want string
		present         bool
	}{
		{"always-written to even when empty", minimal, "\nto = []\n", true},
		{"always-written subject even when empty", minimal, "\nsubject = \"\"\n", true},
		{"inbound read always written", minimal, "\nread = false\n", true},
		{"inbound received_at always written", minimal, "\nreceived_at = \"2026-10-07T14:45:13Z\"\n", true},
		{"optional cc omitted", minimal, "cc =", false},
		{"optional hooks_due omitted", minimal, "hooks_due", false},
		{"optional read_at omitted", minimal, "read_at", false},
		{"outbound fields absent inbound", minimal, "outbound", false},
		{"double-quoted with escapes", full, `subject = "Re: \"quoted\" \\ back\\slash"`, true},
		{"inline attachments", full, `attachments = [{filename = "deploy.log", content_type = "text/plain", size = 272, path = "deploy.log"}, {filename = "health page.png"`, true},
		{"extra kept last", full, "hooks_due = [\"triage-agent\", \"7c6d418c1a76\"]\nlabels = [\"finance\", \"receipts\"]\n\"x-weird key\" = 7\n", true},
		{"control chars escaped", sent, `Q4\ttab\u0001ctl"`, true},
		{"sent has outbound", sent, "\noutbound = true\noutbound_format = \"markdown\"\ndelivery_status = \"deferred\"\nrecipients = [{address = \"pat@partners.test\"", true},
		{"sent omits unread read", sent, "read =", false},
		{"sent omits zero received_at", sent, "received_at", false},
		{"recipient optional keys omitted", sent, `{address = "lee@partners.test", status = "deferred", attempts = 2}`, true},
	}
	for _, tt := range tests {
		if got := strings.Contains(tt.doc, tt.want); got != tt.present {
			t.Errorf("%s: contains(%q) = %v", tt.name, tt.want, got)
		}
	}
	// Field order is the book/storage.md table.
	order := []string{"id", "message_id", "thread_id", "from", "to", "cc", "reply_to", "delivered_to", "subject", "date",
		"received_at", "received_from_ip", "size_bytes", "attachments", "in_reply_to", "references", "list_id",
		"auto_submitted", "dkim", "spf", "dmarc", "trusted", "mailbox", "read", "read_at", "hooks_due"}
	var keys []string
	for _, line := range strings.Split(strings.TrimSpace(full), "\n") {
		keys = append(keys, strings.SplitN(line, " = ", 2)[0])
	}
	if strings.Join(keys[:len(order)], ",") != strings.Join(order, ",") {
		t.Errorf("order = %v", keys)
	}
}

func ptr[T any](v T) *T { return &v }

// TestDecodeRustShapes covers every Rust frontmatter quirk of book/upgrade.md.
func TestDecodeRustShapes(t *testing.T) {
	t.Parallel()
	doc := "+++\n" +
		"id = \"2026-09-15-142009-logs-from-the-failed\"\n" +
		"message_id = \"<a@b>\"\n" +
		"from = \"x@y\"\n" +
		"to = \"Support <support@agent.example.com>\"\n" +
		"cc = \"Ng, Carol <carol@c.net>, dave@c.net\"\n" +
		"reply_to = \"Help Desk <help@example.net>, helpdesk-archive@example.net\"\n" +
		"subject = 'Logs from the \"failed\" deploy'\n" +
		"date = \"Mon, 14 Sep 2026 08:45:11 +0000\"\n" +
		"received_at = \"2026-09-14T08:15:02.413867209+00:00\"\n" +
		"size_bytes = 5\n" +
		"in_reply_to = \"<p@q>\"\n" +
		"references = \"6f1c@agent.example.com <2026@customer.example.net>\"\n" +
		"read = true\n" +
		"read_at = \"2026-09-14T08:41:17.902114358Z\"\n" +
		"labels = [\"finance\"]\n" +
		"delivered_at = \"2026-09-14T08:45:12.207913446+00:00\"\n" +
		"\n[[attachments]]\nfilename = \"deploy.log\"\ncontent_type = \"text/plain\"\nsize = 272\npath = \"deploy.log\"\n" +
		"+++\n\nline one\r\nline two +++\r\n+++\r\n"
	fm, body, err := DecodeMD([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct{ name, got, want string }{
		{"message_id stripped", fm.MessageID, "a@b"},
		{"to one element", strings.Join(fm.To, "|"), "Support <support@agent.example.com>"},
		{"cc split keeps comma names", strings.Join(fm.Cc, "|"), "Ng, Carol <carol@c.net>|dave@c.net"},
		{"reply_to split", strings.Join(fm.ReplyTo, "|"), "Help Desk <help@example.net>|helpdesk-archive@example.net"},
		{"literal string", fm.Subject, `Logs from the "failed" deploy`},
		{"raw date kept", fm.Date, "Mon, 14 Sep 2026 08:45:11 +0000"},
		{"received_at +00:00", fm.ReceivedAt.UTC().Format(time.RFC3339Nano), "2026-09-14T08:15:02.413867209Z"},
		{"in_reply_to stripped", fm.InReplyTo, "p@q"},
		{"references string split", strings.Join(fm.References, "|"), "6f1c@agent.example.com|2026@customer.example.net"},
		{"attachments tables", fm.Attachments[0].Path + " " + fm.Attachments[0].ContentType, "deploy.log text/plain"},
		{"CRLF body kept", body, "line one\r\nline two +++\r\n+++\r\n"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
		}
	}
	if !fm.Read || fm.ReadAt.IsZero() {
		t.Errorf("read state lost: %v %v", fm.Read, fm.ReadAt)
	}
	if len(fm.Extra) != 2 || fm.Extra[0].Key != "labels" || fm.Extra[1].Key != "delivered_at" {
		t.Errorf("extra = %#v", fm.Extra)
	}
}

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	for name, doc := range map[string]string{
		"no opening":        "id = \"x\"\n+++\n",
		"never closed":      "+++\nid = \"x\"\n",
		"bad toml":          "+++\nid = \n+++\n\n",
		"wrong type":        "+++\nsize_bytes = \"big\"\n+++\n\n",
		"bad time":          "+++\nreceived_at = \"yesterday\"\n+++\n\n",
		"attachments table": "+++\n[attachments]\nx = 1\n+++\n\n",
	} {
		if _, _, err := DecodeMD([]byte(doc)); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
}

// TestDecodePlusInsideMultiline: a `+++` line inside a multi-line string
// does not close the frontmatter (fixture README quirk 10).
func TestDecodePlusInsideMultiline(t *testing.T) {
	t.Parallel()
	doc := "+++\nid = \"x\"\nnote = \"\"\"\n+++\nstill note\"\"\"\n+++\n\nbody\n"
	fm, body, err := DecodeMD([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if fm.ID != "x" || body != "body\n" || len(fm.Extra) != 1 || fm.Extra[0].Value != "+++\nstill note" {
		t.Errorf("fm=%+v body=%q", fm, body)
	}
}

func TestSplitAddressList(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"", ""},
		{"a@x", "a@x"},
		{"A <a@x>, b@y", "A <a@x>|b@y"},
		{"Ng, Carol <c@x>, d@y", "Ng, Carol <c@x>|d@y"},
		{`"Ng, Carol" <c@x>`, `"Ng, Carol" <c@x>`},
		{"no-at-sign", "no-at-sign"},
	}
	for _, tt := range tests {
		if got := strings.Join(SplitAddressList(tt.in), "|"); got != tt.want {
			t.Errorf("SplitAddressList(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzFrontmatter: decoding never panics, and once decoded, encode ->
// decode -> encode is byte-stable.
func FuzzFrontmatter(f *testing.F) {
	for _, name := range []string{"inbound-full.md", "minimal.md", "sent.md"} {
		if b, err := os.ReadFile(filepath.Join("testdata", name)); err == nil {
			f.Add(b)
		}
	}
	rust, _ := filepath.Glob(filepath.Join(fixtureRoot, "v2", "data", "*", "*", "*", "*.md"))
	bundles, _ := filepath.Glob(filepath.Join(fixtureRoot, "v2", "data", "*", "*", "*", "*", "*.md"))
	for _, p := range append(rust, bundles...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("+++\nx = 1979-05-27T07:32:00-08:00\ny = 1979-05-27\nz = 07:32:00\nw = {a = [1, 2.5, inf, -0.0]}\n[t]\nk = 'v'\n+++\n"))
	f.Add([]byte("+++\r\nread_at = 0000-01-01T00:00:00+01:00\r\n+++\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fm, body, err := DecodeMD(data)
		if err != nil {
			return
		}
		b1 := EncodeMD(fm, body)
		fm2, body2, err := DecodeMD(b1)
		if err != nil {
			t.Fatalf("re-decode of our own encoding failed: %v\n%s", err, b1)
		}
		b2 := EncodeMD(fm2, body2)
		if !bytes.Equal(b1, b2) {
			t.Fatalf("unstable:\n%s\n---\n%s", b1, b2)
		}
	})
}
