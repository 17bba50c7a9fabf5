package auth

import (
	"context"
	"net"
	"strings"

	"blitiri.com.ar/go/spf"
)

// nullPath normalizes the envelope sender: "<>" and "" are both the null
// reverse-path, returned as "".
func nullPath(mailFrom string) string {
	s := strings.TrimSpace(mailFrom)
	s = strings.TrimPrefix(s, "<")
	s = strings.TrimSuffix(s, ">")
	return s
}

// checkSPF evaluates SPF for the connecting IP against the MAIL FROM
// domain, or against the HELO name only when MAIL FROM is null (book/smtp.md,
// RFC 7208 2.3, 2.4). No PTR lookups are made (spfResolver refuses them).
func (v *Verifier) checkSPF(ctx context.Context, in Input) spfOutcome {
	if in.RemoteIP == nil || in.RemoteIP.To16() == nil {
		return spfOutcome{verdict: None, reason: "no client IP"}
	}
	helo := strings.TrimSuffix(strings.TrimSpace(in.Helo), ".")
	mailFrom := nullPath(in.MailFrom)

	var sender, domain string
	if mailFrom == "" {
		// RFC 7208 2.4: the null reverse-path is checked as
		// postmaster@<HELO>.
		domain = helo
		sender = "postmaster@" + helo
	} else {
		at := strings.LastIndexByte(mailFrom, '@')
		if at < 0 {
			return spfOutcome{verdict: None, reason: "MAIL FROM has no domain"}
		}
		sender, domain = mailFrom, mailFrom[at+1:]
	}
	domain = normalizeDomain(domain)
	if !isDomainName(domain) {
		// RFC 7208 4.3: a malformed or non-FQDN domain is "none"; an
		// address literal HELO has no SPF record.
		return spfOutcome{verdict: None, reason: "no domain to check"}
	}
	res, err := spf.CheckHostWithSender(in.RemoteIP, helo, sender,
		spf.WithContext(ctx), spf.WithResolver(spfResolver{v.resolver}))
	out := spfOutcome{verdict: string(res), domain: domain}
	if err != nil {
		out.reason = err.Error()
	}
	if ctx.Err() != nil && res != spf.Pass {
		// The budget ran out during evaluation: a partial walk of the
		// record proves nothing but a match.
		out.verdict, out.reason = TempError, "verification budget exhausted"
	}
	return out
}

// isDomainName reports whether d (lowercased, no trailing dot) looks like a
// fully qualified DNS name: at least two labels of letters, digits,
// hyphens and underscores, 1-63 bytes each, 253 in all.
func isDomainName(d string) bool {
	if len(d) == 0 || len(d) > 253 || !strings.Contains(d, ".") {
		return false
	}
	if net.ParseIP(d) != nil {
		return false
	}
	for label := range strings.SplitSeq(d, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}
