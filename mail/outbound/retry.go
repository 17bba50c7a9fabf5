package outbound

import (
	"cmp"
	"fmt"
	"strings"
	"time"

	"github.com/aimx-dev/aimx/domains"
)

// RetryPolicy is the retry schedule (`[outbound] retry_base` and
// `retry_attempts`, book/sending.md "Retry schedule").
type RetryPolicy struct {
	// Base is the wait after the first temporary failure; each later wait
	// doubles (domains.DefaultRetryBase when 0).
	Base time.Duration
	// Attempts is the number of attempts in all; a recipient still
	// temporarily refused after the last one has failed
	// (domains.DefaultRetryAttempts when 0).
	Attempts int
}

// maxRetryWait caps one wait, so a large attempt count cannot overflow.
const maxRetryWait = 7 * 24 * time.Hour

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.Base <= 0 {
		p.Base = domains.DefaultRetryBase
	}
	if p.Attempts <= 0 {
		p.Attempts = domains.DefaultRetryAttempts
	}
	return p
}

// Next is a recipient's state after one more attempt: prev is its state
// before, res the attempt's result (res.Err nil: delivered), tls the
// connection's TLS state ("" when no server was reached: the last one is
// kept). A 5xx fails the recipient; a 4xx or a network error defers it to
// now + Base·2^(attempts-1), and fails it when that attempt was the last
// (RFC 5321 4.5.4.1 leaves the schedule to the sender).
func (p RetryPolicy) Next(prev Recipient, res Result, tls TLSState, now time.Time) Recipient {
	p = p.withDefaults()
	r := prev
	r.Attempts++
	r.UpdatedAt = now.UTC()
	if tls != "" {
		r.TLS = tls
	}
	r.NextAttempt = time.Time{}
	o := res.Err
	switch {
	case o == nil:
		r.Status = StatusDelivered
		r.Code, r.Enhanced = cmp.Or(res.Code, 250), res.Enhanced
		r.Detail = fmt.Sprintf("%d %d.%d.%d %s", r.Code, r.Enhanced[0], r.Enhanced[1], r.Enhanced[2], res.Text)
		if r.Enhanced == [3]int{} {
			r.Detail = fmt.Sprintf("%d %s", r.Code, res.Text)
		}
		r.Detail = strings.TrimSpace(r.Detail)
		return r
	case o.Permanent():
		r.Status = StatusFailed
	case r.Attempts >= p.Attempts:
		r.Status = StatusFailed
	default:
		r.Status = StatusDeferred
		r.NextAttempt = now.UTC().Add(p.wait(r.Attempts))
	}
	r.Code, r.Enhanced, r.Detail = o.Code, o.Enhanced, o.Reply()
	return r
}

// wait is the pause after the n-th attempt (n >= 1).
func (p RetryPolicy) wait(n int) time.Duration {
	d := p.Base
	for i := 1; i < n; i++ {
		d *= 2
		if d >= maxRetryWait {
			return maxRetryWait
		}
	}
	return min(d, maxRetryWait)
}
