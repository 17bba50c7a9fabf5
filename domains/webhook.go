package domains

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"
)

// Webhook is one `[[mailboxes."x@a.com".webhooks]]` table (book/webhooks.md):
// a signed POST of a message's metadata to URL on each event it lists.
type Webhook struct {
	// Name is the webhook's name, `^[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,127}$`,
	// unique among the server's webhooks; "" means derived from the
	// mailbox, the URL and the events.
	//
	// EffectiveName returns the name a webhook goes by.
	Name string
	// URL is where the POST goes: https, or http to a host listed in
	// [hooks] webhook_http_hosts.
	URL string
	// Events are the events it fires on, on_receive and/or after_send.
	Events []Event
	// Secret is the Standard Webhooks signing secret, `whsec_` and the
	// base64 of 24 to 64 random bytes. It must be kept to sign, so it
	// cannot be stored hashed (book/webhooks.md); never log it or show
	// it after the create that made it.
	Secret string
	// FireOnUntrusted lets it fire on_receive for mail that is not
	// trusted = "true", as for hooks.
	FireOnUntrusted bool
	// IncludeBody adds the message's Markdown body to the payload.
	IncludeBody bool
}

// WebhookSecretPrefix starts every webhook secret (Standard Webhooks,
// "Signature scheme": symmetric secrets are serialized as whsec_ + base64).
const WebhookSecretPrefix = "whsec_"

// Webhook secret sizes in bytes: the Standard Webhooks spec asks for at
// least 24 and at most 64 (512 bits); a generated secret has 32.
const (
	MinWebhookSecretBytes = 24
	MaxWebhookSecretBytes = 64
	newWebhookSecretBytes = 32
)

// MaxWebhookURLBytes bounds a webhook URL.
const MaxWebhookURLBytes = 2048

// The rules of a webhook definition (book/webhooks.md), next to the hook
// rules a webhook shares (RuleName, RuleFireOnUntrusted).
const (
	// RuleWebhookURL: an absolute https URL (http only to a host in
	// webhook_http_hosts), without credentials or fragment.
	RuleWebhookURL HookRule = iota + 100
	// RuleWebhookAddress: the URL's host is a loopback, private,
	// link-local or unspecified address, and the operator does not allow
	// them (webhook_allow_private).
	RuleWebhookAddress
	// RuleWebhookEvents: at least one of on_receive and after_send, each
	// once.
	RuleWebhookEvents
	// RuleWebhookSecret: whsec_ and the base64 of 24 to 64 bytes.
	RuleWebhookSecret
)

// NewWebhookSecret returns a fresh secret in the Standard Webhooks form,
// 32 bytes from r (crypto/rand when nil).
func NewWebhookSecret(r io.Reader) (string, error) {
	if r == nil {
		r = rand.Reader
	}
	b := make([]byte, newWebhookSecretBytes)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("new webhook secret: %w", err)
	}
	return WebhookSecretPrefix + base64.StdEncoding.EncodeToString(b), nil
}

// errWebhookSecret is the one wording of a bad secret: it never echoes
// the value.
var errWebhookSecret = fmt.Errorf("secret must be %q followed by the standard base64 of %d to %d random bytes (webhook_create makes one when none is given)",
	WebhookSecretPrefix, MinWebhookSecretBytes, MaxWebhookSecretBytes)

// WebhookKey is the HMAC key of a secret: the base64 after the whsec_
// prefix, decoded (Standard Webhooks, "Signature scheme").
func WebhookKey(secret string) ([]byte, error) {
	rest, ok := strings.CutPrefix(secret, WebhookSecretPrefix)
	if !ok {
		return nil, errWebhookSecret
	}
	key, err := base64.StdEncoding.DecodeString(rest)
	if err != nil || len(key) < MinWebhookSecretBytes || len(key) > MaxWebhookSecretBytes {
		return nil, errWebhookSecret
	}
	return key, nil
}

// DeriveWebhookName names a webhook written without a name: the first 6
// bytes, in lowercase hex, of sha256 over "webhook", the mailbox, the URL
// and the events, joined by 0x1F. The secret is not part of it.
func DeriveWebhookName(mailbox, rawURL string, events []Event) string {
	h := sha256.New()
	parts := []string{"webhook", mailbox, rawURL}
	for _, e := range events {
		parts = append(parts, string(e))
	}
	h.Write([]byte(strings.Join(parts, "\x1f")))
	return hex.EncodeToString(h.Sum(nil)[:6])
}

// EffectiveName is the webhook's name on mailbox: Name when set, else
// the derived one.
func (w Webhook) EffectiveName(mailbox string) string {
	if w.Name != "" {
		return w.Name
	}
	return DeriveWebhookName(mailbox, w.URL, w.Events)
}

// Fires reports whether the webhook lists event e.
func (w Webhook) Fires(e Event) bool { return slices.Contains(w.Events, e) }

// Problems lists the rules of book/webhooks.md that w breaks under the
// [hooks] settings s, in the order of its fields; nil when it keeps them
// all. No message carries the secret. Whether the name is unique and the
// mailbox may have webhooks depends on the config and is checked there.
func (w Webhook) Problems(s HookSettings) []HookProblem {
	var out []HookProblem
	add := func(r HookRule, field, format string, args ...any) {
		out = append(out, HookProblem{Rule: r, Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	if w.Name != "" {
		if err := validHookName(w.Name); err != nil {
			add(RuleName, "name", "%s", strings.Replace(err.Error(), "hook name", "webhook name", 1))
		}
	}
	if err := checkWebhookURL(w.URL, s); err != nil {
		rule := RuleWebhookURL
		if errors.Is(err, ErrWebhookAddress) {
			rule = RuleWebhookAddress
		}
		add(rule, "url", "%s", err.Error())
	}
	if len(w.Events) == 0 {
		add(RuleWebhookEvents, "events", "events must list %q, %q or both", EventOnReceive, EventAfterSend)
	}
	for i, e := range w.Events {
		switch {
		case e != EventOnReceive && e != EventAfterSend:
			add(RuleWebhookEvents, "events", "events must be %q or %q, not %q", EventOnReceive, EventAfterSend, e)
		case slices.Index(w.Events, e) != i:
			add(RuleWebhookEvents, "events", "event %q is listed twice", e)
		}
	}
	if _, err := WebhookKey(w.Secret); err != nil {
		add(RuleWebhookSecret, "secret", "%s", err.Error())
	}
	if w.FireOnUntrusted && !w.Fires(EventOnReceive) {
		add(RuleFireOnUntrusted, "fire_on_untrusted", "only a webhook on on_receive can fire on untrusted mail")
	}
	return out
}

// Broken reports whether w breaks rule r under s.
func (w Webhook) Broken(r HookRule, s HookSettings) bool {
	for _, p := range w.Problems(s) {
		if p.Rule == r {
			return true
		}
	}
	return false
}

// ErrWebhookAddress marks a webhook URL or a connection refused because
// its address is loopback, private, link-local or unspecified and
// [hooks] webhook_allow_private is off (book/webhooks.md).
var ErrWebhookAddress = errors.New("webhooks may not reach loopback, private, link-local or unspecified addresses unless the operator sets [hooks] webhook_allow_private = true")

// checkWebhookURL checks a webhook URL without echoing it (it may carry
// a token in its path or query). The host check here sees only what the
// URL spells (an IP literal, localhost); the delivery checks every
// address the name resolves to when it connects.
func checkWebhookURL(raw string, s HookSettings) error {
	if raw == "" {
		return errors.New("url is required")
	}
	if len(raw) > MaxWebhookURLBytes || !utf8.ValidString(raw) || strings.ContainsFunc(raw, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return fmt.Errorf("url must be a URL of at most %d bytes without spaces or control characters", MaxWebhookURLBytes)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" {
		return errors.New("url is not a valid absolute URL (want https://host/path)")
	}
	host := strings.ToLower(u.Hostname())
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && host != "" && WebhookHTTPAllowed(host, s):
	case u.Scheme == "http":
		return errors.New("url must use https; plain http is allowed only to a host the operator lists in [hooks] webhook_http_hosts")
	default:
		return errors.New("url must be an https URL")
	}
	if host == "" {
		return errors.New("url needs a host")
	}
	if u.User != nil {
		return errors.New("url must not hold a user name or password (the signature authenticates the request)")
	}
	if u.Fragment != "" || u.RawFragment != "" {
		return errors.New("url must not have a fragment")
	}
	if s.WebhookAllowPrivate {
		return nil
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		// RFC 6761 6.3: localhost names resolve to loopback.
		return ErrWebhookAddress
	}
	if a, err := netip.ParseAddr(host); err == nil && !WebhookAddrAllowed(a, false) {
		return ErrWebhookAddress
	}
	return nil
}

// WebhookHTTPAllowed reports whether plain http may go to host: it is in
// [hooks] webhook_http_hosts (case-insensitive).
func WebhookHTTPAllowed(host string, s HookSettings) bool {
	for _, h := range s.WebhookHTTPHosts {
		if strings.EqualFold(strings.Trim(h, "[]"), host) {
			return true
		}
	}
	return false
}

// nonPublic are the ranges a webhook never reaches unless the operator
// allows it, besides what netip classifies (loopback, private, link-local,
// multicast, unspecified): RFC 6890 special-purpose blocks that mean this
// host, a carrier's NAT or nowhere, and tunnels that could carry anything.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network" (RFC 1122 3.2.1.3)
	netip.MustParsePrefix("100.64.0.0/10"),  // shared address space (RFC 6598)
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments (RFC 6890)
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking (RFC 2544)
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved, and broadcast (RFC 1112 4)
	netip.MustParsePrefix("fec0::/10"),      // deprecated site-local (RFC 3879)
	netip.MustParsePrefix("100::/64"),       // discard-only (RFC 6666)
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64 (RFC 8215)
	netip.MustParsePrefix("2001::/32"),      // Teredo (RFC 4380): reaches any IPv4
}

// Prefixes whose addresses carry an IPv4 address, judged by it.
var (
	sixToFour = netip.MustParsePrefix("2002::/16")    // 6to4 (RFC 3056)
	nat64     = netip.MustParsePrefix("64:ff9b::/96") // NAT64 (RFC 6052)
)

// WebhookAddrAllowed reports whether a webhook may connect to a: any
// address when allowPrivate is set, else only a public unicast one
// (book/webhooks.md). An IPv4-mapped, 6to4 or NAT64 address is judged by
// the IPv4 address it carries.
func WebhookAddrAllowed(a netip.Addr, allowPrivate bool) bool {
	if allowPrivate {
		return true
	}
	if !a.IsValid() {
		return false
	}
	a = a.Unmap()
	b := a.As16()
	switch {
	case sixToFour.Contains(a):
		return WebhookAddrAllowed(netip.AddrFrom4([4]byte(b[2:6])), false)
	case nat64.Contains(a):
		return WebhookAddrAllowed(netip.AddrFrom4([4]byte(b[12:16])), false)
	}
	if a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// WebhookRef is a webhook with the mailbox it belongs to.
type WebhookRef struct {
	Mailbox string
	Webhook
}

// Name is the webhook's effective name.
func (r WebhookRef) Name() string { return r.EffectiveName(r.Mailbox) }

// AllWebhooks lists every webhook, by mailbox name and then in file order.
func (c *Config) AllWebhooks() []WebhookRef {
	var out []WebhookRef
	for _, name := range sortedKeys(c.Mailboxes) {
		for _, w := range c.Mailboxes[name].Webhooks {
			out = append(out, WebhookRef{Mailbox: name, Webhook: w})
		}
	}
	return out
}

// FindWebhook finds a webhook by its effective name (unique across the
// server).
func (c *Config) FindWebhook(name string) (WebhookRef, bool) {
	for _, w := range c.AllWebhooks() {
		if w.Name() == name {
			return w, true
		}
	}
	return WebhookRef{}, false
}

func cloneWebhooks(ws []Webhook) []Webhook {
	if ws == nil {
		return nil
	}
	out := make([]Webhook, len(ws))
	for i, w := range ws {
		w.Events = slices.Clone(w.Events)
		out[i] = w
	}
	return out
}

func webhookEqual(a, b Webhook) bool {
	return a.Name == b.Name && a.URL == b.URL && slices.Equal(a.Events, b.Events) && a.Secret == b.Secret &&
		a.FireOnUntrusted == b.FireOnUntrusted && a.IncludeBody == b.IncludeBody
}

// checkWebhooks reports the rules of book/webhooks.md that mailbox key's
// webhooks break, each under its field's key; names are unique across
// the server (webhookAt maps a name to its mailbox).
func (c *Config) checkWebhooks(k *checker, key string, m Mailbox, webhookAt map[string]string) {
	at := p("mailboxes", key)
	if IsCatchall(key) && len(m.Webhooks) > 0 {
		k.add(append(slices.Clone(at), "webhooks"), "a catchall cannot have webhooks")
	}
	for i, w := range m.Webhooks {
		wp := append(slices.Clone(at), "webhooks", idx(i))
		for _, pr := range w.Problems(c.Hooks) {
			k.add(append(slices.Clone(wp), pr.Field), "%s", pr.Msg)
		}
		name := w.EffectiveName(key)
		if other, dup := webhookAt[name]; dup {
			k.add(wp, "webhook name %q is already used by a webhook of %s (names are unique across the server)", name, other)
		} else {
			webhookAt[name] = key
		}
	}
}

// webhookSettings checks the webhook keys of [hooks] (book/webhooks.md).
func (k *checker) webhookSettings(s HookSettings) {
	for i, h := range s.WebhookHTTPHosts {
		if h == "" || strings.ContainsFunc(h, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '/' || r == '@' }) || !utf8.ValidString(h) {
			k.add(p("hooks", "webhook_http_hosts", idx(i)), "%q is not a host name or address", h)
		}
	}
}
