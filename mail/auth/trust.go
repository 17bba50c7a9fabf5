package auth

import (
	"github.com/emersion/go-msgauth/dmarc"

	"github.com/aimx-dev/aimx/storage"
)

// Trust modes (book/configuration.md `trust`).
const (
	TrustModeNone     = "none"
	TrustModeVerified = "verified"
)

// Trust verdicts: the frontmatter values of book/storage.md `trusted`,
// which storage owns.
const (
	TrustedNone  = storage.TrustedNone
	TrustedTrue  = storage.TrustedTrue
	TrustedFalse = storage.TrustedFalse
)

// Trust decides a message's `trusted` value for a mailbox (book/verification.md).
//
// Mode "none" (or empty, the default) gives "none". Mode "verified" gives
// "true" only when the sender's bare From address matched the effective
// trusted_senders (senderAllowlisted, decided by the config package) AND
// the From is authenticated: DMARC passed, or a DKIM signature passed with
// a d= aligned (same organizational domain) to the From domain. Otherwise
// "false": a valid signature from an unrelated domain never makes a forged
// From trusted. An unknown mode fails closed with "false".
func Trust(mode string, senderAllowlisted bool, r Result) string {
	switch mode {
	case "", TrustModeNone:
		return TrustedNone
	case TrustModeVerified:
	default:
		return TrustedFalse
	}
	if !senderAllowlisted || r.FromDomain == "" {
		return TrustedFalse
	}
	if r.DMARC == Pass {
		return TrustedTrue
	}
	for _, d := range r.DKIMDomains {
		if aligned(dmarc.AlignmentRelaxed, d, r.FromDomain) {
			return TrustedTrue
		}
	}
	return TrustedFalse
}
