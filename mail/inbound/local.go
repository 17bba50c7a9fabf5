package inbound

import (
	"context"
	"errors"
	"net/netip"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/mail/outcome"
)

// LocalSubmission is mail this server sends to one of its own domains
// (book/sending.md, "Local recipients").
type LocalSubmission struct {
	// From is the envelope sender ("" for a bounce).
	From string
	// Recipients are the envelope recipients, all on configured domains.
	Recipients []string
	// Data is the signed message.
	Data []byte
	// ID names the delivery in Received and the log.
	ID string
}

// DeliverLocal runs one local submission through intake as if it had come
// over SMTP from the loopback address with the server's own hostname as
// HELO: the same checks, verification, trust, dedup and hooks, without a
// network hop. It returns one result per recipient, in order: nil for a
// recipient whose mailbox has the message (newly stored or a duplicate),
// else the refusal (550 5.1.1 for a recipient without a mailbox, the
// transaction's error for the others).
func (d *Deliverer) DeliverLocal(ctx context.Context, sub LocalSubmission) []*outcome.Error {
	cfg := d.cfg.Registry.Current()
	out := make([]*outcome.Error, len(sub.Recipients))
	var ok []string
	var okIdx []int
	for i, r := range sub.Recipients {
		if _, err := cfg.ResolveRecipient(r); err != nil {
			if errors.Is(err, domains.ErrDomainNotConfigured) {
				out[i] = outcome.RelayDenied(err)
			} else {
				out[i] = outcome.UserUnknown(err)
			}
			continue
		}
		ok = append(ok, r)
		okIdx = append(okIdx, i)
	}
	if len(ok) == 0 {
		return out
	}
	env := Envelope{Config: cfg, RemoteIP: netip.AddrFrom4([4]byte{127, 0, 0, 1}), Helo: cfg.Hostname(), ESMTP: true,
		MailFrom: sub.From, Recipients: ok, ID: sub.ID}
	_, err := d.Deliver(ctx, env, sub.Data)
	var fail *outcome.Error
	if err != nil {
		var isOutcome bool
		if fail, isOutcome = outcome.As(err); !isOutcome {
			fail = outcome.LocalError(err)
		}
	}
	for _, i := range okIdx {
		out[i] = fail
	}
	return out
}
