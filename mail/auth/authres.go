package auth

import (
	"strings"

	"github.com/emersion/go-msgauth/authres"
)

// AuthenticationResults renders the value of an Authentication-Results
// header field (RFC 8601) for authservID (our SMTP hostname): one dkim=
// per signature (or one dkim=none/temperror), spf= with smtp.mailfrom and
// smtp.helo, and dmarc= with header.from. Values that came from the
// network are reduced to printable ASCII without spaces, so a hostile d=
// or HELO cannot break the header.
func (r Result) AuthenticationResults(authservID string) string {
	var results []authres.Result
	if len(r.Signatures) == 0 {
		results = append(results, &authres.DKIMResult{Value: authres.ResultValue(r.DKIM)})
	}
	for _, s := range r.Signatures {
		results = append(results, &authres.DKIMResult{
			Value:      authres.ResultValue(s.Result),
			Domain:     clean(s.Domain),
			Identifier: clean(s.Identifier),
		})
	}
	spf := &authres.SPFResult{Value: authres.ResultValue(r.SPF), Helo: clean(r.Helo)}
	if r.MailFrom != "" {
		spf.From = clean(r.MailFrom)
	}
	results = append(results,
		spf,
		&authres.DMARCResult{Value: authres.ResultValue(r.DMARC), From: clean(r.FromDomain)},
	)
	s := authres.Format(clean(authservID), results)
	// authres.Format leaves a space before ";" after a result without
	// parameters, and one at the end.
	return strings.TrimRight(strings.ReplaceAll(s, " ;", ";"), " ")
}

// clean keeps the printable ASCII of s, minus space and the characters that
// delimit Authentication-Results syntax.
func clean(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == ';' || c == '(' || c == ')' || c == '"' || c == '\\' {
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
