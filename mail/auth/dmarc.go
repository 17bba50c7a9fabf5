package auth

import (
	"context"
	"errors"
	"strings"

	"github.com/emersion/go-msgauth/dmarc"
	"golang.org/x/net/publicsuffix"
)

// dmarcLookup is the DMARC record governing a From domain. verdict is ""
// when a record was found; otherwise none, temperror or permerror.
type dmarcLookup struct {
	record          *dmarc.Record
	domain          string // where the record was found
	verdict, reason string
}

// lookupDMARC fetches the record at _dmarc.<from domain>, falling back to
// the organizational domain's record when there is none (RFC 7489 6.6.3).
// A record that does not parse is permerror.
func (v *Verifier) lookupDMARC(ctx context.Context, fromDomain string) dmarcLookup {
	opts := &dmarc.LookupOptions{LookupTXT: txtLookup(ctx, v.resolver)}
	domain := fromDomain
	for {
		rec, err := dmarc.LookupWithOptions(domain, opts)
		switch {
		case err == nil:
			return dmarcLookup{record: rec, domain: domain}
		case dmarc.IsTempFail(err):
			return dmarcLookup{verdict: TempError, reason: err.Error()}
		case !errors.Is(err, dmarc.ErrNoPolicy):
			return dmarcLookup{verdict: PermError, reason: err.Error()}
		}
		org := orgDomain(fromDomain)
		if domain == org {
			return dmarcLookup{verdict: None, reason: "no DMARC record"}
		}
		domain = org
	}
}

// orgDomain is the organizational domain of d (RFC 7489 3.2): the public
// suffix plus one label. A name that is itself a public suffix is its own
// organizational domain.
func orgDomain(d string) string {
	d = normalizeDomain(d)
	org, err := publicsuffix.EffectiveTLDPlusOne(d)
	if err != nil {
		return d
	}
	return org
}

// aligned reports whether an authenticated domain aligns with the From
// domain: strict means equal, relaxed means the same organizational domain
// (RFC 7489 3.1.1, 3.1.2).
func aligned(mode dmarc.AlignmentMode, authDomain, fromDomain string) bool {
	a, f := normalizeDomain(authDomain), normalizeDomain(fromDomain)
	if a == "" || f == "" {
		return false
	}
	if mode == dmarc.AlignmentStrict {
		return a == f
	}
	return orgDomain(a) == orgDomain(f)
}

// evalInput is everything DMARC evaluation needs, gathered by Verify.
type evalInput struct {
	rec          *dmarc.Record
	recordDomain string
	fromDomain   string
	dkimDone     bool
	sigs         []Signature
	spfDone      bool
	spf          string
	spfDomain    string
	intn         func(n int) int
}

// evalOutcome is the DMARC verdict and the policy applied.
type evalOutcome struct {
	verdict, reason    string
	applied, published string
}

// evaluate applies a found DMARC record: pass when a passing DKIM
// signature or a passing SPF identity aligns with the From domain; else
// temperror when an identity that could have aligned was not checked in
// time; else fail, with the policy (p, or sp for a subdomain governed by
// its organizational domain's record) subject to pct sampling.
// RFC 7489 6.6.2, 6.6.4, 6.3.
func evaluate(in evalInput) evalOutcome {
	rec := in.rec
	published := string(rec.Policy)
	if in.recordDomain != in.fromDomain && rec.SubdomainPolicy != "" {
		published = string(rec.SubdomainPolicy) // RFC 7489 6.3 sp
	}
	out := evalOutcome{applied: PolicyNone, published: published}

	for _, s := range in.sigs {
		if s.Result == Pass && aligned(rec.DKIMAlignment, s.Domain, in.fromDomain) {
			out.verdict, out.reason = Pass, "aligned DKIM pass: "+normalizeDomain(s.Domain)
			return out
		}
	}
	if in.spf == Pass && aligned(rec.SPFAlignment, in.spfDomain, in.fromDomain) {
		out.verdict, out.reason = Pass, "aligned SPF pass: "+in.spfDomain
		return out
	}

	var pending []string
	if !in.dkimDone {
		pending = append(pending, "DKIM unfinished")
	}
	for _, s := range in.sigs {
		if s.Result == TempError && (s.Domain == "" || aligned(rec.DKIMAlignment, s.Domain, in.fromDomain)) {
			pending = append(pending, "DKIM temperror for "+s.Domain)
			break
		}
	}
	if !in.spfDone || (in.spf == TempError && (in.spfDomain == "" || aligned(rec.SPFAlignment, in.spfDomain, in.fromDomain))) {
		pending = append(pending, "SPF temperror")
	}
	if len(pending) > 0 {
		out.verdict, out.reason = TempError, strings.Join(pending, "; ")
		return out
	}

	out.verdict, out.reason = Fail, "no aligned DKIM or SPF pass"
	out.applied = published
	pct := 100
	if rec.Percent != nil {
		pct = *rec.Percent
	}
	if pct < 100 && in.intn(100) >= pct {
		// RFC 7489 6.6.4: a message outside the sample gets the next
		// policy down.
		switch out.applied {
		case PolicyReject:
			out.applied = PolicyQuarantine
		case PolicyQuarantine:
			out.applied = PolicyNone
		}
		out.reason += " (outside pct sample)"
	}
	return out
}
