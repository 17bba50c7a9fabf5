package inbound

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/internal/panics"
	"github.com/aimx-dev/aimx/mail/auth"
	"github.com/aimx-dev/aimx/mail/message"
	"github.com/aimx-dev/aimx/mail/outcome"
	"github.com/aimx-dev/aimx/storage"
)

// DefaultStoreParallelism bounds how many mailboxes one transaction stores
// into at once: their fsyncs overlap, and a 100-recipient message does not
// start 100 goroutines.
const DefaultStoreParallelism = 8

// Config builds a Deliverer.
type Config struct {
	// Locks are the per-mailbox locks (book/admin.md) shared with the operations
	// that remove mailboxes; nil stores without them.
	Locks *domains.MailboxLocks
	// Registry is the live configuration, read once per transaction when
	// the Envelope carries no snapshot of its own.
	Registry *domains.Registry
	// Store is where messages go (required).
	Store storage.MessageStore
	// Resolver answers the DKIM, SPF and DMARC lookups (required).
	Resolver auth.Resolver
	// Dedup recognises re-deliveries; nil builds one over Store.
	Dedup *Dedup
	// Now is the clock for received_at and the stem (time.Now when nil).
	Now func() time.Time
	// LookupOwner resolves a mailbox owner to a uid/gid when the daemon
	// runs as root (domains.LookupOwner when nil).
	LookupOwner func(name string) (domains.Owner, error)
	// HooksDue names the on_receive hooks due for a message stored in mb
	// with the given trust verdict; their names go to the frontmatter
	// hooks_due (book/hooks.md). Nil records none.
	HooksDue func(mb domains.Mailbox, trusted string) []string
	// HooksDueFor, when set, is used instead of HooksDue and also gets
	// the message's loop signals: its raw Auto-Submitted value and how
	// many Received fields this server added before (book/hooks.md, "Loop
	// protection").
	HooksDueFor func(mb domains.Mailbox, trusted, autoSubmitted string, ownHops int) []string
	// OnStored is told about every message newly stored (never about a
	// re-delivery absorbed by dedup), after its .md is durable and before
	// the sender gets 250. It runs inside the SMTP transaction, so it must
	// not block: the hook scheduler enqueues without waiting, and a dropped
	// enqueue is recovered from hooks_due in the stored .md (book/hooks.md).
	// Nil tells nobody.
	OnStored func(StoredMessage)
	// Report, when set, recognises a delivery status notification by its
	// Content-Type and reads the whole message (header and body) for the
	// Message-ID of the message it reports on. A report without an
	// In-Reply-To of its own is stored with that id as in_reply_to, so it
	// joins the sent message's thread, and OnStored is told it is a report
	// (book/sending.md, "Bounces"). Nil recognises none.
	Report func(contentType string, msg io.Reader) (originalID string, ok bool)
	// VerifyIntn is the DMARC pct sampler handed to the verifier (nil:
	// math/rand/v2). Tests pin it.
	VerifyIntn func(n int) int
	// Parallelism bounds the mailboxes stored at once
	// (DefaultStoreParallelism when zero).
	Parallelism int
	// SpoolDir is where DATA is spooled while a transaction is handled
	// (book/smtp.md "Spooling"); made 0700 when missing. The daemon uses
	// <data>/.spool/smtp; "" means a directory under os.TempDir().
	SpoolDir string
	// Panics counts panics recovered while storing (nil: logged only).
	Panics *panics.Counter
	// Log receives warnings (an owner that no longer resolves). The one
	// line per transaction is the SMTP server's.
	Log zerolog.Logger
}

// StoredMessage describes one message newly stored in one mailbox, for
// Config.OnStored.
type StoredMessage struct {
	// Mailbox is the mailbox as the transaction's config snapshot has it.
	Mailbox domains.Mailbox
	// Ref is where its storage lives; ID is the stored message's id (stem).
	Ref storage.MailboxRef
	ID  string
	// ReceivedAt is the receipt time that named the stem.
	ReceivedAt time.Time
	// Trusted is the trust verdict stored in the frontmatter.
	Trusted string
	// HooksDue are the on_receive hooks recorded in its frontmatter.
	HooksDue []string
	// Report is true for a delivery status notification (Config.Report).
	Report bool
}

// Deliverer is SMTP intake without SMTP: it turns one accepted transaction
// (envelope and DATA bytes) into stored messages and a typed outcome. The
// SMTP server calls it; local delivery of outbound mail can call
// it the same way. It is safe for concurrent use.
type Deliverer struct {
	cfg      Config
	dedup    *Dedup
	now      func() time.Time
	spoolDir string
	// lookupOwners is true when running as root: only then are files
	// chowned, so only then are owners resolved.
	lookupOwners bool
	// owners holds the owners resolved for the live config generation.
	owners ownerCache
}

// ownerCache resolves each owner once per config generation: not once per
// message on the way to 250, where a passwd lookup (NSS, perhaps LDAP)
// would cost every transaction. A new config (a reload, a mailbox
// created) starts afresh, so an account added or changed since is seen
// from the next generation on.
type ownerCache struct {
	mu     sync.Mutex
	gen    *domains.Config
	byName map[string]ownerLookup
}

type ownerLookup struct {
	owner domains.Owner
	err   error
}

// get returns name's owner as resolved in generation gen, resolving it
// with lookup the first time.
func (c *ownerCache) get(gen *domains.Config, name string, lookup func(string) (domains.Owner, error)) (domains.Owner, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen || c.byName == nil {
		c.gen, c.byName = gen, map[string]ownerLookup{}
	}
	r, ok := c.byName[name]
	if !ok {
		r.owner, r.err = lookup(name)
		c.byName[name] = r
	}
	return r.owner, r.err
}

// New builds a Deliverer from cfg.
func New(cfg Config) (*Deliverer, error) {
	if cfg.Store == nil {
		return nil, errors.New("inbound: new deliverer: no store")
	}
	if cfg.Resolver == nil {
		return nil, errors.New("inbound: new deliverer: no resolver")
	}
	d := &Deliverer{cfg: cfg, dedup: cfg.Dedup, now: cfg.Now, lookupOwners: os.Geteuid() == 0}
	if d.now == nil {
		d.now = time.Now
	}
	if d.dedup == nil {
		d.dedup = NewDedup(cfg.Store, DedupOptions{Now: d.now, Log: cfg.Log})
	}
	d.spoolDir = cfg.SpoolDir
	if d.spoolDir == "" {
		d.spoolDir = filepath.Join(os.TempDir(), "aimx-smtp-spool")
	}
	if d.cfg.LookupOwner == nil {
		d.cfg.LookupOwner = domains.LookupOwner
	}
	if d.cfg.Parallelism <= 0 {
		d.cfg.Parallelism = DefaultStoreParallelism
	}
	return d, nil
}

// Envelope is one SMTP transaction's envelope.
type Envelope struct {
	// Config is the configuration snapshot taken when the transaction
	// started (MAIL); nil means the Registry's current one.
	Config *domains.Config
	// RemoteIP is the connecting client.
	RemoteIP netip.Addr
	// Helo is the EHLO/HELO argument; ESMTP is true after EHLO.
	Helo  string
	ESMTP bool
	// MailFrom is the reverse-path, "" for the null sender.
	MailFrom string
	// Recipients are the RCPT addresses accepted, in order.
	Recipients []string
	// TLS is true when the session runs over STARTTLS.
	TLS bool
	// ID is the transaction id, written in Received and logged.
	ID string
}

// Outcome is what happened to one transaction. Code, Enhanced and Text are
// the reply the sender gets; the rest is for the log.
type Outcome struct {
	Code     int
	Enhanced [3]int
	Text     string
	// MessageID is the Message-Id without <> ("" when absent or when the
	// message was refused before parsing).
	MessageID string
	// Size is the number of DATA bytes received.
	Size int
	// Verified is true when verification ran; Auth holds its verdicts.
	Verified bool
	Auth     auth.Result
	// Mailboxes is one entry per distinct resolved mailbox, in the order
	// of their first recipient.
	Mailboxes []MailboxOutcome
}

// MailboxOutcome is what happened in one mailbox.
type MailboxOutcome struct {
	// Mailbox is the mailbox's FQDN name (`*@d` for a catchall).
	Mailbox string
	// Recipients are the envelope recipients that resolved to it; the
	// first is its delivered_to.
	Recipients []string
	// ID is the stored message's id; "" when Duplicate or Err.
	ID        string
	Duplicate bool
	Trusted   string
	// Err is why storing failed (the transaction then answers 451).
	Err error
}

// Reply renders the outcome's reply line, without CRLF.
func (o Outcome) Reply() string {
	return fmt.Sprintf("%d %d.%d.%d %s", o.Code, o.Enhanced[0], o.Enhanced[1], o.Enhanced[2], o.Text)
}

// target is one distinct mailbox of a transaction.
type target struct {
	mb         domains.Mailbox
	ref        storage.MailboxRef
	recipients []string
}

// Deliver checks, verifies and stores one message for every distinct
// mailbox its recipients resolve to (book/storage.md, book/smtp.md, book/verification.md). A nil error means
// the sender gets 250: every mailbox has the message, newly stored or
// recognised as a duplicate. Otherwise the error is an *outcome.Error:
// 5xx for a message that can never be accepted (bad data, no recipient),
// 451 4.3.0 when storing failed for some mailbox — the copies that were
// stored stay, and the sender's retry is deduplicated against them.
//
// Deliver takes the message in memory, for callers that already hold it;
// the SMTP server spools instead (NewSpool, DeliverSpool).
func (d *Deliverer) Deliver(ctx context.Context, env Envelope, raw []byte) (Outcome, error) {
	out := Outcome{Size: len(raw)}
	cfg, e := d.config(env, int64(len(raw)))
	if e != nil {
		return d.fail(out, e)
	}
	if e := dataVerdict(message.CheckData(raw)); e != nil {
		return d.fail(out, e)
	}
	sc := &fileScratch{dir: d.spoolDir}
	defer func() { _ = sc.Close() }() // an unnamed scratch file: nothing to lose
	return d.deliver(ctx, cfg, env, bytes.NewReader(raw), sc, out)
}

// DeliverSpool is Deliver for a message received into sp. The caller
// closes sp after.
func (d *Deliverer) DeliverSpool(ctx context.Context, env Envelope, sp *Spool) (Outcome, error) {
	out := Outcome{Size: int(sp.Size())}
	cfg, e := d.config(env, sp.Size())
	if e != nil {
		return d.fail(out, e)
	}
	if e := dataVerdict(sp.check.Err()); e != nil {
		return d.fail(out, e)
	}
	src, err := sp.source()
	if err != nil {
		return d.fail(out, outcome.LocalError(err))
	}
	return d.deliver(ctx, cfg, env, src, &sp.scratch, out)
}

// config is the transaction's configuration, and the size check every
// caller gets (RFC 1870 6.1; the server refuses it earlier, this guards
// other callers).
func (d *Deliverer) config(env Envelope, size int64) (*domains.Config, *outcome.Error) {
	cfg := env.Config
	if cfg == nil && d.cfg.Registry != nil {
		cfg = d.cfg.Registry.Current()
	}
	if cfg == nil {
		return nil, outcome.LocalError(errors.New("no configuration"))
	}
	if limit := cfg.SMTP.MaxMessageBytes; limit > 0 && size > limit {
		return nil, outcome.MessageTooBig(fmt.Errorf("%d bytes over the %d limit", size, limit))
	}
	return cfg, nil
}

// dataVerdict turns CheckData's verdict into the reply (book/smtp.md: bare
// CR/LF, NUL and smuggling shapes get a 5xx).
func dataVerdict(err error) *outcome.Error {
	if err == nil {
		return nil
	}
	var de *message.DataError
	if errors.As(err, &de) {
		code, enh, text := de.Reply()
		return outcome.New(code, enh, outcome.FaultUser, text, err)
	}
	return outcome.LocalError(err)
}

// deliver parses, verifies and stores the message in src. The header is
// read and parsed once; everything else is streamed from src, and decoded
// content goes to sc (book/smtp.md "Spooling").
func (d *Deliverer) deliver(ctx context.Context, cfg *domains.Config, env Envelope, src message.Source, sc message.Scratch, out Outcome) (Outcome, error) {
	hostname := cfg.Hostname()
	head, err := message.ReadHead(src, message.MaxHeaderBytes)
	if err != nil {
		if errors.Is(err, message.ErrHeaderTooLarge) {
			// RFC 3463 3.4: X.3.4 message too big for system.
			return d.fail(out, outcome.New(552, [3]int{5, 3, 4}, outcome.FaultUser, "message header too large", err))
		}
		return d.fail(out, outcome.LocalError(err))
	}
	body := io.NewSectionReader(src, head.Len(), src.Size()-head.Len())
	// book/smtp.md, RFC 8601 5: a sender must not forge our verdicts.
	head = head.StripAuthResults(hostname)
	msg, err := message.ParseFrom(head, body, sc)
	if err != nil {
		if errors.Is(err, message.ErrNoHeader) {
			return d.fail(out, outcome.New(550, [3]int{5, 6, 0}, outcome.FaultUser, "message has no header fields", err))
		}
		return d.fail(out, outcome.LocalError(fmt.Errorf("parse message: %w", err)))
	}
	out.MessageID = msg.MessageID

	targets, rerr := resolveTargets(cfg, env.Recipients)
	if rerr != nil {
		return d.fail(out, rerr)
	}
	for _, t := range targets {
		out.Mailboxes = append(out.Mailboxes, MailboxOutcome{Mailbox: t.mb.Name, Recipients: t.recipients})
	}

	// Verify once per transaction, inside the budget (book/smtp.md), on the
	// same parse of the header.
	res, err := d.verify(ctx, cfg, env, auth.Input{
		Header: head.DKIMView(),
		Body:   io.NewSectionReader(body, 0, body.Size()),
		From:   head.Values("From"),
	})
	if err != nil {
		return d.fail(out, outcome.LocalError(err))
	}
	out.Verified, out.Auth = true, res

	report := false
	if d.cfg.Report != nil {
		if ct := head.Values("Content-Type"); len(ct) > 0 {
			whole := io.MultiReader(bytes.NewReader(head.Bytes()), io.NewSectionReader(body, 0, body.Size()))
			var orig string
			if orig, report = d.cfg.Report(ct[0], whole); report && msg.InReplyTo == "" && orig != "" {
				msg.InReplyTo = orig
			}
		}
	}

	receivedAt := d.now().UTC().Truncate(time.Second)
	tx := &delivery{report: report,
		d: d, cfg: cfg, env: env, msg: msg, size: int(out.Size), res: res, receivedAt: receivedAt,
		clean:       storage.ConcatSource(bytes.NewReader(head.Bytes()), body),
		authResults: "Authentication-Results: " + res.AuthenticationResults(hostname),
		ownHops:     ownHops(head.Values("Received"), hostname),
	}
	var g errgroup.Group
	g.SetLimit(d.cfg.Parallelism)
	for i := range targets {
		g.Go(func() error {
			defer func() {
				if p := recover(); p != nil {
					d.cfg.Panics.Recovered(d.cfg.Log, "inbound.store", p)
					out.Mailboxes[i].Err = fmt.Errorf("panic storing for %s: %v", targets[i].mb.Name, p)
				}
			}()
			out.Mailboxes[i] = tx.store(ctx, targets[i])
			return nil
		})
	}
	_ = g.Wait() // the goroutines report through out.Mailboxes, never an error

	var errs []error
	for _, m := range out.Mailboxes {
		if m.Err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", m.Mailbox, m.Err))
		}
	}
	if len(errs) > 0 {
		return d.fail(out, outcome.LocalError(errors.Join(errs...)))
	}
	out.Code, out.Enhanced = 250, [3]int{2, 0, 0}
	out.Text = "OK"
	if env.ID != "" {
		out.Text += " id=" + env.ID
	}
	return out, nil
}

func (d *Deliverer) fail(out Outcome, e *outcome.Error) (Outcome, error) {
	out.Code, out.Enhanced, out.Text = e.Code, e.Enhanced, e.Text
	return out, e
}

// resolveTargets groups the recipients by the mailbox they resolve to
// (book/smtp.md: one copy per distinct resolved mailbox), keeping the order of
// each mailbox's first recipient. A recipient that no longer resolves is
// left out; with none left the message is refused.
func resolveTargets(cfg *domains.Config, rcpts []string) ([]target, *outcome.Error) {
	var out []target
	index := map[string]int{}
	var lastErr error
	for _, r := range rcpts {
		mb, err := cfg.ResolveRecipient(r)
		if err != nil {
			lastErr = err
			continue
		}
		if i, ok := index[mb.Name]; ok {
			out[i].recipients = append(out[i].recipients, r)
			continue
		}
		index[mb.Name] = len(out)
		out = append(out, target{
			mb:         mb,
			ref:        domains.MailboxRef(mb.Name),
			recipients: []string{r},
		})
	}
	if len(out) == 0 {
		if lastErr == nil {
			lastErr = errors.New("no recipients")
		}
		if errors.Is(lastErr, domains.ErrDomainNotConfigured) {
			return nil, outcome.RelayDenied(lastErr)
		}
		return nil, outcome.UserUnknown(lastErr)
	}
	return out, nil
}

// verify runs DKIM, SPF and DMARC inside the live verify_timeout.
func (d *Deliverer) verify(ctx context.Context, cfg *domains.Config, env Envelope, in auth.Input) (auth.Result, error) {
	v, err := auth.New(auth.Config{
		Resolver: d.cfg.Resolver,
		Timeout:  cfg.SMTP.VerifyTimeout.D(),
		Now:      d.now,
		Intn:     d.cfg.VerifyIntn,
		Panics:   d.cfg.Panics,
		Log:      d.cfg.Log,
	})
	if err != nil {
		return auth.Result{}, fmt.Errorf("verify: %w", err)
	}
	var ip net.IP
	if env.RemoteIP.IsValid() {
		ip = net.IP(env.RemoteIP.Unmap().AsSlice())
	}
	in.RemoteIP, in.Helo, in.MailFrom = ip, env.Helo, env.MailFrom
	return v.Verify(ctx, in), nil
}

// owner resolves the uid/gid a mailbox's files get. Only root chowns; an
// owner that no longer resolves still receives, as the daemon's user,
// with a warning (book/configuration.md).
func (d *Deliverer) owner(mb domains.Mailbox) *storage.Owner {
	if !d.lookupOwners || mb.Owner == "" {
		return nil
	}
	var gen *domains.Config
	if d.cfg.Registry != nil {
		gen = d.cfg.Registry.Current()
	}
	o, err := d.owners.get(gen, mb.Owner, d.cfg.LookupOwner)
	if err != nil {
		d.cfg.Log.Warn().Err(err).Str("mailbox", mb.Name).Str("owner", mb.Owner).
			Msg("mailbox owner does not resolve; storing as the daemon's user")
		return nil
	}
	return &storage.Owner{UID: o.UID, GID: o.GID}
}

// ownHops counts the Received fields this server wrote ("by <hostname>",
// RFC 5321 4.4): how often the message already passed through here.
func ownHops(received []string, hostname string) int {
	needle := "by " + strings.ToLower(hostname)
	n := 0
	for _, r := range received {
		r = strings.ToLower(strings.Join(strings.Fields(r), " "))
		if i := strings.Index(r, needle); i >= 0 {
			rest := r[i+len(needle):]
			if rest == "" || rest[0] == ' ' || rest[0] == ';' || rest[0] == '(' {
				n++
			}
		}
	}
	return n
}
