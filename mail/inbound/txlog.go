package inbound

import (
	"fmt"

	"github.com/rs/zerolog"

	"github.com/aimx-dev/aimx/mail/outcome"
)

// logTx writes the one line per SMTP transaction (book/architecture.md, "Logs"): who sent
// what to whom, the reply, how long it took, the verdicts and what each
// mailbox got. Message bodies are never logged.
func (ss *session) logTx(tx *transaction, e *outcome.Error, out *Outcome) {
	log := ss.s.cfg.Log
	var ev *zerolog.Event
	switch {
	case e != nil && e.Fault == outcome.FaultServer:
		ev = log.Error()
	case e != nil:
		ev = log.Warn()
	default:
		ev = log.Info()
	}
	ev = ev.Str("tx", tx.id).
		Str("remote_ip", ss.remoteIP.String()).
		Str("helo", ss.helo).
		Bool("tls", ss.tls).
		Str("mail_from", tx.mailFrom).
		Strs("recipients", tx.rcpts)
	if len(tx.rejected) > 0 {
		ev = ev.Strs("rejected", tx.rejected)
	}
	switch {
	case e != nil:
		ev = ev.Int("code", e.Code).Str("outcome", e.Reply()).Str("fault", e.Fault.String())
		if e.Err != nil {
			ev = ev.AnErr("detail", e.Err)
		}
	case out != nil:
		ev = ev.Int("code", out.Code).Str("outcome", out.Reply())
	default:
		ev = ev.Int("code", 0).Str("outcome", "aborted")
	}
	ev = ev.Int64("duration_ms", ss.s.cfg.Now().Sub(tx.start).Milliseconds())
	if out != nil {
		ev = ev.Int("size", out.Size).Str("message_id", out.MessageID)
		if out.Verified {
			ev = ev.Str("dkim", out.Auth.DKIM).Str("spf", out.Auth.SPF).Str("dmarc", out.Auth.DMARC)
		}
		if len(out.Mailboxes) > 0 {
			stored := zerolog.Dict()
			for _, m := range out.Mailboxes {
				stored = stored.Str(m.Mailbox, mailboxResult(m))
			}
			ev = ev.Dict("stored", stored)
		}
	}
	ev.Msg("smtp transaction")
	observeTx(ss.s.cfg.Observer, e, out)
}

// mailboxResult is a mailbox's entry in the log: the stored id,
// "duplicate", or "failed: <error>".
func mailboxResult(m MailboxOutcome) string {
	switch {
	case m.Err != nil:
		return fmt.Sprintf("failed: %v", m.Err)
	case m.Duplicate:
		return "duplicate"
	case m.ID == "":
		return "not stored"
	default:
		return m.ID
	}
}
