package main

import (
	"github.com/aimx-dev/aimx/internal/mailbus"
	"github.com/aimx-dev/aimx/mail/inbound"
)

// newMailNotify is the inbound OnStored seam of the new-mail broadcast
// (book/mcp.md, "Waiting for mail"): it publishes each newly stored
// message, waking the email_wait calls and resource subscriptions of its
// mailbox, then calls next. Publish never blocks, so the SMTP transaction
// is not held up; it runs before the `250`, which bounds the wait's
// latency from the `250`.
func newMailNotify(bus *mailbus.Bus, next func(inbound.StoredMessage)) func(inbound.StoredMessage) {
	return func(m inbound.StoredMessage) {
		bus.Publish(m.Mailbox.Name, m.ID, m.ReceivedAt)
		next(m)
	}
}
