package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/domains/dkimkey"
	"github.com/aimx-dev/aimx/hooks"
	"github.com/aimx-dev/aimx/internal/dnsresolver"
	"github.com/aimx-dev/aimx/mail/dsn"
	"github.com/aimx-dev/aimx/mail/inbound"
	"github.com/aimx-dev/aimx/mail/outbound"
	"github.com/aimx-dev/aimx/operations"
	"github.com/aimx-dev/aimx/storage"
)

// outboundParts are the pieces of sending the daemon runs: the queue and
// its delivery worker, the keys, and the send and bounce operations the
// tools and intake call (book/sending.md).
type outboundParts struct {
	queue    outbound.Queue
	worker   *outbound.Worker
	keys     *dkimkey.Keyring
	keyStore *dkimkey.Store
	sender   *operations.Sender
	drafts   *operations.Drafts
	bounces  *operations.Bounces
	// observeRound, when set before the worker starts, is told about
	// every round handed on (metrics); a recovered round is not a new one.
	observeRound func(outbound.RoundOutcome)
}

// newOutbound builds sending from the config at start. Listener-like
// settings (relay, port, IPv6, retries, DNS servers) apply at start; the
// domains and mailboxes a send checks are read live.
func newOutbound(a *app, cfg *domains.Config, changer *domains.Changer, store storage.MessageStore,
	paths domains.Paths, intake *inbound.Deliverer, sched *hooks.Scheduler, be *backend) (*outboundParts, error) {
	registry := changer.Registry
	keyStore := dkimkey.NewStore(paths.ConfigDir)
	keys, missing, err := dkimkey.LoadKeyring(keyStore, cfg.Domains)
	if err != nil {
		return nil, err
	}
	warnKeyless(a, missing)
	q, idem, err := be.sendState(cfg, paths)
	if err != nil {
		return nil, err
	}
	resolver, err := dnsresolver.New(dnsresolver.Config{Servers: cfg.DNS.Servers})
	if err != nil {
		return nil, fmt.Errorf("outbound DNS resolver: %w", err)
	}
	checker := &dkimChecker{a: a, keys: keys, lookup: resolver.LookupTXT, checked: map[string]bool{}}
	checker.checkNew(cfg)
	// A reload (or any config change) loads keys made meanwhile with aimx
	// dkim-keygen, makes one for a domain added to config.toml by hand,
	// and checks the DNS record of every domain it has not checked yet.
	prev := changer.OnPublish
	changer.OnPublish = func(c *domains.Config) {
		if prev != nil {
			prev(c)
		}
		missing, err := keys.Refresh(keyStore, c.Domains)
		if err != nil {
			a.log.Error().Err(err).Msg("DKIM keys: a key file did not load")
		}
		for _, d := range missing {
			if err != nil && !dkimkey.IsMissing(keyStore, d) {
				continue // a broken key file is the operator's to look at
			}
			k, gerr := keyStore.Generate(d, dkimkey.RSA, false)
			if gerr != nil {
				a.log.Error().Err(gerr).Str("domain", d).Msg("NO DKIM KEY: generating one failed; mail from " + d + " cannot be sent")
				continue
			}
			keys.Publish(&dkimkey.KeySet{Domain: d, RSA: k})
			a.log.Warn().Str("domain", d).Str("key", k.PrivatePath).Msg("generated a DKIM key for a domain added to config.toml; publish its record (aimx dkim-keygen --domain " + d + " prints it)")
		}
		checker.checkNew(c)
	}
	deliverer := &outbound.Deliverer{
		Queue: q, Resolver: resolver, Port: cfg.Outbound.Port, IPv6: cfg.Outbound.IPv6,
		Retry: outbound.RetryPolicy{Base: cfg.Outbound.RetryBase.D(), Attempts: cfg.Outbound.RetryAttempts},
		Dial:  outbound.DialConfig{Hostname: cfg.Hostname()},
		Local: localDelivery{registry: registry, intake: intake},
	}
	if cfg.Outbound.Relay != "" {
		if deliverer.Relay, err = outbound.ParseRelay(cfg.Outbound.Relay); err != nil {
			return nil, fmt.Errorf("[outbound] relay: %w", err)
		}
	}
	p := &outboundParts{queue: q, keys: keys, keyStore: keyStore}
	p.bounces = &operations.Bounces{Registry: registry, Store: store, Queue: q,
		DeliverLocal: func(ctx context.Context, from string, rcpts []string, data []byte) error {
			for _, e := range intake.DeliverLocal(ctx, inbound.LocalSubmission{From: from, Recipients: rcpts, Data: data, ID: "dsn"}) {
				if e != nil {
					return e
				}
			}
			return nil
		}}
	p.sender = &operations.Sender{
		Registry: registry, Store: store, Keys: keys, Queue: q, Log: a.log, Idempotency: idem,
		AfterSend: func(ctx context.Context, mailbox, id string, round int, status string) error {
			return sched.RecordAfterSend(ctx, hooks.AfterSend{Mailbox: mailbox, ID: id, Round: round, Status: status})
		},
		Bounce: p.bounces.GaveUp,
	}
	p.worker = outbound.NewWorker(outbound.WorkerConfig{
		Queue: q, Deliverer: deliverer, Log: a.log, Panics: a.panics, RecoverInterval: be.recoverInterval(),
		OnRound: func(ctx context.Context, o outbound.RoundOutcome) error {
			var failed []outbound.Recipient
			if o.Updated != nil {
				failed = []outbound.Recipient{}
				for _, r := range o.Updated {
					if r.Status == outbound.StatusFailed {
						failed = append(failed, r)
					}
				}
			}
			err := p.sender.HandleRound(ctx, o.Item, o.Round, failed)
			if err == nil && o.Updated != nil && p.observeRound != nil {
				p.observeRound(o) // once per round: a failed hand-off is tried again
			}
			return err
		},
	})
	p.sender.Wake = p.worker.Wake
	p.drafts = &operations.Drafts{Store: store, Queue: q, Wake: p.worker.Wake}
	return p, nil
}

// dkimChecker compares each domain's published DKIM record with its
// local key, once per domain per run, in the background: a mismatch or a
// missing record is logged loudly and never blocks anything
// (book/multi-domain.md, "DKIM keys").
type dkimChecker struct {
	a       *app
	keys    *dkimkey.Keyring
	lookup  func(ctx context.Context, name string) ([]string, error)
	mu      sync.Mutex
	checked map[string]bool
}

// checkNew starts a check of every domain of cfg not checked yet.
func (c *dkimChecker) checkNew(cfg *domains.Config) {
	for _, d := range cfg.Domains {
		c.mu.Lock()
		done := c.checked[d]
		c.checked[d] = true
		c.mu.Unlock()
		set, err := c.keys.KeySet(d)
		if done || err != nil {
			continue
		}
		sel := cfg.EffectiveForDomain(d).DKIMSelector
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			state, detail := dkimkey.CheckPublished(ctx, c.lookup, d, sel, set.RSA.Public())
			ev := c.a.log.Warn()
			if state == dkimkey.PublishedMatch {
				ev = c.a.log.Info()
			}
			ev.Str("domain", d).Str("selector", sel).Str("dkim_dns", string(state)).Msg("DKIM record in DNS: " + detail)
		}()
	}
}

// warnKeyless logs one loud line per domain without a DKIM key
// (book/sending.md, "Signing"): the daemon runs, but no mailbox of that
// domain can send until the key exists.
func warnKeyless(a *app, missing []string) {
	for _, d := range missing {
		a.log.Warn().Str("domain", d).Msg("NO DKIM KEY: mail from " + d + " cannot be sent until you run: aimx dkim-keygen --domain " + d + " and then aimx reload")
	}
}

// localDelivery is outbound.Local over intake: recipients on our own
// domains are stored through the same path as mail from outside
// (book/sending.md, "Local recipients").
type localDelivery struct {
	registry *domains.Registry
	intake   *inbound.Deliverer
}

// Handles reports a domain of the live config.
func (l localDelivery) Handles(domain string) bool { return l.registry.Current().HasDomain(domain) }

// Deliver runs the message through intake.
func (l localDelivery) Deliver(ctx context.Context, from string, rcpts []string, data []byte) []outbound.Result {
	errs := l.intake.DeliverLocal(ctx, inbound.LocalSubmission{From: from, Recipients: rcpts, Data: data, ID: "local"})
	out := make([]outbound.Result, len(rcpts))
	for i, r := range rcpts {
		out[i] = outbound.Result{Recipient: r, Code: 250, Enhanced: [3]int{2, 0, 0}, Text: "stored on this server"}
		if e := errs[i]; e != nil {
			out[i] = outbound.Result{Recipient: r, Code: e.Code, Enhanced: e.Enhanced, Text: e.Text, Err: e}
		}
	}
	return out
}

// reportWatcher returns intake's OnStored hand-off for delivery status
// notifications: a report stored in a mailbox's inbox updates the sent
// copy it is about (book/sending.md, "Bounces"). It runs outside the SMTP
// transaction: OnStored must not block.
func reportWatcher(a *app, parts **outboundParts, next func(inbound.StoredMessage)) func(inbound.StoredMessage) {
	return func(m inbound.StoredMessage) {
		next(m)
		if !m.Report || *parts == nil {
			return
		}
		b := (*parts).bounces
		go func() {
			defer func() {
				if p := recover(); p != nil {
					a.panics.Recovered(a.log, "bounce report", p)
				}
			}()
			id, err := b.Report(context.Background(), m.Mailbox.Name, m.ID)
			if err != nil {
				a.log.Info().Err(err).Str("mailbox", m.Mailbox.Name).Str("id", m.ID).Msg("delivery report not matched to a sent message")
				return
			}
			a.log.Info().Str("mailbox", m.Mailbox.Name).Str("report", m.ID).Str("sent", id).Msg("delivery report recorded")
		}()
	}
}

// maxReportScan caps what intake reads of a delivery report to find the
// message it is about.
const maxReportScan = 4 << 20

// reportOriginal is intake's Report: a delivery status notification and
// the Message-ID of the message it reports on.
func reportOriginal(contentType string, msg io.Reader) (string, bool) {
	if !dsn.IsReport(strings.TrimSpace(contentType)) {
		return "", false
	}
	rep, err := dsn.Parse(msg, maxReportScan)
	if err != nil {
		return "", false
	}
	return rep.OriginalMessageID, true
}
