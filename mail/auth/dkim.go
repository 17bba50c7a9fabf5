package auth

import (
	"bytes"
	"context"
	"errors"
	"io"

	"github.com/emersion/go-msgauth/dkim"
)

// checkDKIM verifies every DKIM-Signature (up to the limit) with key
// lookups bound to ctx. The message verdict: pass if any signature passes,
// none if there is none, temperror if none passed and one failed
// temporarily, otherwise fail — a present but invalid signature is fail.
// RFC 6376 6.1, RFC 8601 2.7.1.
func (v *Verifier) checkDKIM(ctx context.Context, msg io.Reader, raw []byte) dkimOutcome {
	verifs, err := dkim.VerifyWithOptions(msg, &dkim.VerifyOptions{
		LookupTXT:        txtLookup(ctx, v.resolver),
		MaxVerifications: v.maxSigs,
	})
	if err != nil && !errors.Is(err, dkim.ErrTooManySignatures) {
		// The header could not be read at all.
		if hasDKIMSignature(raw) {
			return dkimOutcome{verdict: Fail, sigs: []Signature{{Result: PermError, Reason: err.Error()}}}
		}
		return dkimOutcome{verdict: None}
	}
	if len(verifs) == 0 {
		return dkimOutcome{verdict: None}
	}
	out := dkimOutcome{verdict: Fail}
	anyTemp := false
	for _, vf := range verifs {
		s := Signature{Domain: vf.Domain, Identifier: vf.Identifier}
		switch {
		case vf.Err == nil:
			s.Result = Pass
			out.verdict = Pass
		case dkim.IsTempFail(vf.Err):
			s.Result, s.Reason = TempError, vf.Err.Error()
			anyTemp = true
		case dkim.IsPermFail(vf.Err):
			s.Result, s.Reason = PermError, vf.Err.Error()
		default:
			s.Result, s.Reason = Fail, vf.Err.Error()
		}
		out.sigs = append(out.sigs, s)
	}
	if out.verdict != Pass && anyTemp {
		out.verdict = TempError
	}
	return out
}

// hasDKIMSignature reports whether the header section names a
// DKIM-Signature field, for a message whose header go-msgauth could not
// parse: such a message is "fail", not "none".
func hasDKIMSignature(raw []byte) bool {
	head := raw
	if i := bytes.Index(raw, []byte("\r\n\r\n")); i >= 0 {
		head = raw[:i]
	} else if i := bytes.Index(raw, []byte("\n\n")); i >= 0 {
		head = raw[:i]
	}
	lower := bytes.ToLower(head)
	return bytes.HasPrefix(lower, []byte("dkim-signature:")) || bytes.Contains(lower, []byte("\ndkim-signature:"))
}
