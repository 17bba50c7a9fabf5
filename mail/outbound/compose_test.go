package outbound

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aimx-dev/aimx/mail/message"
)

const sampleMarkdown = `# Quarterly report

Hello **Bob**, the figures are in. See [the dashboard](https://example.com/q3) or https://example.com/raw.

- revenue: up
- costs: ~~flat~~ down

> Quoted from the board: <script>alert(1)</script>

` + "```" + `
total = 4200 # <b>not bold</b>
` + "```" + `

| quarter | amount |
|---------|-------:|
| Q3      | €4,200 |
`

// sampleRequest is the request behind the golden files.
func sampleRequest(format Format, attach bool) Request {
	req := Request{
		From:      Address{Name: "Zoë Sender", Addr: "zoe@a.test"},
		To:        []Address{{Name: "Bob Example", Addr: "bob@b.test"}, {Name: "Second, Recipient", Addr: "second@b.test"}},
		Cc:        []Address{{Addr: "carol@c.test"}},
		Bcc:       []Address{{Addr: "hidden@d.test"}},
		Subject:   "Quarterly report – Q3 Übersicht ✓",
		Body:      sampleMarkdown,
		Signature: "Sent from aimx",
	}
	switch format {
	case FormatText:
		req.TextOnly = true
		req.Body = "Hello Bob,\n\nthe figures are in: €4,200.\nTrailing space here \nand = signs.\n"
	case FormatHTML:
		req.Body = "Hello Bob, the figures are in."
		req.HTMLBody = "<html><body><p>Hello <b>Bob</b>, the figures are in.</p></body></html>"
	}
	if attach {
		req.Attachments = []Attachment{
			{Filename: "q3-figures.csv", ContentType: "text/csv", Data: []byte("quarter,amount\r\nQ3,4200\r\n")},
			{Filename: "Übersicht.png", ContentType: "image/png", Data: []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")},
		}
	}
	return req
}

func TestComposeGolden(t *testing.T) {
	t.Parallel()
	for _, format := range []Format{FormatMarkdown, FormatText, FormatHTML} {
		for _, attach := range []bool{false, true} {
			name := string(format)
			if attach {
				name += "-attachments"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				req := sampleRequest(format, attach)
				if format == FormatMarkdown && attach {
					req.InReplyTo = "<orig@b.test>"
					req.References = []string{"root@b.test", "<orig@b.test>"}
				}
				out, err := testComposer().Compose(req)
				if err != nil {
					t.Fatal(err)
				}
				checkGolden(t, name+".eml", out.Raw)
				if out.Format != format {
					t.Errorf("format %q, want %q", out.Format, format)
				}
				checkStructure(t, out.Raw, format, attach)
			})
		}
	}
}

// checkStructure checks the MIME tree of a golden message independently
// of its bytes.
func checkStructure(t *testing.T, raw []byte, format Format, attach bool) {
	t.Helper()
	if err := message.CheckData(raw); err != nil {
		t.Fatalf("not clean SMTP data: %v", err)
	}
	for i, line := range strings.Split(string(raw), "\r\n") {
		if len(line) > 998 {
			t.Errorf("line %d is %d octets", i+1, len(line))
		}
	}
	parts, types := leaves(t, raw)
	var want []string
	switch {
	case format == FormatText && !attach:
		want = []string{"text/plain"}
	case format == FormatText:
		want = []string{"multipart/mixed", "text/plain", "text/csv", "image/png"}
	case !attach:
		want = []string{"multipart/alternative", "text/plain", "text/html"}
	default:
		want = []string{"multipart/mixed", "multipart/alternative", "text/plain", "text/html", "text/csv", "image/png"}
	}
	if fmt.Sprint(types) != fmt.Sprint(want) {
		t.Fatalf("MIME tree %v, want %v", types, want)
	}
	text := parts[0].body
	if !strings.HasSuffix(text, "\r\n-- \r\nSent from aimx\r\n") {
		t.Errorf("text part does not end with the signature: %q", text)
	}
	if parts[0].params["charset"] != "utf-8" {
		t.Errorf("text charset %q", parts[0].params["charset"])
	}
	if format != FormatText {
		html := parts[1].body
		if !strings.Contains(html, "-- <br>Sent from aimx") {
			t.Errorf("html part lacks the signature: %s", html)
		}
		if format == FormatMarkdown {
			for _, bad := range []string{"<script", "<b>"} {
				if strings.Contains(html, bad) {
					t.Errorf("raw HTML %q rendered into the html part", bad)
				}
			}
			for _, good := range []string{`<strong>Bob</strong>`, `<del>flat</del>`, `<table style=`, `<a href="https://example.com/q3" style=`, `&lt;b&gt;not bold&lt;/b&gt;`, `<h1 style=`} {
				if !strings.Contains(html, good) {
					t.Errorf("html part lacks %q", good)
				}
			}
			if text != strings.ReplaceAll(sampleMarkdown, "\n", "\r\n")+"\r\n-- \r\nSent from aimx\r\n" {
				t.Errorf("text part is not the Markdown source: %q", text)
			}
		}
	}
	if attach {
		n := len(parts)
		csv, png := parts[n-2], parts[n-1]
		if csv.disp != "attachment" || csv.dispParms["filename"] != "q3-figures.csv" || csv.body != "quarter,amount\r\nQ3,4200\r\n" {
			t.Errorf("csv attachment %+v", csv)
		}
		if png.dispParms["filename"] != "Übersicht.png" || png.body != "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" {
			t.Errorf("png attachment %+v", png)
		}
	}
}

func TestComposeHeaders(t *testing.T) {
	t.Parallel()
	c := testComposer()
	c.MessageID = func(domain string) (string, error) { return "fixed." + domain + "@" + domain, nil }
	req := sampleRequest(FormatMarkdown, false)
	req.ReplyTo = []Address{{Addr: "replies@a.test"}}
	out, err := c.Compose(req)
	if err != nil {
		t.Fatal(err)
	}
	head := headerBlock(out.Raw)
	order := []string{"From:", "To:", "Cc:", "Reply-To:", "Subject:", "Date:", "Message-ID:", "MIME-Version:", "Content-Type:"}
	last := -1
	for _, name := range order {
		i := strings.Index(head, "\r\n"+name)
		if strings.HasPrefix(head, name) {
			i = 0
		}
		if i < 0 || i < last {
			t.Fatalf("field %s missing or out of order in\n%s", name, head)
		}
		last = i
	}
	if strings.Contains(string(out.Raw), "hidden@d.test") || strings.Contains(strings.ToLower(head), "bcc") {
		t.Errorf("Bcc leaked into the message:\n%s", head)
	}
	want := []string{"bob@b.test", "second@b.test", "carol@c.test", "hidden@d.test"}
	if fmt.Sprint(out.Recipients) != fmt.Sprint(want) {
		t.Errorf("envelope recipients %v, want %v", out.Recipients, want)
	}
	if out.MessageID != "fixed.a.test@a.test" || !strings.Contains(head, "Message-ID: <fixed.a.test@a.test>\r\n") {
		t.Errorf("message id %q in\n%s", out.MessageID, head)
	}
	if !strings.Contains(head, "Date: Mon, 02 Nov 2026 09:41:07 +0000\r\n") || !strings.Contains(head, "MIME-Version: 1.0\r\n") {
		t.Errorf("Date or MIME-Version wrong:\n%s", head)
	}
	if fmt.Sprint(out.To) != `[Bob Example <bob@b.test> "Second, Recipient" <second@b.test>]` || fmt.Sprint(out.Cc) != "[carol@c.test]" {
		t.Errorf("shown recipients %q %q", out.To, out.Cc)
	}
}

func TestComposeDefaultMessageID(t *testing.T) {
	t.Parallel()
	a, err := testComposer().Compose(sampleRequest(FormatText, false))
	if err != nil {
		t.Fatal(err)
	}
	b, err := (&Composer{}).Compose(sampleRequest(FormatText, false))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{a.MessageID, b.MessageID} {
		local, domain, ok := strings.Cut(id, "@")
		if !ok || domain != "a.test" || len(local) < 26 || strings.Trim(local, idAlphabet) != "" {
			t.Errorf("message id %q is not <random@from-domain>", id)
		}
	}
	if a.MessageID == b.MessageID {
		t.Error("two compositions share a message id")
	}
}

func TestComposeRecipientsDeduplicated(t *testing.T) {
	t.Parallel()
	req := sampleRequest(FormatText, false)
	req.To = []Address{{Addr: "bob@b.test"}}
	req.Cc = []Address{{Addr: "BOB@b.test"}, {Addr: "carol@c.test"}}
	req.Bcc = []Address{{Addr: "carol@c.test"}}
	out, err := testComposer().Compose(req)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(out.Recipients) != "[bob@b.test carol@c.test]" {
		t.Errorf("recipients %v", out.Recipients)
	}
}

// TestComposeRFC2047RoundTrip encodes non-ASCII names, subjects and file
// names and reads them back with the decoder that builds the stored view.
func TestComposeRFC2047RoundTrip(t *testing.T) {
	t.Parallel()
	subjects := []string{
		"Quarterly report – Q3 Übersicht ✓",
		"日本語の件名とても長い件名が続きますので折り返しが必要になるでしょうか、確認します。まだ続きます。",
		"plain ASCII that mentions =?utf-8?q?not_a_word?= literally",
		"Ünïcödé with \"quotes\", commas; and (parens)",
		strings.Repeat("long words ", 30),
	}
	names := []string{"Zoë Sender", "Müller, Hans", `Ann "the boss" O'Neil`, "李小龙", "plain"}
	for i, subject := range subjects {
		req := sampleRequest(FormatMarkdown, true)
		req.Subject = subject
		req.From.Name = names[i]
		req.To = []Address{{Name: names[(i+1)%len(names)], Addr: "bob@b.test"}}
		req.Attachments[0].Filename = "Bericht " + names[i] + ".csv"
		out, err := testComposer().Compose(req)
		if err != nil {
			t.Fatalf("%q: %v", subject, err)
		}
		for _, line := range strings.Split(headerBlock(out.Raw), "\r\n") {
			for j := 0; j < len(line); j++ {
				if line[j] >= 0x80 {
					t.Fatalf("header line not ASCII: %q", line)
				}
			}
		}
		m, err := message.Parse(out.Raw)
		if err != nil {
			t.Fatal(err)
		}
		wantSubject := strings.TrimSpace(subject)
		if m.Subject != wantSubject {
			t.Errorf("subject round trip:\n got %q\nwant %q", m.Subject, wantSubject)
		}
		if got, want := m.From, req.From.String(); got != want {
			t.Errorf("from round trip: got %q, want %q", got, want)
		}
		if len(m.To) != 1 || m.To[0] != req.To[0].String() {
			t.Errorf("to round trip: got %q, want %q", m.To, req.To[0].String())
		}
		if len(m.Attachments) != 2 || m.Attachments[0].Filename != req.Attachments[0].Filename {
			t.Errorf("attachment name round trip: %+v", m.Attachments)
		}
		if m.MessageID != out.MessageID {
			t.Errorf("message id %q, want %q", m.MessageID, out.MessageID)
		}
	}
}

// TestComposeHeaderInjection refuses every header value that would break
// out of its line.
func TestComposeHeaderInjection(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		edit func(r *Request)
	}{
		{"subject CRLF", func(r *Request) { r.Subject = "Hi\r\nBcc: victim@x.test" }},
		{"subject LF", func(r *Request) { r.Subject = "Hi\nX-Evil: 1" }},
		{"subject CR", func(r *Request) { r.Subject = "Hi\rX-Evil: 1" }},
		{"subject NUL", func(r *Request) { r.Subject = "Hi\x00" }},
		{"subject NEL", func(r *Request) { r.Subject = "Hi\u0085there" }},
		{"subject LINE SEPARATOR", func(r *Request) { r.Subject = "Hi\u2028there" }},
		{"from name", func(r *Request) { r.From.Name = "Zoe\r\nBcc: victim@x.test" }},
		{"from address", func(r *Request) { r.From.Addr = "zoe@a.test\r\nBcc: victim@x.test" }},
		{"to name", func(r *Request) { r.To[0].Name = "Bob\nX: y" }},
		{"to address", func(r *Request) { r.To[0].Addr = "bob@b.test\r\nX: y" }},
		{"cc address", func(r *Request) { r.Cc[0].Addr = "carol@c.test\n" }},
		{"bcc address", func(r *Request) { r.Bcc[0].Addr = "hidden@d.test>\r\nRCPT TO:<x@y" }},
		{"reply-to", func(r *Request) { r.ReplyTo = []Address{{Name: "R\r\n", Addr: "r@a.test"}} }},
		{"in-reply-to", func(r *Request) { r.InReplyTo = "<a@b>\r\nX-Evil: 1" }},
		{"references", func(r *Request) { r.References = []string{"a@b", "c@d>\r\nX-Evil: <1"} }},
		{"attachment name", func(r *Request) {
			r.Attachments = []Attachment{{Filename: "a.txt\r\nContent-Type: text/html", Data: []byte("x")}}
		}},
		{"attachment type", func(r *Request) {
			r.Attachments = []Attachment{{Filename: "a.txt", ContentType: "text/plain\r\nX-Evil: 1", Data: []byte("x")}}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := sampleRequest(FormatMarkdown, false)
			tc.edit(&req)
			out, err := testComposer().Compose(req)
			if err == nil {
				t.Fatalf("composed:\n%s", headerBlock(out.Raw))
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is not a FieldError", err)
			}
			if !errors.Is(err, ErrControlChar) && !errors.Is(err, ErrInvalidAddress) && !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v wraps no sentinel", err)
			}
		})
	}
	_, err := testComposer().Compose(func() Request {
		r := sampleRequest(FormatText, false)
		r.Subject = "Hi\r\nBcc: victim@x.test"
		return r
	}())
	if !errors.Is(err, ErrControlChar) || !strings.HasPrefix(err.Error(), "subject: ") {
		t.Errorf("subject error %v does not say what is wrong", err)
	}
}

func TestComposeLimits(t *testing.T) {
	t.Parallel()
	many := make([]Address, 101)
	for i := range many {
		many[i] = Address{Addr: fmt.Sprintf("r%d@b.test", i)}
	}
	cases := []struct {
		name string
		lim  Limits
		edit func(r *Request)
		want error
	}{
		{"no recipients", Limits{}, func(r *Request) { r.To, r.Cc, r.Bcc = nil, nil, nil }, ErrNoRecipients},
		{"101 recipients", Limits{}, func(r *Request) { r.To, r.Cc, r.Bcc = many, nil, nil }, ErrTooManyRecipients},
		{"recipients counted across to, cc and bcc", Limits{MaxRecipients: 3}, func(r *Request) {}, ErrTooManyRecipients},
		{"markdown over 5 MiB", Limits{}, func(r *Request) { r.Body = strings.Repeat("x", 5<<20+1) }, ErrTooLarge},
		{"attachment count", Limits{MaxAttachments: 1}, func(r *Request) {
			r.Attachments = []Attachment{{Filename: "a", Data: []byte("a")}, {Filename: "b", Data: []byte("b")}}
		}, ErrTooLarge},
		{"attachment size", Limits{MaxAttachmentBytes: 10}, func(r *Request) {
			r.Attachments = []Attachment{{Filename: "a", Data: make([]byte, 11)}}
		}, ErrTooLarge},
		{"attachments over the message cap", Limits{MaxMessageBytes: 64 << 10}, func(r *Request) {
			r.Attachments = []Attachment{{Filename: "a", Data: make([]byte, 60<<10)}}
		}, ErrTooLarge},
		{"message over the cap", Limits{MaxMessageBytes: 2 << 10}, func(r *Request) {}, ErrTooLarge},
		{"invalid utf-8 body", Limits{}, func(r *Request) { r.Body = "caf\xe9" }, ErrInvalid},
		{"text_only with html_body", Limits{}, func(r *Request) { r.TextOnly, r.HTMLBody = true, "<p>x</p>" }, ErrInvalid},
		{"bad from", Limits{}, func(r *Request) { r.From.Addr = "not-an-address" }, ErrInvalidAddress},
		{"non-ASCII address", Limits{}, func(r *Request) { r.To[0].Addr = "bøb@b.test" }, ErrInvalidAddress},
		{"bad content type", Limits{}, func(r *Request) {
			r.Attachments = []Attachment{{Filename: "a", ContentType: "multipart/mixed", Data: []byte("a")}}
		}, ErrInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := sampleRequest(FormatMarkdown, false)
			tc.edit(&req)
			c := testComposer()
			c.Limits = tc.lim
			_, err := c.Compose(req)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
		})
	}
	// Exactly at the caps is fine.
	req := sampleRequest(FormatText, false)
	req.To, req.Cc, req.Bcc = many[:100], nil, nil
	if _, err := testComposer().Compose(req); err != nil {
		t.Errorf("100 recipients: %v", err)
	}
}

func TestComposeModes(t *testing.T) {
	t.Parallel()
	t.Run("html without text body converts the html", func(t *testing.T) {
		req := sampleRequest(FormatHTML, false)
		req.Body = ""
		req.Signature = ""
		out, err := testComposer().Compose(req)
		if err != nil {
			t.Fatal(err)
		}
		parts, _ := leaves(t, out.Raw)
		if parts[0].body != "Hello **Bob**, the figures are in.\r\n" {
			t.Errorf("text part %q", parts[0].body)
		}
		if parts[1].body != req.HTMLBody {
			t.Errorf("html part %q, want it as given", parts[1].body)
		}
	})
	t.Run("no signature", func(t *testing.T) {
		req := sampleRequest(FormatText, false)
		req.Signature = ""
		out, err := testComposer().Compose(req)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(out.Raw), "-- ") {
			t.Error("signature separator without a signature")
		}
	})
	t.Run("CRLF body", func(t *testing.T) {
		req := sampleRequest(FormatText, false)
		req.Body = "one\r\ntwo\rthree\n"
		out, err := testComposer().Compose(req)
		if err != nil {
			t.Fatal(err)
		}
		parts, _ := leaves(t, out.Raw)
		if parts[0].body != "one\r\ntwo\r\nthree\r\n\r\n-- \r\nSent from aimx\r\n" {
			t.Errorf("text %q", parts[0].body)
		}
	})
	t.Run("attachment path is reduced to its name", func(t *testing.T) {
		req := sampleRequest(FormatText, false)
		req.Attachments = []Attachment{{Filename: "../../etc/passwd", Data: []byte("x")}, {Filename: `C:\Users\a\b.txt`, Data: []byte("y")}, {Data: []byte("z")}}
		out, err := testComposer().Compose(req)
		if err != nil {
			t.Fatal(err)
		}
		parts, _ := leaves(t, out.Raw)
		var names []string
		for _, p := range parts[1:] {
			names = append(names, p.dispParms["filename"]+"|"+p.mediaType)
		}
		if fmt.Sprint(names) != "[passwd|application/octet-stream b.txt|application/octet-stream attachment-3|application/octet-stream]" {
			t.Errorf("names %v", names)
		}
	})
}

func TestComposeAutoSubmitted(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"", ""}, {"auto-replied", "Auto-Submitted: auto-replied\r\n"}, {"no", "Auto-Submitted: no\r\n"},
	} {
		req := Request{From: Address{Addr: "a@a.test"}, To: []Address{{Addr: "b@b.test"}}, Subject: "s", Body: "b", AutoSubmitted: tc.in}
		c, err := Compose(req)
		if err != nil {
			t.Fatal(err)
		}
		head := string(c.Raw[:bytes.Index(c.Raw, []byte("\r\n\r\n"))+2])
		if got := strings.Contains(head, "Auto-Submitted"); got != (tc.want != "") || (tc.want != "" && !strings.Contains(head, tc.want)) {
			t.Errorf("%q: header\n%s", tc.in, head)
		}
	}
	_, err := Compose(Request{From: Address{Addr: "a@a.test"}, To: []Address{{Addr: "b@b.test"}}, Body: "b", AutoSubmitted: "yes\r\nBcc: x@y.z"})
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad value: %v", err)
	}
}
