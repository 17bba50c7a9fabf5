package domains

import (
	"fmt"
	"slices"
	"strings"
)

// builder turns the strictly decoded raw file into a Config: it applies
// defaults, folds the legacy and Rust forms into the current ones (with a
// warning each), and remembers the keys as written so that errors found
// on the canonical Config still point at the right line.
type builder struct {
	file   string
	pos    positions
	cfg    *Config
	issues []issue
	// domainAt maps an index of cfg.Domains to the path it was written at.
	domainAt [][]string
	// mailboxKey and overrideKey map canonical names to keys as written.
	mailboxKey  map[string]string
	overrideKey map[string]string
}

func (b *builder) init() {
	if b.cfg == nil {
		b.cfg = Default()
		b.cfg.Source = &Source{File: b.file}
		b.mailboxKey = map[string]string{}
		b.overrideKey = map[string]string{}
	}
}

func (b *builder) warn(path []string, format string, args ...any) {
	line, _ := b.pos.lookup(path)
	b.cfg.Source.Warnings = append(b.cfg.Source.Warnings, Warning{
		File: b.file, Line: line, Key: renderPath(path), Message: fmt.Sprintf(format, args...),
	})
}

func (b *builder) fail(path []string, format string, args ...any) {
	b.issues = append(b.issues, issue{path: slices.Clone(path), msg: fmt.Sprintf(format, args...)})
}

// legacyDomain reads `domain = "x"` as `domains = ["x"]` (book/configuration.md).
func (b *builder) legacyDomain(d string) {
	b.init()
	b.cfg.Domains = []string{strings.ToLower(d)}
	b.domainAt = [][]string{p("domain")}
	b.cfg.Source.LegacyDomain = true
	b.warn(p("domain"), "legacy single-domain form; it is written as domains = [%q] on the next rewrite", b.cfg.Domains[0])
}

// domainList lowercases the domains and drops case-insensitive duplicates,
// keeping the first occurrence and the order (book/configuration.md).
func (b *builder) domainList(list []string) {
	b.init()
	b.cfg.Domains = make([]string, 0, len(list))
	for i, d := range list {
		d = strings.ToLower(d)
		if slices.Contains(b.cfg.Domains, d) {
			continue
		}
		b.cfg.Domains = append(b.cfg.Domains, d)
		b.domainAt = append(b.domainAt, p("domains", idx(i)))
	}
}

func (b *builder) build(r *rawCommon, overrides map[string]rawOverride) {
	c := b.cfg
	set(&c.DataDir, r.DataDir)
	set(&c.RuntimeDir, r.RuntimeDir)
	// A path equal to its production default is the same as no setting
	// (book/configuration.md): the Rust aimx always writes data_dir.
	c.DataDir = normPath(c.DataDir, DefaultDataDir)
	c.RuntimeDir = normPath(c.RuntimeDir, DefaultRuntimeDir)
	set(&c.DKIMSelector, r.DKIMSelector)
	set(&c.Trust, r.Trust)
	if r.TrustedSenders != nil {
		c.TrustedSenders = r.TrustedSenders
	}
	set(&c.Signature, r.Signature)
	set(&c.DedupWindow, r.DedupWindow)
	c.Send = r.rawSendPolicy.policy()

	s := &c.SMTP
	set(&s.Listen, r.SMTP.Listen)
	set(&s.Hostname, r.SMTP.Hostname)
	s.Hostname = strings.ToLower(s.Hostname)
	set(&s.TLSCert, r.SMTP.TLSCert)
	set(&s.TLSKey, r.SMTP.TLSKey)
	set(&s.MaxMessageBytes, r.SMTP.MaxMessageBytes)
	set(&s.MaxRecipients, r.SMTP.MaxRecipients)
	set(&s.MaxConnections, r.SMTP.MaxConnections)
	set(&s.MaxConnectionsPerIP, r.SMTP.MaxConnectionsPerIP)
	set(&s.VerifyTimeout, r.SMTP.VerifyTimeout)
	set(&c.Hooks.Workers, r.Hooks.Workers)
	set(&c.Hooks.WebhookAllowPrivate, r.Hooks.WebhookAllowPrivate)
	c.Hooks.WebhookHTTPHosts = r.Hooks.WebhookHTTPHosts

	o := &c.Outbound
	set(&o.Relay, r.Outbound.Relay)
	set(&o.Port, r.Outbound.Port)
	set(&o.RetryBase, r.Outbound.RetryBase)
	set(&o.RetryAttempts, r.Outbound.RetryAttempts)
	set(&o.SendWait, r.Outbound.SendWait)
	c.DNS.Servers = r.DNS.Servers
	set(&c.MCP.HTTPListen, r.MCP.HTTPListen)
	c.MCP.AllowedHosts = r.MCP.AllowedHosts
	set(&c.Metrics.Listen, r.Metrics.Listen)
	set(&c.Storage.TrashRetention, r.Storage.TrashRetention)
	set(&c.Storage.Backend, r.Storage.Backend)
	set(&c.Storage.DSN, r.Storage.DSN)
	set(&c.Storage.Node, r.Storage.Node)

	b.rustKeys(r)
	set(&o.IPv6, r.Outbound.IPv6)

	for _, key := range sortedKeys(overrides) {
		ov := overrides[key]
		d := strings.ToLower(key)
		if prev, dup := b.overrideKey[d]; dup {
			b.fail(p("domain", key), "domain %q already has an override table (%q)", d, prev)
			continue
		}
		b.overrideKey[d] = key
		c.Overrides[d] = DomainOverride{Signature: ov.Signature, DKIMSelector: ov.DKIMSelector, Trust: ov.Trust,
			TrustedSenders: ov.TrustedSenders, Send: ov.rawSendPolicy.policy()}
	}
	for _, key := range sortedKeys(r.Mailboxes) {
		b.mailbox(key, r.Mailboxes[key])
	}
}

// rustKeys accepts the Rust aimx top-level keys with a warning each (book/upgrade.md).
func (b *builder) rustKeys(r *rawCommon) {
	if r.EnableIPv6 != nil {
		b.cfg.Source.RustKeys = true
		b.cfg.Outbound.IPv6 = *r.EnableIPv6
		b.warn(p("enable_ipv6"), "Rust aimx key: read as [outbound] ipv6 and written there on the next rewrite")
	}
	if r.VerifyHost != nil {
		b.cfg.Source.RustKeys = true
		b.warn(p("verify_host"), "Rust aimx key: ignored and dropped on the next rewrite")
	}
	if r.Upgrade != nil {
		b.cfg.Source.RustKeys = true
		b.warn(p("upgrade"), "Rust aimx table: ignored and dropped on the next rewrite")
	}
}

// mailbox resolves a mailbox key, FQDN or legacy local part, to the
// mailbox's name and checks `address` against it (book/configuration.md).
func (b *builder) mailbox(key string, m rawMailbox) {
	at := p("mailboxes", key)
	var name string
	if strings.Contains(key, "@") {
		n, _, _, err := ParseMailboxName(key)
		if err != nil {
			b.fail(at, "%s", err.Error())
			return
		}
		name = n
		if m.Address != nil {
			a, _, _, err := ParseMailboxName(*m.Address)
			if err != nil {
				b.fail(append(at, "address"), "%s", err.Error())
				return
			}
			if a != name {
				b.fail(append(at, "address"), "address %q does not match the key %q", *m.Address, key)
				return
			}
		}
	} else {
		b.cfg.Source.LegacyMailboxKeys = true
		if key != ReservedLocal {
			if err := ValidLocalPart(key); err != nil {
				b.fail(at, "legacy mailbox key: %s", err.Error())
				return
			}
		}
		if m.Address == nil {
			if len(b.cfg.Domains) == 0 {
				b.fail(append(at, "address"), "address is required when no domain is configured")
				return
			}
			local := key
			if key == ReservedLocal {
				local = CatchallLocal
			}
			name = local + "@" + b.cfg.Domains[0]
		} else {
			a, local, _, err := ParseMailboxName(*m.Address)
			if err != nil {
				b.fail(append(at, "address"), "%s", err.Error())
				return
			}
			if local != key && !(key == ReservedLocal && local == CatchallLocal) {
				b.fail(append(at, "address"), "address %q does not match the legacy key %q (the key must be the address's local part, or catchall for *@domain)", *m.Address, key)
				return
			}
			name = a
		}
		b.warn(at, "legacy local-part key; written as [mailboxes.%q] on the next rewrite", name)
	}
	if prev, dup := b.mailboxKey[name]; dup {
		what := "mailbox " + name
		if IsCatchall(name) {
			_, d := SplitName(name)
			what = "the catchall of " + d + " (one per domain)"
		}
		b.fail(at, "%s is already defined by [mailboxes.%s]", what, renderPath([]string{prev}))
		return
	}
	b.mailboxKey[name] = key
	if m.AllowRootCatchall != nil {
		b.cfg.Source.RustKeys = true
		b.warn(append(at, "allow_root_catchall"), "Rust aimx key: ignored (root-owned mailboxes are allowed) and dropped on the next rewrite")
	}
	mb := Mailbox{Name: name, Owner: m.Owner, Trust: m.Trust, TrustedSenders: m.TrustedSenders, Signature: m.Signature,
		Send: m.rawSendPolicy.policy()}
	for i, h := range m.Hooks {
		hp := append(slices.Clone(at), "hooks", idx(i))
		hook := Hook{Event: h.Event, Cmd: h.Cmd, TimeoutSecs: DefaultHookTimeoutSecs, FireOnUntrusted: h.FireOnUntrusted,
			FireOnAutoSubmitted: h.FireOnAutoSubmitted}
		if h.Name != nil {
			hook.Name = *h.Name
			if hook.Name == "" {
				b.fail(append(hp, "name"), "name must not be empty (leave it out to derive one)")
			}
		}
		set(&hook.TimeoutSecs, h.TimeoutSecs)
		if h.Type != nil {
			b.cfg.Source.RustKeys = true
			if *h.Type != "cmd" {
				b.fail(append(hp, "type"), "hook type %q is not supported; hooks run a command (type \"cmd\")", *h.Type)
			} else {
				b.warn(append(hp, "type"), "Rust aimx key: ignored and dropped on the next rewrite")
			}
		}
		mb.Hooks = append(mb.Hooks, hook)
	}
	for i, w := range m.Webhooks {
		wh := Webhook{URL: w.URL, Events: w.Events, Secret: w.Secret, FireOnUntrusted: w.FireOnUntrusted, IncludeBody: w.IncludeBody}
		if w.Name != nil {
			wh.Name = *w.Name
			if wh.Name == "" {
				b.fail(append(slices.Clone(at), "webhooks", idx(i), "name"), "name must not be empty (leave it out to derive one)")
			}
		}
		mb.Webhooks = append(mb.Webhooks, wh)
	}
	b.cfg.Mailboxes[name] = mb
}

// whereOriginal maps a path on the canonical Config back to the key as it
// is written in the file, and finds its position.
func (b *builder) whereOriginal(path []string) (string, int, int) {
	path = slices.Clone(path)
	switch {
	case len(path) >= 2 && path[0] == "domains":
		for i := range b.cfg.Domains {
			if path[1] == idx(i) && i < len(b.domainAt) {
				path = append(slices.Clone(b.domainAt[i]), path[2:]...)
				break
			}
		}
	case len(path) >= 2 && path[0] == "mailboxes":
		if k, ok := b.mailboxKey[path[1]]; ok {
			path[1] = k
		}
	case len(path) >= 2 && path[0] == "domain":
		if k, ok := b.overrideKey[path[1]]; ok {
			path[1] = k
		}
	}
	line, col := b.pos.lookup(path)
	return renderPath(path), line, col
}

// ownerWarnings reports mailbox owners that do not resolve (book/configuration.md: the
// mailbox keeps receiving; its hooks are skipped).
func (b *builder) ownerWarnings(lookup func(string) (Owner, error)) {
	failed := map[string]error{}
	resolved := map[string]bool{}
	for _, name := range sortedKeys(b.cfg.Mailboxes) {
		owner := b.cfg.Mailboxes[name].Owner
		if !resolved[owner] {
			if _, seen := failed[owner]; !seen {
				if _, err := lookup(owner); err != nil {
					failed[owner] = err
				} else {
					resolved[owner] = true
				}
			}
		}
		if err, bad := failed[owner]; bad {
			b.warn(p("mailboxes", b.mailboxKey[name], "owner"),
				"owner %q does not resolve (%v): the mailbox keeps receiving, its hooks are skipped", owner, err)
		}
	}
}
