package inbound

import (
	"github.com/aimx-dev/aimx/mail/outcome"
)

// Observer is told how each SMTP transaction ended, for the daemon's
// metrics (book/operations.md, "Metrics"). It is called on the session's
// goroutine right after the transaction's log line, so it must be quick
// and must not block.
type Observer interface {
	ObserveTransaction(TransactionResult)
}

// TransactionResult is what an Observer learns of one transaction: the
// reply and the verdicts, never an address or a message id.
type TransactionResult struct {
	// Code is the reply to the message data (250, 451, 554, ...); 0 when
	// the transaction ended without one (RSET, QUIT, a dropped
	// connection, every recipient refused).
	Code int
	// Duplicate is true when the message was accepted but every mailbox
	// already had it (dedup, book/storage.md): nothing new was stored.
	Duplicate bool
	// Verified is true when verification ran; DKIM, SPF and DMARC are then
	// its verdicts (book/verification.md).
	Verified         bool
	DKIM, SPF, DMARC string
}

// observeTx tells o (when set) how a transaction ended: with the error e,
// the outcome out, or neither (aborted).
func observeTx(o Observer, e *outcome.Error, out *Outcome) {
	if o == nil {
		return
	}
	var r TransactionResult
	if out != nil {
		r.Code = out.Code
		r.Verified = out.Verified
		if out.Verified {
			r.DKIM, r.SPF, r.DMARC = out.Auth.DKIM, out.Auth.SPF, out.Auth.DMARC
		}
		r.Duplicate = len(out.Mailboxes) > 0
		for _, m := range out.Mailboxes {
			if !m.Duplicate {
				r.Duplicate = false
			}
		}
	}
	if e != nil {
		r.Code = e.Code
		r.Duplicate = false
	}
	o.ObserveTransaction(r)
}
