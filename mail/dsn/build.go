package dsn

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	gomessage "github.com/emersion/go-message"
	gomail "github.com/emersion/go-message/mail"
)

// maxDiagnostic caps the Diagnostic-Code value Build writes, so the field
// stays within the 998-byte line limit of RFC 5322 2.1.1 even unfolded.
const maxDiagnostic = 900

// Failure is one recipient the outbound queue gave up on.
type Failure struct {
	// Recipient is the address as it was given in RCPT TO.
	Recipient string
	// Code is the last SMTP reply code (RFC 5321 4.2), 0 when there was
	// none (a DNS failure, no MX answered).
	Code int
	// Status is the RFC 3463 enhanced status, e.g. {5, 1, 1}. The zero
	// value stands for 5.0.0, or 4.0.0 with a 4xx Code.
	Status [3]int
	// Diagnostic is the last remote reply text or our own reason. It
	// reaches a field of the report, so it must be one line: join the lines
	// of a multi-line reply with spaces.
	Diagnostic string
	// RemoteMTA is the host that answered, "" when none did.
	RemoteMTA string
	// LastAttempt is the time of the last delivery attempt; zero omits it.
	LastAttempt time.Time
}

// BuildRequest describes our own DSN for a message we sent.
type BuildRequest struct {
	// ReportingMTA is our [smtp] hostname (RFC 3464 2.2.2).
	ReportingMTA string
	// From is the report's author, e.g. "Mail Delivery System
	// <MAILER-DAEMON@mx.example.com>".
	From string
	// To is the address of the sending mailbox, which receives the report.
	To string
	// MessageID is the report's own Message-ID, without <>.
	MessageID string
	// Date is the report's Date.
	Date time.Time
	// OriginalMessageID is the Message-ID of the undelivered message,
	// without <>; the report is threaded to it (In-Reply-To, References).
	OriginalMessageID string
	// OriginalSubject is the undelivered message's decoded Subject.
	OriginalSubject string
	// OriginalHeaders is the header block of the message we sent, up to the
	// blank line, returned as text/rfc822-headers (RFC 6522 3). When empty,
	// a minimal block with OriginalMessageID and OriginalSubject is used.
	OriginalHeaders []byte
	// ArrivalDate is when we accepted the message for delivery
	// (RFC 3464 2.2.5); zero omits it.
	ArrivalDate time.Time
	// Failures lists the recipients given up on; at least one.
	Failures []Failure
}

// Build returns the DSN for req with CRLF line endings: a
// multipart/report; report-type=delivery-status (RFC 6522 3) holding a
// text/plain explanation, the message/delivery-status fields (RFC 3464 2.2,
// 2.3; message/global-delivery-status per RFC 6533 6.1 when a value is not
// ASCII) and the original header block as text/rfc822-headers
// (message/global-headers when not ASCII). It is threaded to the original
// and marked Auto-Submitted: auto-replied (RFC 3834 5). A value that would
// reach a header or report field with CR, LF or another control character
// is refused with an error.
func Build(req BuildRequest) ([]byte, error) {
	from, to, err := checkRequest(&req)
	if err != nil {
		return nil, err
	}
	status := statusBody(req)
	orig := originalHeaders(req)
	boundary := newBoundary(req, status, orig)

	// go-message writes header fields in the reverse of the order they
	// are added.
	var h gomail.Header
	h.SetContentType("multipart/report", map[string]string{"report-type": "delivery-status", "boundary": boundary})
	h.Set("MIME-Version", "1.0")
	h.Set("Auto-Submitted", "auto-replied")
	if req.OriginalMessageID != "" {
		h.SetMsgIDList("References", []string{req.OriginalMessageID})
		h.SetMsgIDList("In-Reply-To", []string{req.OriginalMessageID})
	}
	h.SetMessageID(req.MessageID)
	h.SetDate(req.Date)
	subject := req.OriginalSubject
	if subject == "" {
		subject = "(no subject)"
	}
	h.SetSubject("Undelivered mail: " + subject)
	h.SetAddressList("To", []*gomail.Address{to})
	h.SetAddressList("From", []*gomail.Address{from})

	var buf bytes.Buffer
	w, err := gomessage.CreateWriter(&buf, h.Header)
	if err != nil {
		return nil, fmt.Errorf("dsn: build: writing header: %w", err)
	}
	text := humanText(req)
	textCTE := "7bit"
	if !isASCII(text) {
		textCTE = "quoted-printable"
	}
	statusType, statusCTE := "message/delivery-status", "7bit"
	if !isASCII(status) {
		statusType, statusCTE = "message/global-delivery-status", "8bit"
	}
	origType, origCTE := "text/rfc822-headers", "7bit"
	if !isASCII(orig) {
		origType, origCTE = "message/global-headers", "8bit"
	}
	parts := []struct {
		typ    string
		params map[string]string
		cte    string
		body   string
	}{
		{"text/plain", map[string]string{"charset": "utf-8"}, textCTE, text},
		{statusType, nil, statusCTE, status},
		{origType, nil, origCTE, orig},
	}
	for _, p := range parts {
		var ph gomessage.Header
		ph.Set("Content-Transfer-Encoding", p.cte)
		ph.SetContentType(p.typ, p.params)
		pw, err := w.CreatePart(ph)
		if err != nil {
			return nil, fmt.Errorf("dsn: build: %s part: %w", p.typ, err)
		}
		if _, err := pw.Write([]byte(p.body)); err != nil {
			return nil, fmt.Errorf("dsn: build: %s part: %w", p.typ, err)
		}
		if err := pw.Close(); err != nil {
			return nil, fmt.Errorf("dsn: build: %s part: %w", p.typ, err)
		}
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("dsn: build: closing multipart: %w", err)
	}
	return buf.Bytes(), nil
}

// checkRequest refuses a request that cannot make a well-formed report and
// parses its From and To.
func checkRequest(req *BuildRequest) (from, to *gomail.Address, err error) {
	if len(req.Failures) == 0 {
		return nil, nil, fmt.Errorf("dsn: build: no failures to report")
	}
	if req.Date.IsZero() {
		return nil, nil, fmt.Errorf("dsn: build: Date is required")
	}
	checks := []check{
		{"ReportingMTA", req.ReportingMTA, true, true},
		{"From", req.From, true, false},
		{"To", req.To, true, false},
		{"MessageID", req.MessageID, true, true},
		{"OriginalMessageID", req.OriginalMessageID, false, true},
		{"OriginalSubject", req.OriginalSubject, false, false},
	}
	for i, f := range req.Failures {
		name := fmt.Sprintf("Failures[%d]", i)
		checks = append(checks,
			check{name + ".Recipient", f.Recipient, true, true},
			check{name + ".RemoteMTA", f.RemoteMTA, false, true},
			check{name + ".Diagnostic", f.Diagnostic, false, false},
		)
		if f.Code != 0 && (f.Code < 200 || f.Code > 599) {
			return nil, nil, fmt.Errorf("dsn: build: %s.Code %d is not an SMTP reply code", name, f.Code)
		}
		if s := f.Status; s != [3]int{} && (s[0] != 4 && s[0] != 5 || s[1] < 0 || s[1] > 999 || s[2] < 0 || s[2] > 999) {
			return nil, nil, fmt.Errorf("dsn: build: %s.Status %d.%d.%d is not a 4.x.x or 5.x.x enhanced status", name, s[0], s[1], s[2])
		}
	}
	for _, c := range checks {
		if err := c.run(); err != nil {
			return nil, nil, err
		}
	}
	if from, err = gomail.ParseAddress(req.From); err != nil {
		return nil, nil, fmt.Errorf("dsn: build: From %q: %w", req.From, err)
	}
	if to, err = gomail.ParseAddress(req.To); err != nil {
		return nil, nil, fmt.Errorf("dsn: build: To %q: %w", req.To, err)
	}
	return from, to, nil
}

// check is one value of a request bound for a header or report field.
type check struct {
	name     string
	v        string
	required bool
	word     bool // a single token: no white space, no < > or ;
}

// run refuses a value that would break the header or field it is written
// to: invalid UTF-8, CR, LF or another control character (header
// injection), and for single tokens white space and the delimiters < > ;.
func (c check) run() error {
	name, v := c.name, c.v
	if v == "" {
		if c.required {
			return fmt.Errorf("dsn: build: %s is required", name)
		}
		return nil
	}
	if !utf8.ValidString(v) {
		return fmt.Errorf("dsn: build: %s is not valid UTF-8", name)
	}
	for _, r := range v {
		switch {
		case r == '\r' || r == '\n':
			return fmt.Errorf("dsn: build: %s contains a line break (CR or LF), refused to prevent header injection", name)
		case r < 0x20 && r != '\t' || r == 0x7f || r >= 0x80 && r < 0xa0:
			return fmt.Errorf("dsn: build: %s contains control character %U", name, r)
		case c.word && (r == ' ' || r == '\t' || r == '<' || r == '>' || r == ';'):
			return fmt.Errorf("dsn: build: %s %q must be a single word without spaces, <, > or ;", name, v)
		}
	}
	return nil
}

// status returns the failure's enhanced status with the zero value filled
// in from the reply code's class.
func (f Failure) status() string {
	s := f.Status
	if s == [3]int{} {
		s[0] = 5
		if f.Code >= 400 && f.Code < 500 {
			s[0] = 4
		}
	}
	return fmt.Sprintf("%d.%d.%d", s[0], s[1], s[2])
}

// diagnostic returns the Diagnostic-Code value: "smtp; <code> <text>" for
// a remote reply (RFC 3464 2.3.6), "X-aimx; <text>" for our own reason,
// "" when there is neither.
func (f Failure) diagnostic() string {
	text := strings.TrimSpace(f.Diagnostic)
	switch {
	case f.Code != 0:
		return "smtp; " + truncate(strings.TrimSpace(strconv.Itoa(f.Code)+" "+text), maxDiagnostic)
	case text != "":
		return "X-aimx; " + truncate(text, maxDiagnostic)
	}
	return ""
}

// statusBody returns the message/delivery-status body: the per-message
// fields (RFC 3464 2.2), then one group per recipient (RFC 3464 2.3), each
// group after a blank line.
func statusBody(req BuildRequest) string {
	var b strings.Builder
	writeField(&b, "Reporting-MTA", "dns; "+req.ReportingMTA)
	if !req.ArrivalDate.IsZero() {
		writeField(&b, "Arrival-Date", req.ArrivalDate.Format(time.RFC1123Z))
	}
	for _, f := range req.Failures {
		b.WriteString("\r\n")
		typ := "rfc822"
		if !isASCII(f.Recipient) {
			typ = "utf-8" // RFC 6533 3
		}
		writeField(&b, "Final-Recipient", typ+"; "+f.Recipient)
		writeField(&b, "Action", "failed")
		writeField(&b, "Status", f.status())
		if f.RemoteMTA != "" {
			writeField(&b, "Remote-MTA", "dns; "+f.RemoteMTA)
		}
		if d := f.diagnostic(); d != "" {
			writeField(&b, "Diagnostic-Code", d)
		}
		if !f.LastAttempt.IsZero() {
			writeField(&b, "Last-Attempt-Date", f.LastAttempt.Format(time.RFC1123Z))
		}
	}
	return b.String()
}

// writeField writes one field, folded at spaces to keep lines near 78
// characters (RFC 5322 2.2.3); a word is never split.
func writeField(b *strings.Builder, name, value string) {
	line := name + ":"
	for _, word := range strings.Fields(value) {
		if len(line)+1+len(word) > 78 && strings.TrimSpace(line) != name+":" {
			b.WriteString(line + "\r\n")
			line = ""
		}
		line += " " + word
	}
	b.WriteString(line + "\r\n")
}

// originalHeaders returns the header block to return: OriginalHeaders cut
// at its first blank line with CRLF endings, or a minimal block.
func originalHeaders(req BuildRequest) string {
	head, _ := splitHead(req.OriginalHeaders)
	var b strings.Builder
	lines(head, func(line []byte, _ int) bool {
		if len(line) > 0 {
			b.Write(line)
			b.WriteString("\r\n")
		}
		return true
	})
	if b.Len() > 0 {
		return b.String()
	}
	var h gomail.Header
	if req.OriginalSubject != "" {
		h.SetSubject(req.OriginalSubject)
	}
	if req.OriginalMessageID != "" {
		h.SetMessageID(req.OriginalMessageID)
	}
	var out bytes.Buffer
	for fs := h.Fields(); fs.Next(); {
		raw, err := fs.Raw()
		if err == nil {
			out.Write(raw)
		}
	}
	return out.String()
}

// newBoundary returns the multipart boundary (RFC 2046 5.1.1): a digest
// of the DSN's own content, so the same request always builds the same
// bytes (a DSN handed on again after a crash is then recognised by
// intake's dedup, book/sending.md "Bounces"), and no part can contain it
// by chance.
func newBoundary(req BuildRequest, parts ...string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n%d\n", req.MessageID, req.To, req.Date.UnixNano())
	for _, p := range parts {
		fmt.Fprintf(h, "%d\n%s", len(p), p)
	}
	return "=_dsn_" + hex.EncodeToString(h.Sum(nil)[:18])
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
