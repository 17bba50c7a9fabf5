package mcp

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/operations"
)

// The webhook tools (book/webhooks.md): webhook_create, webhook_list and
// webhook_delete. They need hook rights, like the hook tools: a webhook
// sends mail metadata (and, opt-in, bodies) off the host.

// WebhookInfo is one webhook in webhook_list, without its secret.
type WebhookInfo = operations.WebhookInfo

// WebhookListResult is webhook_list's result.
type WebhookListResult struct {
	Webhooks []WebhookInfo `json:"webhooks" jsonschema:"Webhooks by mailbox name, then in the order they were added. Secrets are never listed."`
}

// WebhookCreateResult is webhook_create's result: the webhook and, this
// once, its secret.
type WebhookCreateResult struct {
	Name            string   `json:"name" jsonschema:"The webhook's name (the derived one when none was given), which webhook_delete takes."`
	Mailbox         string   `json:"mailbox" jsonschema:"The mailbox's full address."`
	URL             string   `json:"url" jsonschema:"Where the signed POST goes."`
	Events          []string `json:"events" jsonschema:"The events it fires on."`
	FireOnUntrusted bool     `json:"fire_on_untrusted" jsonschema:"Whether it also fires for untrusted emails."`
	IncludeBody     bool     `json:"include_body" jsonschema:"Whether the payload carries the email's Markdown body."`
	Secret          string   `json:"secret" jsonschema:"The signing secret (whsec_ and base64), in the Standard Webhooks form. Shown only in this result: give it to the receiver, which verifies the webhook-signature header with it; webhook_list never shows it again."`
}

// WebhookDeleteResult is webhook_delete's result.
type WebhookDeleteResult struct {
	Name string `json:"name" jsonschema:"The deleted webhook's name."`
}

func (s *Server) webhookCreateTool() *toolDef {
	return &toolDef{
		name:  "webhook_create",
		needs: needHookRights,
		title: "Create a webhook",
		description: "Make the server POST a signed JSON notice to a URL on a mailbox event: on_receive once for each email stored in the mailbox (by default only trusted ones), after_send once per delivery round of an email it sent. " +
			"The notice carries the email's metadata (sender, recipients, subject, ids, trust verdict, thread; include_body adds the Markdown body) and is signed the Standard Webhooks way (webhook-id, webhook-timestamp, webhook-signature headers); failed deliveries are retried for a day. " +
			"The result holds the signing secret, shown only this once. Only create webhooks the user asked for: they send mail data off this host. Not available for catchalls or to tokens without hook rights.",
		in: object("",
			req("mailbox", mailboxParam()),
			req("url", str("Where to POST: an https URL (plain http only to hosts the operator allows). Loopback, private and link-local addresses are refused unless the operator allows them.")),
			req("events", array("When it fires: on_receive (each stored email), after_send (each delivery round of a sent email), or both.", enum("", eventNames()...)).with("minItems", 1)),
			opt("name", str("A name, unique on the server: letters, digits, '_', '.', '-', up to 128 characters. Left out, a name is derived from the mailbox, URL and events.")),
			opt("secret", str("Your own signing secret, whsec_ followed by the base64 of 24 to 64 random bytes. Left out, a new one is generated and returned once.")),
			opt("fire_on_untrusted", boolean("on_receive only: also fire for emails that are not trusted. Their content is attacker-controlled; leave false unless the receiver treats it as data.").with("default", false)),
			opt("include_body", boolean("Also send the email's body as Markdown (cut at 256 KiB). Off by default: the metadata is usually enough, and the body stays on this server.").with("default", false)),
		),
		out:     withEnum(resultSchema[WebhookCreateResult]("The webhook, with its secret shown this once."), eventNames(), "events[]"),
		example: map[string]any{"mailbox": "support", "url": "https://hooks.example.com/aimx", "events": []string{"on_receive"}},
		handle:  s.webhookCreate,
	}
}

func (s *Server) webhookListTool() *toolDef {
	return &toolDef{
		name:        "webhook_list",
		needs:       needHookRights,
		title:       "List webhooks",
		description: "List the webhooks of the mailboxes you can use, or of one mailbox, with their URL, events and settings. Secrets are never shown. It changes nothing.",
		readOnly:    true, idempotent: true,
		in:      object("", opt("mailbox", str("Only this mailbox's webhooks: a full address or a bare local part. Left out, the webhooks of every mailbox you can use."))),
		out:     withEnum(resultSchema[WebhookListResult](""), eventNames(), "webhooks[]", "events[]"),
		example: map[string]any{"mailbox": "support"},
		handle:  s.webhookList,
	}
}

func (s *Server) webhookDeleteTool() *toolDef {
	return &toolDef{
		name:        "webhook_delete",
		needs:       needHookRights,
		title:       "Delete a webhook",
		description: "Delete a webhook by name so nothing more is sent to its URL, including deliveries still being retried. Use webhook_list to find the name.",
		destructive: true, idempotent: true,
		in:      object("", req("name", str("The webhook's name, as webhook_list shows it."))),
		out:     resultSchema[WebhookDeleteResult](""),
		example: map[string]any{"name": "crm"},
		handle:  s.webhookDelete,
	}
}

// errNoWebhookRights refuses the webhook tools to a caller without hook
// rights.
func errNoWebhookRights() error {
	return errorf("this connection may not manage webhooks (they need hook rights: a webhook sends mail data off the host); ask the operator for a token created with --allow-hooks.")
}

// webhooks is the operation behind the tools: the hook tools' config
// updater (nil when hooks cannot be changed here).
func (s *Server) webhooks() *operations.Webhooks {
	if s.deps.Hooks == nil {
		return nil
	}
	return &operations.Webhooks{Config: s.deps.Hooks.Config, Rand: s.deps.Rand}
}

// webhookCreate answers webhook_create (book/webhooks.md).
func (s *Server) webhookCreate(ctx context.Context, c *call) (any, string, error) {
	if !c.caller.AllowHooks {
		return nil, "", errNoWebhookRights()
	}
	var args struct {
		Mailbox         string   `json:"mailbox"`
		URL             string   `json:"url"`
		Events          []string `json:"events"`
		Name            string   `json:"name"`
		Secret          string   `json:"secret"`
		FireOnUntrusted bool     `json:"fire_on_untrusted"`
		IncludeBody     bool     `json:"include_body"`
	}
	if err := c.bind(&args); err != nil {
		return nil, "", err
	}
	m, err := visibleMailbox(c.cfg, c.caller, args.Mailbox)
	if err != nil {
		return nil, "", err
	}
	if domains.IsCatchall(m.Name) {
		return nil, "", errorf("%s is a catchall; catchalls have no webhooks. Create a mailbox for the address and add the webhook there.", m.Name)
	}
	ops := s.webhooks()
	if ops == nil {
		return nil, "", errorf("webhooks cannot be changed on this server.")
	}
	w := domains.Webhook{Name: args.Name, URL: args.URL, Secret: args.Secret, FireOnUntrusted: args.FireOnUntrusted, IncludeBody: args.IncludeBody}
	for _, e := range args.Events {
		w.Events = append(w.Events, domains.Event(e))
	}
	if err := webhookRuleRefusal(w, c.cfg.Hooks); err != nil {
		return nil, "", err
	}
	ref, err := ops.Create(ctx, operations.NewWebhook{Mailbox: m.Name, Webhook: w, Sees: c.caller.seesMailbox})
	if err != nil {
		return nil, "", webhookCreateRefusal(err, m.Name, w)
	}
	row := operations.WebhookInfoOf(ref)
	res := WebhookCreateResult{Name: row.Name, Mailbox: row.Mailbox, URL: row.URL, Events: row.Events,
		FireOnUntrusted: row.FireOnUntrusted, IncludeBody: row.IncludeBody, Secret: ref.Secret}
	return res, fmt.Sprintf("created webhook %s on %s (%s) posting to %s\nsigning secret, shown only now: %s",
		res.Name, m.Name, strings.Join(res.Events, ", "), res.URL, res.Secret), nil
}

// webhookRuleRefusal words, for the agent, the first rule the new webhook
// breaks (domains.Webhook.Problems, the rules the config is validated
// with); the secret is never echoed.
func webhookRuleRefusal(w domains.Webhook, s domains.HookSettings) error {
	switch {
	case w.Broken(domains.RuleWebhookAddress, s):
		return errorf("the webhook was not created: %s.", domains.ErrWebhookAddress)
	case w.Broken(domains.RuleWebhookURL, s):
		return errorf("the webhook was not created: url must be an absolute https URL without a user name, password or fragment, such as https://hooks.example.com/aimx (plain http only to hosts the operator allows).")
	case w.Broken(domains.RuleWebhookEvents, s):
		return errorf("events must list on_receive, after_send or both, each once.")
	case w.Secret != "" && w.Broken(domains.RuleWebhookSecret, s):
		return errorf("the webhook was not created: secret must be whsec_ followed by the standard base64 of %d to %d random bytes; leave it out to get a new one.",
			domains.MinWebhookSecretBytes, domains.MaxWebhookSecretBytes)
	case w.Broken(domains.RuleFireOnUntrusted, s):
		return errorf("fire_on_untrusted applies to webhooks on on_receive only.")
	case w.Broken(domains.RuleName, s):
		return errWebhookNameUnavailable(w.Name)
	}
	return nil
}

// errWebhookNameUnavailable is the one refusal of a name that breaks the
// grammar or is taken by a webhook the caller may not see.
func errWebhookNameUnavailable(name string) error {
	if name == "" {
		return errorf("the webhook was not created: the name derived from its mailbox, URL and events cannot be used. Pass a name of your own: letters, digits, '_', '.', '-', up to 128 characters, unique on the server.")
	}
	return errorf("the webhook was not created: the name %q cannot be used. Webhook names are letters, digits, '_', '.', '-' (up to 128 characters, not starting with '.' or '-') and unique on the server; choose another name.", name)
}

// webhookCreateRefusal words a refused webhook_create without a file
// path, another owner's mailbox or URL, or the secret.
func webhookCreateRefusal(err error, mailbox string, w domains.Webhook) error {
	var taken *operations.WebhookTakenError
	switch {
	case errors.Is(err, operations.ErrNoSuchMailbox):
		return errMailboxNotFound(mailbox)
	case errors.As(err, &taken) && taken.Hidden:
		return errWebhookNameUnavailable(w.Name)
	case errors.As(err, &taken):
		return errorf("the webhook was not created: %s already has a webhook named %q (names are unique on the server); choose another name, or delete that webhook first.", taken.Mailbox, taken.Name)
	case errors.Is(err, operations.ErrInvalidWebhook):
		prefix := `mailboxes."` + mailbox + `".webhooks`
		var msgs []string
		for _, ce := range configErrors(err) {
			if strings.HasPrefix(ce.Key, prefix) {
				msgs = append(msgs, strings.TrimSuffix(ce.Msg, "."))
			}
		}
		if len(msgs) == 0 {
			return errorf("the webhook was not created: it breaks a rule of webhook definitions (see the tool's input schema).")
		}
		return errorf("the webhook was not created: %s.", strings.Join(msgs, "; "))
	}
	return err
}

// webhookList answers webhook_list: the webhooks of visible mailboxes,
// from the live config, never with their secrets.
func (s *Server) webhookList(_ context.Context, c *call) (any, string, error) {
	if !c.caller.AllowHooks {
		return nil, "", errNoWebhookRights()
	}
	var args struct {
		Mailbox string `json:"mailbox"`
	}
	if err := c.bind(&args); err != nil {
		return nil, "", err
	}
	only := ""
	if args.Mailbox != "" {
		m, err := visibleMailbox(c.cfg, c.caller, args.Mailbox)
		if err != nil {
			return nil, "", err
		}
		only = m.Name
	}
	res := WebhookListResult{Webhooks: operations.WebhookRows(c.cfg, only, c.caller.seesMailbox)}
	var b strings.Builder
	for _, w := range res.Webhooks {
		fmt.Fprintf(&b, "%s  %s  %s  %s\n", w.Name, w.Mailbox, strings.Join(w.Events, ","), w.URL)
	}
	return res, fmt.Sprintf("%d webhooks\n%s", len(res.Webhooks), b.String()), nil
}

// webhookDelete answers webhook_delete.
func (s *Server) webhookDelete(ctx context.Context, c *call) (any, string, error) {
	if !c.caller.AllowHooks {
		return nil, "", errNoWebhookRights()
	}
	var args struct {
		Name string `json:"name"`
	}
	if err := c.bind(&args); err != nil {
		return nil, "", err
	}
	ops := s.webhooks()
	if ops == nil {
		return nil, "", errorf("webhooks cannot be changed on this server.")
	}
	if _, err := ops.Delete(ctx, args.Name, c.caller.seesMailbox); err != nil {
		if errors.Is(err, operations.ErrWebhookNotFound) {
			return nil, "", errorf("webhook %q not found. Call webhook_list to see the webhooks you can use.", args.Name)
		}
		return nil, "", err
	}
	return WebhookDeleteResult{Name: args.Name}, "deleted webhook " + args.Name, nil
}
