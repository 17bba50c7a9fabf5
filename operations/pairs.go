package operations

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// DefaultPairLimit is how many messages one mailbox may send to one
// address per hour before further sends to it are refused: enough for any
// conversation, few enough that two agents answering each other's every
// message stop within the hour (book/sending.md, "Loop protection").
const DefaultPairLimit = 30

// ErrPairLimit: a mailbox sent its hourly limit to one address.
var ErrPairLimit = errors.New("send limit to this recipient reached")

// PairLimitError says which pair hit the cap and when it frees up.
type PairLimitError struct {
	Mailbox, Recipient string
	Limit              int
	RetryAt            time.Time
}

func (e *PairLimitError) Error() string {
	return fmt.Sprintf("%s sent %d messages to %s in the last hour, the most it may (loop protection); try again after %s",
		e.Mailbox, e.Limit, e.Recipient, e.RetryAt.UTC().Format(time.RFC3339))
}

// Is makes a *PairLimitError match ErrPairLimit.
func (e *PairLimitError) Is(target error) bool { return target == ErrPairLimit }

// pairCounter keeps, per (mailbox, recipient), the send times of the last
// hour, in memory: a restart forgets them, which only lets a loop run one
// more hour's worth.
type pairCounter struct {
	mu    sync.Mutex
	sends map[string][]time.Time
}

// allow counts one send from mailbox to each recipient, or refuses all of
// them when any pair is at the limit.
func (p *pairCounter) allow(mailbox string, rcpts []string, now time.Time, limit int) error {
	if limit < 0 {
		return nil
	}
	if limit == 0 {
		limit = DefaultPairLimit
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.sends == nil {
		p.sends = map[string][]time.Time{}
	}
	cutoff := now.Add(-time.Hour)
	keys := make([]string, len(rcpts))
	for i, r := range rcpts {
		k := mailbox + "\x00" + strings.ToLower(r)
		keys[i] = k
		times := p.sends[k]
		for len(times) > 0 && !times[0].After(cutoff) {
			times = times[1:]
		}
		p.sends[k] = times
		if len(times) >= limit {
			return &PairLimitError{Mailbox: mailbox, Recipient: r, Limit: limit, RetryAt: times[0].Add(time.Hour)}
		}
	}
	for _, k := range keys {
		p.sends[k] = append(p.sends[k], now)
	}
	// Forget pairs that went quiet, so the map stays small.
	if len(p.sends) > 10000 {
		for k, times := range p.sends {
			if len(times) == 0 || !times[len(times)-1].After(cutoff) {
				delete(p.sends, k)
			}
		}
	}
	return nil
}
