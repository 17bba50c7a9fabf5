package hooks

import (
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
)

// Due returns the effective names of mb's on_receive hooks due for a
// message stored there with the trust verdict trusted, in config order,
// followed by its on_receive webhooks as "webhook:<name>"
// (book/webhooks.md): a hook or webhook fires iff trusted == "true" or it
// sets fire_on_untrusted. Catchalls never fire hooks, and a mailbox whose
// owner no longer resolves skips all of its hooks and webhooks with a
// warning. It matches the signature of inbound.Config.HooksDue.
func (g *Gate) Due(mb domains.Mailbox, trusted string) []string {
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
	if lookup == nil {
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
