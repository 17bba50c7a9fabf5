// Package auth verifies inbound mail (DKIM, SPF, DMARC) and decides trust.
//
// Verification is pure protocol code behind a Resolver interface and an
// injected clock and random source (book/architecture.md, "Habits"). It runs inside one
// time budget (`[smtp] verify_timeout`): whatever has not finished at the
// deadline is "temperror", and verification never fails a delivery — the
// message is stored whatever the verdicts (book/smtp.md).
package auth

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"time"

	"github.com/rs/zerolog"

	"github.com/aimx-dev/aimx/internal/panics"
)

// DefaultTimeout is the verification budget when Config.Timeout is zero
// (book/configuration.md `[smtp] verify_timeout`).
const DefaultTimeout = 10 * time.Second

// DefaultMaxSignatures bounds how many DKIM-Signature fields are checked,
// so a message cannot make us do unbounded crypto and DNS work.
const DefaultMaxSignatures = 8

// Verdicts, as written in the .md frontmatter (book/storage.md dkim/spf/dmarc) and
// in Authentication-Results (RFC 8601 2.7).
const (
	Pass      = "pass"
	Fail      = "fail"
	SoftFail  = "softfail"
	Neutral   = "neutral"
	None      = "none"
	TempError = "temperror"
	PermError = "permerror"
)

// DMARC policies (RFC 7489 6.3 p=), as reported in Result.Policy.
const (
	PolicyNone       = "none"
	PolicyQuarantine = "quarantine"
	PolicyReject     = "reject"
)

// Resolver is the DNS the verifier needs. internal/dnsresolver implements
// it; tests may pass anything. An error that is not found must satisfy
// errors.Is(err, dnsresolver.ErrNotFound) or be a *net.DNSError with
// IsNotFound; every other error counts as a temporary failure.
type Resolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupIP(ctx context.Context, name string) ([]net.IP, error)
}

// Config builds a Verifier.
type Config struct {
	// Resolver answers every lookup (required).
	Resolver Resolver
	// Timeout is the whole verification budget (DefaultTimeout when zero).
	Timeout time.Duration
	// Now is the clock used to time verification (time.Now when nil).
	Now func() time.Time
	// Intn returns a uniform int in [0, n), for DMARC pct sampling
	// (math/rand/v2 IntN when nil). It must be safe for concurrent use.
	Intn func(n int) int
	// MaxSignatures bounds the DKIM signatures checked per message
	// (DefaultMaxSignatures when zero).
	MaxSignatures int
	// Panics counts panics recovered in the checks (nil: logged only);
	// Log receives them with their stack.
	Panics *panics.Counter
	Log    zerolog.Logger
}

// Verifier runs inbound verification. It is safe for concurrent use.
type Verifier struct {
	resolver Resolver
	timeout  time.Duration
	now      func() time.Time
	intn     func(n int) int
	maxSigs  int
	panics   *panics.Counter
	log      zerolog.Logger
}

// New builds a Verifier from cfg.
func New(cfg Config) (*Verifier, error) {
	if cfg.Resolver == nil {
		return nil, fmt.Errorf("auth: new verifier: no resolver")
	}
	v := &Verifier{
		resolver: cfg.Resolver,
		timeout:  cfg.Timeout,
		now:      cfg.Now,
		intn:     cfg.Intn,
		maxSigs:  cfg.MaxSignatures,
		panics:   cfg.Panics,
		log:      cfg.Log,
	}
	if v.timeout <= 0 {
		v.timeout = DefaultTimeout
	}
	if v.now == nil {
		v.now = time.Now
	}
	if v.intn == nil {
		v.intn = rand.IntN
	}
	if v.maxSigs <= 0 {
		v.maxSigs = DefaultMaxSignatures
	}
	return v, nil
}

// Input is one received message and its SMTP envelope.
type Input struct {
	// Raw is the message exactly as received (CRLF line endings), without
	// our own trace headers. It is read only when Header is nil.
	Raw []byte
	// Header, when set, is the header block DKIM verifies
	// (message.Head.DKIMView) and Body the body after it, streamed once;
	// From holds the value of every From field of that same parse
	// (message.Head.Values), for DMARC. So the stored view, DKIM and DMARC
	// all see one parse of the header (book/verification.md).
	Header []byte
	Body   io.Reader
	From   []string
	// RemoteIP is the connecting client's address.
	RemoteIP net.IP
	// Helo is the name the client gave in EHLO/HELO.
	Helo string
	// MailFrom is the envelope sender, "" or "<>" for the null reverse-path.
	MailFrom string
}

// Signature is the outcome of one DKIM-Signature field.
type Signature struct {
	Domain     string // d=
	Identifier string // i= (or "@" + d=)
	Result     string // pass, fail, permerror or temperror
	Reason     string // why it did not pass, for the log
}

// Result is the outcome of Verify. Every verdict field is always set.
type Result struct {
	// DKIM is pass (a signature passed), none (no signature), temperror
	// (none passed and one could not be checked now) or fail.
	DKIM string
	// SPF is the RFC 7208 result for the MAIL FROM domain, or for the HELO
	// name when MAIL FROM is null: pass fail softfail neutral none
	// temperror permerror.
	SPF string
	// DMARC is pass (an aligned DKIM or SPF pass), fail, none (no record,
	// or no From), temperror or permerror (an unusable From or record).
	DMARC string

	// DKIMDomains are the d= of the signatures that passed, in header
	// order, without duplicates; trust checks their alignment.
	DKIMDomains []string
	// Signatures are every DKIM signature checked, in header order.
	Signatures []Signature

	// From is the bare RFC5322.From address when there is exactly one.
	From string
	// FromDomain is its domain, lowercased ASCII ("" when From is unusable).
	FromDomain string

	// MailFrom and Helo echo the envelope; SPFDomain is the domain SPF was
	// evaluated for ("" when there was none to check).
	MailFrom  string
	Helo      string
	SPFDomain string

	// Policy is the DMARC policy applied to this message, for the log:
	// quarantine or reject only when DMARC failed and pct sampling selected
	// it; none otherwise.
	Policy string
	// PublishedPolicy is the p= (or sp=) of the DMARC record that governed
	// the From domain, "" without one.
	PublishedPolicy string
	// DMARCDomain is where the DMARC record was found (the From domain or
	// its organizational domain).
	DMARCDomain string

	// SPFReason and DMARCReason explain a verdict, for the log.
	SPFReason   string
	DMARCReason string

	// Duration is how long verification took (by the injected clock).
	Duration time.Duration
}

type dkimOutcome struct {
	verdict string
	sigs    []Signature
}

type spfOutcome struct {
	verdict, domain, reason string
}

// Verify runs DKIM, SPF and the DMARC record lookup concurrently inside the
// budget, then evaluates DMARC. Checks still running at the deadline are
// temperror. It never fails: the verdicts are the whole answer.
// book/smtp.md Verification.
func (v *Verifier) Verify(ctx context.Context, in Input) Result {
	start := v.now()
	ctx, cancel := context.WithTimeout(ctx, v.timeout)
	defer cancel()

	r := Result{
		DKIM: TempError, SPF: TempError, DMARC: TempError,
		MailFrom: nullPath(in.MailFrom), Helo: in.Helo,
		Policy: PolicyNone,
	}
	var from fromOutcome
	if in.Header != nil {
		from = fromValues(in.From)
	} else {
		from = extractFrom(in.Raw)
	}
	r.From, r.FromDomain = from.addr, from.domain

	dkimCh := make(chan dkimOutcome, 1)
	spfCh := make(chan spfOutcome, 1)
	recCh := make(chan dmarcLookup, 1)
	pending := 2
	v.goSafe(func() { dkimCh <- v.checkDKIM(ctx, in.message(), in.header()) }, func(reason string) {
		dkimCh <- dkimOutcome{verdict: TempError, sigs: []Signature{{Result: TempError, Reason: reason}}}
	})
	v.goSafe(func() { spfCh <- v.checkSPF(ctx, in) }, func(reason string) {
		spfCh <- spfOutcome{verdict: TempError, reason: reason}
	})
	if from.verdict == "" {
		pending++
		v.goSafe(func() { recCh <- v.lookupDMARC(ctx, from.domain) }, func(reason string) {
			recCh <- dmarcLookup{verdict: TempError, reason: reason}
		})
	}

	var (
		dkimRes          *dkimOutcome
		spfRes           *spfOutcome
		rec              *dmarcLookup
		deadlineReported bool
	)
	for pending > 0 && !deadlineReported {
		select {
		case o := <-dkimCh:
			dkimRes = &o
			pending--
		case o := <-spfCh:
			spfRes = &o
			pending--
		case o := <-recCh:
			rec = &o
			pending--
		case <-ctx.Done():
			deadlineReported = true
		}
	}

	if dkimRes != nil {
		r.DKIM, r.Signatures = dkimRes.verdict, dkimRes.sigs
		r.DKIMDomains = passingDomains(dkimRes.sigs)
	}
	if spfRes != nil {
		r.SPF, r.SPFDomain, r.SPFReason = spfRes.verdict, spfRes.domain, spfRes.reason
	} else {
		r.SPFReason = "verification budget exhausted"
	}

	switch {
	case from.verdict != "":
		r.DMARC, r.DMARCReason = from.verdict, from.reason
	case rec == nil:
		r.DMARCReason = "verification budget exhausted"
	case rec.verdict != "":
		r.DMARC, r.DMARCReason = rec.verdict, rec.reason
	default:
		r.DMARCDomain = rec.domain
		e := evaluate(evalInput{
			rec:          rec.record,
			recordDomain: rec.domain,
			fromDomain:   from.domain,
			dkimDone:     dkimRes != nil,
			sigs:         r.Signatures,
			spfDone:      spfRes != nil,
			spf:          r.SPF,
			spfDomain:    r.SPFDomain,
			intn:         v.intn,
		})
		r.DMARC, r.DMARCReason = e.verdict, e.reason
		r.Policy, r.PublishedPolicy = e.applied, e.published
	}
	r.Duration = v.now().Sub(start)
	return r
}

// message is the message DKIM reads: Header then Body, or Raw.
func (in Input) message() io.Reader {
	if in.Header != nil {
		body := in.Body
		if body == nil {
			body = bytes.NewReader(nil)
		}
		return io.MultiReader(bytes.NewReader(in.Header), body)
	}
	return bytes.NewReader(in.Raw)
}

// header is where a DKIM-Signature field is looked for when the DKIM
// library cannot read the header.
func (in Input) header() []byte {
	if in.Header != nil {
		return in.Header
	}
	return in.Raw
}

// goSafe runs f in a goroutine; a panic in it is logged with its stack,
// counted, and reported through onPanic instead of crashing the daemon (a
// malformed message must not take the SMTP server down).
func (v *Verifier) goSafe(f func(), onPanic func(reason string)) {
	go func() {
		defer func() {
			if p := recover(); p != nil {
				v.panics.Recovered(v.log, "auth.verify", p)
				onPanic(fmt.Sprintf("internal error: %v", p))
			}
		}()
		f()
	}()
}

// passingDomains lists the d= of passing signatures, lowercased, deduplicated.
func passingDomains(sigs []Signature) []string {
	var out []string
	seen := make(map[string]bool)
	for _, s := range sigs {
		d := normalizeDomain(s.Domain)
		if s.Result != Pass || d == "" || seen[d] {
			continue
		}
		seen[d] = true
		out = append(out, d)
	}
	return out
}
