package domains

import (
	"maps"
	"reflect"
	"slices"
	"time"
)

// Built-in defaults of book/configuration.md. A field at its default is omitted when the
// config is rewritten.
const (
	DefaultDKIMSelector        = "aimx"
	DefaultSignature           = "Sent from aimx"
	DefaultDedupWindow         = 168 * time.Hour
	DefaultSMTPListen          = ":25"
	DefaultMaxMessageBytes     = 26214400
	DefaultMaxRecipients       = 100
	DefaultMaxConnections      = 500
	DefaultMaxConnectionsPerIP = 50
	DefaultVerifyTimeout       = 10 * time.Second
	DefaultHookWorkers         = 4
	DefaultOutboundPort        = 25
	DefaultRetryBase           = 5 * time.Minute
	DefaultRetryAttempts       = 9
	DefaultSendWait            = 10 * time.Second
	DefaultTrashRetention      = 30 * 24 * time.Hour
	DefaultHookTimeoutSecs     = 60
	MaxHookTimeoutSecs         = 600
)

// Trust is a trust policy (book/verification.md): whether a mailbox evaluates senders at all.
type Trust string

// The trust policies of book/configuration.md.
const (
	// TrustNone marks every message trusted = "none".
	TrustNone Trust = "none"
	// TrustVerified trusts an authenticated sender that matches trusted_senders.
	TrustVerified Trust = "verified"
)

// Event is the event a hook fires on (book/hooks.md).
type Event string

// The hook events of book/hooks.md.
const (
	// EventOnReceive fires once per stored inbound message.
	EventOnReceive Event = "on_receive"
	// EventAfterSend fires once per outbound delivery round.
	EventAfterSend Event = "after_send"
)

// Config is the whole server configuration, the parsed and validated form of
// config.toml (book/configuration.md). Optional settings hold their effective value: Load
// fills in the built-in defaults and Default returns them, so a field equal
// to its default is simply not written back.
//
// A published *Config is immutable (see the package documentation).
type Config struct {
	// Domains lists the mail domains, lowercased and deduplicated; the
	// first is the default domain, which a bare mailbox name means and
	// the SMTP hostname defaults to. Required, not empty.
	Domains []string
	// DataDir is where the mail is stored; "" means unset. The
	// --data-dir flag and AIMX_DATA_DIR beat it.
	//
	// ResolvePaths applies that precedence.
	DataDir string
	// RuntimeDir holds the sockets, the pid file and listen.json; ""
	// means unset. The --runtime-dir flag and AIMX_RUNTIME_DIR beat it.
	RuntimeDir string
	// DKIMSelector names the DKIM key's DNS record,
	// `<selector>._domainkey.<domain>` (an Ed25519 key signs as
	// `<selector>-ed25519`): `[a-z0-9_-]`, 1 to 63 characters. The
	// global layer of the per-domain setting.
	DKIMSelector string
	// Trust is the trust policy: with "none" every message is stored
	// trusted = "none"; with "verified" mail from TrustedSenders that
	// passes DMARC or aligned DKIM is trusted = "true" (book/verification.md).
	// The global layer of the per-mailbox setting.
	Trust Trust
	// TrustedSenders are globs (`*@example.com`; only * and ? are special)
	// matched against the sender's bare address, case-insensitively. The
	// global layer: a domain's or a mailbox's list replaces it.
	TrustedSenders []string
	// Signature is appended to the text of every message sent; "" sends
	// none. The global layer of the per-mailbox setting.
	Signature string
	// DedupWindow is how long a re-delivered message (the same Message-ID,
	// or the same content without one) is recognised and not stored again
	// (book/smtp.md).
	DedupWindow Duration
	// Send is the global layer of the send policy (SendRulesFor).
	Send SendPolicy

	SMTP     SMTP
	Hooks    HookSettings
	Outbound Outbound
	DNS      DNS
	MCP      MCP
	Metrics  Metrics
	Storage  StorageSettings

	// Overrides holds the `[domain."a.com"]` tables, keyed by domain.
	Overrides map[string]DomainOverride
	// Mailboxes holds every mailbox keyed by its name (FQDN, `*@d` for a
	// catchall); the key always equals the Mailbox's Name.
	Mailboxes map[string]Mailbox

	// Source describes the file this Config was loaded from; nil for a
	// Config built in code. It is not configuration and Equal ignores it.
	Source *Source
}

// Source records where a Config came from and what Load noticed about it.
type Source struct {
	// File is the path the config was read from.
	File string
	// Warnings are the non-fatal findings: Rust aimx keys, owners that do
	// not resolve.
	Warnings []Warning
	// LegacyDomain is set when the file used the single-domain
	// `domain = "x"` form, which a rewrite replaces by `domains`.
	LegacyDomain bool
	// LegacyMailboxKeys is set when a mailbox used a local-part key
	// (`[mailboxes.info]`), which a rewrite replaces by its FQDN.
	LegacyMailboxKeys bool
	// RustKeys is set when the file held Rust aimx keys (book/upgrade.md), which a
	// rewrite drops.
	RustKeys bool
}

// Warning is a non-fatal finding of Load, for the daemon's log.
type Warning struct {
	File    string
	Line    int // 0 when unknown
	Key     string
	Message string
}

// String renders the warning as `file:line: key: message`.
func (w Warning) String() string {
	return position(w.File, w.Line, 0) + w.Key + ": " + w.Message
}

// SMTP is the `[smtp]` section: the inbound listener and its limits.
type SMTP struct {
	// Listen is the address SMTP is served on, `host:port`; port 0 picks
	// a free port. Read at start: a change needs a restart.
	Listen string
	// Hostname is the name in the greeting and EHLO, the host the domains'
	// MX records name; "" means the default domain.
	Hostname string
	// TLSCert and TLSKey are the PEM certificate and key files (absolute
	// paths, both or neither) that STARTTLS is offered with.
	TLSCert string
	// TLSKey is the certificate's private key; see TLSCert.
	TLSKey string
	// MaxMessageBytes is the largest message accepted, in bytes
	// (announced as SIZE).
	MaxMessageBytes int64
	// MaxRecipients is how many RCPT TO one transaction may have.
	MaxRecipients int
	// MaxConnections caps the SMTP connections open at once.
	MaxConnections int
	// MaxConnectionsPerIP caps the SMTP connections open at once from
	// one client address.
	MaxConnectionsPerIP int
	// VerifyTimeout bounds the DKIM, SPF and DMARC checks of one message.
	VerifyTimeout Duration
}

// HookSettings is the `[hooks]` section: how hooks and webhooks run.
type HookSettings struct {
	// Workers is how many hook commands run at once.
	Workers int
	// WebhookAllowPrivate lets webhooks reach loopback, private,
	// link-local and unspecified addresses (book/webhooks.md); off, such a
	// URL is refused when written and every connection is checked on the
	// address it dials.
	WebhookAllowPrivate bool
	// WebhookHTTPHosts are the hosts webhooks may reach over plain http;
	// every other webhook URL is https.
	WebhookHTTPHosts []string
}

// Outbound is the `[outbound]` section: delivery of sent mail.
type Outbound struct {
	// Relay, when set, is a smarthost URL (`smtp://[user:pass@]host:port`
	// or `smtps://...`) every message goes through. It may hold a password:
	// never log it.
	Relay string
	// Port is the port connected to on MX hosts (tests point it
	// elsewhere): 1 to 65535.
	Port int
	// IPv6 lets deliveries connect to MX hosts over IPv6 too.
	IPv6 bool
	// RetryBase is the delay before the first retry of a deferred
	// delivery; it doubles at each further retry.
	RetryBase Duration
	// RetryAttempts is how many delivery attempts a recipient gets in
	// all before it fails (about 21 hours with the defaults).
	RetryAttempts int
	// SendWait is how long a send call waits for first delivery results
	// before it answers.
	SendWait Duration
}

// DNS is the `[dns]` section: where the DNS lookups of verification and
// delivery go.
type DNS struct {
	// Servers, when set, receive every lookup (`host:port`); empty means
	// the system resolver.
	Servers []string
}

// MCP is the `[mcp]` section: MCP over HTTP, for agents on other hosts
// (book/mcp.md, book/tokens.md).
type MCP struct {
	// HTTPListen, when set, serves MCP over HTTP on this address.
	HTTPListen string
	// AllowedHosts are extra Host header values accepted over HTTP.
	AllowedHosts []string
}

// Metrics is the `[metrics]` section: Prometheus metrics and a health
// check (book/operations.md).
type Metrics struct {
	// Listen, when set, serves /metrics and /healthz on this address.
	Listen string
}

// StorageSettings is the `[storage]` section (book/storage.md).
type StorageSettings struct {
	// TrashRetention is how long a deleted email stays in its mailbox's
	// trash before it is removed for good.
	TrashRetention Duration
	// Backend is where mail and shared state live: `files` (the
	// default: files under data_dir on this host) or `postgres` (one
	// database shared by several nodes, book/scale-out.md).
	Backend string
	// DSN is the connection string of the `postgres` backend, as in
	// `postgres://aimx@db.internal/aimx`; AIMX_STORAGE_DSN beats it, so a
	// password need not be in the file.
	DSN string
	// Node names this daemon among the nodes sharing one database (hook
	// jobs and queued sends are claimed in its name); "" means the host
	// name. AIMX_NODE beats it.
	Node string
}

// The storage backends of `[storage] backend` (book/scale-out.md).
const (
	BackendFiles    = "files"
	BackendPostgres = "postgres"
)

// IsPostgres reports whether the postgres backend is configured.
func (s StorageSettings) IsPostgres() bool { return s.Backend == BackendPostgres }

// DomainOverride is a `[domain."a.com"]` table: the settings of one domain
// that differ from the global ones. The domain must be one of `domains`;
// a key left out takes the global value.
//
// A nil pointer or nil slice means "not set here": the global value
// applies. A non-nil empty TrustedSenders replaces a non-empty global
// list with none.
type DomainOverride struct {
	// Signature replaces the global signature for mail sent from the
	// domain; "" sends none.
	Signature *string
	// DKIMSelector is the domain's own DKIM selector.
	DKIMSelector *string
	// Trust replaces the global trust policy for the domain's mailboxes.
	Trust *Trust
	// TrustedSenders replaces the global list for the domain's
	// mailboxes; an empty list trusts nobody.
	TrustedSenders []string
	// Send is the domain layer of the send policy.
	Send SendPolicy
}

// Mailbox is one `[mailboxes."x@a.com"]` table: a named address, or a
// domain's catchall (`*@a.com`), which gets the mail of every address of
// the domain without a mailbox of its own.
type Mailbox struct {
	// Name is the mailbox's full address, which is also its table's key
	// (`info@a.com`, or `*@a.com` for the domain's catchall). It is
	// written as `address`, which may be left out when reading.
	Name string
	// Owner is the Unix user the mailbox belongs to: they read its mail,
	// and its hooks run as them. Required.
	Owner string
	// Trust, when set, replaces the domain's and the global trust policy.
	Trust *Trust
	// TrustedSenders, when set, replaces the domain's and the global
	// list; an empty list means "no trusted senders".
	TrustedSenders []string
	// Signature, when set, replaces the domain's and the global
	// signature for mail this mailbox sends ("" sends none).
	Signature *string
	// Hooks are the mailbox's hooks in file order.
	Hooks []Hook
	// Webhooks are the mailbox's webhooks in file order (book/webhooks.md).
	Webhooks []Webhook
	// Send is the mailbox layer of the send policy.
	Send SendPolicy
}

// Hook is one `[[mailboxes."x@a.com".hooks]]` table (book/hooks.md).
type Hook struct {
	// Name is the hook's name, `^[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,127}$`,
	// unique across the server; "" means derived from the event, the
	// command and FireOnUntrusted, as the Rust aimx derives it.
	//
	// EffectiveName returns the name a hook goes by.
	Name string
	// Event is when the hook runs: once per message stored in the mailbox
	// (on_receive), or once per delivery round of a message sent from it
	// (after_send). Required.
	Event Event
	// Cmd is the argv run, never through a shell; its first element is
	// an absolute path. Required.
	Cmd []string
	// TimeoutSecs is the run time limit in seconds, 1–600: SIGTERM at the
	// limit, SIGKILL 5 s later.
	//
	// Load fills in the default (DefaultHookTimeoutSecs) for a hook
	// written without one; code that builds a Hook must set it too, since
	// 0 is invalid.
	TimeoutSecs int
	// FireOnUntrusted lets an on_receive hook fire for mail that is not
	// trusted = "true" (book/verification.md).
	FireOnUntrusted bool
	// FireOnAutoSubmitted lets an on_receive hook fire for automatic mail
	// (Auto-Submitted other than "no", or mail that looped through this
	// server, book/hooks.md "Loop protection").
	FireOnAutoSubmitted bool
}

// Default returns a Config for the given domains with every other setting
// at its built-in default. The domains are used as given; Validate checks them.
func Default(domains ...string) *Config {
	return &Config{
		Domains:      slices.Clone(domains),
		DKIMSelector: DefaultDKIMSelector,
		Trust:        TrustNone,
		Signature:    DefaultSignature,
		DedupWindow:  Duration(DefaultDedupWindow),
		Storage:      StorageSettings{TrashRetention: Duration(DefaultTrashRetention)},
		SMTP: SMTP{
			Listen:              DefaultSMTPListen,
			MaxMessageBytes:     DefaultMaxMessageBytes,
			MaxRecipients:       DefaultMaxRecipients,
			MaxConnections:      DefaultMaxConnections,
			MaxConnectionsPerIP: DefaultMaxConnectionsPerIP,
			VerifyTimeout:       Duration(DefaultVerifyTimeout),
		},
		Hooks: HookSettings{Workers: DefaultHookWorkers},
		Outbound: Outbound{
			Port:          DefaultOutboundPort,
			RetryBase:     Duration(DefaultRetryBase),
			RetryAttempts: DefaultRetryAttempts,
			SendWait:      Duration(DefaultSendWait),
		},
		Overrides: map[string]DomainOverride{},
		Mailboxes: map[string]Mailbox{},
	}
}

// Clone returns a deep copy that shares nothing with c, so it can be
// modified even when c is published. Source is shared: it is never modified.
func (c *Config) Clone() *Config {
	n := *c
	n.Domains = cloneSlice(c.Domains)
	n.TrustedSenders = cloneSlice(c.TrustedSenders)
	n.DNS.Servers = cloneSlice(c.DNS.Servers)
	n.MCP.AllowedHosts = cloneSlice(c.MCP.AllowedHosts)
	n.Hooks.WebhookHTTPHosts = cloneSlice(c.Hooks.WebhookHTTPHosts)
	n.Send = c.Send.clone()
	n.Overrides = make(map[string]DomainOverride, len(c.Overrides))
	for k, o := range c.Overrides {
		n.Overrides[k] = o.clone()
	}
	n.Mailboxes = make(map[string]Mailbox, len(c.Mailboxes))
	for k, m := range c.Mailboxes {
		n.Mailboxes[k] = m.Clone()
	}
	return &n
}

func (o DomainOverride) clone() DomainOverride {
	return DomainOverride{
		Signature:      clonePtr(o.Signature),
		DKIMSelector:   clonePtr(o.DKIMSelector),
		Trust:          clonePtr(o.Trust),
		TrustedSenders: cloneSlice(o.TrustedSenders),
		Send:           o.Send.clone(),
	}
}

// Clone returns a deep copy of the mailbox, its hooks and webhooks
// included.
func (m Mailbox) Clone() Mailbox {
	m.Trust = clonePtr(m.Trust)
	m.TrustedSenders = cloneSlice(m.TrustedSenders)
	m.Signature = clonePtr(m.Signature)
	if m.Hooks != nil {
		hooks := make([]Hook, len(m.Hooks))
		for i, h := range m.Hooks {
			h.Cmd = cloneSlice(h.Cmd)
			hooks[i] = h
		}
		m.Hooks = hooks
	}
	m.Webhooks = cloneWebhooks(m.Webhooks)
	m.Send = m.Send.clone()
	return m
}

// Equal reports whether a and b hold the same configuration, ignoring
// Source. A nil and an empty list are equal except where the difference
// means something: the TrustedSenders of an override or a mailbox.
func Equal(a, b *Config) bool {
	if a == nil || b == nil {
		return a == b
	}
	x, y := *a, *b
	x.Source, y.Source = nil, nil
	x.DataDir, y.DataDir = normPath(x.DataDir, DefaultDataDir), normPath(y.DataDir, DefaultDataDir)
	x.RuntimeDir, y.RuntimeDir = normPath(x.RuntimeDir, DefaultRuntimeDir), normPath(y.RuntimeDir, DefaultRuntimeDir)
	if !slices.Equal(x.Domains, y.Domains) || !slices.Equal(x.TrustedSenders, y.TrustedSenders) ||
		!slices.Equal(x.DNS.Servers, y.DNS.Servers) || !slices.Equal(x.MCP.AllowedHosts, y.MCP.AllowedHosts) ||
		!slices.Equal(x.Hooks.WebhookHTTPHosts, y.Hooks.WebhookHTTPHosts) {
		return false
	}
	x.Domains, y.Domains = nil, nil
	x.TrustedSenders, y.TrustedSenders = nil, nil
	x.DNS.Servers, y.DNS.Servers = nil, nil
	x.MCP.AllowedHosts, y.MCP.AllowedHosts = nil, nil
	x.Hooks.WebhookHTTPHosts, y.Hooks.WebhookHTTPHosts = nil, nil
	if !x.Send.equal(y.Send) {
		return false
	}
	x.Send, y.Send = SendPolicy{}, SendPolicy{}
	if !maps.EqualFunc(x.Overrides, y.Overrides, overrideEqual) ||
		!maps.EqualFunc(x.Mailboxes, y.Mailboxes, mailboxEqual) {
		return false
	}
	x.Overrides, y.Overrides = nil, nil
	x.Mailboxes, y.Mailboxes = nil, nil
	return reflect.DeepEqual(x, y)
}

func overrideEqual(a, b DomainOverride) bool {
	return ptrEqual(a.Signature, b.Signature) && ptrEqual(a.DKIMSelector, b.DKIMSelector) &&
		ptrEqual(a.Trust, b.Trust) && setSliceEqual(a.TrustedSenders, b.TrustedSenders) && a.Send.equal(b.Send)
}

func mailboxEqual(a, b Mailbox) bool {
	return a.Name == b.Name && a.Owner == b.Owner && ptrEqual(a.Trust, b.Trust) &&
		setSliceEqual(a.TrustedSenders, b.TrustedSenders) && ptrEqual(a.Signature, b.Signature) && a.Send.equal(b.Send) &&
		slices.EqualFunc(a.Hooks, b.Hooks, func(h, k Hook) bool {
			return h.Name == k.Name && h.Event == k.Event && slices.Equal(h.Cmd, k.Cmd) &&
				h.TimeoutSecs == k.TimeoutSecs && h.FireOnUntrusted == k.FireOnUntrusted && h.FireOnAutoSubmitted == k.FireOnAutoSubmitted
		}) && slices.EqualFunc(a.Webhooks, b.Webhooks, webhookEqual)
}

// setSliceEqual compares lists where nil ("unset") differs from empty.
func setSliceEqual(a, b []string) bool {
	return (a == nil) == (b == nil) && slices.Equal(a, b)
}

func ptrEqual[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// cloneSlice copies s, keeping nil as nil and empty as non-nil empty.
func cloneSlice(s []string) []string {
	if s == nil {
		return nil
	}
	return append(make([]string, 0, len(s)), s...)
}

// Ptr returns a pointer to v, for setting the optional fields of
// DomainOverride and Mailbox.
func Ptr[T any](v T) *T { return &v }

// normPath maps a path equal to its production default to "" (unset): the
// two resolve the same (book/configuration.md), and the default is not written.
func normPath(dir, def string) string {
	if dir == def {
		return ""
	}
	return dir
}
