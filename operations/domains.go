package operations

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/rs/zerolog"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/domains/dkimkey"
	"github.com/aimx-dev/aimx/mail/outbound"
	"github.com/aimx-dev/aimx/storage"
)

// Errors of the domain operations (book/multi-domain.md).
var (
	// ErrDomainExists: the domain is already served.
	ErrDomainExists = errors.New("domain already served")
	// ErrLastDomain: the only domain cannot be removed (uninstall instead).
	ErrLastDomain = errors.New("the last domain cannot be removed")
	// ErrDefaultDomain: removing the default domain needs force.
	ErrDefaultDomain = errors.New("the default domain needs force to be removed")
	// ErrInvalidDomain: the name is not a valid domain name.
	ErrInvalidDomain = errors.New("invalid domain name")
)

// DomainNotEmptyError refuses to remove a domain that has mailboxes
// without force; Mailboxes are their names, sorted.
type DomainNotEmptyError struct {
	Domain    string
	Mailboxes []string
}

func (e *DomainNotEmptyError) Error() string {
	return fmt.Sprintf("domain %s still has mailboxes: %s", e.Domain, strings.Join(e.Mailboxes, ", "))
}

// DefaultDomainError refuses to remove the default domain without force,
// naming the domain that would become the default.
type DefaultDomainError struct {
	Domain, NextDefault string
}

func (e *DefaultDomainError) Error() string {
	return fmt.Sprintf("%s is the default domain; removing it makes %s the default (bare local parts then mean %s)", e.Domain, e.NextDefault, e.NextDefault)
}

// Is makes a *DefaultDomainError match ErrDefaultDomain.
func (e *DefaultDomainError) Is(target error) bool { return target == ErrDefaultDomain }

// Domains adds, removes and lists the served domains: config, DKIM keys,
// the running signer, storage, queued mail, as one decision
// (book/multi-domain.md).
type Domains struct {
	// Config rewrites config.toml and publishes it; its Locks are the
	// per-mailbox locks intake shares.
	Config *domains.Changer
	// Store holds the mail.
	Store storage.MessageStore
	// Keys is the key files' store.
	Keys *dkimkey.Store
	// Ring is the running signer's keys; nil when the daemon is down.
	Ring *dkimkey.Keyring
	// Queue is the outbound queue; nil leaves queued mail alone.
	Queue outbound.Queue
	// Mailboxes creates a new domain's catchall.
	Mailboxes *Mailboxes
	// Log gets one line per change and per item dropped.
	Log zerolog.Logger
}

// DomainRow is one domain as `aimx domains list` shows it.
type DomainRow struct {
	Domain       string   `json:"domain"`
	Default      bool     `json:"default"`
	DKIMLoaded   bool     `json:"dkim_loaded"`
	DKIMSelector string   `json:"dkim_selector"`
	Mailboxes    int      `json:"mailboxes"`
	Unread       int      `json:"unread"`
	Overrides    []string `json:"overrides"`
}

// List returns every domain in config order (the default first). Without
// a running signer, "loaded" means a key file that loads.
func (o *Domains) List(ctx context.Context) ([]DomainRow, error) {
	cfg := o.Config.Registry.Current()
	out := make([]DomainRow, 0, len(cfg.Domains))
	for i, d := range cfg.Domains {
		eff := cfg.EffectiveForDomain(d)
		row := DomainRow{Domain: d, Default: i == 0, DKIMSelector: eff.DKIMSelector, Overrides: overridesOf(cfg, d)}
		if o.Ring != nil {
			_, err := o.Ring.KeySet(d)
			row.DKIMLoaded = err == nil
		} else if o.Keys != nil {
			_, err := o.Keys.LoadSet(d)
			row.DKIMLoaded = err == nil
		}
		for _, name := range cfg.MailboxNames() {
			if _, md := domains.SplitName(name); md != d {
				continue
			}
			row.Mailboxes++
			if o.Store != nil {
				c, err := o.Store.Counts(ctx, domains.MailboxRef(name))
				if err != nil {
					return nil, fmt.Errorf("count %s: %w", name, err)
				}
				row.Unread += c.Unread
			}
		}
		out = append(out, row)
	}
	return out, nil
}

// overridesOf names the `[domain."d"]` keys set for d, sorted.
func overridesOf(cfg *domains.Config, d string) []string {
	ov, ok := cfg.Overrides[d]
	out := []string{}
	if !ok {
		return out
	}
	if ov.DKIMSelector != nil {
		out = append(out, "dkim_selector")
	}
	if ov.Signature != nil {
		out = append(out, "signature")
	}
	if ov.Trust != nil {
		out = append(out, "trust")
	}
	if ov.TrustedSenders != nil {
		out = append(out, "trusted_senders")
	}
	sort.Strings(out)
	return out
}

// AddDomain is a domain to add.
type AddDomain struct {
	Domain string
	// Selector, when set, is persisted as `[domain."d"] dkim_selector`.
	Selector string
	// CatchallOwner, when set, creates `*@d` owned by that user.
	CatchallOwner string
}

// DNSRecord is one record the operator publishes for a domain.
type DNSRecord struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Value string `json:"value"`
}

// DomainAdded is the outcome of an add.
type DomainAdded struct {
	Domain     string `json:"domain"`
	Selector   string `json:"dkim_selector"`
	KeyCreated bool   `json:"key_created"`
	// KeyPath is the private key file (new or reused).
	KeyPath  string      `json:"key_path"`
	Catchall string      `json:"catchall,omitempty"`
	Records  []DNSRecord `json:"records"`
}

// Add serves a new domain: its DKIM key is generated (or an existing one
// reused) and published to the running signer before the config naming
// the domain goes live, so the first send from it is signed; RCPT to it is
// accepted from the next transaction on (book/multi-domain.md).
func (o *Domains) Add(ctx context.Context, req AddDomain) (*DomainAdded, error) {
	d, err := domains.NormalizeDomain(strings.TrimSuffix(strings.TrimSpace(req.Domain), "."))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidDomain, err)
	}
	if slices.Contains(o.Config.Registry.Current().Domains, d) {
		return nil, fmt.Errorf("add domain %s: %w", d, ErrDomainExists)
	}
	res := &DomainAdded{Domain: d}
	set, err := o.Keys.LoadSet(d)
	if errors.Is(err, dkimkey.ErrNoKey) {
		key, gerr := o.Keys.Generate(d, dkimkey.RSA, false)
		if gerr != nil {
			return nil, fmt.Errorf("add domain %s: %w", d, gerr)
		}
		set, err, res.KeyCreated = &dkimkey.KeySet{Domain: d, RSA: key}, nil, true
	}
	if err != nil {
		return nil, fmt.Errorf("add domain %s: %w", d, err)
	}
	res.KeyPath = set.RSA.PrivatePath
	if o.Ring != nil {
		o.Ring.Publish(set) // before the config goes live
	}
	cfg, err := o.Config.Update(func(c *domains.Config) error {
		if slices.Contains(c.Domains, d) {
			return ErrDomainExists
		}
		c.Domains = append(c.Domains, d)
		if req.Selector != "" {
			if c.Overrides == nil {
				c.Overrides = map[string]domains.DomainOverride{}
			}
			ov := c.Overrides[d]
			sel := req.Selector
			ov.DKIMSelector = &sel
			c.Overrides[d] = ov
		}
		return c.Validate()
	})
	if err != nil {
		if o.Ring != nil && !slices.Contains(o.Config.Registry.Current().Domains, d) {
			o.Ring.Forget(d)
		}
		if errors.Is(err, ErrDomainExists) {
			return nil, fmt.Errorf("add domain %s: %w", d, err)
		}
		return nil, fmt.Errorf("add domain %s: %w: %v", d, ErrInvalidDomain, err)
	}
	res.Selector = cfg.EffectiveForDomain(d).DKIMSelector
	o.Log.Info().Str("domain", d).Str("selector", res.Selector).Bool("key_created", res.KeyCreated).Msg("domain added")
	if req.CatchallOwner != "" {
		if _, err := o.Mailboxes.Create(ctx, NewMailbox{Name: "*@" + d, Owner: req.CatchallOwner, Door: OperatorDoor}); err != nil {
			return res, fmt.Errorf("domain %s added, but its catchall was not created: %w", d, err)
		}
		res.Catchall = "*@" + d
	}
	res.Records, err = Records(cfg, d, set)
	if err != nil {
		return res, err
	}
	return res, nil
}

// Records are the DNS records a served domain needs (book/multi-domain.md):
// MX to our hostname, SPF, the DKIM key(s) and DMARC.
func Records(cfg *domains.Config, d string, set *dkimkey.KeySet) ([]DNSRecord, error) {
	sel := cfg.EffectiveForDomain(d).DKIMSelector
	out := []DNSRecord{
		{Name: d + ".", Type: "MX", Value: "10 " + cfg.Hostname() + "."},
		{Name: d + ".", Type: "TXT", Value: "v=spf1 mx -all"},
	}
	name, value, err := dkimkey.TXTRecord(d, sel, set.RSA.Public())
	if err != nil {
		return nil, fmt.Errorf("DKIM record of %s: %w", d, err)
	}
	out = append(out, DNSRecord{Name: name + ".", Type: "TXT", Value: value})
	if set.Ed25519 != nil {
		name, value, err := dkimkey.TXTRecord(d, sel, set.Ed25519.Public()) // under <sel>-ed25519
		if err != nil {
			return nil, fmt.Errorf("DKIM record of %s: %w", d, err)
		}
		out = append(out, DNSRecord{Name: name + ".", Type: "TXT", Value: value})
	}
	out = append(out, DNSRecord{Name: "_dmarc." + d + ".", Type: "TXT", Value: "v=DMARC1; p=none; rua=mailto:postmaster@" + d})
	return out, nil
}
