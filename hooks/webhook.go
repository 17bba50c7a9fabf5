package hooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/storage"
)

// Webhooks run on the hook scheduler (book/webhooks.md): a webhook due for
// a message is one job, named in hooks_due (or in the after_send record)
// as WebhookJobPrefix and its name, so it is recorded before 250, queued
// in its owner's turn, recovered after a restart, and identified by a
// JobID like any hook. Unlike a hook run, a failed delivery is tried
// again, with backoff, until a day after its first try.

// WebhookJobPrefix marks a webhook in hooks_due and in after_send
// records: "webhook:<name>". A hook name cannot contain ':', so the two
// never meet.
const WebhookJobPrefix = "webhook:"

// DefaultWebhookGiveUp is how long after its first try a failing delivery
// is tried again before it is given up with an error line.
const DefaultWebhookGiveUp = 24 * time.Hour

// DefaultWebhookRetries returns the waits after each failed try, the
// last one repeated: the Standard Webhooks example schedule
// ("Deliverability and reliability") up to a day. The last try is made at
// the give-up time.
func DefaultWebhookRetries() []time.Duration {
	return []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour}
}

// MaxWebhookBodyBytes caps the Markdown body an include_body webhook
// carries; a longer one is cut (on a character boundary) and the payload
// says body_truncated.
const MaxWebhookBodyBytes = 256 << 10

// Webhook job outcomes and skip reasons (JobState.Outcome and Reason).
const (
	// OutcomeDelivered: a try got a 2xx response.
	OutcomeDelivered = "delivered"
	// reasonWebhookGone: the webhook was deleted before its turn.
	reasonWebhookGone = "webhook_deleted"
	// reasonGaveUp: every try failed for a day.
	reasonGaveUp = "gave_up"
	// reasonGone: the receiver answered 410 Gone, which the Standard
	// Webhooks spec reads as "stop sending".
	reasonGone = "receiver_gone"
)

// webhookEntry is the hooks_due entry of the webhook named name.
func webhookEntry(name string) string { return WebhookJobPrefix + name }

// webhookName is the webhook's name in a job's hook entry, and whether
// the job is a webhook delivery.
func webhookName(entry string) (string, bool) { return strings.CutPrefix(entry, WebhookJobPrefix) }

// dueWebhooks are the hooks_due entries of mb's webhooks on event.
func dueWebhooks(mb domains.Mailbox, event domains.Event) []string {
	var out []string
	for _, w := range mb.Webhooks {
		if w.Fires(event) {
			out = append(out, webhookEntry(w.EffectiveName(mb.Name)))
		}
	}
	return out
}

// findWebhook finds mb's webhook by effective name, if it fires on event.
func findWebhook(mb domains.Mailbox, name, event string) (domains.Webhook, bool) {
	for _, w := range mb.Webhooks {
		if w.EffectiveName(mb.Name) == name && w.Fires(domains.Event(event)) {
			return w, true
		}
	}
	return domains.Webhook{}, false
}

// deliverSafe delivers one webhook job; a panic is logged with its stack
// and counted, and the job is left as it was.
func (s *Scheduler) deliverSafe(ctx context.Context, j job) (retry bool, wait time.Duration) {
	defer func() {
		if p := recover(); p != nil {
			s.cfg.Panics.Recovered(s.cfg.Log.With().Str("hook", j.hook).Str("job_id", j.id).Logger(), "webhook worker", p)
			retry, wait = false, 0
		}
	}()
	return s.deliver(ctx, j)
}

// deliver makes one try of a webhook job unless it is done, skipped or
// not due yet. retry asks the worker to offer the job again after wait.
func (s *Scheduler) deliver(ctx context.Context, j job) (retry bool, wait time.Duration) {
	name, _ := webhookName(j.hook)
	log := s.cfg.Log.With().Str("webhook", name).Str("event", j.event).Str("mailbox", j.mailbox).
		Str("id", j.msgID).Str("job_id", j.id).Logger()
	js, err := s.state.Job(ctx, j.id)
	if err != nil {
		log.Error().Err(err).Msg("hook state unreadable; webhook not delivered")
		return isResourceErr(err), 0
	}
	if js.Done {
		return false, 0
	}
	if s.shared() {
		// One node delivers: the claim stays with it while it retries.
		cjs, status, err := s.claimer.ClaimJob(ctx, j.id, Claim{At: s.now().UTC()})
		if err != nil {
			log.Error().Err(err).Msg("webhook job not claimed; retrying later")
			return true, s.cfg.RetryBackoff
		}
		if status != ClaimTaken {
			return false, 0
		}
		js = cjs
	}
	if now := s.now(); now.Before(js.NextAttemptAt) {
		// Recovered after a restart before its next try is due.
		return true, js.NextAttemptAt.Sub(now)
	}
	mb, ok := s.cfg.Registry.Current().Mailbox(j.mailbox)
	if !ok {
		s.skipWebhook(ctx, log, j, js, reasonMailboxGone, nil)
		return false, 0
	}
	wh, ok := findWebhook(mb, name, j.event)
	if !ok {
		s.skipWebhook(ctx, log, j, js, reasonWebhookGone, nil)
		return false, 0
	}
	// A webhook runs nothing as the owner: with a shared state any node
	// delivers it.
	if _, err := s.cfg.LookupOwner(mb.Owner); err != nil && !s.shared() {
		s.skipWebhook(ctx, log.With().Str("owner", mb.Owner).Logger(), j, js, reasonOwnerUnknown, err)
		return false, 0
	}
	body, err := s.webhookPayload(ctx, j, name, mb.Name, wh.IncludeBody)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		s.skipWebhook(ctx, log, j, js, reasonMessageGone, nil)
		return false, 0
	case err != nil && ctx.Err() != nil:
		return false, 0
	case err != nil && isResourceErr(err):
		log.Warn().Err(err).Msg("webhook message not opened for lack of resources; retrying later")
		return true, s.cfg.RetryBackoff
	case err != nil:
		s.skipWebhook(ctx, log, j, js, reasonMessageBroken, err)
		return false, 0
	}
	now := s.now()
	start := time.Now()
	res := s.postWebhook(ctx, wh, j.id, now, body)
	if res.err != nil && ctx.Err() != nil {
		// Shutdown cut it short: not a try; the next start delivers it.
		return false, 0
	}
	js.Attempts++
	if js.FirstAttemptAt.IsZero() {
		js.FirstAttemptAt = now.UTC()
	}
	js.Status, js.NextAttemptAt, js.UpdatedAt = res.status, time.Time{}, now.UTC()
	ev := func(e *zerolog.Event) *zerolog.Event {
		e = e.Str("host", urlHost(wh.URL)).Int("status", res.status).Int("attempt", js.Attempts).
			Int64("duration_ms", time.Since(start).Milliseconds())
		if res.err != nil {
			e = e.AnErr("error", res.err)
		}
		return e
	}
	deadline := js.FirstAttemptAt.Add(s.cfg.WebhookGiveUp)
	switch {
	case res.ok():
		js.Done, js.Outcome = true, OutcomeDelivered
		s.put(ctx, log, j, js)
		ev(log.Info()).Msg("webhook delivered")
		return false, 0
	case res.status == 410:
		js.Done, js.Outcome, js.Reason = true, OutcomeAbandoned, reasonGone
		s.put(ctx, log, j, js)
		ev(log.Error()).Str("reason", reasonGone).Msg("webhook receiver answered 410 Gone; delivery given up")
		return false, 0
	case !now.Before(deadline):
		js.Done, js.Outcome, js.Reason = true, OutcomeAbandoned, reasonGaveUp
		s.put(ctx, log, j, js)
		ev(log.Error()).Str("reason", reasonGaveUp).Time("first_attempt_at", js.FirstAttemptAt).
			Msg("webhook delivery failed for a day; given up")
		return false, 0
	}
	delay := s.webhookDelay(js.Attempts, res.retryAfter)
	next := now.Add(delay)
	if next.After(deadline) {
		next = deadline
	}
	js.NextAttemptAt = next.UTC()
	s.put(ctx, log, j, js)
	ev(log.Warn()).Int64("retry_in_ms", next.Sub(now).Milliseconds()).Msg("webhook delivery failed; retrying later")
	return true, max(next.Sub(now), time.Millisecond)
}

// webhookDelay is the wait after the attempts-th failed try: the retry
// schedule's entry, the last one repeated, or the receiver's Retry-After
// when that is longer.
func (s *Scheduler) webhookDelay(attempts int, after time.Duration) time.Duration {
	sched := s.cfg.WebhookRetries
	d := sched[min(attempts, len(sched))-1]
	return max(d, after)
}

// skipWebhook marks a webhook job done without a try, with one log line.
func (s *Scheduler) skipWebhook(ctx context.Context, log zerolog.Logger, j job, js JobState, reason string, err error) {
	ev := log.Warn()
	if reason == reasonMessageBroken {
		ev = log.Error()
	}
	ev.Err(err).Str("reason", reason).Msg("webhook skipped")
	s.put(ctx, log, j, JobState{Attempts: js.Attempts, Done: true, Outcome: OutcomeSkipped, Reason: reason, UpdatedAt: s.now().UTC()})
}

// urlHost is the host a webhook URL names, for logs: the path and query
// may carry a token and are never logged.
func urlHost(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Host
	}
	return ""
}

// webhookPayload is the JSON a webhook POSTs (book/webhooks.md): the
// Standard Webhooks envelope (type, timestamp, data) around the message's
// metadata, and its Markdown body when the webhook includes it.
type webhookPayload struct {
	Type      string      `json:"type"`
	Timestamp string      `json:"timestamp"`
	Data      webhookData `json:"data"`
}

type webhookData struct {
	Event          string              `json:"event"`
	Webhook        string              `json:"webhook"`
	Mailbox        string              `json:"mailbox"`
	Folder         string              `json:"folder"`
	ID             string              `json:"id"`
	MessageID      string              `json:"message_id"`
	ThreadID       string              `json:"thread_id,omitempty"`
	InReplyTo      string              `json:"in_reply_to,omitempty"`
	From           string              `json:"from"`
	To             []string            `json:"to"`
	Cc             []string            `json:"cc,omitempty"`
	Subject        string              `json:"subject"`
	Date           string              `json:"date"`
	ReceivedAt     string              `json:"received_at,omitempty"`
	Trusted        string              `json:"trusted"`
	SizeBytes      int64               `json:"size_bytes"`
	Attachments    []webhookAttachment `json:"attachments,omitempty"`
	DeliveryStatus string              `json:"delivery_status,omitempty"`
	Round          int                 `json:"round,omitempty"`
	Recipients     []webhookRecipient  `json:"recipients,omitempty"`
	Body           *string             `json:"body,omitempty"`
	BodyTruncated  bool                `json:"body_truncated,omitempty"`
}

type webhookAttachment struct {
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
}

type webhookRecipient struct {
	Address string `json:"address"`
	Status  string `json:"status"`
}

// webhookType is the payload type of an event (Standard Webhooks
// "Payload structure": full-stop delimited).
func webhookType(event string) string {
	if event == EventAfterSend {
		return "email.sent"
	}
	return "email.received"
}

// webhookPayload reads the job's message through the store (never by
// path) and renders the payload.
func (s *Scheduler) webhookPayload(ctx context.Context, j job, name, mailbox string, withBody bool) ([]byte, error) {
	md, err := s.cfg.Store.OpenMD(ctx, j.ref, j.folder, j.msgID)
	if err != nil {
		return nil, fmt.Errorf("open message: %w", err)
	}
	defer md.Close()
	n := min(md.Size(), maxFrontmatterBytes)
	if withBody {
		n = min(md.Size(), maxFrontmatterBytes+MaxWebhookBodyBytes)
	}
	buf := make([]byte, n)
	if _, err := md.ReadAt(buf, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read message %s: %w", j.msgID, err)
	}
	fm, body, err := storage.DecodeMD(buf)
	if err != nil {
		return nil, fmt.Errorf("read message %s: %w", j.msgID, err)
	}
	d := webhookData{
		Event: j.event, Webhook: name, Mailbox: mailbox, Folder: string(j.folder), ID: j.msgID, MessageID: fm.MessageID,
		ThreadID: fm.ThreadID, InReplyTo: fm.InReplyTo, From: fm.From, To: fm.To, Cc: fm.Cc, Subject: fm.Subject,
		Date: fm.Date, Trusted: fm.Trusted, SizeBytes: fm.SizeBytes,
	}
	if d.To == nil {
		d.To = []string{}
	}
	at := j.eventAt
	if !fm.ReceivedAt.IsZero() {
		d.ReceivedAt = fm.ReceivedAt.UTC().Format(time.RFC3339)
		if j.event == EventOnReceive {
			at = fm.ReceivedAt
		}
	}
	for _, a := range fm.Attachments {
		d.Attachments = append(d.Attachments, webhookAttachment{Filename: a.Filename, ContentType: a.ContentType, Size: a.Size})
	}
	if j.event == EventAfterSend {
		d.DeliveryStatus, d.Round = j.status, j.round
		for _, r := range fm.Recipients {
			d.Recipients = append(d.Recipients, webhookRecipient{Address: r.Address, Status: r.Status})
		}
	}
	if withBody {
		if len(body) > MaxWebhookBodyBytes || md.Size() > n {
			d.BodyTruncated = true
			body = cutUTF8(body, MaxWebhookBodyBytes)
		}
		d.Body = &body
	}
	if at.IsZero() {
		at = s.now()
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false) // "Bob <bob@x>" stays readable; still valid JSON
	if err := enc.Encode(webhookPayload{Type: webhookType(j.event), Timestamp: at.UTC().Format(time.RFC3339Nano), Data: d}); err != nil {
		return nil, fmt.Errorf("encode webhook payload: %w", err)
	}
	return bytes.TrimSuffix(out.Bytes(), []byte("\n")), nil
}

// cutUTF8 cuts s to at most n bytes without splitting a character, and
// drops a character a read cut short.
func cutUTF8(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	for len(s) > 0 {
		r, size := utf8.DecodeLastRuneInString(s)
		if r != utf8.RuneError || size > 1 {
			break
		}
		s = s[:len(s)-1]
	}
	return s
}
