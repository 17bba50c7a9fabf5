package dsn

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ErrNotDSN is returned by Parse for a message that is not a delivery
// status notification: no message/delivery-status part (RFC 3464 2.1) in a
// multipart, or one without any per-recipient fields (RFC 3464 2.3).
var ErrNotDSN = errors.New("dsn: not a delivery status notification")

// ErrTooLarge is returned (wrapped) by Parse for input longer than its
// maxBytes.
var ErrTooLarge = errors.New("dsn: message too large")

// maxValue caps every string Parse returns, in bytes.
const maxValue = 1000

// IsReport reports whether a Content-Type header value is multipart/report
// with report-type=delivery-status (RFC 6522 3, RFC 3464 2): type and
// parameter names compare case-insensitively, parameters may come in any
// order, quoted or not.
func IsReport(contentType string) bool {
	mt, params := mediaType(contentType)
	return mt == "multipart/report" && strings.EqualFold(strings.TrimSpace(params["report-type"]), "delivery-status")
}

// Report is a parsed delivery status notification (RFC 3464 2.2 and 2.3).
type Report struct {
	// ReportingMTA is the Reporting-MTA value without its type prefix
	// ("dns; mx.example.com" gives "mx.example.com"; RFC 3464 2.2.2).
	ReportingMTA string
	// OriginalEnvelopeID is the ENVID of the reported transaction
	// (RFC 3464 2.2.1; RFC 3461 4.4).
	OriginalEnvelopeID string
	// ArrivalDate is when the reporting MTA received the message
	// (RFC 3464 2.2.5); zero when absent or unparseable.
	ArrivalDate time.Time
	// OriginalMessageID is the Message-ID, without <>, of the message the
	// report is about, read from the returned message/rfc822 or header part
	// (text/rfc822-headers, message/rfc822-headers, message/global-headers;
	// RFC 6522 3, RFC 6533 6); "" when none is returned.
	OriginalMessageID string
	// Recipients holds one entry per per-recipient field group, in order.
	Recipients []Recipient
}

// Recipient is one per-recipient field group (RFC 3464 2.3).
type Recipient struct {
	// FinalRecipient is the bare address of Final-Recipient (RFC 3464
	// 2.3.2): the "rfc822;" type and angle brackets removed, the domain
	// lowercased. When the field is missing, Original-Recipient is used.
	FinalRecipient string
	// OriginalRecipient is the bare address of Original-Recipient
	// (RFC 3464 2.3.1), "" when absent.
	OriginalRecipient string
	// Action is the lowercased Action (RFC 3464 2.3.3): failed, delayed,
	// delivered, relayed or expanded. When the field is missing it is
	// inferred from a 5.x.x (failed) or 4.x.x (delayed) status.
	Action string
	// Status is the RFC 3463 enhanced status code, such as "5.1.1"
	// (RFC 3464 2.3.4). When the field is missing it is taken from an
	// enhanced code in the diagnostic.
	Status string
	// DiagnosticCode is the Diagnostic-Code (RFC 3464 2.3.6) without its
	// type prefix ("smtp;"), unfolded, control characters removed, invalid
	// UTF-8 replaced and capped at 1000 bytes.
	DiagnosticCode string
	// RemoteMTA is the Remote-MTA host (RFC 3464 2.3.5) without its type.
	RemoteMTA string
}

// Failed reports whether the recipient's Action is "failed": the message
// was not and will not be delivered to it (RFC 3464 2.3.3).
func (r Recipient) Failed() bool { return r.Action == "failed" }

// Parse reads one whole message (RFC 5322 header and body, CRLF or LF line
// endings) and returns its delivery status report. It reads at most
// maxBytes and refuses longer input with an error wrapping ErrTooLarge. It
// returns an error wrapping ErrNotDSN when the message carries no
// delivery-status report. Real-world variations are tolerated: lowercase
// field names, folded fields, extra or missing blank lines between field
// groups, addresses without a type prefix, a base64 or quoted-printable
// status part, a report nested in multipart/mixed, and 8-bit text. It never
// panics.
func Parse(r io.Reader, maxBytes int64) (*Report, error) {
	if maxBytes <= 0 {
		return nil, fmt.Errorf("dsn: parse: maxBytes must be positive, got %d", maxBytes)
	}
	limit := maxBytes
	if limit < math.MaxInt64 {
		limit++
	}
	raw, err := io.ReadAll(io.LimitReader(r, limit))
	if err != nil {
		return nil, fmt.Errorf("dsn: reading message: %w", err)
	}
	if int64(len(raw)) > maxBytes {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, maxBytes)
	}
	head, body := splitHead(raw)
	f, ok := walk(parseFields(head), body, 0)
	if !ok {
		return nil, fmt.Errorf("%w: no message/delivery-status part", ErrNotDSN)
	}
	rep := parseStatus(f.status)
	if len(rep.Recipients) == 0 {
		return nil, fmt.Errorf("%w: no per-recipient fields", ErrNotDSN)
	}
	rep.OriginalMessageID = returnedMessageID(f.returned)
	return rep, nil
}

// returnedMessageID reads the Message-ID from the header of a returned
// message or header block.
func returnedMessageID(b []byte) string {
	if b == nil {
		return ""
	}
	head, _ := splitHead(bytes.TrimLeft(b, "\r\n"))
	return msgID(get(parseFields(head), "Message-ID"))
}

// msgID returns the first msg-id of v without its angle brackets (RFC 5322
// 3.6.4), or its first word when it has no brackets.
func msgID(v string) string {
	if i := strings.IndexByte(v, '<'); i >= 0 {
		v = v[i+1:]
		if j := strings.IndexByte(v, '>'); j >= 0 {
			v = v[:j]
		}
	}
	v = clean(v)
	if i := strings.IndexByte(v, ' '); i >= 0 {
		v = v[:i]
	}
	return v
}

// splitGroups splits a delivery-status body into its field groups at blank
// lines (RFC 3464 2.1); a line holding only white space counts as blank.
func splitGroups(b []byte) [][]field {
	var groups [][]field
	start, pos := 0, 0
	lines(b, func(line []byte, next int) bool {
		if len(bytes.TrimSpace(line)) == 0 {
			if fs := parseFields(b[start:pos]); len(fs) > 0 {
				groups = append(groups, fs)
			}
			start = next
		}
		pos = next
		return true
	})
	if fs := parseFields(b[start:]); len(fs) > 0 {
		groups = append(groups, fs)
	}
	return groups
}

// parseStatus reads the per-message and per-recipient fields (RFC 3464
// 2.2, 2.3). Fields are assigned by name rather than by group, so a missing
// blank line between the per-message fields and the first recipient, or
// between two recipients, does not lose anything: a recipient address field
// arriving when the current recipient already has one of its kind, or has
// an address and its Action or Status, starts the next recipient. (Exim
// writes Action before Final-Recipient; Postfix writes Final-Recipient,
// then Original-Recipient.)
func parseStatus(b []byte) *Report {
	rep := &Report{}
	var cur *Recipient
	flush := func() {
		if cur == nil {
			return
		}
		if cur.FinalRecipient == "" {
			cur.FinalRecipient = cur.OriginalRecipient
		}
		if cur.FinalRecipient != "" {
			finish(cur)
			rep.Recipients = append(rep.Recipients, *cur)
		}
		cur = nil
	}
	for _, group := range splitGroups(b) {
		flush()
		for _, f := range group {
			v := f.value
			switch strings.ToLower(f.name) {
			case "reporting-mta":
				setOnce(&rep.ReportingMTA, mtaName(v))
			case "original-envelope-id":
				setOnce(&rep.OriginalEnvelopeID, clean(v))
			case "arrival-date":
				if rep.ArrivalDate.IsZero() {
					rep.ArrivalDate = parseDate(v)
				}
			case "final-recipient":
				if cur != nil && (cur.FinalRecipient != "" || cur.done()) {
					flush()
				}
				if cur == nil {
					cur = &Recipient{}
				}
				cur.FinalRecipient = address(v)
			case "original-recipient":
				if cur != nil && (cur.OriginalRecipient != "" || cur.done()) {
					flush()
				}
				if cur == nil {
					cur = &Recipient{}
				}
				cur.OriginalRecipient = address(v)
			case "action", "status", "diagnostic-code", "remote-mta":
				if cur == nil {
					cur = &Recipient{}
				}
				setRecipientField(cur, strings.ToLower(f.name), v)
			}
		}
	}
	flush()
	return rep
}

// done reports whether the recipient has an address and its Action or
// Status: a further address field belongs to the next recipient.
func (r *Recipient) done() bool {
	return (r.FinalRecipient != "" || r.OriginalRecipient != "") && (r.Action != "" || r.Status != "")
}

// setRecipientField stores one of the per-recipient fields that are not
// addresses; the first occurrence wins.
func setRecipientField(r *Recipient, name, v string) {
	switch name {
	case "action":
		a, _, _ := strings.Cut(clean(v), " ")
		setOnce(&r.Action, strings.ToLower(strings.TrimRight(a, ";,.")))
	case "status":
		setOnce(&r.Status, statusCode(v))
	case "diagnostic-code":
		setOnce(&r.DiagnosticCode, clean(stripType(v)))
	case "remote-mta":
		setOnce(&r.RemoteMTA, mtaName(v))
	}
}

// finish fills what a sloppy report left out: the status from an enhanced
// code in the diagnostic, the action from the status class (RFC 3463 3.1:
// 4 is a persistent transient failure, 5 a permanent one).
func finish(r *Recipient) {
	if r.Status == "" {
		r.Status = statusCode(r.DiagnosticCode)
	}
	if r.Action == "" && r.Status != "" {
		switch r.Status[0] {
		case '5':
			r.Action = "failed"
		case '4':
			r.Action = "delayed"
		}
	}
}

func setOnce(dst *string, v string) {
	if *dst == "" {
		*dst = v
	}
}

// statusRE matches an RFC 3463 enhanced status code (3.1: class 2, 4 or 5,
// subject and detail of 1 to 3 digits).
var statusRE = regexp.MustCompile(`(?:^|[^0-9.])([245])\.([0-9]{1,3})\.([0-9]{1,3})(?:$|[^0-9])`)

// statusCode returns the first enhanced status code in v, normalized
// ("5.01.1" gives "5.1.1"), or "".
func statusCode(v string) string {
	m := statusRE.FindStringSubmatch(v)
	if m == nil {
		return ""
	}
	subject, _ := strconv.Atoi(m[2])
	detail, _ := strconv.Atoi(m[3])
	return fmt.Sprintf("%s.%d.%d", m[1], subject, detail)
}

// stripType removes the type prefix of an address, MTA name or diagnostic
// ("rfc822;", "dns;", "smtp;", "X-Postfix;"; RFC 3464 2.1.2 and 2.3.6).
// Text whose part before the first semicolon is not a single type word is
// returned unchanged, so a diagnostic without a type keeps its semicolons.
func stripType(v string) string {
	typ, rest, ok := strings.Cut(v, ";")
	typ = strings.TrimSpace(typ)
	if !ok || typ == "" || !isLetter(typ[0]) {
		return strings.TrimSpace(v)
	}
	for i := 0; i < len(typ); i++ {
		c := typ[i]
		if !isLetter(c) && (c < '0' || c > '9') && c != '-' && c != '_' && c != '.' {
			return strings.TrimSpace(v)
		}
	}
	return strings.TrimSpace(rest)
}

// mtaName returns the host of a Reporting-MTA or Remote-MTA value (RFC 3464
// 2.2.2, 2.3.5): the "dns;" type removed, and whatever follows the name (a
// comment such as Gmail's "(203.0.113.9, the server for the domain ...)")
// and the root dot dropped.
func mtaName(v string) string {
	v = clean(stripType(v))
	if i := strings.IndexAny(v, " ("); i >= 0 {
		v = v[:i]
	}
	return strings.TrimSuffix(v, ".")
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// address returns the bare address of a recipient field (RFC 3464 2.3.1,
// 2.3.2): the address type removed, the utf-8 type's \x{HEX} escapes
// decoded (RFC 6533 3), angle brackets and comments dropped, the domain
// lowercased.
func address(v string) string {
	typ, _, _ := strings.Cut(v, ";")
	v = stripType(v)
	if strings.EqualFold(strings.TrimSpace(typ), "utf-8") {
		v = unescapeUnitext(v)
	}
	if i := strings.IndexByte(v, '<'); i >= 0 {
		v = v[i+1:]
		if j := strings.IndexByte(v, '>'); j >= 0 {
			v = v[:j]
		}
	}
	v = clean(v)
	if i := strings.IndexByte(v, ' '); i >= 0 {
		v = v[:i]
	}
	if at := strings.LastIndexByte(v, '@'); at >= 0 {
		v = v[:at] + strings.ToLower(v[at:])
	}
	return v
}

// unescapeUnitext decodes the \x{HEXPOINT} escapes of an RFC 6533 3
// utf-8-address; malformed escapes are kept as written.
func unescapeUnitext(v string) string {
	var b strings.Builder
	for {
		i := strings.Index(v, `\x{`)
		if i < 0 {
			b.WriteString(v)
			return b.String()
		}
		b.WriteString(v[:i])
		v = v[i:]
		// A HEXPOINT has at most 6 digits; looking no further keeps this
		// linear on input full of unclosed escapes.
		j := strings.IndexByte(v[:min(len(v), 10)], '}')
		n, err := strconv.ParseUint(v[3:max(j, 3)], 16, 32)
		if j < 0 || err != nil || !utf8.ValidRune(rune(n)) {
			b.WriteString(v[:3])
			v = v[3:]
			continue
		}
		b.WriteRune(rune(n))
		v = v[j+1:]
	}
}

// clean makes a field value safe to hand on: invalid UTF-8 replaced,
// control characters removed (tabs become spaces), runs of white space
// collapsed, trimmed, and capped at maxValue bytes on a rune boundary.
func clean(v string) string {
	v = strings.ToValidUTF8(v, "\uFFFD")
	var b strings.Builder
	space := false
	for _, r := range v {
		switch {
		case r == ' ' || r == '\t' || r == '\n' || r == '\r':
			space = b.Len() > 0
			continue
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	return truncate(b.String(), maxValue)
}

// truncate cuts s to at most n bytes without splitting a rune.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// parseDate parses an RFC 5322 3.3 date-time as RFC 3464 2.2.5 and 2.3.8
// require (net/mail also accepts the obsolete forms and a trailing
// comment such as "(UTC)"); zero when it cannot.
func parseDate(v string) time.Time {
	t, err := mail.ParseDate(strings.TrimSpace(v))
	if err != nil {
		return time.Time{}
	}
	return t
}
