package operations

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/mail/outbound"
	"github.com/aimx-dev/aimx/storage"
)

// statusRank orders the recipient states for the message's
// delivery_status: the worst wins, failed > deferred > queued > delivered
// (book/storage.md).
var statusRank = map[string]int{
	string(outbound.StatusDelivered): 0,
	string(outbound.StatusQueued):    1,
	StatusHeld:                       2,
	string(outbound.StatusDeferred):  3,
	string(outbound.StatusFailed):    4,
}

// WorstStatus is the delivery_status of a message whose recipients have
// the given states ("queued" for none).
func WorstStatus(states []string) string {
	worst := string(outbound.StatusQueued)
	if len(states) > 0 {
		worst = string(outbound.StatusDelivered)
	}
	for _, st := range states {
		if statusRank[st] > statusRank[worst] {
			worst = st
		}
	}
	return worst
}

// mergeRound lays the queue's recipient states over the sent copy's. A
// recipient a bounce marked failed stays failed even when the queue says
// delivered: the remote server took the message and gave it up later
// (book/sending.md, "Bounces").
func mergeRound(cur []storage.Recipient, queued []outbound.Recipient) (string, []storage.Recipient) {
	bounced := map[string]storage.Recipient{}
	for _, r := range cur {
		if r.Status == string(outbound.StatusFailed) {
			bounced[strings.ToLower(r.Address)] = r
		}
	}
	out := make([]storage.Recipient, len(queued))
	states := make([]string, len(queued))
	for i, r := range queued {
		out[i] = storage.Recipient{Address: r.Address, Status: string(r.Status), Detail: r.Detail, Attempts: r.Attempts,
			TLS: string(r.TLS), UpdatedAt: r.UpdatedAt.UTC()}
		if b, ok := bounced[strings.ToLower(r.Address)]; ok && r.Status == outbound.StatusDelivered {
			out[i] = b
		}
		states[i] = out[i].Status
	}
	return WorstStatus(states), out
}

// HandleRound hands one recorded delivery round on (book/sending.md,
// "Statuses"): the sent copy gets the item's recipient states in one
// atomic rewrite, the round's after_send hook work is recorded, a DSN goes
// to the sending mailbox for each recipient the round gave up on, and
// callers waiting in Send are woken. failed lists the recipients this
// round failed (nil when recovering after a restart: then every failed
// recipient is reported again, see book/sending.md "Bounces"). Every
// step is idempotent, so the queue repeats the call until it succeeds.
func (s *Sender) HandleRound(ctx context.Context, it outbound.Item, round int, failed []outbound.Recipient) error {
	ref := domains.MailboxRef(it.Mailbox)
	var status string
	_, err := s.Store.SetDelivery(ctx, ref, it.SentID, func(cur []storage.Recipient) (string, []storage.Recipient) {
		status, cur = mergeRound(cur, it.Recipients)
		return status, cur
	})
	switch {
	case errors.Is(err, storage.ErrNotFound):
		// The mailbox or its sent copy was deleted meanwhile: nothing to
		// update, and no mailbox to run hooks for.
		s.Log.Info().Str("mailbox", it.Mailbox).Str("id", it.SentID).Msg("sent copy gone; delivery state not recorded")
		s.wake(it.SentID)
		return nil
	case err != nil:
		return fmt.Errorf("record delivery round %d of %s: %w", round, it.SentID, err)
	}
	if s.AfterSend != nil {
		if err := s.AfterSend(ctx, it.Mailbox, it.SentID, round, status); err != nil {
			return fmt.Errorf("record after_send work of %s round %d: %w", it.SentID, round, err)
		}
	}
	if s.Bounce != nil {
		gaveUp := failed
		if gaveUp == nil {
			for _, r := range it.Recipients {
				if r.Status == outbound.StatusFailed {
					gaveUp = append(gaveUp, r)
				}
			}
		}
		if len(gaveUp) > 0 {
			err := s.Bounce(ctx, it, gaveUp)
			switch {
			case errors.Is(err, ErrDSNNotBuilt):
				s.Log.Error().Err(err).Str("mailbox", it.Mailbox).Str("id", it.SentID).Msg("no DSN sent for this round")
			case err != nil:
				return fmt.Errorf("bounce for %s: %w", it.SentID, err)
			}
		}
	}
	s.wake(it.SentID)
	return nil
}

// waitFor registers a caller waiting for the first round of a sent copy.
func (s *Sender) waitFor(id string) chan struct{} {
	ch := make(chan struct{})
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.waiters == nil {
		s.waiters = map[string][]chan struct{}{}
	}
	s.waiters[id] = append(s.waiters[id], ch)
	return ch
}

// stopWaiting forgets a waiter that gave up (or was woken).
func (s *Sender) stopWaiting(id string, ch <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.waiters[id]
	for i, c := range list {
		if c == ch {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(s.waiters, id)
	} else {
		s.waiters[id] = list
	}
}

// wake wakes every caller waiting for a round of id.
func (s *Sender) wake(id string) {
	s.mu.Lock()
	list := s.waiters[id]
	delete(s.waiters, id)
	s.mu.Unlock()
	for _, ch := range list {
		close(ch)
	}
}

// Status reports a sent message's delivery state from its sent copy
// (email_status): mb is the mailbox the door resolved and authorized.
func (s *Sender) Status(ctx context.Context, mb domains.Mailbox, id string) (*SendResult, error) {
	return s.status(ctx, mb, id)
}

func (s *Sender) status(ctx context.Context, mb domains.Mailbox, id string) (*SendResult, error) {
	m, err := s.Store.Read(ctx, domains.MailboxRef(mb.Name), storage.Sent, id)
	if err != nil {
		return nil, fmt.Errorf("read sent copy %s of %s: %w", id, mb.Name, err)
	}
	fm := m.Frontmatter
	if !fm.Outbound {
		return nil, fmt.Errorf("%s: %w", id, ErrNotSentCopy)
	}
	res := &SendResult{MessageID: fm.MessageID, ID: fm.ID, Mailbox: mb.Name, DeliveryStatus: fm.DeliveryStatus,
		Recipients: make([]RecipientStatus, 0, len(fm.Recipients))}
	for _, r := range fm.Recipients {
		res.Recipients = append(res.Recipients, RecipientStatus{Address: r.Address, Status: r.Status, Detail: r.Detail,
			Attempts: r.Attempts, TLS: r.TLS, UpdatedAt: r.UpdatedAt})
	}
	if res.DeliveryStatus == "" {
		res.DeliveryStatus = WorstStatus(nil)
	}
	return res, nil
}

// ReplyRequest is a reply to a stored message.
type ReplyRequest struct {
	SendRequest
	// Folder and ID name the message answered, in SendRequest.From's
	// mailbox (inbox by default).
	Folder storage.Folder
	ID     string
	// All answers every other To and Cc recipient too.
	All bool
}

// Reply answers a stored message (book/sending.md, "Replies and
// threading"): recipients, subject and threading come from the original,
// the body and attachments from the request.
func (s *Sender) Reply(ctx context.Context, req ReplyRequest) (*SendResult, error) {
	folder := req.Folder
	if folder == "" {
		folder = storage.Inbox
	}
	orig, err := s.Store.Read(ctx, domains.MailboxRef(req.From.Name), folder, req.ID)
	if err != nil {
		return nil, fmt.Errorf("read %s in %s: %w", req.ID, req.From.Name, err)
	}
	fm := orig.Frontmatter
	fields, err := outbound.Reply(outbound.Original{
		MessageID: fm.MessageID, InReplyTo: fm.InReplyTo, References: fm.References, ReplyTo: fm.ReplyTo,
		From: fm.From, To: fm.To, Cc: fm.Cc, Subject: fm.Subject,
	}, req.From.Name, req.All)
	if err != nil {
		return nil, fmt.Errorf("reply to %s: %w", req.ID, err)
	}
	sr := req.SendRequest
	sr.reply = &fields
	return s.Send(ctx, sr)
}
