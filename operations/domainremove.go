package operations

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/aimx-dev/aimx/domains"
)

// DomainRemoved is the outcome of a remove.
type DomainRemoved struct {
	Domain string `json:"domain"`
	// Mailboxes are the mailboxes removed with it, sorted.
	Mailboxes []string `json:"mailboxes"`
	// DeletedFiles counts the files of their storage.
	DeletedFiles int `json:"deleted_files"`
	// QueueDropped counts the queued outgoing messages dropped.
	QueueDropped int `json:"queue_dropped"`
	// NewDefault is the default domain afterwards, when it changed.
	NewDefault string `json:"new_default,omitempty"`
	// KeysKept is the directory of the domain's DKIM keys, left in place.
	KeysKept string `json:"keys_kept"`
}

// Remove stops serving a domain (book/multi-domain.md). It refuses the
// last domain, a domain that has mailboxes, and the default domain,
// unless force: then its mailboxes' storage and the domain's tree are
// wiped, their queued mail dropped (a log line each), and the config
// rewritten, in that order, under every one of its mailboxes' locks. The
// running daemon keeps serving the domain until the config is published,
// so after a failure part-way it still has its old view, and running the
// command again completes the removal. The DKIM key files stay.
func (o *Domains) Remove(ctx context.Context, domain string, force bool) (*DomainRemoved, error) {
	d := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(domain), "."))
	cfg := o.Config.Registry.Current()
	if !slices.Contains(cfg.Domains, d) {
		return nil, fmt.Errorf("remove domain %s: %w", d, ErrDomainNotServed)
	}
	if len(cfg.Domains) == 1 {
		return nil, fmt.Errorf("remove domain %s: %w", d, ErrLastDomain)
	}
	names := mailboxesOf(cfg, d)
	if !force {
		if len(names) > 0 {
			return nil, &DomainNotEmptyError{Domain: d, Mailboxes: names}
		}
		if cfg.Domains[0] == d {
			return nil, &DefaultDomainError{Domain: d, NextDefault: cfg.Domains[1]}
		}
	}
	// Every mailbox's lock, in sorted order (book/admin.md): intake stores
	// under the shared lock and re-checks the config, so nothing lands in
	// storage being wiped, and nothing after.
	unlock := o.Config.Locks.Lock(names...)
	defer unlock()
	res := &DomainRemoved{Domain: d, Mailboxes: names}
	if o.Keys != nil {
		res.KeysKept = filepath.Join(o.Keys.Dir, d)
	}
	if o.Queue != nil {
		n, err := o.dropQueued(ctx, names)
		res.QueueDropped = n
		if err != nil {
			return res, fmt.Errorf("remove domain %s: %w", d, err)
		}
	}
	for _, name := range names {
		n, err := o.Store.RemoveMailbox(ctx, domains.MailboxRef(name))
		res.DeletedFiles += n
		if err != nil {
			return res, fmt.Errorf("remove domain %s: %w", d, err)
		}
		o.Log.Info().Str("domain", d).Str("mailbox", name).Int("deleted_files", n).Msg("domain removal: mailbox storage wiped")
	}
	n, err := o.Store.RemoveDomain(ctx, d)
	res.DeletedFiles += n
	if err != nil {
		return res, fmt.Errorf("remove domain %s: %w", d, err)
	}
	next, err := o.Config.Update(func(c *domains.Config) error {
		i := slices.Index(c.Domains, d)
		if i < 0 {
			return ErrDomainNotServed
		}
		c.Domains = slices.Delete(slices.Clone(c.Domains), i, i+1)
		delete(c.Overrides, d)
		for name := range c.Mailboxes {
			if _, md := domains.SplitName(name); md == d {
				delete(c.Mailboxes, name)
			}
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("remove domain %s: %w", d, err)
	}
	if o.Ring != nil {
		o.Ring.Forget(d)
	}
	if cfg.Domains[0] == d {
		res.NewDefault = next.Domains[0]
	}
	o.Log.Info().Str("domain", d).Strs("mailboxes", names).Int("deleted_files", res.DeletedFiles).
		Int("queue_dropped", res.QueueDropped).Str("new_default", res.NewDefault).Msg("domain removed")
	return res, nil
}

// mailboxesOf lists a domain's mailboxes, catchall included, sorted.
func mailboxesOf(cfg *domains.Config, d string) []string {
	out := []string{}
	for _, name := range cfg.MailboxNames() {
		if _, md := domains.SplitName(name); md == d {
			out = append(out, name)
		}
	}
	return out
}

// dropQueued removes the queued outgoing mail of the given mailboxes,
// each with a log line. Hook work of those mailboxes needs no dropping
// here: a job whose mailbox is gone is skipped, with a log line, when it
// comes up (book/hooks.md).
func (o *Domains) dropQueued(ctx context.Context, names []string) (int, error) {
	if len(names) == 0 {
		return 0, nil
	}
	// Every item: those still due at any time, and those whose last
	// round is not yet handed on.
	items, err := o.Queue.Due(ctx, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		return 0, fmt.Errorf("list queued mail: %w", err)
	}
	unacked, err := o.Queue.Unacked(ctx)
	if err != nil {
		return 0, fmt.Errorf("list queued mail: %w", err)
	}
	n := 0
	seen := map[string]bool{}
	for _, it := range append(items, unacked...) {
		if seen[it.ID] || !slices.Contains(names, it.Mailbox) {
			continue
		}
		seen[it.ID] = true
		if err := o.Queue.Remove(ctx, it.ID); err != nil {
			return n, fmt.Errorf("drop queued mail %s: %w", it.ID, err)
		}
		n++
		o.Log.Warn().Str("mailbox", it.Mailbox).Str("queue_id", it.ID).Str("sent_id", it.SentID).
			Int("recipients", len(it.Recipients)).Msg("domain removal: queued mail dropped")
	}
	return n, nil
}
