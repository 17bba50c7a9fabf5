package domains

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Errors of ResolveRecipient, matching the two RCPT refusals of book/smtp.md.
var (
	// ErrDomainNotConfigured: 550 5.7.1 relay not permitted.
	ErrDomainNotConfigured = errors.New("domain not configured")
	// ErrNoMailbox: 550 5.1.1 user unknown.
	ErrNoMailbox = errors.New("no such mailbox")
)

// DefaultDomain is domains[0] (book/configuration.md), or "" for a Config without domains.
func (c *Config) DefaultDomain() string {
	if len(c.Domains) == 0 {
		return ""
	}
	return c.Domains[0]
}

// HasDomain reports whether d (any case) is one of the configured domains.
func (c *Config) HasDomain(d string) bool {
	return slices.Contains(c.Domains, strings.ToLower(d))
}

// Hostname is the SMTP hostname: [smtp] hostname, else the default domain.
func (c *Config) Hostname() string {
	if c.SMTP.Hostname != "" {
		return c.SMTP.Hostname
	}
	return c.DefaultDomain()
}

// ResolveName turns a mailbox name given as input into its canonical name
// (book/configuration.md): a bare local part resolves against the default domain
// (`support` → `support@<default>`, `*` → the default domain's catchall);
// an FQDN gets its domain lowercased. The grammar is checked; whether the
// domain is configured or the mailbox exists is not (see Mailbox).
func (c *Config) ResolveName(input string) (string, error) {
	if !strings.Contains(input, "@") {
		if input != CatchallLocal {
			if err := ValidLocalPart(input); err != nil {
				return "", fmt.Errorf("mailbox %q: %w", input, err)
			}
		}
		if len(c.Domains) == 0 {
			return "", fmt.Errorf("mailbox %q: no default domain is configured", input)
		}
		return input + "@" + c.Domains[0], nil
	}
	name, _, _, err := ParseMailboxName(input)
	return name, err
}

// Mailbox looks a mailbox up by a name as ResolveName accepts it.
func (c *Config) Mailbox(input string) (Mailbox, bool) {
	name, err := c.ResolveName(input)
	if err != nil {
		return Mailbox{}, false
	}
	m, ok := c.Mailboxes[name]
	return m, ok
}

// Catchall returns the catchall mailbox of a domain, if it has one.
func (c *Config) Catchall(domain string) (Mailbox, bool) {
	m, ok := c.Mailboxes[CatchallLocal+"@"+strings.ToLower(domain)]
	return m, ok
}

// ResolveRecipient finds the mailbox an envelope recipient is delivered to
// (book/smtp.md): the mailbox of that exact address, else its domain's catchall.
// `postmaster@d` follows the same rule, so it reaches the catchall when d
// has no postmaster mailbox. The address is case-folded: mailbox names are
// lowercase by grammar. Errors: ErrDomainNotConfigured, ErrNoMailbox.
func (c *Config) ResolveRecipient(addr string) (Mailbox, error) {
	a := strings.ToLower(addr)
	at := strings.LastIndexByte(a, '@')
	if at <= 0 || at == len(a)-1 {
		return Mailbox{}, fmt.Errorf("recipient %q: %w", addr, ErrNoMailbox)
	}
	domain := a[at+1:]
	if !slices.Contains(c.Domains, domain) {
		return Mailbox{}, fmt.Errorf("recipient %q: %w", addr, ErrDomainNotConfigured)
	}
	if m, ok := c.Mailboxes[a]; ok {
		return m, nil
	}
	if m, ok := c.Catchall(domain); ok {
		return m, nil
	}
	return Mailbox{}, fmt.Errorf("recipient %q: %w", addr, ErrNoMailbox)
}

// Effective holds the settings resolved for one mailbox or domain.
type Effective struct {
	Trust          Trust
	TrustedSenders []string
	Signature      string
	DKIMSelector   string
}

// EffectiveForDomain resolves the domain layer over the global one with
// replace semantics (book/configuration.md): a value set on the domain replaces the
// global value whole, lists included.
func (c *Config) EffectiveForDomain(domain string) Effective {
	e := Effective{Trust: c.Trust, TrustedSenders: c.TrustedSenders, Signature: c.Signature, DKIMSelector: c.DKIMSelector}
	o, ok := c.Overrides[strings.ToLower(domain)]
	if !ok {
		return e
	}
	if o.Trust != nil {
		e.Trust = *o.Trust
	}
	if o.TrustedSenders != nil {
		e.TrustedSenders = o.TrustedSenders
	}
	if o.Signature != nil {
		e.Signature = *o.Signature
	}
	if o.DKIMSelector != nil {
		e.DKIMSelector = *o.DKIMSelector
	}
	return e
}

// EffectiveFor resolves mailbox → domain → global → built-in with replace
// semantics (book/configuration.md) for the mailbox named input (as ResolveName accepts
// it). Mailboxes can set trust, trusted_senders and signature.
func (c *Config) EffectiveFor(input string) (Effective, bool) {
	m, ok := c.Mailbox(input)
	if !ok {
		return Effective{}, false
	}
	_, domain := SplitName(m.Name)
	e := c.EffectiveForDomain(domain)
	if m.Trust != nil {
		e.Trust = *m.Trust
	}
	if m.TrustedSenders != nil {
		e.TrustedSenders = m.TrustedSenders
	}
	if m.Signature != nil {
		e.Signature = *m.Signature
	}
	return e, true
}

// HookRef is a hook with the mailbox it belongs to.
type HookRef struct {
	Mailbox string
	Hook
}

// AllHooks lists every hook, by mailbox name and then in file order.
func (c *Config) AllHooks() []HookRef {
	var out []HookRef
	for _, name := range sortedKeys(c.Mailboxes) {
		for _, h := range c.Mailboxes[name].Hooks {
			out = append(out, HookRef{Mailbox: name, Hook: h})
		}
	}
	return out
}

// FindHook finds a hook by its effective name (unique across the server).
func (c *Config) FindHook(name string) (HookRef, bool) {
	for _, h := range c.AllHooks() {
		if h.EffectiveName() == name {
			return h, true
		}
	}
	return HookRef{}, false
}

// MailboxNames lists the mailbox names, sorted.
func (c *Config) MailboxNames() []string { return sortedKeys(c.Mailboxes) }
