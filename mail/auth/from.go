package auth

import (
	"bytes"
	"io"
	"mime"
	"net/mail"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// maxHeaderBytes bounds the header scan; a header section longer than this
// is read only that far (SMTP size limits apply before us anyway).
const maxHeaderBytes = 1 << 20

// fromOutcome is the RFC5322.From as DMARC sees it. verdict is "" when
// exactly one usable address was found; otherwise it is the DMARC verdict
// the From forces and reason says why.
type fromOutcome struct {
	addr, domain    string
	verdict, reason string
}

// extractFrom finds the RFC5322.From of a raw message. DMARC needs exactly
// one author address (RFC 7489 6.6.1). Our decisions, documented in
// book/verification.md:
//   - no From field at all: DMARC "none" (there is no author domain whose
//     policy could be looked up);
//   - several From fields, several addresses in one, an empty or
//     unparseable From, or an address without a valid domain: DMARC
//     "permerror" (the author cannot be determined, so nothing aligns and
//     trust is never granted).
func extractFrom(raw []byte) fromOutcome {
	return fromValues(headerValues(raw, "from"))
}

// fromValues is extractFrom on the values of every From field.
func fromValues(values []string) fromOutcome {
	if len(values) == 0 {
		return fromOutcome{verdict: None, reason: "no From header"}
	}
	if len(values) > 1 {
		return fromOutcome{verdict: PermError, reason: "more than one From header"}
	}
	// Display names do not matter here, so an encoded word in any charset
	// is taken as it is rather than failing the whole From.
	p := mail.AddressParser{WordDecoder: &mime.WordDecoder{
		CharsetReader: func(_ string, input io.Reader) (io.Reader, error) { return input, nil },
	}}
	addrs, err := p.ParseList(values[0])
	if err != nil {
		return fromOutcome{verdict: PermError, reason: "unparseable From: " + err.Error()}
	}
	if len(addrs) != 1 {
		return fromOutcome{verdict: PermError, reason: "From must hold exactly one address"}
	}
	addr := addrs[0].Address
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 {
		return fromOutcome{verdict: PermError, reason: "From address has no domain"}
	}
	domain, ok := asciiDomain(addr[at+1:])
	if !ok {
		return fromOutcome{verdict: PermError, reason: "From domain is not a valid domain name"}
	}
	return fromOutcome{addr: addr[:at+1] + domain, domain: domain}
}

// asciiDomain lowercases d, strips a trailing dot and turns an
// internationalized name into its A-labels, as DKIM d= and DNS use them.
func asciiDomain(d string) (string, bool) {
	d = normalizeDomain(d)
	if !isASCII(d) {
		if !utf8.ValidString(d) {
			return "", false
		}
		a, err := idna.Lookup.ToASCII(d)
		if err != nil {
			return "", false
		}
		d = strings.ToLower(a)
	}
	return d, isDomainName(d)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// normalizeDomain lowercases d and strips surrounding space and one
// trailing dot.
func normalizeDomain(d string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
}

// headerValues returns the unfolded values of every header field called
// name (case-insensitive) in the header section of raw, which ends at the
// first empty line. Lines may end in CRLF or LF.
func headerValues(raw []byte, name string) []string {
	if len(raw) > maxHeaderBytes {
		raw = raw[:maxHeaderBytes]
	}
	var (
		out     []string
		current *strings.Builder
	)
	flush := func() {
		if current != nil {
			out = append(out, strings.TrimSpace(current.String()))
			current = nil
		}
	}
	for len(raw) > 0 {
		line := raw
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			raw = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			break // end of the header section
		}
		if line[0] == ' ' || line[0] == '\t' {
			if current != nil {
				current.Write(line) // RFC 5322 2.2.3 unfolding: drop the CRLF only
			}
			continue
		}
		flush()
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			continue // not a field; the DKIM and MIME parsers judge the rest
		}
		if strings.EqualFold(strings.TrimRight(string(line[:colon]), " \t"), name) {
			current = new(strings.Builder)
			current.Write(line[colon+1:])
		}
	}
	flush()
	return out
}
