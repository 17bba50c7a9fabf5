package inbound

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/mail/auth"
	"github.com/aimx-dev/aimx/mail/message"
	"github.com/aimx-dev/aimx/storage"
)

// errMailboxRemoved: the mailbox went away between RCPT and storing; the
// transaction answers 451 and the sender's retry gets the RCPT answer.
var errMailboxRemoved = errors.New("mailbox removed")

// delivery is one transaction's shared state while its copies are stored.
// It is read-only once built, so the per-mailbox goroutines share it.
type delivery struct {
	d           *Deliverer
	cfg         *domains.Config
	env         Envelope
	msg         *message.Message
	clean       storage.Source // the bytes received, forged Authentication-Results removed
	size        int            // the number of bytes received (size_bytes)
	res         auth.Result
	receivedAt  time.Time
	authResults string // our Authentication-Results field
	report      bool   // a delivery status notification (Config.Report)
	ownHops     int    // Received fields of ours already in the message
}

// store puts one copy into one mailbox unless the mailbox already has it.
func (x *delivery) store(ctx context.Context, t target) MailboxOutcome {
	mo := MailboxOutcome{Mailbox: t.mb.Name, Recipients: t.recipients}
	if locks := x.d.cfg.Locks; locks != nil {
		// book/admin.md: store under the mailbox's shared lock, and only if it
		// still exists: it may have been removed since RCPT.
		unlock := locks.RLock(t.mb.Name)
		defer unlock()
		if reg := x.d.cfg.Registry; reg != nil {
			if _, ok := reg.Current().Mailboxes[t.mb.Name]; !ok {
				mo.Err = fmt.Errorf("mailbox %s was removed during the transaction: %w", t.mb.Name, errMailboxRemoved)
				return mo
			}
		}
	}
	window := x.cfg.DedupWindow.D()
	claim, err := x.d.dedup.Claim(ctx, t.ref, x.msg.DedupKey, window)
	if err != nil {
		mo.Err = err
		return mo
	}
	if claim.Duplicate() {
		// book/smtp.md: answered 250, stores nothing, fires nothing.
		mo.Duplicate = true
		return mo
	}
	committed := false
	defer func() {
		if !committed {
			claim.Release()
		}
	}()

	// book/verification.md: trust per mailbox, mailbox → domain → global.
	eff, _ := x.cfg.EffectiveFor(t.mb.Name)
	allowlisted := domains.MatchSender(eff.TrustedSenders, x.res.From)
	mo.Trusted = auth.Trust(string(eff.Trust), allowlisted, x.res)

	// Put makes the mailbox's dirs on its first write (book/storage.md);
	// EnsureMailbox, with its foreign-mail check, is for creating a
	// mailbox, not for every message.
	owner := x.d.owner(t.mb)
	deliveredTo := t.recipients[0]
	received := message.Received{
		Helo:     x.env.Helo,
		RemoteIP: x.env.RemoteIP,
		Hostname: x.cfg.Hostname(),
		ESMTP:    x.env.ESMTP,
		TLS:      x.env.TLS,
		ID:       x.env.ID,
		For:      deliveredTo,
		Date:     x.receivedAt,
	}
	// book/storage.md: our trace fields, then the exact bytes received, streamed
	// from the spool.
	trace := message.Fold(received.String()) + message.Fold(x.authResults)
	req := storage.PutRequest{
		Mailbox:     t.ref,
		Folder:      storage.Inbox,
		Owner:       owner,
		At:          x.receivedAt,
		RawFrom:     storage.ConcatSource(bytes.NewReader([]byte(trace)), x.clean),
		Frontmatter: x.frontmatter(t.mb, deliveredTo, mo.Trusted, x.threadFor(ctx, t.ref)),
		Attachments: attachments(x.msg),
		// A store shared by several nodes refuses a re-delivery another
		// node stored within the window (book/scale-out.md).
		DedupKey:    x.msg.DedupKey,
		DedupWindow: window,
	}
	if x.msg.BodySource != nil {
		req.BodyFrom = x.msg.BodySource
	}
	st, err := x.d.cfg.Store.Put(ctx, req)
	if errors.Is(err, storage.ErrDuplicate) {
		// As claim.Duplicate(): 250, nothing stored, nothing fired.
		mo.Duplicate = true
		return mo
	}
	if err != nil {
		mo.Err = err
		return mo
	}
	claim.Commit(x.receivedAt, st.ID)
	committed = true
	mo.ID = st.ID
	if x.d.cfg.OnStored != nil {
		x.d.cfg.OnStored(StoredMessage{
			Mailbox: t.mb, Ref: t.ref, ID: st.ID, ReceivedAt: x.receivedAt,
			Trusted: mo.Trusted, HooksDue: st.Frontmatter.HooksDue, Report: x.report,
		})
	}
	return mo
}

// frontmatter fills every book/storage.md inbound field; the store adds id and
// the attachment list. thread is the copy's thread_id (threadFor).
func (x *delivery) frontmatter(mb domains.Mailbox, deliveredTo, trusted, thread string) storage.Frontmatter {
	m := x.msg
	date := x.receivedAt
	if !m.Date.IsZero() {
		date = m.Date
	}
	fm := storage.Frontmatter{
		MessageID:     m.MessageID,
		ThreadID:      thread,
		From:          m.From,
		To:            m.To,
		Cc:            m.Cc,
		ReplyTo:       m.ReplyTo,
		DeliveredTo:   deliveredTo,
		Subject:       m.Subject,
		Date:          date.UTC().Format(time.RFC3339),
		ReceivedAt:    x.storedAt(),
		SizeBytes:     int64(x.size),
		InReplyTo:     m.InReplyTo,
		References:    m.References,
		ListID:        m.ListID,
		AutoSubmitted: m.AutoSubmitted,
		DKIM:          x.res.DKIM,
		SPF:           x.res.SPF,
		DMARC:         x.res.DMARC,
		Trusted:       trusted,
		Mailbox:       mb.Name,
		Read:          false,
	}
	if x.env.RemoteIP.IsValid() {
		fm.ReceivedFromIP = x.env.RemoteIP.Unmap().String()
	}
	if fm.To == nil {
		fm.To = []string{}
	}
	switch {
	case x.d.cfg.HooksDueFor != nil:
		fm.HooksDue = x.d.cfg.HooksDueFor(mb, trusted, m.AutoSubmitted, x.ownHops)
	case x.d.cfg.HooksDue != nil:
		fm.HooksDue = x.d.cfg.HooksDue(mb, trusted)
	}
	return fm
}

// storedAt is the received_at the frontmatter records (book/storage.md):
// the receipt second that names the stem, refined by the moment this copy
// is stored, so that the mail one mailbox receives within a second lists
// in the order it arrived (storage's receipt order). A clock that left
// that second meanwhile gives its last nanosecond (or, stepped back, its
// first), so received_at always falls in the stem's second.
func (x *delivery) storedAt() time.Time {
	now := x.d.now().UTC()
	switch {
	case now.Before(x.receivedAt):
		return x.receivedAt
	case now.Sub(x.receivedAt) >= time.Second:
		return x.receivedAt.Add(time.Second - time.Nanosecond)
	}
	return now
}

func attachments(m *message.Message) []storage.Attachment {
	if len(m.Attachments) == 0 {
		return nil
	}
	out := make([]storage.Attachment, len(m.Attachments))
	for i, a := range m.Attachments {
		out[i] = storage.Attachment{Filename: a.Filename, ContentType: a.ContentType, Data: a.Data}
		if a.Content != nil {
			out[i].From = a.Content
		}
	}
	return out
}
