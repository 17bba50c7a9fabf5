package outbound

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"mime"
	"path"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aimx-dev/aimx/domains"
)

// Format is how a message body was written, as the sent copy records it
// (`outbound_format` in book/storage.md).
type Format string

// The body formats.
const (
	// FormatMarkdown: the body is Markdown, sent as multipart/alternative
	// with the source as text/plain and the rendered HTML.
	FormatMarkdown Format = "markdown"
	// FormatText: the body is sent as text/plain only.
	FormatText Format = "text"
	// FormatHTML: the caller gave the HTML part; the body is the text part.
	FormatHTML Format = "html"
)

// Attachment is one file sent with a message: its bytes, never a path the
// daemon would open (book/security.md).
type Attachment struct {
	// Filename is shown to the recipient; only its last path element is
	// used.
	Filename string
	// ContentType is a MIME type; application/octet-stream when empty.
	ContentType string
	Data        []byte
}

// Request is one message to compose.
type Request struct {
	From Address
	// To, Cc and Bcc are all delivered; Bcc never appears in the header.
	To, Cc, Bcc []Address
	// ReplyTo, when set, is written as the Reply-To field.
	ReplyTo []Address
	Subject string
	// Body is the Markdown source by default, the whole text with TextOnly,
	// and the text/plain alternative of HTMLBody.
	Body     string
	TextOnly bool
	// HTMLBody is the HTML part as given. When Body is empty, the text part
	// is converted from it.
	HTMLBody    string
	Attachments []Attachment
	// InReplyTo and References thread the message (RFC 5322 3.6.4); ids
	// with or without angle brackets.
	InReplyTo  string
	References []string
	// Signature is plain text appended to the body after a "-- " line
	// (RFC 3676 4.3); empty for none.
	Signature string
	// AutoSubmitted, when set, is written as the Auto-Submitted field
	// (RFC 3834 5): "auto-replied" for a send a hook triggered,
	// "auto-generated" for a report, "no" to say a person wrote it.
	AutoSubmitted string
}

// Format is the body format the request asks for.
func (r *Request) Format() Format {
	switch {
	case r.TextOnly:
		return FormatText
	case r.HTMLBody != "":
		return FormatHTML
	}
	return FormatMarkdown
}

// Limits caps what one request may hold. A zero field takes its default.
type Limits struct {
	// MaxBodyBytes caps Body and HTMLBody each (default 5 MiB).
	MaxBodyBytes int
	// MaxMessageBytes caps the composed message (default 26214400, the
	// `[smtp] max_message_bytes` default).
	MaxMessageBytes int
	// MaxRecipients caps To, Cc and Bcc together, after removing
	// duplicates (default 100).
	MaxRecipients int
	// MaxAttachments caps the number of attachments (default 100).
	MaxAttachments int
	// MaxAttachmentBytes caps each attachment's size before encoding
	// (default: no cap beyond MaxMessageBytes).
	MaxAttachmentBytes int
}

// Default caps (book/sending.md, "Limits").
const (
	DefaultMaxBodyBytes    = 5 << 20
	DefaultMaxMessageBytes = domains.DefaultMaxMessageBytes
	DefaultMaxRecipients   = 100
	DefaultMaxAttachments  = 100
)

func (l Limits) withDefaults() Limits {
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if l.MaxMessageBytes <= 0 {
		l.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if l.MaxRecipients <= 0 {
		l.MaxRecipients = DefaultMaxRecipients
	}
	if l.MaxAttachments <= 0 {
		l.MaxAttachments = DefaultMaxAttachments
	}
	if l.MaxAttachmentBytes <= 0 {
		l.MaxAttachmentBytes = l.MaxMessageBytes
	}
	return l
}

// Composer composes messages with injected time and randomness. The zero
// value uses the system clock and crypto/rand. It is safe for concurrent
// use when Rand and MessageID are.
type Composer struct {
	// Now is the clock for the Date field (time.Now when nil).
	Now func() time.Time
	// Rand supplies MIME boundaries and, without MessageID, the random part
	// of Message-IDs (crypto/rand when nil).
	Rand io.Reader
	// MessageID returns a new id, without angle brackets, for a message
	// from domain (`random@domain` from Rand when nil).
	MessageID func(domain string) (string, error)
	Limits    Limits
}

// Composed is a composed, unsigned message and what the queue and the sent
// copy need to know about it.
type Composed struct {
	// Raw is the whole message with CRLF line endings.
	Raw []byte
	// MessageID is the Message-ID without angle brackets.
	MessageID string
	// From is the envelope sender (the From address).
	From string
	// Recipients are the envelope recipients: To, Cc and Bcc in that order,
	// duplicates removed (compared case-insensitively).
	Recipients []string
	// To, Cc and ReplyTo render the header recipients as `Name <addr>`,
	// for the sent copy's frontmatter.
	To, Cc, ReplyTo []string
	Subject         string
	Date            time.Time
	Format          Format
	InReplyTo       string
	References      []string
}

// Compose composes req with the system clock and crypto/rand.
func Compose(req Request) (*Composed, error) {
	return (&Composer{}).Compose(req)
}

// Compose checks req and renders it as one MIME message (RFC 5322,
// RFC 2045-2049): multipart/alternative for Markdown and HTML bodies,
// inside multipart/mixed when there are attachments.
func (c *Composer) Compose(req Request) (*Composed, error) {
	lim := c.Limits.withDefaults()
	random := c.Rand
	if random == nil {
		random = rand.Reader
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	out := &Composed{Subject: req.Subject, Format: req.Format()}

	if err := req.From.check(); err != nil {
		return nil, fieldErr("from", err)
	}
	out.From = req.From.Addr
	if err := checkHeaderText(req.Subject); err != nil {
		return nil, fieldErr("subject", err)
	}
	if req.TextOnly && req.HTMLBody != "" {
		return nil, fieldErr("html_body", fmt.Errorf("text_only and html_body exclude each other: %w", ErrInvalid))
	}
	seen := map[string]bool{}
	for _, list := range []struct {
		field string
		addrs []Address
		shown *[]string
	}{{"to", req.To, &out.To}, {"cc", req.Cc, &out.Cc}, {"bcc", req.Bcc, nil}, {"reply_to", req.ReplyTo, &out.ReplyTo}} {
		for _, a := range list.addrs {
			if err := a.check(); err != nil {
				return nil, fieldErr(list.field, err)
			}
			if list.shown != nil {
				*list.shown = append(*list.shown, a.String())
			}
			if list.field != "reply_to" && !seen[a.key()] {
				seen[a.key()] = true
				out.Recipients = append(out.Recipients, a.Addr)
			}
		}
	}
	switch {
	case len(out.Recipients) == 0:
		return nil, fieldErr("to", ErrNoRecipients)
	case len(out.Recipients) > lim.MaxRecipients:
		return nil, fieldErr("to", fmt.Errorf("%w: %d, at most %d", ErrTooManyRecipients, len(out.Recipients), lim.MaxRecipients))
	}
	if err := checkBody("body", req.Body, lim); err != nil {
		return nil, err
	}
	if err := checkBody("html_body", req.HTMLBody, lim); err != nil {
		return nil, err
	}
	if err := checkBody("signature", req.Signature, lim); err != nil {
		return nil, err
	}
	if req.InReplyTo != "" {
		id, err := cleanID("in_reply_to", req.InReplyTo)
		if err != nil {
			return nil, err
		}
		out.InReplyTo = id
	}
	for _, r := range req.References {
		id, err := cleanID("references", r)
		if err != nil {
			return nil, err
		}
		out.References = append(out.References, id)
	}
	atts, err := checkAttachments(req.Attachments, lim)
	if err != nil {
		return nil, err
	}

	newID := c.MessageID
	if newID == nil {
		newID = func(domain string) (string, error) {
			tok, err := randomToken(random, 20)
			if err != nil {
				return "", err
			}
			return tok + "@" + domain, nil
		}
	}
	id, err := newID(req.From.domain())
	if err != nil {
		return nil, fmt.Errorf("compose: new message id: %w", err)
	}
	if out.MessageID, err = cleanID("message_id", id); err != nil {
		return nil, fmt.Errorf("compose: generated message id: %w", err)
	}
	out.Date = now()

	var buf bytes.Buffer
	if err := writeHeader(&buf, &req, out); err != nil {
		return nil, err
	}
	mw := &mimeWriter{rand: random}
	if err := mw.body(&buf, &req, atts); err != nil {
		return nil, err
	}
	if buf.Len() > lim.MaxMessageBytes {
		return nil, fieldErr("attachments", fmt.Errorf("message is %d bytes, at most %d: %w", buf.Len(), lim.MaxMessageBytes, ErrTooLarge))
	}
	out.Raw = buf.Bytes()
	return out, nil
}

// checkBody refuses a body over the cap or not valid UTF-8 (it is sent as
// charset=utf-8).
func checkBody(field, s string, lim Limits) error {
	if len(s) > lim.MaxBodyBytes {
		return fieldErr(field, fmt.Errorf("%d bytes, at most %d: %w", len(s), lim.MaxBodyBytes, ErrTooLarge))
	}
	if !utf8.ValidString(s) {
		return fieldErr(field, fmt.Errorf("not valid UTF-8: %w", ErrInvalid))
	}
	return nil
}

// checkAttachments validates names, types and sizes, and returns the
// attachments with their effective name and type.
func checkAttachments(in []Attachment, lim Limits) ([]Attachment, error) {
	if len(in) > lim.MaxAttachments {
		return nil, fieldErr("attachments", fmt.Errorf("%d attachments, at most %d: %w", len(in), lim.MaxAttachments, ErrTooLarge))
	}
	out := make([]Attachment, 0, len(in))
	total := 0
	for i, a := range in {
		field := fmt.Sprintf("attachments[%d]", i)
		if err := checkHeaderText(a.Filename); err != nil {
			return nil, fieldErr(field+".filename", err)
		}
		name := path.Base(strings.ReplaceAll(a.Filename, `\`, "/"))
		if name == "." || name == "/" || name == ".." {
			name = ""
		}
		if name == "" {
			name = fmt.Sprintf("attachment-%d", i+1)
		}
		ct := strings.TrimSpace(a.ContentType)
		if ct == "" {
			ct = "application/octet-stream"
		}
		if err := checkHeaderText(ct); err != nil {
			return nil, fieldErr(field+".content_type", err)
		}
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || !strings.Contains(mt, "/") || strings.HasPrefix(mt, "multipart/") || strings.HasPrefix(mt, "message/") {
			return nil, fieldErr(field+".content_type", fmt.Errorf("%q is not a type/subtype for a file: %w", ct, ErrInvalid))
		}
		if len(a.Data) > lim.MaxAttachmentBytes {
			return nil, fieldErr(field, fmt.Errorf("%d bytes, at most %d: %w", len(a.Data), lim.MaxAttachmentBytes, ErrTooLarge))
		}
		// Base64 grows the data by 4/3 plus line breaks: refuse early
		// what cannot fit, before encoding it.
		total += len(a.Data) / 57 * 78
		if total > lim.MaxMessageBytes {
			return nil, fieldErr("attachments", fmt.Errorf("encoded attachments exceed %d bytes: %w", lim.MaxMessageBytes, ErrTooLarge))
		}
		out = append(out, Attachment{Filename: name, ContentType: mt, Data: a.Data})
	}
	return out, nil
}

// writeHeader writes the top-level fields in a fixed order, except the
// MIME fields, which the MIME writer adds.
func writeHeader(buf *bytes.Buffer, req *Request, out *Composed) error {
	type field struct{ name, value string }
	addrList := func(list []Address) string {
		parts := make([]string, len(list))
		for i, a := range list {
			parts[i] = a.header()
		}
		return strings.Join(parts, ", ")
	}
	fields := []field{
		{"From", req.From.header()},
	}
	if len(req.To) > 0 {
		fields = append(fields, field{"To", addrList(req.To)})
	}
	if len(req.Cc) > 0 {
		fields = append(fields, field{"Cc", addrList(req.Cc)})
	}
	if len(req.ReplyTo) > 0 {
		fields = append(fields, field{"Reply-To", addrList(req.ReplyTo)})
	}
	fields = append(fields,
		field{"Subject", encodeText(req.Subject)},
		field{"Date", formatDate(out.Date)},
		field{"Message-ID", "<" + out.MessageID + ">"},
	)
	if out.InReplyTo != "" {
		fields = append(fields, field{"In-Reply-To", "<" + out.InReplyTo + ">"})
	}
	if len(out.References) > 0 {
		fields = append(fields, field{"References", joinIDs(out.References)})
	}
	switch req.AutoSubmitted {
	case "":
	case "no", "auto-replied", "auto-generated":
		fields = append(fields, field{"Auto-Submitted", req.AutoSubmitted})
	default:
		return fieldErr("auto_submitted", fmt.Errorf("%w: %q is not no, auto-replied or auto-generated (RFC 3834 5)", ErrInvalid, req.AutoSubmitted))
	}
	for _, f := range fields {
		s, err := foldField(f.name, f.value)
		if err != nil {
			return fieldErr(strings.ToLower(f.name), err)
		}
		buf.WriteString(s)
	}
	return nil
}
