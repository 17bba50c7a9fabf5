package mcp

import (
	"context"
	"errors"
	"fmt"

	"github.com/rs/zerolog"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/storage"
)

// MailboxAdmin creates and deletes mailboxes: a config rewrite, a registry
// swap and the mailbox's storage. The MCP tools call it after their own
// authorization; the operator API (admin.sock) calls the same operations
// for any owner, catchalls included. Names are canonical FQDNs.
type MailboxAdmin interface {
	// CreateMailbox adds the mailbox owned by owner. A mailbox that
	// already exists with that owner is not an error (created is false);
	// one with another owner is ErrMailboxTaken. Storage that already
	// holds another owner's mail is refused (an error wrapping
	// storage.ErrForeignMail) unless force, which deletes that mail first:
	// only the operator's door passes force.
	CreateMailbox(ctx context.Context, name, owner string, force bool) (created bool, err error)
	// DeleteMailbox removes the mailbox from the config and deletes its
	// storage, returning how many files went. A mailbox holding mail is
	// refused with *NotEmptyError unless force is set.
	DeleteMailbox(ctx context.Context, name string, force bool) (deletedFiles int, err error)
}

// HookAdmin creates and deletes hooks (config rewrite plus registry swap);
// the daemon passes the hooks package's implementation. Listing needs no
// admin: hooks are read from the live config.
type HookAdmin interface {
	// CreateHook adds h to the mailbox and returns its effective name.
	// guard runs first under the config lock of the change; its error is
	// returned as it is. Other refusals are agent-ready sentences.
	CreateHook(ctx context.Context, mailbox string, h domains.Hook, guard Guard) (name string, err error)
	// DeleteHook removes the hook with this effective name, guard first
	// under the same lock.
	DeleteHook(ctx context.Context, name string, guard Guard) error
}

// Errors of MailboxAdmin, compared with errors.Is / errors.As.
var (
	// ErrMailboxTaken: the name exists with another owner.
	ErrMailboxTaken = errors.New("mailbox exists with another owner")
	// ErrNoSuchMailbox: the name is not configured.
	ErrNoSuchMailbox = errors.New("no such mailbox")
	// ErrDomainNotServed: the name's domain is not one of the domains.
	ErrDomainNotServed = errors.New("domain not served")
	// ErrUnknownOwner: the owner is not a user on this host.
	ErrUnknownOwner = errors.New("unknown owner")
)

// NotEmptyError refuses to delete a mailbox that holds mail without force.
type NotEmptyError struct {
	Name     string
	Messages int // inbox and sent copies
}

func (e *NotEmptyError) Error() string {
	return fmt.Sprintf("mailbox %s holds %d messages", e.Name, e.Messages)
}

// MailboxOps is the MailboxAdmin over the config file, the live registry
// and the message store: what `mailbox_create` and `mailbox_delete` do,
// and what admin.sock will call.
type MailboxOps struct {
	// Config rewrites config.toml under its lock and publishes the result,
	// in order with every other config change (book/configuration.md, book/admin.md).
	Config *domains.Changer
	// Store holds the mail.
	Store storage.MessageStore
	// LookupOwner resolves an owner name; nil means domains.LookupOwner.
	LookupOwner func(name string) (domains.Owner, error)
	// Log gets a line when a forced create deletes another owner's mail.
	Log zerolog.Logger
}

var _ MailboxAdmin = (*MailboxOps)(nil)

func (o *MailboxOps) lookup(name string) (domains.Owner, error) {
	if o.LookupOwner != nil {
		return o.LookupOwner(name)
	}
	return domains.LookupOwner(name)
}

// errUnchanged aborts an Update that has nothing to do.
var errUnchanged = errors.New("unchanged")

// CreateMailbox adds the mailbox to the config and claims its storage, as
// one decision (book/admin.md): under the mailbox's lock and the config lock, the
// config as it is on disk decides who wins a race for the name, and only
// the winner touches storage, so a loser never leaves directories owned by
// itself (L2). The storage is claimed before the config is written, so a
// refused claim (another owner's mail, M6) leaves no config entry; once
// the config is live, mail may arrive, and its storage is there.
func (o *MailboxOps) CreateMailbox(ctx context.Context, name, owner string, force bool) (bool, error) {
	_, domain := domains.SplitName(name)
	if !o.Config.Registry.Current().HasDomain(domain) {
		return false, fmt.Errorf("create mailbox %s: %w", name, ErrDomainNotServed)
	}
	if m, ok := o.Config.Registry.Current().Mailboxes[name]; ok {
		if m.Owner != owner {
			return false, fmt.Errorf("create mailbox %s: %w", name, ErrMailboxTaken)
		}
		return false, nil
	}
	acct, err := o.lookup(owner)
	if err != nil {
		return false, fmt.Errorf("create mailbox %s: owner %q: %w: %w", name, owner, ErrUnknownOwner, err)
	}
	unlock := o.Config.Locks.Lock(name)
	defer unlock()
	created := false
	_, err = o.Config.Update(func(c *domains.Config) error {
		if m, ok := c.Mailboxes[name]; ok {
			if m.Owner != owner {
				return ErrMailboxTaken
			}
			return errUnchanged
		}
		if !c.HasDomain(domain) {
			return ErrDomainNotServed
		}
		if c.Mailboxes == nil {
			c.Mailboxes = map[string]domains.Mailbox{}
		}
		c.Mailboxes[name] = domains.Mailbox{Name: name, Owner: owner}
		// Refuse a config that would not be written before touching
		// storage.
		if err := c.Validate(); err != nil {
			return err
		}
		if err := o.claim(ctx, name, acct, force); err != nil {
			return err
		}
		created = true
		return nil
	})
	switch {
	case errors.Is(err, errUnchanged):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("create mailbox %s: %w", name, err)
	}
	return created, nil
}

// claim makes the mailbox's storage, owned by acct. Storage holding
// another owner's mail is refused unless force, which deletes that mail
// (and logs how much) and starts empty.
func (o *MailboxOps) claim(ctx context.Context, name string, acct domains.Owner, force bool) error {
	ref := storageRef(name)
	own := &storage.Owner{UID: acct.UID, GID: acct.GID}
	err := o.Store.EnsureMailbox(ctx, ref, own)
	if !force || !errors.Is(err, storage.ErrForeignMail) {
		return err
	}
	n, err := o.Store.RemoveMailbox(ctx, ref)
	if err != nil {
		return fmt.Errorf("wipe another owner's mail: %w", err)
	}
	o.Log.Warn().Str("mailbox", name).Str("owner", acct.Name).Int("deleted_files", n).
		Msg("create --force: deleted the mail another owner left in this mailbox's storage")
	return o.Store.EnsureMailbox(ctx, ref, own)
}

// DeleteMailbox refuses a mailbox holding mail unless force, removes it
// from the config (so no more mail arrives), then deletes its storage. It
// holds the mailbox's lock exclusively throughout (book/admin.md): intake stores
// under the shared lock and re-checks that the mailbox still exists, so no
// message lands between the count and the removal, and none after it.
func (o *MailboxOps) DeleteMailbox(ctx context.Context, name string, force bool) (int, error) {
	unlock := o.Config.Locks.Lock(name)
	defer unlock()
	if _, ok := o.Config.Registry.Current().Mailboxes[name]; !ok {
		return 0, fmt.Errorf("delete mailbox %s: %w", name, ErrNoSuchMailbox)
	}
	ref := storageRef(name)
	if !force {
		c, err := o.Store.Counts(ctx, ref)
		if err != nil {
			return 0, fmt.Errorf("delete mailbox %s: %w", name, err)
		}
		if n := c.Total + c.Sent; n > 0 {
			return 0, &NotEmptyError{Name: name, Messages: n}
		}
	}
	_, err := o.Config.Update(func(c *domains.Config) error {
		if _, ok := c.Mailboxes[name]; !ok {
			return ErrNoSuchMailbox
		}
		delete(c.Mailboxes, name)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("delete mailbox %s: %w", name, err)
	}
	n, err := o.Store.RemoveMailbox(ctx, ref)
	if err != nil {
		return n, fmt.Errorf("delete mailbox %s: %w", name, err)
	}
	return n, nil
}
