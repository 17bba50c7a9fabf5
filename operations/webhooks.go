package operations

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/aimx-dev/aimx/domains"
)

// Errors of the webhook operations (book/webhooks.md), compared with
// errors.Is / errors.As.
var (
	// ErrInvalidWebhook: the webhook breaks a book/webhooks.md rule.
	ErrInvalidWebhook = errors.New("invalid webhook")
	// ErrWebhookNotFound: no webhook has that name, or the caller may not
	// see its mailbox.
	ErrWebhookNotFound = errors.New("no such webhook")
	// ErrWebhookExists: another webhook already has that (effective) name
	// (a *WebhookTakenError says whose).
	ErrWebhookExists = errors.New("webhook name already used")
)

// WebhookTakenError refuses a webhook whose name another webhook has
// (names are unique across the server). Hidden is set when the caller may
// not see that webhook's mailbox: a door must then answer without naming
// it.
type WebhookTakenError struct {
	Name    string
	Mailbox string
	Hidden  bool
}

func (e *WebhookTakenError) Error() string {
	return fmt.Sprintf("%v: %q is a webhook of %s (names are unique across the server)", ErrWebhookExists, e.Name, e.Mailbox)
}

// Is makes a *WebhookTakenError match ErrWebhookExists.
func (e *WebhookTakenError) Is(target error) bool { return target == ErrWebhookExists }

// Webhooks creates and deletes webhooks as config (book/webhooks.md),
// like Hooks: each change is a locked, durable rewrite of config.toml,
// published at once by the daemon's domains.Changer.
type Webhooks struct {
	Config domains.Updater
	// Rand is where a new secret's bytes come from; nil means crypto/rand.
	Rand io.Reader
}

// NewWebhook is a webhook to create.
type NewWebhook struct {
	// Mailbox is the mailbox name (FQDN, or a bare local part of the
	// default domain); catchalls cannot have webhooks.
	Mailbox string
	// Webhook is the definition; an empty Secret gets a new one, an
	// empty Name a derived one.
	Webhook domains.Webhook
	// Sees is re-checked under the config lock, as for hooks.
	Sees Sees
}

// Create adds a webhook and returns it, its secret included: the caller
// shows that secret once (book/webhooks.md) and never again.
func (w *Webhooks) Create(_ context.Context, req NewWebhook) (domains.WebhookRef, error) {
	wh := req.Webhook
	if wh.Secret == "" {
		secret, err := domains.NewWebhookSecret(w.Rand)
		if err != nil {
			return domains.WebhookRef{}, fmt.Errorf("create webhook: %w", err)
		}
		wh.Secret = secret
	}
	var ref domains.WebhookRef
	_, err := w.Config.Update(func(c *domains.Config) error {
		name, err := c.ResolveName(req.Mailbox)
		if err != nil {
			return fmt.Errorf("%w: mailbox %q: %v", ErrInvalidWebhook, req.Mailbox, err)
		}
		mb, ok := c.Mailboxes[name]
		if !ok || !req.Sees.sees(mb) {
			return fmt.Errorf("%w: %s", ErrNoSuchMailbox, name)
		}
		if domains.IsCatchall(name) {
			return fmt.Errorf("%w: %s is a catchall, and catchalls cannot have webhooks", ErrInvalidWebhook, name)
		}
		eff := wh.EffectiveName(name)
		if other, ok := c.FindWebhook(eff); ok {
			return &WebhookTakenError{Name: eff, Mailbox: other.Mailbox, Hidden: !req.Sees.sees(c.Mailboxes[other.Mailbox])}
		}
		mb.Webhooks = append(mb.Webhooks, wh)
		c.Mailboxes[name] = mb
		ref = domains.WebhookRef{Mailbox: name, Webhook: wh}
		// The rules (https, the private-address refusal under the
		// current [hooks] settings, events, secret) are Update's
		// validation; name them here.
		if err := c.Validate(); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidWebhook, err)
		}
		return nil
	})
	if err != nil {
		return domains.WebhookRef{}, fmt.Errorf("create webhook: %w", err)
	}
	return ref, nil
}

// Delete removes the webhook with that effective name, if it is on a
// mailbox sees admits (re-checked under the config lock), and returns it.
// Deliveries not yet made are skipped when their turn comes.
func (w *Webhooks) Delete(_ context.Context, name string, sees Sees) (domains.WebhookRef, error) {
	var ref domains.WebhookRef
	_, err := w.Config.Update(func(c *domains.Config) error {
		found, ok := c.FindWebhook(name)
		if !ok || !sees.sees(c.Mailboxes[found.Mailbox]) {
			return fmt.Errorf("%w: %q", ErrWebhookNotFound, name)
		}
		ref = found
		mb := c.Mailboxes[found.Mailbox]
		kept := mb.Webhooks[:0:0]
		for _, x := range mb.Webhooks {
			if x.EffectiveName(found.Mailbox) != name {
				kept = append(kept, x)
			}
		}
		mb.Webhooks = kept
		c.Mailboxes[found.Mailbox] = mb
		return nil
	})
	if err != nil {
		return domains.WebhookRef{}, fmt.Errorf("delete webhook: %w", err)
	}
	return ref, nil
}

// WebhookInfo is one webhook as the doors show it: a row of webhook_list.
// It never holds the secret.
type WebhookInfo struct {
	Name            string   `json:"name" jsonschema:"The webhook's name, which webhook_delete takes."`
	Mailbox         string   `json:"mailbox" jsonschema:"The mailbox's full address."`
	URL             string   `json:"url" jsonschema:"Where the signed POST goes."`
	Events          []string `json:"events" jsonschema:"The events it fires on: on_receive, after_send or both."`
	FireOnUntrusted bool     `json:"fire_on_untrusted" jsonschema:"Whether it also fires for untrusted emails."`
	IncludeBody     bool     `json:"include_body" jsonschema:"Whether the payload carries the email's Markdown body."`
}

// WebhookInfoOf is the row of one configured webhook, without its secret.
func WebhookInfoOf(r domains.WebhookRef) WebhookInfo {
	events := make([]string, 0, len(r.Events))
	for _, e := range r.Events {
		events = append(events, string(e))
	}
	return WebhookInfo{Name: r.Name(), Mailbox: r.Mailbox, URL: r.URL, Events: events,
		FireOnUntrusted: r.FireOnUntrusted, IncludeBody: r.IncludeBody}
}

// WebhookRows lists the webhooks of cfg's mailboxes that sees admits, or
// of one mailbox when only is set, by mailbox name then in the order they
// were added.
func WebhookRows(cfg *domains.Config, only string, sees Sees) []WebhookInfo {
	out := []WebhookInfo{}
	for _, w := range cfg.AllWebhooks() {
		if (only != "" && w.Mailbox != only) || !sees.sees(cfg.Mailboxes[w.Mailbox]) {
			continue
		}
		out = append(out, WebhookInfoOf(w))
	}
	return out
}
