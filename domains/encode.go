package domains

import (
	"strconv"
	"strings"

	"github.com/aimx-dev/aimx/internal/tomlenc"
)

// Encode renders the config as config.toml (book/configuration.md): strings
// double-quoted, lists inline, empty and default-valued optional settings
// left out, sections in a fixed order, `[domain."…"]` tables sorted, and
// every mailbox as a standard table `[mailboxes."x@a.com"]` (sorted by
// name) followed by its `[[mailboxes."x@a.com".hooks]]` tables, so an
// operator can append a hook table by hand. Legacy and Rust keys are never
// written. The output is deterministic; Encode does not validate.
func (c *Config) Encode() []byte {
	d := Default()
	var e encoder
	e.list("domains", c.Domains)
	e.str("data_dir", normPath(c.DataDir, DefaultDataDir), "")
	e.str("runtime_dir", normPath(c.RuntimeDir, DefaultRuntimeDir), "")
	e.str("dkim_selector", c.DKIMSelector, d.DKIMSelector)
	e.str("trust", string(c.Trust), string(d.Trust))
	if len(c.TrustedSenders) > 0 {
		e.list("trusted_senders", c.TrustedSenders)
	}
	e.str("signature", c.Signature, d.Signature)
	e.dur("dedup_window", c.DedupWindow, d.DedupWindow)
	e.sendPolicy(c.Send)

	s, ds := c.SMTP, d.SMTP
	e.table("smtp")
	e.str("listen", s.Listen, ds.Listen)
	e.str("hostname", s.Hostname, "")
	e.str("tls_cert", s.TLSCert, "")
	e.str("tls_key", s.TLSKey, "")
	e.int("max_message_bytes", s.MaxMessageBytes, ds.MaxMessageBytes)
	e.int("max_recipients", int64(s.MaxRecipients), int64(ds.MaxRecipients))
	e.int("max_connections", int64(s.MaxConnections), int64(ds.MaxConnections))
	e.int("max_connections_per_ip", int64(s.MaxConnectionsPerIP), int64(ds.MaxConnectionsPerIP))
	e.dur("verify_timeout", s.VerifyTimeout, ds.VerifyTimeout)

	e.table("hooks")
	e.int("workers", int64(c.Hooks.Workers), int64(d.Hooks.Workers))
	if c.Hooks.WebhookAllowPrivate {
		e.kv("webhook_allow_private", "true")
	}
	if len(c.Hooks.WebhookHTTPHosts) > 0 {
		e.list("webhook_http_hosts", c.Hooks.WebhookHTTPHosts)
	}

	o, do := c.Outbound, d.Outbound
	e.table("outbound")
	e.str("relay", o.Relay, "")
	e.int("port", int64(o.Port), int64(do.Port))
	if o.IPv6 {
		e.kv("ipv6", "true")
	}
	e.dur("retry_base", o.RetryBase, do.RetryBase)
	e.int("retry_attempts", int64(o.RetryAttempts), int64(do.RetryAttempts))
	e.dur("send_wait", o.SendWait, do.SendWait)

	e.table("dns")
	if len(c.DNS.Servers) > 0 {
		e.list("servers", c.DNS.Servers)
	}
	e.table("mcp")
	e.str("http_listen", c.MCP.HTTPListen, "")
	if len(c.MCP.AllowedHosts) > 0 {
		e.list("allowed_hosts", c.MCP.AllowedHosts)
	}
	e.table("metrics")
	e.str("listen", c.Metrics.Listen, "")
	e.table("storage")
	e.dur("trash_retention", c.Storage.TrashRetention, d.Storage.TrashRetention)
	e.str("backend", c.Storage.Backend, "")
	e.str("dsn", c.Storage.DSN, "")
	e.str("node", c.Storage.Node, "")

	for _, dom := range sortedKeys(c.Overrides) {
		ov := c.Overrides[dom]
		e.header("[" + renderPath([]string{"domain", dom}) + "]")
		e.optStr("signature", ov.Signature)
		e.optStr("dkim_selector", ov.DKIMSelector)
		e.optStr("trust", (*string)(ov.Trust))
		if ov.TrustedSenders != nil {
			e.list("trusted_senders", ov.TrustedSenders)
		}
		e.sendPolicy(ov.Send)
	}
	for _, name := range sortedKeys(c.Mailboxes) {
		m := c.Mailboxes[name]
		path := renderPath([]string{"mailboxes", name})
		e.header("[" + path + "]")
		e.kv("address", quote(m.Name))
		e.kv("owner", quote(m.Owner))
		e.optStr("trust", (*string)(m.Trust))
		if m.TrustedSenders != nil {
			e.list("trusted_senders", m.TrustedSenders)
		}
		if m.Signature != nil {
			e.kv("signature", quote(*m.Signature))
		}
		e.sendPolicy(m.Send)
		for _, h := range m.Hooks {
			e.header("[[" + path + ".hooks]]")
			e.str("name", h.Name, "")
			e.kv("event", quote(string(h.Event)))
			e.list("cmd", h.Cmd)
			e.int("timeout_secs", int64(h.TimeoutSecs), DefaultHookTimeoutSecs)
			if h.FireOnUntrusted {
				e.kv("fire_on_untrusted", "true")
			}
			if h.FireOnAutoSubmitted {
				e.kv("fire_on_auto_submitted", "true")
			}
		}
		for _, w := range m.Webhooks {
			e.webhook(path, w)
		}
	}
	return []byte(e.b.String())
}

// webhook writes one [[<path>.webhooks]] table (book/webhooks.md); the
// secret is written because signing needs it (config.toml is 0640).
func (e *encoder) webhook(path string, w Webhook) {
	e.header("[[" + path + ".webhooks]]")
	e.str("name", w.Name, "")
	e.kv("url", quote(w.URL))
	events := make([]string, len(w.Events))
	for i, ev := range w.Events {
		events[i] = string(ev)
	}
	e.list("events", events)
	e.kv("secret", quote(w.Secret))
	if w.FireOnUntrusted {
		e.kv("fire_on_untrusted", "true")
	}
	if w.IncludeBody {
		e.kv("include_body", "true")
	}
}

// encoder writes key/value lines; a section header set with table is
// written only when the section gets its first key, so sections at their
// defaults vanish, while header writes its header at once.
type encoder struct {
	b       strings.Builder
	pending string
}

func (e *encoder) table(name string) { e.pending = "[" + name + "]" }

func (e *encoder) header(h string) {
	e.pending = ""
	e.b.WriteString("\n" + h + "\n")
}

func (e *encoder) kv(key, value string) {
	if e.pending != "" {
		e.b.WriteString("\n" + e.pending + "\n")
		e.pending = ""
	}
	writeKey(&e.b, key)
	e.b.WriteString(" = " + value + "\n")
}

func (e *encoder) str(key, v, def string) {
	if v != def {
		e.kv(key, quote(v))
	}
}

func (e *encoder) optStr(key string, v *string) {
	if v != nil {
		e.kv(key, quote(*v))
	}
}

func (e *encoder) int(key string, v, def int64) {
	if v != def {
		e.kv(key, strconv.FormatInt(v, 10))
	}
}

func (e *encoder) dur(key string, v, def Duration) {
	if v != def {
		e.kv(key, quote(v.String()))
	}
}

func (e *encoder) list(key string, vals []string) {
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = quote(v)
	}
	e.kv(key, "["+strings.Join(parts, ", ")+"]")
}

// writeKey writes a bare key when TOML allows one, else a quoted key.
func writeKey(b *strings.Builder, k string) { b.WriteString(tomlenc.Key(k)) }

// quote writes a TOML basic (double-quoted) string.
func quote(s string) string { return tomlenc.String(s) }
