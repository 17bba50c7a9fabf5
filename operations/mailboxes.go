package operations

import (
	"context"
	"errors"
	"fmt"

	"github.com/rs/zerolog"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/storage"
)

// Door is the way a request came in. A few rules differ by door; they are
// decided here, not by the door.
type Door int

const (
	// AgentDoor is MCP, for any caller, the operator's agent included.
	AgentDoor Door = iota
	// OperatorDoor is admin.sock, or the operator's CLI editing the files
	// while the daemon is down.
	OperatorDoor
)

// Mailboxes creates and deletes mailboxes: a config rewrite, a registry
// swap and the mailbox's storage, as one decision. Names are canonical
// FQDNs (the doors resolve what their callers typed).
type Mailboxes struct {
	// Config rewrites config.toml under its lock and publishes the result,
	// in order with every other config change (book/configuration.md,
	// book/admin.md); its Locks are the per-mailbox locks intake shares.
	Config *domains.Changer
	// Store holds the mail.
	Store storage.MessageStore
	// LookupOwner resolves an owner name; nil means domains.LookupOwner.
	LookupOwner func(name string) (domains.Owner, error)
	// Log gets a line when a forced create deletes another owner's mail.
	Log zerolog.Logger
}

// NewMailbox is a mailbox to create.
type NewMailbox struct {
	// Name is the canonical name (local@domain or *@domain).
	Name string
	// Owner is the Unix user it will belong to.
	Owner string
	// Force deletes mail another owner left in the storage first
	// (OperatorDoor only).
	Force bool
	// Door is where the request came in.
	Door Door
}

// MailboxCreated is the outcome of a create. Created is false when the
// mailbox already existed with that owner (the call is idempotent).
type MailboxCreated struct {
	Name    string `json:"name"`
	Owner   string `json:"owner"`
	Created bool   `json:"created"`
}

// MailboxDeleted is the outcome of a delete.
type MailboxDeleted struct {
	Name         string `json:"name"`
	DeletedFiles int    `json:"deleted_files"`
	// Hooks and Webhooks are the names of the mailbox's hooks and
	// webhooks, removed with it (book/mcp.md: mailbox_delete says so).
	Hooks    []string `json:"hooks,omitempty"`
	Webhooks []string `json:"webhooks,omitempty"`
}

func (o *Mailboxes) lookup(name string) (domains.Owner, error) {
	if o.LookupOwner != nil {
		return o.LookupOwner(name)
	}
	return domains.LookupOwner(name)
}

// CheckName refuses a name the door may not create or delete: catchalls
// and role addresses are the operator's (book/security.md, "Role
// addresses": whoever receives postmaster@ or hostmaster@ can pass a
// certificate authority's domain check or take reports meant for the
// host's operator).
func CheckName(name string, door Door, creating bool) error {
	if door == OperatorDoor {
		return nil
	}
	if domains.IsCatchall(name) {
		return ErrCatchall
	}
	if creating && domains.IsRoleAddress(name) {
		return ErrRoleAddress
	}
	return nil
}

// errUnchanged aborts an Update that has nothing to do.
var errUnchanged = errors.New("unchanged")

// Create adds the mailbox to the config and claims its storage, as one
// decision (book/admin.md): under the mailbox's lock and the config lock,
// the config as it is on disk decides who wins a race for the name, and
// only the winner touches storage, so a loser never leaves directories
// owned by itself. The storage is claimed before the config is written, so
// a refused claim (another owner's mail, ErrForeignMail) leaves no config
// entry; once the config is live, mail may arrive, and its storage is
// there.
func (o *Mailboxes) Create(ctx context.Context, req NewMailbox) (MailboxCreated, error) {
	name, owner := req.Name, req.Owner
	res := MailboxCreated{Name: name, Owner: owner}
	if err := CheckName(name, req.Door, true); err != nil {
		return res, fmt.Errorf("create mailbox %s: %w", name, err)
	}
	force := req.Force && req.Door == OperatorDoor
	_, domain := domains.SplitName(name)
	cur := o.Config.Registry.Current()
	if !cur.HasDomain(domain) {
		return res, fmt.Errorf("create mailbox %s: %w", name, ErrDomainNotServed)
	}
	if m, ok := cur.Mailboxes[name]; ok {
		if m.Owner != owner {
			return res, fmt.Errorf("create mailbox %s: %w", name, ErrMailboxTaken)
		}
		return res, nil
	}
	acct, err := o.lookup(owner)
	if err != nil {
		return res, fmt.Errorf("create mailbox %s: owner %q: %w: %w", name, owner, ErrUnknownOwner, err)
	}
	unlock := o.Config.Locks.Lock(name)
	defer unlock()
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
		res.Created = true
		return nil
	})
	switch {
	case errors.Is(err, errUnchanged):
		return res, nil
	case err != nil:
		res.Created = false
		return res, fmt.Errorf("create mailbox %s: %w", name, err)
	}
	return res, nil
}

// claim makes the mailbox's storage, owned by acct. Storage holding
// another owner's mail is refused unless force, which deletes that mail
// (and logs how much) and starts empty.
func (o *Mailboxes) claim(ctx context.Context, name string, acct domains.Owner, force bool) error {
	ref := domains.MailboxRef(name)
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

// DeleteMailbox is a mailbox to delete.
type DeleteMailbox struct {
	// Name is the canonical name.
	Name string
	// Force deletes a mailbox that holds mail, and the mail.
	Force bool
	// Door is where the request came in.
	Door Door
	// Sees is re-checked under the mailbox's lock: a mailbox deleted and
	// re-created by another owner since the caller looked is not the
	// caller's to delete.
	Sees Sees
}

// Delete refuses a mailbox holding mail unless force, removes it from the
// config (so no more mail arrives), then deletes its storage. It holds the
// mailbox's lock exclusively throughout (book/admin.md): intake stores
// under the shared lock and re-checks that the mailbox still exists, so no
// message lands between the count and the removal, and none after it.
func (o *Mailboxes) Delete(ctx context.Context, req DeleteMailbox) (MailboxDeleted, error) {
	name := req.Name
	res := MailboxDeleted{Name: name}
	if err := CheckName(name, req.Door, false); err != nil {
		return res, fmt.Errorf("delete mailbox %s: %w", name, err)
	}
	unlock := o.Config.Locks.Lock(name)
	defer unlock()
	if m, ok := o.Config.Registry.Current().Mailboxes[name]; !ok || !req.Sees.sees(m) {
		return res, fmt.Errorf("delete mailbox %s: %w", name, ErrNoSuchMailbox)
	}
	ref := domains.MailboxRef(name)
	if !req.Force {
		c, err := o.Store.Counts(ctx, ref)
		if err != nil {
			return res, fmt.Errorf("delete mailbox %s: %w", name, err)
		}
		// Archived mail is mail too; the trash is not (book/storage.md).
		archived, err := o.Store.List(ctx, storage.ListQuery{Mailbox: ref, Folder: storage.Archive, Limit: 1})
		if err != nil {
			return res, fmt.Errorf("delete mailbox %s: %w", name, err)
		}
		if n := c.Total + c.Sent + archived.Total; n > 0 {
			return res, &NotEmptyError{Name: name, Messages: n}
		}
	}
	_, err := o.Config.Update(func(c *domains.Config) error {
		m, ok := c.Mailboxes[name]
		if !ok || !req.Sees.sees(m) {
			return ErrNoSuchMailbox
		}
		res.Hooks, res.Webhooks = nil, nil // a retried Update starts over
		for _, h := range m.Hooks {
			res.Hooks = append(res.Hooks, h.EffectiveName())
		}
		for _, w := range m.Webhooks {
			res.Webhooks = append(res.Webhooks, w.EffectiveName(name))
		}
		delete(c.Mailboxes, name)
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("delete mailbox %s: %w", name, err)
	}
	n, err := o.Store.RemoveMailbox(ctx, ref)
	res.DeletedFiles = n
	if err != nil {
		return res, fmt.Errorf("delete mailbox %s: %w", name, err)
	}
	return res, nil
}
