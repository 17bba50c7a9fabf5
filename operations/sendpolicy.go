package operations

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/storage"
)

// ErrPolicy: the mailbox's send policy refused the send.
var ErrPolicy = errors.New("refused by the send policy")

// PolicyError says which rule of the send policy refused a send
// (book/sending.md, "Send policy").
type PolicyError struct {
	Mailbox string
	// Rule is the config key: send_allow, send_quota_hour or
	// send_quota_day.
	Rule   string
	Detail string
}

func (e *PolicyError) Error() string {
	return fmt.Sprintf("%s of %s: %s", e.Rule, e.Mailbox, e.Detail)
}

// Is makes a *PolicyError match ErrPolicy.
func (e *PolicyError) Is(target error) bool { return target == ErrPolicy }

// StatusHeld is the state of a send waiting for approval.
const StatusHeld = "held"

// checkPolicy applies the mailbox's send_allow and quotas to a composed
// send.
func (s *Sender) checkPolicy(ctx context.Context, mb domains.Mailbox, rules domains.SendRules, rcpts []string) error {
	if len(rules.Allow) > 0 {
		for _, r := range rcpts {
			if !domains.MatchSender(rules.Allow, r) {
				return &PolicyError{Mailbox: mb.Name, Rule: "send_allow",
					Detail: fmt.Sprintf("%s is not among the allowed recipients (%v)", r, rules.Allow)}
			}
		}
	}
	now := s.now()
	for _, q := range []struct {
		rule   string
		limit  int
		window time.Duration
		per    string
	}{{"send_quota_hour", rules.QuotaHour, time.Hour, "hour"}, {"send_quota_day", rules.QuotaDay, 24 * time.Hour, "day"}} {
		if q.limit <= 0 {
			continue
		}
		page, err := s.Store.List(ctx, storage.ListQuery{Mailbox: domains.MailboxRef(mb.Name), Folder: storage.Sent,
			Since: now.Add(-q.window), Limit: 1})
		if err != nil {
			return fmt.Errorf("count sent mail of %s: %w", mb.Name, err)
		}
		if page.Total >= q.limit {
			return &PolicyError{Mailbox: mb.Name, Rule: q.rule,
				Detail: fmt.Sprintf("%d messages sent in the last %s, the most allowed; try again later", page.Total, q.per)}
		}
	}
	return nil
}
