package operations

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/domains/dkimkey"
	"github.com/aimx-dev/aimx/mail/message"
	"github.com/aimx-dev/aimx/mail/outbound"
	"github.com/aimx-dev/aimx/storage"
)

// Errors of the send operations (book/sending.md). The doors word them for
// their callers; the composer's own refusals (outbound.ErrControlChar,
// outbound.ErrInvalidAddress, ...) pass through wrapped in an
// *outbound.FieldError.
var (
	// ErrNoKey: the sending domain has no DKIM key loaded.
	ErrNoKey = dkimkey.ErrNoKey
	// ErrNotSentCopy: email_status on an id that is not a sent copy.
	ErrNotSentCopy = errors.New("not a sent message")
	// ErrQueueFull: the queue refused the message (disk full, say).
	ErrQueueFull = errors.New("the outbound queue could not take the message")
)

// Keys returns the DKIM keys of a domain (a *dkimkey.Keyring).
type Keys interface {
	KeySet(domain string) (*dkimkey.KeySet, error)
}

// Sender submits mail: it composes, signs, stores the sent copy, queues the
// message and reports each delivery round back into the sent copy
// (book/sending.md). The doors resolve and authorize the sending mailbox;
// Sender checks what is true whoever calls (not a catchall, a key to sign
// with, the caps).
type Sender struct {
	// Registry is the live configuration.
	Registry *domains.Registry
	// Store holds the sent copies and the mail replied to.
	Store storage.MessageStore
	// Keys signs; Queue holds the signed messages until delivered.
	Keys  Keys
	Queue outbound.Queue
	// Wake tells the delivery worker a message was queued (nil: none).
	Wake func()
	// Composer composes; its Limits.MaxMessageBytes is set per call from
	// the config when zero.
	Composer outbound.Composer
	// AfterSend records one delivery round's after_send hook work (the
	// hook scheduler's RecordAfterSend); nil records none.
	AfterSend func(ctx context.Context, mailbox, id string, round int, status string) error
	// Bounce, when set, is given every recipient a round gave up on, for
	// the DSN to the sending mailbox (bounce.go).
	Bounce func(ctx context.Context, it outbound.Item, failed []outbound.Recipient) error
	// Idempotency remembers the sends made with an idempotency key; nil
	// refuses keys.
	Idempotency Idempotency
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	Log zerolog.Logger

	// PairLimit caps the messages one mailbox sends to one address per
	// hour (loop protection, book/sending.md); 0 means DefaultPairLimit,
	// negative none.
	PairLimit int

	idemLocks keyLocks
	pairs     pairCounter
	mu        sync.Mutex
	waiters   map[string][]chan struct{} // by sent id: callers waiting for the first round
}

// SendRequest is one message to send from a mailbox the door has already
// resolved and authorized.
type SendRequest struct {
	// Config is the snapshot the call runs against (nil: Registry.Current).
	Config *domains.Config
	// From is the sending mailbox.
	From domains.Mailbox
	// To, Cc and Bcc are comma-separated address lists as the caller
	// wrote them; ReplyTo likewise.
	To, Cc, Bcc, ReplyTo string
	Subject              string
	Body                 string
	TextOnly             bool
	HTMLBody             string
	Attachments          []outbound.Attachment
	InReplyTo            string
	References           []string
	// Wait bounds how long Send waits for the first delivery round
	// (`[outbound] send_wait` when zero; negative: no wait).
	Wait time.Duration
	// IdempotencyKey, when set, makes the send happen once per Caller and
	// key within IdempotencyWindow: a repeat returns the first send's
	// state and sends nothing (book/sending.md, "Idempotent sends").
	IdempotencyKey string
	// Caller names who sends (the MCP caller's owner), scoping the key.
	Caller string
	// AutoSubmitted is written as the Auto-Submitted field (RFC 3834):
	// "auto-replied" for a send a hook triggered; "" writes none.
	AutoSubmitted string

	// reply is set by Reply: recipients already parsed.
	reply *outbound.ReplyFields
}

// SendResult is what a send call returns and what email_status reports.
type SendResult struct {
	MessageID      string            `json:"message_id"`
	ID             string            `json:"id"`
	Mailbox        string            `json:"mailbox"`
	DeliveryStatus string            `json:"delivery_status"`
	Recipients     []RecipientStatus `json:"recipients"`
	// Replayed is true when an idempotency key matched an earlier send:
	// nothing was sent by this call.
	Replayed bool `json:"replayed,omitempty"`
}

// RecipientStatus is one recipient's delivery state.
type RecipientStatus struct {
	Address   string    `json:"address"`
	Status    string    `json:"status"`
	Detail    string    `json:"detail,omitempty"`
	Attempts  int       `json:"attempts"`
	TLS       string    `json:"tls,omitempty"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

func (s *Sender) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Send composes, signs and queues one message, writes its sent copy, and
// waits up to req.Wait for the first delivery round. The message is
// durable in the queue before Send returns without error.
func (s *Sender) Send(ctx context.Context, req SendRequest) (*SendResult, error) {
	cfg := req.Config
	if cfg == nil {
		cfg = s.Registry.Current()
	}
	mb := req.From
	var idem string
	if req.IdempotencyKey != "" {
		if s.Idempotency == nil {
			return nil, fmt.Errorf("send: %w: idempotency keys are not kept on this server", ErrBadIdempotencyKey)
		}
		k, err := idemKey(req.Caller, req.IdempotencyKey)
		if err != nil {
			return nil, fmt.Errorf("send: %w", err)
		}
		idem = k
		defer s.idemLocks.lock(k)()
		if l, ok := s.Idempotency.(IdempotencyLocker); ok {
			// Shared by several nodes: the key's sends take turns across
			// them too (book/scale-out.md).
			unlock, err := l.Lock(ctx, k)
			if err != nil {
				return nil, fmt.Errorf("send: idempotency key lock: %w", err)
			}
			defer unlock()
		}
		rec, ok, err := s.Idempotency.Get(ctx, k, s.now())
		if err != nil {
			return nil, fmt.Errorf("send: %w", err)
		}
		if ok {
			res, err := s.status(ctx, domains.Mailbox{Name: rec.Mailbox}, rec.SentID)
			if err != nil {
				return nil, fmt.Errorf("send: the earlier send with this idempotency key: %w", err)
			}
			res.Replayed = true
			return res, nil
		}
	}
	if strings.HasPrefix(mb.Name, "*@") {
		return nil, fmt.Errorf("send from %s: %w: a catchall receives mail for a whole domain and cannot send", mb.Name, ErrCatchall)
	}
	_, domain := domains.SplitName(mb.Name)
	eff, ok := cfg.EffectiveFor(mb.Name)
	if !ok {
		eff = cfg.EffectiveForDomain(domain)
	}
	keys, err := s.Keys.KeySet(domain)
	if err != nil {
		return nil, fmt.Errorf("send from %s: %w", mb.Name, err)
	}
	oreq, err := s.request(mb, eff, req)
	if err != nil {
		return nil, err
	}
	composer := s.Composer
	if composer.Limits.MaxMessageBytes == 0 {
		composer.Limits.MaxMessageBytes = int(cfg.SMTP.MaxMessageBytes)
	}
	composed, err := composer.Compose(oreq)
	if err != nil {
		return nil, err
	}
	rules := cfg.SendRulesFor(mb.Name)
	if err := s.checkPolicy(ctx, mb, rules, composed.Recipients); err != nil {
		return nil, err
	}
	if err := s.pairs.allow(mb.Name, composed.Recipients, s.now(), s.PairLimit); err != nil {
		return nil, err
	}
	held := rules.ApprovalRequired
	signed, err := outbound.Sign(composed.Raw, keys, domain, eff.DKIMSelector)
	if err != nil {
		return nil, fmt.Errorf("send from %s: %w", mb.Name, err)
	}
	stored, err := s.storeSentCopy(ctx, mb, composed, signed, held)
	if err != nil {
		return nil, err
	}
	if idem != "" {
		// Recorded before the message is queued: a crash between the two
		// leaves a sent copy marked queued, never a second send.
		if err := s.Idempotency.Put(ctx, idem, SentRecord{Mailbox: mb.Name, SentID: stored.ID, MessageID: composed.MessageID, At: s.now().UTC()}); err != nil {
			s.markUnqueued(mb, stored.ID, composed.Recipients, err)
			return nil, fmt.Errorf("send from %s: %w", mb.Name, err)
		}
	}
	wait := req.Wait
	if wait == 0 {
		wait = cfg.Outbound.SendWait.D()
	}
	var round <-chan struct{}
	if wait > 0 {
		round = s.waitFor(stored.ID)
		defer s.stopWaiting(stored.ID, round)
	}
	sub := outbound.Submission{From: composed.From, Recipients: composed.Recipients, Mailbox: mb.Name, SentID: stored.ID, Data: signed, Held: held}
	if _, err := s.Queue.Enqueue(ctx, sub, s.now()); err != nil {
		// The sent copy stays, marked failed, so the agent's sent folder
		// says what happened.
		s.markUnqueued(mb, stored.ID, composed.Recipients, err)
		return nil, fmt.Errorf("send from %s: %w: %v", mb.Name, ErrQueueFull, err)
	}
	if s.Wake != nil && !held {
		s.Wake()
	}
	if round != nil && !held {
		timer := time.NewTimer(wait)
		select {
		case <-round:
		case <-timer.C:
		case <-ctx.Done():
		}
		timer.Stop()
	}
	res, err := s.status(context.WithoutCancel(ctx), mb, stored.ID)
	if err != nil {
		return nil, err
	}
	return res, nil
}

// request builds the composer's request: addresses parsed, the effective
// signature appended (book/sending.md, "Signature").
func (s *Sender) request(mb domains.Mailbox, eff domains.Effective, req SendRequest) (outbound.Request, error) {
	out := outbound.Request{
		From: outbound.Address{Addr: mb.Name}, Subject: req.Subject, Body: req.Body, TextOnly: req.TextOnly,
		HTMLBody: req.HTMLBody, Attachments: req.Attachments, InReplyTo: req.InReplyTo, References: req.References,
		Signature: eff.Signature, AutoSubmitted: req.AutoSubmitted,
	}
	lists := []struct {
		field string
		in    string
		dst   *[]outbound.Address
	}{{"to", req.To, &out.To}, {"cc", req.Cc, &out.Cc}, {"bcc", req.Bcc, &out.Bcc}, {"reply_to", req.ReplyTo, &out.ReplyTo}}
	for _, l := range lists {
		addrs, err := outbound.ParseAddressList(l.in)
		if err != nil {
			return out, &outbound.FieldError{Field: l.field, Err: err}
		}
		*l.dst = addrs
	}
	if req.reply != nil {
		bcc := out.Bcc
		req.reply.Apply(&out)
		out.Bcc = bcc
		if req.Subject != "" {
			out.Subject = req.Subject
		}
	}
	return out, nil
}

// storeSentCopy writes the sent copy (book/storage.md): the signed bytes
// as the .eml, the text the recipients read as the body, every recipient
// queued.
func (s *Sender) storeSentCopy(ctx context.Context, mb domains.Mailbox, c *outbound.Composed, signed []byte, held bool) (*storage.Stored, error) {
	msg, err := message.Parse(signed)
	if err != nil {
		return nil, fmt.Errorf("store sent copy: %w", err)
	}
	at := c.Date
	status := string(outbound.StatusQueued)
	if held {
		status = StatusHeld
	}
	rcpts := make([]storage.Recipient, len(c.Recipients))
	for i, r := range c.Recipients {
		rcpts[i] = storage.Recipient{Address: r, Status: status, UpdatedAt: at.UTC()}
	}
	fm := storage.Frontmatter{
		MessageID: msg.MessageID, ThreadID: message.ThreadID(msg), From: msg.From, To: msg.To, Cc: msg.Cc,
		ReplyTo: msg.ReplyTo, Subject: msg.Subject, Date: at.UTC().Format(time.RFC3339), SizeBytes: int64(len(signed)),
		InReplyTo: msg.InReplyTo, References: msg.References,
		DKIM: "none", SPF: "none", DMARC: "none", Trusted: storage.TrustedNone, Mailbox: mb.Name,
		OutboundFormat: string(c.Format), DeliveryStatus: status, Recipients: rcpts,
	}
	if fm.To == nil {
		fm.To = []string{}
	}
	var atts []storage.Attachment
	for _, a := range msg.Attachments {
		atts = append(atts, storage.Attachment{Filename: a.Filename, ContentType: a.ContentType, Data: a.Data})
	}
	ref := domains.MailboxRef(mb.Name)
	st, err := s.Store.Put(ctx, storage.PutRequest{Mailbox: ref, Folder: storage.Sent, Owner: nil, At: at,
		Raw: signed, Frontmatter: fm, Body: msg.Body, Attachments: atts})
	if err != nil {
		return nil, fmt.Errorf("store sent copy in %s: %w", mb.Name, err)
	}
	return st, nil
}

// markUnqueued records on the sent copy that the queue refused it.
func (s *Sender) markUnqueued(mb domains.Mailbox, id string, rcpts []string, cause error) {
	out := make([]storage.Recipient, len(rcpts))
	for i, r := range rcpts {
		out[i] = storage.Recipient{Address: r, Status: string(outbound.StatusFailed), Detail: "not queued: " + cause.Error(), UpdatedAt: s.now().UTC()}
	}
	set := func([]storage.Recipient) (string, []storage.Recipient) { return string(outbound.StatusFailed), out }
	if _, err := s.Store.SetDelivery(context.Background(), domains.MailboxRef(mb.Name), id, set); err != nil {
		s.Log.Warn().Err(err).Str("mailbox", mb.Name).Str("id", id).Msg("sent copy not marked failed")
	}
}
