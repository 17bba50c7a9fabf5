package auth

import (
	"context"
	"errors"
	"net"
	"strings"

	"github.com/aimx-dev/aimx/internal/dnsresolver"
)

// netError turns a resolver error into the *net.DNSError the third-party
// libraries classify by type assertion: go-msgauth checks net.Error's
// Temporary() and IsNotFound; blitiri spf checks *net.DNSError. Anything
// that is not "not found" is temporary, a deadline included, so the
// verification budget yields temperror.
func netError(name string, err error) error {
	if err == nil {
		return nil
	}
	if dnsresolver.IsNotFound(err) {
		return &net.DNSError{Err: err.Error(), Name: name, IsNotFound: true}
	}
	return &net.DNSError{
		Err:         err.Error(),
		Name:        name,
		IsTemporary: true,
		IsTimeout:   errors.Is(err, context.DeadlineExceeded),
	}
}

// txtLookup binds a TXT lookup to ctx for go-msgauth, whose DKIM and DMARC
// APIs take no context (book/architecture.md, "Library traps").
func txtLookup(ctx context.Context, r Resolver) func(string) ([]string, error) {
	return func(name string) ([]string, error) {
		name = strings.TrimSuffix(name, ".")
		txts, err := r.LookupTXT(ctx, name)
		return txts, netError(name, err)
	}
}

// spfResolver adapts Resolver to spf.DNSResolver.
type spfResolver struct{ r Resolver }

func (s spfResolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	txts, err := s.r.LookupTXT(ctx, name)
	return txts, netError(name, err)
}

func (s spfResolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	mxs, err := s.r.LookupMX(ctx, name)
	return mxs, netError(name, err)
}

func (s spfResolver) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	ips, err := s.r.LookupIP(ctx, host)
	if err != nil {
		return nil, netError(host, err)
	}
	out := make([]net.IPAddr, len(ips))
	for i, ip := range ips {
		out[i] = net.IPAddr{IP: ip}
	}
	return out, nil
}

// LookupAddr refuses every reverse lookup: book/smtp.md allows no PTR lookups
// before 250. The error is neither "not found" nor temporary, so an SPF
// "ptr" mechanism simply does not match (RFC 7208 5.5 makes a PTR error a
// non-match) and does not count as a void lookup.
func (s spfResolver) LookupAddr(_ context.Context, addr string) ([]string, error) {
	return nil, &net.DNSError{Err: "PTR lookups are disabled", Name: addr}
}
