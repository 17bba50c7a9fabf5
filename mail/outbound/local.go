package outbound

import (
	"context"
	"fmt"

	"github.com/aimx-dev/aimx/mail/outcome"
)

// Local delivers to recipients on this server's own domains through SMTP
// intake (verification, dedup, hooks), without a network hop
// (book/sending.md, "Delivery connections").
type Local interface {
	// Handles reports whether domain is one of ours. It is asked once per
	// domain and round, so it should answer from the live config.
	Handles(domain string) bool
	// Deliver hands data to rcpts (all on our domains) and returns one
	// Result per recipient, in the same order, classified like remote
	// replies: Err nil for delivered (250), a temporary outcome for 4xx,
	// a permanent one for 5xx.
	Deliver(ctx context.Context, from string, rcpts []string, data []byte) []Result
}

// deliverLocal runs one local delivery and checks its answer: a Local
// that returns the wrong number of results defers every recipient, as a
// local error.
func deliverLocal(ctx context.Context, l Local, from string, rcpts []string, data []byte) []Result {
	results := l.Deliver(ctx, from, rcpts, data)
	if len(results) != len(rcpts) {
		err := fmt.Errorf("local delivery returned %d results for %d recipients", len(results), len(rcpts))
		return allResults(rcpts, outcome.LocalError(err))
	}
	out := make([]Result, len(rcpts))
	for i, res := range results {
		res.Recipient = rcpts[i]
		if res.Err == nil && res.Code >= 400 {
			// A refusal without its outcome: classify the code.
			enh := res.Enhanced
			if enh[0] != res.Code/100 {
				enh = [3]int{res.Code / 100, 0, 0}
			}
			setOutcome(&res, outcome.New(res.Code, enh, outcome.FaultRemote, res.Text, nil))
		}
		out[i] = res
	}
	return out
}

// allResults gives every recipient the outcome o.
func allResults(rcpts []string, o *outcome.Error) []Result {
	out := make([]Result, len(rcpts))
	for i, r := range rcpts {
		out[i] = Result{Recipient: r}
		setOutcome(&out[i], o)
	}
	return out
}
