package dkimkey

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/aimx-dev/aimx/internal/dnsresolver"
)

// Published is how a domain's DKIM record in DNS compares with its local
// key (book/multi-domain.md, "DKIM keys").
type Published string

// The published states.
const (
	// PublishedMatch: the record's p= is the local public key.
	PublishedMatch Published = "match"
	// PublishedMissing: no DKIM record at the selector (NXDOMAIN, no TXT,
	// or a TXT without p=).
	PublishedMissing Published = "missing"
	// PublishedMismatch: a record exists with another key: receivers will
	// fail every signature until it is updated.
	PublishedMismatch Published = "mismatch"
	// PublishedUnknown: the lookup failed (timeout, SERVFAIL).
	PublishedUnknown Published = "unknown"
)

// CheckPublished looks up `<selector>._domainkey.<domain>` with lookupTXT
// (aimx's resolver, or net.Resolver's) and compares its p= tag with pub (RFC 6376 3.6.1). detail says what was
// found, for a log line.
func CheckPublished(ctx context.Context, lookupTXT func(ctx context.Context, name string) ([]string, error),
	domain, selector string, pub crypto.PublicKey) (state Published, detail string) {
	name, want, err := TXTRecord(domain, selector, pub)
	if err != nil {
		return PublishedUnknown, err.Error()
	}
	txts, err := lookupTXT(ctx, name)
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, dnsresolver.ErrNotFound), errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return PublishedMissing, "no TXT record at " + name
	case err != nil:
		return PublishedUnknown, fmt.Sprintf("looking up %s: %v", name, err)
	}
	wantP := tagValue(want, "p")
	for _, t := range txts {
		if !strings.HasPrefix(strings.TrimSpace(t), "v=DKIM1") && tagValue(t, "p") == "" {
			continue
		}
		got := tagValue(t, "p")
		if got == wantP {
			return PublishedMatch, name + " matches the local key"
		}
		return PublishedMismatch, fmt.Sprintf("%s publishes another key (p=%.16s...), the local key is p=%.16s...", name, got, wantP)
	}
	return PublishedMissing, "no DKIM record (v=DKIM1 with p=) at " + name
}

// tagValue returns a tag's value in a DKIM tag list, whitespace removed
// (RFC 6376 3.2).
func tagValue(list, tag string) string {
	for _, part := range strings.Split(list, ";") {
		k, v, ok := strings.Cut(part, "=")
		if ok && strings.TrimSpace(k) == tag {
			return strings.Join(strings.Fields(v), "")
		}
	}
	return ""
}
