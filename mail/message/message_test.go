package message

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const (
	mailFixtures = "../../testdata/fixtures/mail"
	dkimFixtures = "../../testdata/fixtures/dkim"
)

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// want is the expected decoded view of one message. Attachment data is
// compared whole.
type want struct {
	from, fromAddr  string
	to, cc, replyTo []string
	subject         string
	date            string // RFC 3339, "" for the zero time
	messageID       string
	inReplyTo       string
	references      []string
	listID, autoSub string
	body            string
	fromHTML        bool
	attachments     []Attachment
}

func check(t *testing.T, m *Message, w want) {
	t.Helper()
	eq := func(name string, got, exp any) {
		t.Helper()
		if !reflect.DeepEqual(got, exp) {
			t.Errorf("%s = %#v, want %#v", name, got, exp)
		}
	}
	eq("From", m.From, w.from)
	eq("FromAddress", m.FromAddress, w.fromAddr)
	eq("To", m.To, w.to)
	eq("Cc", m.Cc, w.cc)
	eq("ReplyTo", m.ReplyTo, w.replyTo)
	eq("Subject", m.Subject, w.subject)
	date := ""
	if !m.Date.IsZero() {
		date = m.Date.Format(time.RFC3339)
	}
	eq("Date", date, w.date)
	eq("MessageID", m.MessageID, w.messageID)
	eq("InReplyTo", m.InReplyTo, w.inReplyTo)
	eq("References", m.References, w.references)
	eq("ListID", m.ListID, w.listID)
	eq("AutoSubmitted", m.AutoSubmitted, w.autoSub)
	eq("Body", m.Body, w.body)
	eq("BodyFromHTML", m.BodyFromHTML, w.fromHTML)
	eq("Attachments", m.Attachments, w.attachments)
}

func TestParseFixtures(t *testing.T) {
	t.Parallel()
	catchall := []string{"catchall@agent.example.com"}
	cases := []struct {
		file string
		want want
	}{
		{mailFixtures + "/plain.eml", want{
			from: "Alice <alice@example.com>", fromAddr: "alice@example.com", to: catchall,
			subject: "Plain text test", date: "2025-01-01T12:00:00Z", messageID: "plain-001@example.com",
			body: "This is a plain text email for testing.\n\nIt has multiple paragraphs.\n",
		}},
		{mailFixtures + "/html_only.eml", want{
			from: "Bob <bob@example.com>", fromAddr: "bob@example.com", to: catchall,
			subject: "HTML only test", date: "2025-01-01T13:00:00Z", messageID: "html-001@example.com",
			body:     "# Hello from HTML\n\nThis is an **HTML-only** email.\n\n- Item one\n- Item two",
			fromHTML: true,
		}},
		{mailFixtures + "/multipart.eml", want{
			from: "Charlie <charlie@example.com>", fromAddr: "charlie@example.com", to: catchall,
			subject: "Multipart test", date: "2025-01-01T14:00:00Z", messageID: "multi-001@example.com",
			body: "This is the plain text version.",
		}},
		{mailFixtures + "/with_attachment.eml", want{
			from: "Dave <dave@example.com>", fromAddr: "dave@example.com", to: catchall,
			subject: "Email with attachment", date: "2025-01-01T15:00:00Z", messageID: "att-001@example.com",
			body: "Please see the attached file.",
			attachments: []Attachment{{
				Filename: "readme.txt", ContentType: "text/plain",
				Data: []byte("This is the content of the attached file.\nIt has multiple lines."),
			}},
		}},
		{mailFixtures + "/gmail_dkim_signed.eml", want{
			from: "Test User <testuser@gmail.com>", fromAddr: "testuser@gmail.com",
			to: []string{"agent@aimx.example.com"}, subject: "Test DKIM signed email from Gmail",
			date: "2025-04-07T10:30:00Z", messageID: "CAB1234567890abcdef@mail.gmail.com",
			body: "This is a test email sent from Gmail with DKIM signing.\n" +
				"It is used as a fixture to verify that DKIM-signed emails\n" +
				"are correctly parsed by the ingest pipeline.\n\n" +
				"The DKIM signature above is not cryptographically valid\n" +
				"but has the correct structure for parser testing.\n",
		}},
		{dkimFixtures + "/unsigned.eml", want{
			from: "Zoë Sender <zoe@mail.example.net>", fromAddr: "zoe@mail.example.net",
			// The folded To holds a quoted name with a comma: kept quoted
			// so the string is still one valid address.
			to:        []string{"Agent Inbox <inbox@agent.example.com>", `"Second, Recipient" <second@agent.example.com>`},
			subject:   "Quarterly report – Q3 Übersicht ✓",
			date:      "2026-11-02T10:41:05+01:00",
			messageID: "20261102094105.48213@mail.example.net",
			// Quoted-printable: trailing spaces and tabs on encoded lines
			// are transport padding and are removed (RFC 2045 6.7 rule 3),
			// which also turns the unencoded "-- " into "--".
			body: "Hello team,\n\nQ3 revenue was €4,200 above plan across all three regions.\n" +
				"Details are in the attached CSV; the short version:\n\n" +
				"  EU    +2,200\n  US    +1,900\n  APAC    +100\n\n--\nZoë",
			attachments: []Attachment{{
				Filename: "q3-figures.csv", ContentType: "text/csv",
				Data: []byte("quarter,region,revenue_eur,plan_eur\nQ3,EU,1842200,1840000\n" +
					"Q3,US,2211900,2210000\nQ3,APAC,603100,603000\n"),
			}},
		}},
		{"testdata/latin1.eml", want{
			from: "Jörg Müller <joerg@example.de>", fromAddr: "joerg@example.de",
			to: []string{"inbox@agent.example.com"}, subject: "Grüße aus Köln",
			date: "2026-03-03T08:15:00+01:00", messageID: "latin1-001@example.de",
			body: "Grüße aus Köln, schöne Grüße!\n",
		}},
		{"testdata/shiftjis.eml", want{
			from: "山田太郎 <taro@example.jp>", fromAddr: "taro@example.jp",
			to: []string{"inbox@agent.example.com"}, subject: "日本語のテスト",
			date: "2026-03-04T09:00:00+09:00", messageID: "sjis-001@example.jp",
			body: "こんにちは、世界。\n",
		}},
		{"testdata/nested.eml", want{
			from: `"Nested, Sender" <nest@example.org>`, fromAddr: "nest@example.org",
			to: []string{"a@agent.example.com", "b@agent.example.com"},
			cc: []string{"C Person <c@example.org>"}, replyTo: []string{"replies@example.org"},
			subject: "Nested parts", date: "2026-03-05T10:00:00Z", messageID: "nested-001@example.org",
			inReplyTo: "root-000@example.org", references: []string{"root-000@example.org", "mid-000@example.org"},
			listID: "Team list <team.example.org>", autoSub: "auto-generated",
			// The text/plain alternative wins over the earlier HTML one; the
			// inline footer part is dropped; the inline image and the
			// attached message are attachments.
			body: "Plain text from deep inside.",
			attachments: []Attachment{
				{ContentType: "image/png", Data: []byte("\x89PNG\r\n\x1a\n")},
				{ContentType: "message/rfc822", Data: []byte("From: inner@example.org\r\nSubject: inner\r\n\r\ninner body")},
			},
		}},
		{"testdata/rfc2231.eml", want{
			from: "files@example.org", fromAddr: "files@example.org",
			to: []string{"inbox@agent.example.com"}, subject: "filenames", messageID: "rfc2231-001@example.org",
			body: "see files",
			attachments: []Attachment{
				{Filename: "€ rates.pdf", ContentType: "application/pdf", Data: []byte("%PDF-")},
				// RFC 2231 continuations; a text attachment keeps its own charset's bytes.
				{Filename: "long name continued.txt", ContentType: "text/plain", Data: []byte("caf\xe9")},
				// RFC 2231 in ISO-8859-1, which Go's mime package drops.
				{Filename: "café.bin", ContentType: "application/octet-stream", Data: []byte("x")},
				// RFC 2047 in a name= parameter.
				{Filename: "über.txt", ContentType: "application/octet-stream", Data: []byte("y")},
				// An unquoted filename with a space fails strict parsing.
				{Filename: "unquoted name.dat", ContentType: "application/octet-stream", Data: []byte("z")},
			},
		}},
	}
	for _, tc := range cases {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			t.Parallel()
			m, err := Parse(readFile(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			check(t, m, tc.want)
		})
	}
}

// TestParseLineEndings: the LF fixtures and their CRLF conversions parse to
// the same message.
func TestParseLineEndings(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(mailFixtures + "/*.eml")
	if err != nil || len(files) != 5 {
		t.Fatalf("fixtures: %v %v", files, err)
	}
	for _, f := range files {
		lf := readFile(t, f)
		crlf := bytes.ReplaceAll(lf, []byte("\n"), []byte("\r\n"))
		a, err1 := Parse(lf)
		b, err2 := Parse(crlf)
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: %v %v", f, err1, err2)
		}
		for i := range b.Attachments {
			b.Attachments[i].Data = bytes.ReplaceAll(b.Attachments[i].Data, []byte("\r\n"), []byte("\n"))
		}
		a.DedupKey, b.DedupKey = "", ""
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: LF and CRLF differ:\n%#v\n%#v", f, a, b)
		}
	}
}

func TestParseEdgeCases(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		raw  string
		want want
	}{
		{"absent fields", "X-Only: 1\n\nbody\n", want{body: "body\n"}},
		{"wrong weekday is accepted", "Date: Fri, 01 Jan 2025 12:00:00 +0000\n\n",
			want{date: "2025-01-01T12:00:00Z"}},
		{"unparseable date is zero", "Date: yesterday-ish\n\n", want{}},
		{"date with comment and obsolete zone", "Date: Mon, 7 Apr 2025 03:30:00 -0700 (PDT)\n\n",
			want{date: "2025-04-07T03:30:00-07:00"}},
		{"folded subject", "Subject: one\n two\n\tthree\n\n", want{subject: "one two\tthree"}},
		{"encoded words joined", "Subject: =?utf-8?q?a?= =?utf-8?q?b?= c\n\n", want{subject: "ab c"}},
		{"unknown charset word stays raw", "Subject: =?x-nope?q?a?=\n\n", want{subject: "=?x-nope?q?a?="}},
		{"raw 8-bit subject made valid", "Subject: caf\xe9\n\n", want{subject: "caf\uFFFD"}},
		{"malformed message-id kept", "Message-ID: <no-at-sign>\n\n", want{messageID: "no-at-sign"}},
		{"message-id without brackets", "Message-ID: bare@id\n\n", want{messageID: "bare@id"}},
		{"references with junk", "References: <a@x> (comment) junk <b@y>\n <c>\nIn-Reply-To: \"phrase\" <b@y> <z@z>\n\n",
			want{references: []string{"a@x", "b@y", "c"}, inReplyTo: "b@y"}},
		{"bad address degrades", "From: Broken <<x@y>\nTo: ok@x, \"unterminated <u@v>\n\n",
			want{from: "Broken <x@y>", fromAddr: "x@y", to: []string{"ok@x", "unterminated <u@v>"}}},
		{"group syntax", "To: undisclosed-recipients:;\nCc: Team: a@x, b@y;\n\n",
			want{cc: []string{"a@x", "b@y"}}},
		{"name with quote is escaped", "From: \"A \\\"B\\\" C\" <a@x>\n\n",
			want{from: `"A \"B\" C" <a@x>`, fromAddr: "a@x"}},
		{"garbage line inside header skipped", "Subject: s\nthis is not a field\nFrom: a@x\n\nb",
			want{subject: "s", from: "a@x", fromAddr: "a@x", body: "b"}},
		{"header only, no body", "Subject: only", want{subject: "only"}},
		{"unknown transfer encoding body becomes attachment",
			"Content-Type: text/plain\nContent-Transfer-Encoding: x-weird\n\nbody",
			want{attachments: []Attachment{{ContentType: "text/plain", Data: []byte("body")}}}},
		{"bad base64 attachment kept raw",
			"Content-Type: application/pdf\nContent-Transfer-Encoding: base64\n\n!!!notbase64",
			want{attachments: []Attachment{{ContentType: "application/pdf", Data: []byte("!!!notbase64")}}}},
		{"unknown charset body kept", "Content-Type: text/plain; charset=x-unknown\n\nh\xe9",
			want{body: "h\uFFFD"}},
		{"multipart without boundary is an attachment",
			"Content-Type: multipart/mixed\n\nstuff",
			want{attachments: []Attachment{{ContentType: "multipart/mixed", Data: []byte("stuff")}}}},
		{"multipart without close delimiter",
			"Content-Type: multipart/mixed; boundary=b\n\n--b\n\nfirst\n--b\nContent-Type: image/gif; name=x.gif\n\nGIF",
			want{body: "first", attachments: []Attachment{{Filename: "x.gif", ContentType: "image/gif", Data: []byte("GIF")}}}},
		{"malformed part header keeps later parts",
			"Content-Type: multipart/mixed; boundary=b\n\n--b\nbroken header line\nContent-Type: text/plain\n\nhi\n--b\nContent-Disposition: attachment; filename=a.txt\n\nA\n--b--\n",
			want{body: "hi", attachments: []Attachment{{Filename: "a.txt", ContentType: "text/plain", Data: []byte("A")}}}},
		{"boundary prefix of inner boundary",
			"Content-Type: multipart/mixed; boundary=ab\n\n--ab\nContent-Type: multipart/alternative; boundary=abc\n\n--abc\n\ninner\n--abc--\n--ab--\n",
			want{body: "inner"}},
		{"invalid content type defaults to text/plain", "Content-Type: garbage\n\ntext",
			want{body: "text"}},
		{"content type with bad bytes defaults to text/plain", "Content-Type: image/p\xffng; x=\"\n\ntext",
			want{body: "text"}},
		{"inline text with filename is an attachment",
			"Content-Type: multipart/mixed; boundary=b\n\n--b\n\nbody\n--b\nContent-Type: text/plain; name=notes.txt\nContent-Disposition: inline\n\nnotes\n--b--",
			want{body: "body", attachments: []Attachment{{Filename: "notes.txt", ContentType: "text/plain", Data: []byte("notes")}}}},
		{"text/calendar inline is an attachment",
			"Content-Type: multipart/mixed; boundary=b\n\n--b\n\nbody\n--b\nContent-Type: text/calendar; method=REQUEST\n\nBEGIN:VCALENDAR\n--b--",
			want{body: "body", attachments: []Attachment{{ContentType: "text/calendar", Data: []byte("BEGIN:VCALENDAR")}}}},
		{"html body in charset", "Content-Type: text/html; charset=iso-8859-1\n\n<p>caf\xe9</p>",
			want{body: "café", fromHTML: true}},
		{"crlf body becomes lf", "Subject: x\r\n\r\na\r\nb\r\n", want{subject: "x", body: "a\nb\n"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, err := Parse([]byte(tc.raw))
			if err != nil {
				t.Fatal(err)
			}
			check(t, m, tc.want)
		})
	}
}

func TestParseNoHeader(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{"", "\n", "\r\n\r\nbody", "just text\n\nmore", " leading space: x\n\n", "\x00\x01\x02"} {
		if _, err := Parse([]byte(raw)); !errors.Is(err, ErrNoHeader) {
			t.Errorf("Parse(%q) err = %v, want ErrNoHeader", raw, err)
		}
	}
}

// TestParseGarbage: hostile shapes never panic and stay cheap.
func TestParseGarbage(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat("Content-Type: multipart/mixed; boundary=b\n\n--b\n", 200)
	many := "Content-Type: multipart/mixed; boundary=b\n\n" + strings.Repeat("--b\nContent-Type: image/x\n\nx\n", 3000)
	inputs := []string{
		deep,
		many,
		"From: \xff\xfe\nTo: <<<>>>,,,\"\nSubject: =?utf-8?b?####?=\n\n",
		"Content-Type: multipart/mixed; boundary=\"\"\n\n--\n--\n",
		"Content-Type: text/html\n\n<<<<script>>>><table><tr><td><td>",
		"A: b\n" + strings.Repeat(" folded\n", 10000),
	}
	for _, in := range inputs {
		m, err := Parse([]byte(in))
		if err != nil {
			t.Errorf("Parse: %v", err)
			continue
		}
		if len(m.Attachments) > maxParts {
			t.Errorf("%d attachments, limit %d", len(m.Attachments), maxParts)
		}
	}
	m, _ := Parse([]byte(many))
	if len(m.Attachments) != maxParts {
		t.Errorf("many parts: %d attachments, want the %d cap", len(m.Attachments), maxParts)
	}
}
