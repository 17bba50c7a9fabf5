package message

import (
	"errors"
	"net/mail"
	"strings"
	"time"
)

// ErrNoHeader is returned by Parse for input that has no header field at
// all: nothing in it can be shown as mail.
var ErrNoHeader = errors.New("message has no header fields")

// Message is the decoded view of one mail message: the values the SPEC §4
// frontmatter is built from, plus the body and the attachments. Every
// string is valid UTF-8.
type Message struct {
	// From is the first From mailbox as `Name <addr>` (name RFC 2047-decoded,
	// quoted when it holds specials) or a bare `addr`; "" when absent.
	From string
	// FromAddress is the bare address of From, for trust matching (SPEC §6).
	FromAddress string
	// To, Cc and ReplyTo hold one `Name <addr>` or `addr` per mailbox.
	To, Cc, ReplyTo []string
	// Subject is RFC 2047-decoded and unfolded; "" when absent.
	Subject string
	// Date is the Date header, read leniently (a wrong weekday is accepted);
	// the zero time when absent or unparseable, so the caller falls back to
	// the receipt time (SPEC §4).
	Date time.Time
	// MessageID is the Message-ID without `<>`; "" when absent.
	MessageID string
	// InReplyTo is the first id of In-Reply-To without `<>`.
	InReplyTo string
	// References is the whole References chain in order, `<>` stripped.
	References []string
	// ListID and AutoSubmitted are the raw (unfolded, trimmed) values.
	ListID, AutoSubmitted string
	// Body is the first text/plain part, or failing that the first text/html
	// part converted to Markdown; decoded to UTF-8 with LF line endings.
	Body string
	// BodyFromHTML is true when Body was converted from HTML.
	BodyFromHTML bool
	// Attachments are the parts that are not the body and not text
	// alternatives of it, in document order.
	Attachments []Attachment
	// DedupKey is DedupKey of the raw bytes (SPEC §5), kept for ThreadID.
	DedupKey string
}

// Attachment is one attached part, transfer-decoded but otherwise the bytes
// the sender attached (no charset conversion, even for text).
type Attachment struct {
	// Filename is as the sender gave it (RFC 2231 and 2047 decoded), not
	// sanitized: that is the storage package's job. "" when the part has
	// no name.
	Filename string
	// ContentType is type/subtype, lowercased, without parameters.
	ContentType string
	// Data is the decoded content.
	Data []byte
}

// Parse decodes a raw message (CRLF or LF line endings). It is best effort:
// a header that does not parse keeps its raw value, a part that cannot be
// decoded becomes an attachment of its raw bytes, and Parse fails only when
// raw has no header field at all (ErrNoHeader). It never panics.
func Parse(raw []byte) (*Message, error) {
	h, bodyStart := parseHeader(raw)
	if len(h) == 0 {
		return nil, ErrNoHeader
	}
	m := &Message{
		Subject:       decodeText(h.value("Subject")),
		MessageID:     messageID(h),
		InReplyTo:     firstMsgID(h.value("In-Reply-To")),
		References:    msgIDs(h.value("References")),
		ListID:        validUTF8(h.value("List-Id")),
		AutoSubmitted: validUTF8(h.value("Auto-Submitted")),
		To:            strs(parseAddresses(h.value("To"))),
		Cc:            strs(parseAddresses(h.value("Cc"))),
		ReplyTo:       strs(parseAddresses(h.value("Reply-To"))),
		DedupKey:      dedupKey(h, raw[bodyStart:]),
	}
	if from := parseAddresses(h.value("From")); len(from) > 0 {
		m.From = from[0].String()
		m.FromAddress = from[0].addr
	}
	m.Date = parseDate(h.value("Date"))
	var w walker
	w.walk(h, raw[bodyStart:], 0, "")
	m.fill(w.leaves)
	return m, nil
}

// parseDate reads a Date value leniently (net/mail.ParseDate: the weekday
// is not checked, comments and obsolete zones are accepted). The result
// keeps the header's UTC offset in a fixed zone, never time.Local, so it
// formats the same on every machine. Unparseable is the zero time.
func parseDate(v string) time.Time {
	d, err := mail.ParseDate(v)
	if err != nil {
		return time.Time{}
	}
	if _, off := d.Zone(); off != 0 {
		return d.In(time.FixedZone("", off))
	}
	return d.UTC()
}

// messageID is the Message-ID value without `<>` (SPEC §4), or "" when the
// field is absent or empty. A malformed id is kept as written.
func messageID(h header) string {
	return firstMsgID(h.value("Message-Id"))
}

// fill picks the body and the attachments from the leaves (SPEC §4: the
// body is the text/plain part, or the HTML part converted when there is no
// text part). A leaf is an attachment when its disposition says so, when it
// has a filename, or when it is not text/plain or text/html. Of the
// remaining inline text leaves, the first text/plain one is the body (else
// the first text/html one); the others are alternatives or footers and are
// dropped. A body candidate whose transfer encoding cannot be undone
// becomes an attachment of its raw bytes so nothing the sender sent is lost.
func (m *Message) fill(leaves []leaf) {
	var plain, html *leaf
	for i := range leaves {
		l := &leaves[i]
		textual := l.mediaType == "text/plain" || l.mediaType == "text/html"
		if l.disposition == "attachment" || l.filename != "" || !textual {
			m.attach(l)
			continue
		}
		if _, err := l.text(); err != nil {
			m.Attachments = append(m.Attachments, Attachment{
				Filename: l.filename, ContentType: l.mediaType, Data: l.content,
			})
			continue
		}
		switch {
		case l.mediaType == "text/plain" && plain == nil:
			plain = l
		case l.mediaType == "text/html" && html == nil:
			html = l
		}
	}
	switch {
	case plain != nil:
		m.Body, _ = plain.text()
	case html != nil:
		src, _ := html.text()
		md, err := htmlToMarkdown(src)
		if err != nil {
			md = src
		}
		m.Body = md
		m.BodyFromHTML = true
	}
}

// attach adds an attachment leaf, transfer-decoded when possible and raw
// otherwise.
func (m *Message) attach(l *leaf) {
	data, err := decodeTransfer(l.cte, l.content)
	if err != nil {
		data = l.content
	}
	m.Attachments = append(m.Attachments, Attachment{
		Filename:    strings.TrimSpace(l.filename),
		ContentType: l.mediaType,
		Data:        data,
	})
}
