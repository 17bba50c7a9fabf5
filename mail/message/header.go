package message

import (
	"bytes"
	"mime"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
)

// field is one header field exactly as it sits in the raw message.
type field struct {
	name  string // field name as written, without surrounding whitespace
	value string // unfolded value: line breaks removed, surrounding whitespace trimmed
	start int    // offset of the first byte of the field name
	end   int    // offset just past the field's last line ending (continuations included)
	colon int    // offset of the colon that ends the name
}

// header is the parsed header block of a message or a MIME part.
type header []field

// get returns the unfolded value of the first field called name
// (case-insensitive), and whether there is one.
func (h header) get(name string) (string, bool) {
	for _, f := range h {
		if strings.EqualFold(f.name, name) {
			return f.value, true
		}
	}
	return "", false
}

// value is get without the presence flag.
func (h header) value(name string) string {
	v, _ := h.get(name)
	return v
}

// splitHeader scans the header block at the start of raw: fields up to the
// first empty line (RFC 5322 2.1). Both CRLF and bare LF end a line, because
// files on disk (the fixtures, Rust-era mail) use LF. Lines that cannot be a
// field (no colon, a name with spaces or controls, a continuation line with
// no field before it) are skipped rather than ending the header, so one bad
// line does not lose the fields after it. bodyStart is the offset just past
// the empty line, or len(raw) when the message is all header.
func splitHeader(raw []byte) (h header, bodyStart int) {
	pos := 0
	last := -1 // index in h of the field a continuation line extends; -1 after a skipped line
	for pos < len(raw) {
		next := len(raw)
		if i := bytes.IndexByte(raw[pos:], '\n'); i >= 0 {
			next = pos + i + 1
		}
		line := trimEOL(raw[pos:next])
		if len(line) == 0 {
			return h, next
		}
		switch {
		case line[0] == ' ' || line[0] == '\t':
			if last >= 0 {
				h[last].end = next
			}
		default:
			colon := bytes.IndexByte(line, ':')
			name := ""
			if colon > 0 {
				name = string(bytes.TrimRight(line[:colon], " \t"))
			}
			if !validFieldName(name) {
				last = -1
				break
			}
			h = append(h, field{name: name, start: pos, end: next, colon: pos + colon})
			last = len(h) - 1
		}
		pos = next
	}
	return h, len(raw)
}

// finish fills in the unfolded values once every field's extent is known.
func (h header) finish(raw []byte) header {
	for i := range h {
		h[i].value = unfold(raw[h[i].colon+1 : h[i].end])
	}
	return h
}

// parseHeader is splitHeader followed by value unfolding.
func parseHeader(raw []byte) (header, int) {
	h, body := splitHeader(raw)
	return h.finish(raw), body
}

// trimEOL strips one trailing LF and then one trailing CR.
func trimEOL(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte("\n"))
	return bytes.TrimSuffix(b, []byte("\r"))
}

// validFieldName reports whether s is an RFC 5322 2.2 field name: one or more
// printable US-ASCII characters other than colon.
func validFieldName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 33 || s[i] > 126 {
			return false
		}
	}
	return true
}

// unfold removes the CR and LF bytes of folded lines (RFC 5322 2.2.3: the
// whitespace after them stays) and trims surrounding whitespace. This is
// what this package calls a field's "raw value".
func unfold(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b))
	for _, c := range b {
		if c != '\r' && c != '\n' {
			sb.WriteByte(c)
		}
	}
	return strings.Trim(sb.String(), " \t")
}

// wordDecoder decodes RFC 2047 encoded words in any charset go-message knows.
func wordDecoder() *mime.WordDecoder {
	return &mime.WordDecoder{CharsetReader: charset.Reader}
}

// decodeText decodes RFC 2047 encoded words in an unstructured value. A value
// that does not decode is kept as it was; invalid UTF-8 (raw 8-bit bytes in
// a legacy charset) becomes U+FFFD so every string we hand on is UTF-8.
func decodeText(v string) string {
	if d, err := wordDecoder().DecodeHeader(v); err == nil {
		v = d
	}
	return validUTF8(v)
}

// validUTF8 replaces invalid UTF-8 sequences with U+FFFD.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// msgIDs extracts message identifiers from an In-Reply-To, References or
// Message-ID value, in order, without their angle brackets (RFC 5322 3.6.4).
// It is lenient: ids without "@" are kept, comments and phrases between
// bracketed ids are ignored, and a value with no brackets at all is split on
// whitespace and commas.
func msgIDs(v string) []string {
	var ids []string
	if !strings.Contains(v, "<") {
		for _, s := range strings.FieldsFunc(v, func(r rune) bool {
			return r == ' ' || r == '\t' || r == ','
		}) {
			ids = append(ids, validUTF8(s))
		}
		return ids
	}
	for {
		open := strings.IndexByte(v, '<')
		if open < 0 {
			return ids
		}
		v = v[open+1:]
		end := strings.IndexByte(v, '>')
		if end < 0 {
			end = len(v)
		}
		if id := strings.Trim(v[:end], " \t"); id != "" {
			ids = append(ids, validUTF8(id))
		}
		if end == len(v) {
			return ids
		}
		v = v[end+1:]
	}
}

// firstMsgID is the first id of msgIDs, or "".
func firstMsgID(v string) string {
	if ids := msgIDs(v); len(ids) > 0 {
		return ids[0]
	}
	return ""
}
