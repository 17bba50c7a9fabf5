package domains

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ConfigError is one rule a configuration breaks. Load fills in File, Line
// and Column where it can; Validate on a Config built in code leaves them
// zero. Errors from Load and Validate wrap one or more of these (use
// errors.As), so callers can tell a bad config from an I/O failure.
type ConfigError struct {
	File   string
	Line   int
	Column int
	// Key is the dotted key path, e.g. mailboxes."info@a.com".hooks[0].cmd.
	Key string
	Msg string
	// Err is the sentinel behind the message, if any (ErrBothDomainKeys).
	Err error
}

// Unwrap returns Err, for errors.Is.
func (e *ConfigError) Unwrap() error { return e.Err }

// Error renders `file:line:col: key: message`, leaving out what is unknown.
func (e *ConfigError) Error() string {
	s := position(e.File, e.Line, e.Column)
	if e.Key != "" {
		s += e.Key + ": "
	}
	return s + e.Msg
}

func position(file string, line, col int) string {
	s := ""
	if file != "" {
		s = file + ":"
	}
	if line > 0 {
		s += strconv.Itoa(line) + ":"
		if col > 0 {
			s += strconv.Itoa(col) + ":"
		}
	}
	if s != "" {
		s += " "
	}
	return s
}

// issue is a rule broken at a key path (parts; an index part is "[n]").
type issue struct {
	path []string
	msg  string
	err  error
}

type checker struct{ issues []issue }

func (k *checker) add(path []string, format string, args ...any) {
	k.issues = append(k.issues, issue{path: slices.Clone(path), msg: fmt.Sprintf(format, args...)})
}

func (k *checker) err(path []string, err error) {
	if err != nil {
		k.add(path, "%s", err.Error())
	}
}

func p(parts ...string) []string { return parts }

func idx(i int) string { return "[" + strconv.Itoa(i) + "]" }

// Validate checks every rule of book/configuration.md, book/hooks.md that a Config can break
// and returns an error wrapping one *ConfigError per broken rule, or nil.
// Names must be in canonical form (lowercased domains), as Load produces.
func (c *Config) Validate() error {
	return joinIssues(c.check(), "", nil)
}

func joinIssues(issues []issue, file string, where func([]string) (string, int, int)) error {
	if len(issues) == 0 {
		return nil
	}
	errs := make([]error, 0, len(issues))
	for _, is := range issues {
		e := &ConfigError{File: file, Key: renderPath(is.path), Msg: is.msg, Err: is.err}
		if where != nil {
			e.Key, e.Line, e.Column = where(is.path)
		}
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

func (c *Config) check() []issue {
	var k checker
	if len(c.Domains) == 0 {
		k.add(p("domains"), "at least one domain is required")
	}
	seen := map[string]bool{}
	for i, d := range c.Domains {
		k.domainName(p("domains", idx(i)), d)
		if seen[d] {
			k.add(p("domains", idx(i)), "domain %q is listed twice", d)
		}
		seen[d] = true
	}
	k.absPath(p("data_dir"), c.DataDir)
	k.absPath(p("runtime_dir"), c.RuntimeDir)
	k.err(p("dkim_selector"), validSelector(c.DKIMSelector))
	k.trust(p("trust"), c.Trust)
	k.globs(p("trusted_senders"), c.TrustedSenders)
	k.text(p("signature"), c.Signature)
	k.positive(p("dedup_window"), c.DedupWindow)
	k.positive(p("storage", "trash_retention"), c.Storage.TrashRetention)
	switch c.Storage.Backend {
	case "", BackendFiles, BackendPostgres:
	default:
		k.add(p("storage", "backend"), "backend %q is not one of %q, %q", c.Storage.Backend, BackendFiles, BackendPostgres)
	}
	if c.Storage.Backend != BackendPostgres && c.Storage.DSN != "" {
		k.add(p("storage", "dsn"), "dsn is only used with backend = %q", BackendPostgres)
	}
	k.text(p("storage", "node"), c.Storage.Node)
	k.sendPolicy(nil, c.Send)
	c.checkSections(&k)

	for _, d := range sortedKeys(c.Overrides) {
		o := c.Overrides[d]
		at := p("domain", d)
		if !seen[d] {
			k.add(at, "domain %q has overrides but is not in domains", d)
		}
		if o.Signature != nil {
			k.text(append(at, "signature"), *o.Signature)
		}
		if o.DKIMSelector != nil {
			k.err(append(at, "dkim_selector"), validSelector(*o.DKIMSelector))
		}
		if o.Trust != nil {
			k.trust(append(at, "trust"), *o.Trust)
		}
		k.globs(append(at, "trusted_senders"), o.TrustedSenders)
		k.sendPolicy(at, o.Send)
	}

	hookAt := map[string]string{}    // effective hook name → mailbox
	webhookAt := map[string]string{} // effective webhook name → mailbox
	for _, key := range sortedKeys(c.Mailboxes) {
		c.checkMailbox(&k, key, c.Mailboxes[key], seen, hookAt)
		c.checkWebhooks(&k, key, c.Mailboxes[key], webhookAt)
	}
	return k.issues
}

func (c *Config) checkSections(k *checker) {
	s := c.SMTP
	k.hostPort(p("smtp", "listen"), s.Listen, true)
	if s.Hostname != "" {
		k.domainName(p("smtp", "hostname"), s.Hostname)
	}
	if (s.TLSCert == "") != (s.TLSKey == "") {
		k.add(p("smtp"), "tls_cert and tls_key must be set together")
	}
	k.absPath(p("smtp", "tls_cert"), s.TLSCert)
	k.absPath(p("smtp", "tls_key"), s.TLSKey)
	k.atLeast(p("smtp", "max_message_bytes"), s.MaxMessageBytes, 1)
	k.atLeast(p("smtp", "max_recipients"), int64(s.MaxRecipients), 1)
	k.atLeast(p("smtp", "max_connections"), int64(s.MaxConnections), 1)
	k.atLeast(p("smtp", "max_connections_per_ip"), int64(s.MaxConnectionsPerIP), 1)
	k.positive(p("smtp", "verify_timeout"), s.VerifyTimeout)
	k.atLeast(p("hooks", "workers"), int64(c.Hooks.Workers), 1)
	k.webhookSettings(c.Hooks)

	o := c.Outbound
	if o.Relay != "" {
		k.relay(p("outbound", "relay"), o.Relay)
	}
	if o.Port < 1 || o.Port > 65535 {
		k.add(p("outbound", "port"), "must be a port number from 1 to 65535, not %d", o.Port)
	}
	k.positive(p("outbound", "retry_base"), o.RetryBase)
	k.atLeast(p("outbound", "retry_attempts"), int64(o.RetryAttempts), 1)
	if o.SendWait < 0 {
		k.add(p("outbound", "send_wait"), "must not be negative")
	}
	for i, srv := range c.DNS.Servers {
		k.hostPort(p("dns", "servers", idx(i)), srv, true)
	}
	k.hostPort(p("mcp", "http_listen"), c.MCP.HTTPListen, false)
	for i, h := range c.MCP.AllowedHosts {
		if h == "" || strings.ContainsFunc(h, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			k.add(p("mcp", "allowed_hosts", idx(i)), "%q is not a host name", h)
		}
		k.text(p("mcp", "allowed_hosts", idx(i)), h)
	}
	k.hostPort(p("metrics", "listen"), c.Metrics.Listen, false)
}

func (c *Config) checkMailbox(k *checker, key string, m Mailbox, domains map[string]bool, hookAt map[string]string) {
	at := p("mailboxes", key)
	if m.Name != key {
		k.add(at, "mailbox name %q differs from its key", m.Name)
	}
	name, _, domain, err := ParseMailboxName(key)
	switch {
	case err != nil:
		k.err(at, err)
	case name != key:
		k.add(at, "mailbox %q must be written with a lowercase domain (%q)", key, name)
	case !domains[domain]:
		k.add(at, "mailbox %q is on domain %q, which is not in domains", key, domain)
	}
	k.err(append(at, "owner"), validOwnerName(m.Owner))
	if m.Trust != nil {
		k.trust(append(at, "trust"), *m.Trust)
	}
	k.globs(append(at, "trusted_senders"), m.TrustedSenders)
	k.sendPolicy(at, m.Send)
	if IsCatchall(key) && len(m.Hooks) > 0 {
		k.add(append(at, "hooks"), "a catchall cannot have hooks")
	}
	for i, h := range m.Hooks {
		hp := append(slices.Clone(at), "hooks", idx(i))
		checkHook(k, hp, h)
		name := h.EffectiveName()
		if other, dup := hookAt[name]; dup {
			k.add(hp, "hook name %q is already used by a hook of %s (names are unique across the server)", name, other)
		} else {
			hookAt[name] = key
		}
	}
}

// checkHook reports the rules of book/hooks.md that h breaks, each under
// its field's key.
func checkHook(k *checker, at []string, h Hook) {
	for _, pr := range h.Problems() {
		k.add(append(slices.Clone(at), pr.Field), "%s", pr.Msg)
	}
}

func (k *checker) domainName(at []string, d string) {
	n, err := NormalizeDomain(d)
	switch {
	case err != nil:
		k.err(at, err)
	case n != d:
		k.add(at, "domain %q must be lowercase", d)
	}
}

func (k *checker) trust(at []string, t Trust) {
	if t != TrustNone && t != TrustVerified {
		k.add(at, "trust must be %q or %q, not %q", TrustNone, TrustVerified, t)
	}
}

func (k *checker) globs(at []string, globs []string) {
	for i, g := range globs {
		k.err(append(slices.Clone(at), idx(i)), validGlob(g))
	}
}

func (k *checker) text(at []string, s string) {
	if !utf8.ValidString(s) {
		k.add(at, "not valid UTF-8")
	}
}

func (k *checker) absPath(at []string, s string) {
	if s == "" {
		return
	}
	if !filepath.IsAbs(s) || strings.IndexByte(s, 0) >= 0 {
		k.add(at, "%q must be an absolute path", s)
	}
	k.text(at, s)
}

func (k *checker) positive(at []string, d Duration) {
	if d <= 0 {
		k.add(at, "must be a positive duration, not %q", d.String())
	}
}

func (k *checker) atLeast(at []string, v, min int64) {
	if v < min {
		k.add(at, "must be at least %d, not %d", min, v)
	}
}

// hostPort checks a listen or server address `host:port` (port 0 allowed:
// tests bind it). An empty value is an error only when required.
func (k *checker) hostPort(at []string, s string, required bool) {
	if s == "" {
		if required {
			k.add(at, "must not be empty")
		}
		return
	}
	_, port, err := net.SplitHostPort(s)
	if err == nil {
		_, err = strconv.ParseUint(port, 10, 16)
	}
	if err != nil || !utf8.ValidString(s) {
		k.add(at, "%q must be host:port with a numeric port (like \"127.0.0.1:25\" or \":25\")", s)
	}
}

// relay checks the smarthost URL without echoing it: it may hold a password.
func (k *checker) relay(at []string, s string) {
	u, err := url.Parse(s)
	if err != nil || !utf8.ValidString(s) {
		k.add(at, "is not a valid URL (want smtp://[user:pass@]host:port or smtps://...)")
		return
	}
	if u.Scheme != "smtp" && u.Scheme != "smtps" {
		k.add(at, "scheme must be smtp or smtps")
	}
	if u.Hostname() == "" {
		k.add(at, "needs a host")
	}
	if port, err := strconv.ParseUint(u.Port(), 10, 16); err != nil || port == 0 {
		k.add(at, "needs a port (smtp://host:587)")
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		k.add(at, "must not have a path, query or fragment")
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
