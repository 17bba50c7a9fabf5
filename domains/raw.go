package domains

// The raw structs mirror config.toml for the strict second decoding pass.
// Pointers tell "absent" from "set", so defaults and the override layers
// can be applied after decoding. D is the shape of the polymorphic `domain`
// key: string (legacy single domain) or the table of per-domain overrides.
type rawFile[D any] struct {
	// Domain holds the `[domain."a.com"]` override tables or, in a legacy
	// single-domain file (as the Rust aimx writes it), the one domain:
	// `domain = "a.com"` is read as `domains = ["a.com"]` and rewritten
	// so. The two forms cannot be mixed with `domains`.
	Domain D `toml:"domain"`
	rawCommon
}

// rawCommon is every top-level key but the polymorphic `domain`.
type rawCommon struct {
	Domains        []string              `toml:"domains"`
	DataDir        *string               `toml:"data_dir"`
	RuntimeDir     *string               `toml:"runtime_dir"`
	DKIMSelector   *string               `toml:"dkim_selector"`
	Trust          *Trust                `toml:"trust"`
	TrustedSenders []string              `toml:"trusted_senders"`
	Signature      *string               `toml:"signature"`
	DedupWindow    *Duration             `toml:"dedup_window"`
	SMTP           rawSMTP               `toml:"smtp"`
	Hooks          rawHookSettings       `toml:"hooks"`
	Outbound       rawOutbound           `toml:"outbound"`
	DNS            rawDNS                `toml:"dns"`
	MCP            rawMCP                `toml:"mcp"`
	Metrics        rawMetrics            `toml:"metrics"`
	Storage        rawStorage            `toml:"storage"`
	Mailboxes      map[string]rawMailbox `toml:"mailboxes"`
	rawSendPolicy

	// Rust aimx keys (book/upgrade.md): accepted with a warning, dropped
	// on rewrite. Each comment starts "Rust aimx" (the config reference,
	// configdoc_test.go, lists them apart).

	// Rust aimx: read as `[outbound] ipv6`; an explicit `[outbound] ipv6` wins.
	EnableIPv6 *bool `toml:"enable_ipv6"`
	// Rust aimx: ignored.
	VerifyHost *string `toml:"verify_host"`
	// Rust aimx: the `[upgrade]` table, whatever it holds, is ignored.
	Upgrade any `toml:"upgrade"`
}

type rawSMTP struct {
	Listen              *string   `toml:"listen"`
	Hostname            *string   `toml:"hostname"`
	TLSCert             *string   `toml:"tls_cert"`
	TLSKey              *string   `toml:"tls_key"`
	MaxMessageBytes     *int64    `toml:"max_message_bytes"`
	MaxRecipients       *int      `toml:"max_recipients"`
	MaxConnections      *int      `toml:"max_connections"`
	MaxConnectionsPerIP *int      `toml:"max_connections_per_ip"`
	VerifyTimeout       *Duration `toml:"verify_timeout"`
}

type rawHookSettings struct {
	Workers             *int     `toml:"workers"`
	WebhookAllowPrivate *bool    `toml:"webhook_allow_private"`
	WebhookHTTPHosts    []string `toml:"webhook_http_hosts"`
}

type rawOutbound struct {
	Relay         *string   `toml:"relay"`
	Port          *int      `toml:"port"`
	IPv6          *bool     `toml:"ipv6"`
	RetryBase     *Duration `toml:"retry_base"`
	RetryAttempts *int      `toml:"retry_attempts"`
	SendWait      *Duration `toml:"send_wait"`
}

type rawDNS struct {
	Servers []string `toml:"servers"`
}

type rawMCP struct {
	HTTPListen   *string  `toml:"http_listen"`
	AllowedHosts []string `toml:"allowed_hosts"`
}

type rawStorage struct {
	TrashRetention *Duration `toml:"trash_retention"`
	Backend        *string   `toml:"backend"`
	DSN            *string   `toml:"dsn"`
	Node           *string   `toml:"node"`
}

type rawMetrics struct {
	Listen *string `toml:"listen"`
}

type rawOverride struct {
	Signature      *string  `toml:"signature"`
	DKIMSelector   *string  `toml:"dkim_selector"`
	Trust          *Trust   `toml:"trust"`
	TrustedSenders []string `toml:"trusted_senders"`
	rawSendPolicy
}

type rawMailbox struct {
	Address        *string      `toml:"address"`
	Owner          string       `toml:"owner"`
	Trust          *Trust       `toml:"trust"`
	TrustedSenders []string     `toml:"trusted_senders"`
	Signature      *string      `toml:"signature"`
	Hooks          []rawHook    `toml:"hooks"`
	Webhooks       []rawWebhook `toml:"webhooks"`
	rawSendPolicy

	// Rust aimx: ignored; root-owned mailboxes are allowed (book/upgrade.md).
	AllowRootCatchall *bool `toml:"allow_root_catchall"`
}

type rawHook struct {
	Name                *string  `toml:"name"`
	Event               Event    `toml:"event"`
	Cmd                 []string `toml:"cmd"`
	TimeoutSecs         *int     `toml:"timeout_secs"`
	FireOnUntrusted     bool     `toml:"fire_on_untrusted"`
	FireOnAutoSubmitted bool     `toml:"fire_on_auto_submitted"`

	// Rust aimx: `type = "cmd"`, the only value it writes, is ignored;
	// any other value is an error (book/upgrade.md).
	Type *string `toml:"type"`
}

// rawWebhook is one [[mailboxes."x".webhooks]] table (book/webhooks.md).
type rawWebhook struct {
	Name            *string `toml:"name"`
	URL             string  `toml:"url"`
	Events          []Event `toml:"events"`
	Secret          string  `toml:"secret"`
	FireOnUntrusted bool    `toml:"fire_on_untrusted"`
	IncludeBody     bool    `toml:"include_body"`
}

// set copies *src into *dst when the key was present.
func set[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}
