package hooks

import (
	"strings"

	"github.com/rs/zerolog"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/storage"
)

// Gate decides which on_receive hooks are due for a message when it is
// stored (book/verification.md, book/hooks.md). Its answer is recorded in the message's hooks_due
// inside the same durable step that precedes 250, so it must be cheap and
// never block on the network.
type Gate struct {
	// LookupOwner resolves a mailbox owner; an owner that does not resolve
	// skips the mailbox's hooks (book/configuration.md). Nil means LookupOwner.
	LookupOwner func(name string) (Owner, error)
	// AnyHost records hooks whose owner does not resolve here too: with a
	// hook state shared by several nodes they run on a node where the
	// owner is a user (book/scale-out.md, "Hooks across nodes").
	AnyHost bool
	// Log receives one line per skipped hook, with its reason.
	Log zerolog.Logger
}

// Skip reasons, as logged in the `reason` key and kept in JobState.Reason.
const (
	reasonUntrusted     = "untrusted"
	reasonOwnerUnknown  = "owner_unresolved"
	reasonCatchall      = "catchall"
	reasonHookGone      = "hook_deleted"
	reasonMessageGone   = "message_missing"
	reasonMailboxGone   = "mailbox_deleted"
	reasonInterrupted   = "interrupted_twice"
	reasonMessageBroken = "message_unreadable"
	reasonAutoSubmitted = "auto_submitted"
	reasonLooped        = "looped"
)

// MaxOwnHops is how many times mail may already have passed through this
// server (our own Received fields) before on_receive hooks stop firing for
// it (book/hooks.md, "Loop protection").
const MaxOwnHops = 3

// Arrival is what the gate knows of a message beyond its trust verdict.
type Arrival struct {
	// Trusted is the trust verdict (none, true or false).
	Trusted string
	// AutoSubmitted is the raw Auto-Submitted value (RFC 3834), "" when
	// absent.
	AutoSubmitted string
	// OwnHops counts the Received fields this server added before (the
	// one added at this delivery excluded).
	OwnHops int
}

// automatic reports mail that hooks should not answer by default: marked
// Auto-Submitted other than "no" (RFC 3834 5), or looping through us.
func (a Arrival) automatic() (string, bool) {
	v := strings.ToLower(strings.TrimSpace(a.AutoSubmitted))
	if i := strings.IndexByte(v, ';'); i >= 0 {
		v = strings.TrimSpace(v[:i])
	}
	switch {
	case v != "" && v != "no":
		return reasonAutoSubmitted, true
	case a.OwnHops > MaxOwnHops:
		return reasonLooped, true
	}
	return "", false
}

// Due returns the effective names of mb's on_receive hooks due for a
// message stored there with the trust verdict trusted, in config order,
// followed by its on_receive webhooks as "webhook:<name>"
// (book/webhooks.md): a hook or webhook fires iff trusted == "true" or it
// sets fire_on_untrusted. Catchalls never fire hooks, and a mailbox whose
// owner no longer resolves skips all of its hooks and webhooks with a
// warning. It matches the signature of inbound.Config.HooksDue.
func (g *Gate) Due(mb domains.Mailbox, trusted string) []string {
	return g.DueFor(mb, Arrival{Trusted: trusted})
}

// DueFor is Due with the message's loop signals: an on_receive hook does
// not fire for automatic mail (Auto-Submitted other than "no", or more
// than MaxOwnHops of our own Received fields) unless it sets
// fire_on_auto_submitted (book/hooks.md, "Loop protection"). Webhooks
// notify rather than answer, so they are not held back.
func (g *Gate) DueFor(mb domains.Mailbox, a Arrival) []string {
	trusted := a.Trusted
	var hooks []domains.Hook
	for _, h := range mb.Hooks {
		if h.Event == domains.EventOnReceive {
			hooks = append(hooks, h)
		}
	}
	var webhooks []domains.Webhook
	for _, w := range mb.Webhooks {
		if w.Fires(domains.EventOnReceive) {
			webhooks = append(webhooks, w)
		}
	}
	if len(hooks) == 0 && len(webhooks) == 0 {
		return nil
	}
	if domains.IsCatchall(mb.Name) {
		// Validation refuses hooks on a catchall; this guards a config
		// built in code.
		for _, h := range hooks {
			g.skip(mb, h.EffectiveName(), trusted, reasonCatchall)
		}
		for _, w := range webhooks {
			g.skip(mb, webhookEntry(w.EffectiveName(mb.Name)), trusted, reasonCatchall)
		}
		return nil
	}
	lookup := g.LookupOwner
	switch {
	case g.AnyHost:
		// The owner is looked up where the hook runs.
		lookup = func(string) (Owner, error) { return Owner{}, nil }
	case lookup == nil:
		lookup = domains.LookupOwner
	}
	if _, err := lookup(mb.Owner); err != nil {
		g.Log.Warn().Err(err).Str("mailbox", mb.Name).Str("owner", mb.Owner).Str("reason", reasonOwnerUnknown).
			Int("hooks", len(hooks)).Int("webhooks", len(webhooks)).Msg("mailbox owner does not resolve; its hooks are skipped")
		return nil
	}
	var due []string
	for _, h := range hooks {
		name := h.EffectiveName()
		// book/verification.md: trust gates on_receive hooks.
		if trusted != storage.TrustedTrue && !h.FireOnUntrusted {
			g.skip(mb, name, trusted, reasonUntrusted)
			continue
		}
		if reason, auto := a.automatic(); auto && !h.FireOnAutoSubmitted {
			g.skip(mb, name, trusted, reason)
			continue
		}
		due = append(due, name)
	}
	for _, w := range webhooks {
		entry := webhookEntry(w.EffectiveName(mb.Name))
		if trusted != storage.TrustedTrue && !w.FireOnUntrusted {
			g.skip(mb, entry, trusted, reasonUntrusted)
			continue
		}
		due = append(due, entry)
	}
	return due
}

func (g *Gate) skip(mb domains.Mailbox, hook, trusted, reason string) {
	g.Log.Info().Str("hook", hook).Str("event", string(domains.EventOnReceive)).Str("mailbox", mb.Name).
		Str("trusted", trusted).Str("reason", reason).Msg("hook skipped")
}
