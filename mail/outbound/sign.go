package outbound

import (
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"strings"

	"github.com/aimx-dev/aimx/domains/dkimkey"
	"github.com/emersion/go-msgauth/dkim"
)

// SignedHeaders are the header fields every signature covers
// (book/sending.md, "Signing"). A field the message lacks is still listed,
// so that adding one later (an In-Reply-To, say) breaks the signature
// (RFC 6376 5.4.2). Reply-To is signed too, as RFC 6376 5.4.1 recommends:
// whoever could change it could redirect the answers.
func SignedHeaders() []string {
	return []string{
		"From", "To", "Cc", "Subject", "Date", "Message-ID",
		"In-Reply-To", "References", "MIME-Version", "Content-Type", "Reply-To",
	}
}

// signSpec is one signature to add.
type signSpec struct {
	domain, selector string
	key              crypto.Signer
}

// Sign adds the DKIM signatures of domain to msg and returns the signed
// message: an rsa-sha256 signature under selector first, then, when the
// domain has an Ed25519 key, an ed25519-sha256 one under
// `<selector>-ed25519` (RFC 8463), both relaxed/relaxed over
// SignedHeaders (RFC 6376 3.4, 5.4). A domain without an RSA key is an
// error wrapping dkimkey.ErrNoKey that names the command creating one.
func Sign(msg []byte, keys *dkimkey.KeySet, domain, selector string) ([]byte, error) {
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	if domain == "" || selector == "" {
		return nil, fmt.Errorf("dkim sign: domain and selector are required")
	}
	if keys == nil || keys.RSA == nil || keys.RSA.Signer == nil {
		return nil, fmt.Errorf("dkim sign: domain %s has no DKIM key; create one with aimx dkim-keygen --domain %s: %w",
			domain, domain, dkimkey.ErrNoKey)
	}
	if keys.Domain != "" && !strings.EqualFold(keys.Domain, domain) {
		return nil, fmt.Errorf("dkim sign: key set of %s given for domain %s", keys.Domain, domain)
	}
	specs := []signSpec{{domain: domain, selector: selector, key: keys.RSA.Signer}}
	if keys.Ed25519 != nil && keys.Ed25519.Signer != nil {
		specs = append(specs, signSpec{domain: domain, selector: dkimkey.Ed25519Selector(selector), key: keys.Ed25519.Signer})
	}
	return signWith(msg, specs)
}

// signWith computes every signature over the unsigned message and
// prepends them in order, so the first spec's DKIM-Signature is the first
// header field. No signature covers another: DKIM-Signature is not in
// SignedHeaders.
func signWith(msg []byte, specs []signSpec) ([]byte, error) {
	// RFC 6376 5.3: the signer works on the message in its wire form.
	if bytes.Count(msg, []byte("\n")) != bytes.Count(msg, []byte("\r\n")) {
		return nil, errors.New("dkim sign: message has bare LF line endings, want CRLF")
	}
	sigs := make([]string, 0, len(specs))
	size := len(msg)
	for _, s := range specs {
		sig, err := signature(msg, s)
		if err != nil {
			return nil, err
		}
		sigs = append(sigs, sig)
		size += len(sig)
	}
	out := make([]byte, 0, size)
	for _, sig := range sigs {
		out = append(out, sig...)
	}
	return append(out, msg...), nil
}

// signature returns one DKIM-Signature field, with its CRLF.
func signature(msg []byte, s signSpec) (string, error) {
	signer, err := dkim.NewSigner(&dkim.SignOptions{
		Domain:                 s.domain,
		Selector:               s.selector,
		Signer:                 s.key,
		Hash:                   crypto.SHA256,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed,
		BodyCanonicalization:   dkim.CanonicalizationRelaxed,
		HeaderKeys:             SignedHeaders(),
	})
	if err != nil {
		return "", fmt.Errorf("dkim sign with %s._domainkey.%s: %w", s.selector, s.domain, err)
	}
	if _, err := signer.Write(msg); err != nil {
		_ = signer.Close()
		return "", fmt.Errorf("dkim sign with %s._domainkey.%s: %w", s.selector, s.domain, err)
	}
	if err := signer.Close(); err != nil {
		return "", fmt.Errorf("dkim sign with %s._domainkey.%s: %w", s.selector, s.domain, err)
	}
	return signer.Signature(), nil
}
