package message

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strings"
	"time"
)

// ErrNoHeader is returned by Parse for input that has no header field at
// all: nothing in it can be shown as mail.
var ErrNoHeader = errors.New("message has no header fields")

// Message is the decoded view of one mail message: the values the book/storage.md
// frontmatter is built from, plus the body and the attachments. Every
// string is valid UTF-8.
type Message struct {
	// From is the first From mailbox as `Name <addr>` (name RFC 2047-decoded,
	// quoted when it holds specials) or a bare `addr`; "" when absent.
	From string
	// FromAddress is the bare address of From, for trust matching (book/verification.md).
	FromAddress string
	// To, Cc and ReplyTo hold one `Name <addr>` or `addr` per mailbox.
	To, Cc, ReplyTo []string
	// Subject is RFC 2047-decoded and unfolded; "" when absent.
	Subject string
	// Date is the Date header, read leniently (a wrong weekday is accepted);
	// the zero time when absent or unparseable, so the caller falls back to
	// the receipt time (book/storage.md).
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
	// Parse fills it; ParseFrom leaves it empty and fills BodySource.
	Body string
	// BodySource is Body as a Source (nil when there is no body), in the
	// Scratch ParseFrom was given.
	BodySource Source
	// BodyFromHTML is true when Body was converted from HTML.
	BodyFromHTML bool
	// Attachments are the parts that are not the body and not text
	// alternatives of it, in document order.
	Attachments []Attachment
	// DedupKey is DedupKey of the raw bytes (book/smtp.md), kept for ThreadID.
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
	// Data is the decoded content (Parse); nil from ParseFrom.
	Data []byte
	// Content is the decoded content in the Scratch (ParseFrom); nil from
	// Parse.
	Content Source
}

// Parse decodes a raw message (CRLF or LF line endings). It is best effort:
// a header that does not parse keeps its raw value, a part that cannot be
// decoded becomes an attachment of its raw bytes, and Parse fails only when
// raw has no header field at all (ErrNoHeader). It never panics. It is
// ParseFrom in memory, with Body and Attachment.Data filled.
func Parse(raw []byte) (*Message, error) {
	head := HeadOf(raw)
	m, err := ParseFrom(head, bytes.NewReader(raw[head.Len():]), MemScratch{})
	if err != nil {
		return nil, err
	}
	if m.BodySource != nil {
		b, err := readAllSource(m.BodySource)
		if err != nil {
			return nil, err
		}
		m.Body = string(b)
	}
	for i := range m.Attachments {
		a := &m.Attachments[i]
		if a.Data, err = readAllSource(a.Content); err != nil {
			return nil, err
		}
		a.Content = nil
	}
	return m, nil
}

func readAllSource(s Source) ([]byte, error) {
	b := make([]byte, s.Size())
	if _, err := s.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read decoded content: %w", err)
	}
	return b, nil
}

// ParseFrom decodes a message whose header was read with ReadHead and whose
// body is body, without holding the body: the MIME tree is split by
// offsets, and the body text and every attachment are decoded into sc
// (BodySource, Attachment.Content). Only the header, each part's header
// and bounded buffers are in memory (book/parsing.md "Streaming"). It
// fails for a header with no field (ErrNoHeader) and when body or sc
// cannot be read or written.
func ParseFrom(head *Head, body Source, sc Scratch) (*Message, error) {
	h := head.h
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
	}
	key, err := dedupKey(h, io.NewSectionReader(body, 0, body.Size()))
	if err != nil {
		return nil, err
	}
	m.DedupKey = key
	if from := parseAddresses(h.value("From")); len(from) > 0 {
		m.From = from[0].String()
		m.FromAddress = from[0].addr
	}
	m.Date = parseDate(h.value("Date"))
	w := walker{bufSize: splitBufSize}
	if err := w.walk(h, io.NewSectionReader(body, 0, body.Size()), 0, ""); err != nil {
		return nil, fmt.Errorf("parse message: %w", err)
	}
	if err := m.fill(w.leaves, sc); err != nil {
		return nil, fmt.Errorf("parse message: %w", err)
	}
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

// messageID is the Message-ID value without `<>` (book/storage.md), or "" when the
// field is absent or empty. A malformed id is kept as written.
func messageID(h header) string {
	return firstMsgID(h.value("Message-Id"))
}

// fill picks the body and the attachments from the leaves (book/storage.md: the
// body is the text/plain part, or the HTML part converted when there is no
// text part). A leaf is an attachment when its disposition says so, when it
// has a filename, or when it is not text/plain or text/html. Of the
// remaining inline text leaves, the first text/plain one is the body (else
// the first text/html one); the others are alternatives or footers and are
// dropped. A body candidate whose transfer encoding cannot be undone
// becomes an attachment of its raw bytes so nothing the sender sent is lost.
func (m *Message) fill(leaves []leaf, sc Scratch) error {
	var plain, html *leaf
	var plainSrc, htmlSrc Source
	for i := range leaves {
		l := &leaves[i]
		textual := l.mediaType == "text/plain" || l.mediaType == "text/html"
		if l.disposition == "attachment" || l.filename != "" || !textual {
			if err := m.attach(l, sc); err != nil {
				return err
			}
			continue
		}
		pick := (l.mediaType == "text/plain" && plain == nil) || (l.mediaType == "text/html" && html == nil)
		var dec Source
		var err error
		if pick {
			dec, err = l.decoded(sc)
		} else {
			err = decodesCleanly(l)
		}
		if err != nil && !errors.As(err, new(decodeError)) {
			return err
		}
		if err != nil {
			m.Attachments = append(m.Attachments, Attachment{
				Filename: l.filename, ContentType: l.mediaType, Content: l.content,
			})
			continue
		}
		switch {
		case !pick:
		case l.mediaType == "text/plain":
			plain, plainSrc = l, dec
		default:
			html, htmlSrc = l, dec
		}
	}
	switch {
	case plain != nil:
		src, err := plain.text(plainSrc, sc)
		if err != nil {
			return err
		}
		m.BodySource = src
	case html != nil:
		src, err := html.text(htmlSrc, sc)
		if err != nil {
			return err
		}
		m.BodySource, m.BodyFromHTML = src, true
		if src.Size() <= MaxHTMLConvert {
			b, err := readAllSource(src)
			if err != nil {
				return err
			}
			if md, err := htmlToMarkdown(string(b)); err == nil {
				m.BodySource = bytes.NewReader([]byte(md))
			}
		}
	}
	return nil
}

// decodesCleanly reports whether a leaf's transfer encoding can be undone,
// without keeping what it decodes to.
func decodesCleanly(l *leaf) error {
	r, err := transferReader(l.cte, io.NewSectionReader(l.content, 0, l.content.Size()))
	if err != nil {
		return err
	}
	if _, err := io.Copy(io.Discard, r); err != nil {
		return decodeError{fmt.Errorf("decode %q body: %w", l.cte, err)}
	}
	return nil
}

// attach adds an attachment leaf, transfer-decoded when possible and raw
// otherwise.
func (m *Message) attach(l *leaf, sc Scratch) error {
	var content Source = l.content
	if dec, err := l.decoded(sc); err == nil {
		content = dec
	} else if !errors.As(err, new(decodeError)) {
		return err
	}
	m.Attachments = append(m.Attachments, Attachment{
		Filename:    strings.TrimSpace(l.filename),
		ContentType: l.mediaType,
		Content:     content,
	})
	return nil
}
