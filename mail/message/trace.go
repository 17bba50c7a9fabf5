package message

import (
	"bytes"
	"net/netip"
	"strings"
	"time"
)

// StripAuthResults removes every Authentication-Results field in the
// message header whose authserv-id is ours (case-insensitive), with its
// folded continuation lines and line ending, so a sender cannot forge our
// verdicts (RFC 8601 5, book/smtp.md). Every other byte, the body included, is
// returned exactly as it was. Fields in the body (an attached message) are
// never touched. The input is not modified.
func StripAuthResults(raw []byte, authservID string) []byte {
	h, _ := splitHeader(raw)
	var out []byte
	from := 0
	for _, f := range h {
		if !strings.EqualFold(f.name, "Authentication-Results") {
			continue
		}
		if !strings.EqualFold(authservIDOf(raw[f.colon+1:f.end]), authservID) {
			continue
		}
		if out == nil {
			out = make([]byte, 0, len(raw))
		}
		out = append(out, raw[from:f.start]...)
		from = f.end
	}
	if out == nil {
		return raw
	}
	return append(out, raw[from:]...)
}

// authservIDOf returns the authserv-id that starts an Authentication-Results
// value (RFC 8601 2.2): after optional CFWS, a token or quoted string that
// ends at whitespace, ";" or "(".
func authservIDOf(v []byte) string {
	s := skipCFWS(unfold(v))
	if strings.HasPrefix(s, `"`) {
		var b strings.Builder
		for i := 1; i < len(s); i++ {
			switch s[i] {
			case '\\':
				if i+1 < len(s) {
					i++
					b.WriteByte(s[i])
				}
			case '"':
				return b.String()
			default:
				b.WriteByte(s[i])
			}
		}
		return b.String()
	}
	if end := strings.IndexAny(s, " \t;("); end >= 0 {
		return s[:end]
	}
	return s
}

// skipCFWS drops leading whitespace and (nested) comments.
func skipCFWS(s string) string {
	for {
		s = strings.TrimLeft(s, " \t")
		if !strings.HasPrefix(s, "(") {
			return s
		}
		depth := 0
		i := 0
		for ; i < len(s); i++ {
			switch s[i] {
			case '\\':
				i++
			case '(':
				depth++
			case ')':
				depth--
			}
			if depth == 0 {
				break
			}
		}
		if i >= len(s) {
			return ""
		}
		s = s[i+1:]
	}
}

// maxLineWidth is the line length trace fields are folded to
// (RFC 5322 2.1.1 "SHOULD be no more than 78 characters").
const maxLineWidth = 78

// PrependHeaders returns the given header fields, each folded and ending in
// CRLF, followed by raw unchanged. Fields are written in the order given, so
// the newest trace field goes first (RFC 5321 4.4). Any line break already in
// a field is unfolded first. The input is not modified.
func PrependHeaders(raw []byte, fields ...string) []byte {
	var b bytes.Buffer
	for _, f := range fields {
		b.WriteString(Fold(f))
	}
	b.Write(raw)
	return b.Bytes()
}

// Fold lays out one header field ("Name: value") as lines of at most 78
// columns, breaking before whitespace (RFC 5322 2.2.3), and ends it with
// CRLF. A word longer than the line stays whole on a longer line.
func Fold(field string) string {
	field = strings.Join(strings.FieldsFunc(field, func(r rune) bool {
		return r == '\r' || r == '\n'
	}), "")
	field = strings.TrimRight(field, " \t")
	var b strings.Builder
	for len(field) > maxLineWidth {
		cut := foldPoint(field)
		if cut <= 0 {
			break
		}
		b.WriteString(field[:cut])
		b.WriteString("\r\n")
		field = field[cut:]
	}
	b.WriteString(field)
	b.WriteString("\r\n")
	return b.String()
}

// foldPoint is the offset of the last whitespace at or before column 78 that
// is followed by a non-whitespace character and preceded by text; failing
// that, the first such whitespace after it. -1 means the line cannot fold.
func foldPoint(s string) int {
	ok := func(i int) bool {
		return (s[i] == ' ' || s[i] == '\t') && i > 0 && s[i-1] != ' ' && s[i-1] != '\t' &&
			i+1 < len(s) && s[i+1] != ' ' && s[i+1] != '\t' && !strings.HasSuffix(s[:i], ":")
	}
	for i := min(maxLineWidth, len(s)-1); i > 0; i-- {
		if ok(i) {
			return i
		}
	}
	for i := maxLineWidth + 1; i < len(s); i++ {
		if ok(i) {
			return i
		}
	}
	return -1
}

// Received describes one SMTP hop for the Received trace field.
type Received struct {
	// Helo is the client's EHLO/HELO argument. It is sanitised before use:
	// it comes from the network and may hold anything.
	Helo string
	// RemoteIP is the connecting address.
	RemoteIP netip.Addr
	// RemoteHost is a verified reverse-DNS name, "" when unknown (book/smtp.md
	// does no PTR lookup before 250, so usually "").
	RemoteHost string
	// Hostname is our [smtp] hostname.
	Hostname string
	// ESMTP is true after EHLO, false after HELO.
	ESMTP bool
	// TLS is true when the session runs over STARTTLS.
	TLS bool
	// ID is our transaction id, for matching the field to a log line.
	ID string
	// For is the envelope recipient; "" leaves the "for" clause out
	// (a transaction with several recipients should not list them all).
	For string
	// Date is when the message was received.
	Date time.Time
}

// String renders the field, unfolded and without CRLF (PrependHeaders folds
// it), as RFC 5321 4.4 lays it out:
//
//	Received: from <helo> (<rdns> [<ip>]) by <hostname> with ESMTPS id <id> for <rcpt>; <date>
//
// The comment holds the reverse-DNS name when known and always the IP
// literal. The protocol is SMTP, ESMTP or ESMTPS (RFC 3848).
func (r Received) String() string {
	var b strings.Builder
	b.WriteString("Received: from ")
	b.WriteString(sanitizeToken(r.Helo, "unknown"))
	b.WriteString(" (")
	if r.RemoteHost != "" {
		b.WriteString(sanitizeToken(r.RemoteHost, "unknown"))
		b.WriteString(" ")
	}
	b.WriteString("[")
	if r.RemoteIP.IsValid() {
		b.WriteString(r.RemoteIP.Unmap().WithZone("").String())
	} else {
		b.WriteString("unknown")
	}
	b.WriteString("]) by ")
	b.WriteString(sanitizeToken(r.Hostname, "localhost"))
	b.WriteString(" with ")
	switch {
	case r.TLS:
		b.WriteString("ESMTPS")
	case r.ESMTP:
		b.WriteString("ESMTP")
	default:
		b.WriteString("SMTP")
	}
	if r.ID != "" {
		b.WriteString(" id ")
		b.WriteString(sanitizeToken(r.ID, "unknown"))
	}
	if r.For != "" {
		b.WriteString(" for <")
		b.WriteString(sanitizeToken(r.For, ""))
		b.WriteString(">")
	}
	b.WriteString("; ")
	b.WriteString(r.Date.Format(time.RFC1123Z))
	return b.String()
}

// sanitizeToken keeps a network-supplied word from breaking the field: every
// byte outside printable ASCII and every character with a meaning in a
// Received field ("(", ")", ";", "<", ">", quotes, backslash) becomes "_",
// and the result is at most 255 bytes. An empty result is def.
func sanitizeToken(s, def string) string {
	if len(s) > 255 {
		s = s[:255]
	}
	b := []byte(s)
	for i, c := range b {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`();<>"\`, c) >= 0 {
			b[i] = '_'
		}
	}
	if len(b) == 0 {
		return def
	}
	return string(b)
}
