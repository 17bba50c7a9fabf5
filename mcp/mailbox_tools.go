package mcp

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/storage"
)

// mailboxList answers mailbox_list: the visible mailboxes with counts from
// the storage index (book/mcp.md).
func (s *Server) mailboxList(ctx context.Context, c *call) (any, string, error) {
	boxes := visibleMailboxes(c.cfg, c.caller)
	res := MailboxListResult{Mailboxes: make([]MailboxInfo, 0, len(boxes))}
	var b strings.Builder
	fmt.Fprintf(&b, "%d mailboxes", len(boxes))
	for _, m := range boxes {
		n, err := s.deps.Store.Counts(ctx, storageRef(m.Name))
		if err != nil {
			return nil, "", fmt.Errorf("count %s: %w", m.Name, err)
		}
		res.Mailboxes = append(res.Mailboxes, MailboxInfo{Name: m.Name, Owner: m.Owner, Total: n.Total, Unread: n.Unread, Sent: n.Sent})
		fmt.Fprintf(&b, "\n%s (owner %s): %d emails, %d unread, %d sent", m.Name, m.Owner, n.Total, n.Unread, n.Sent)
	}
	return res, b.String(), nil
}

// mailboxCreate answers mailbox_create: the caller becomes the owner; only
// the operator may name another; catchalls and narrowed tokens are
// refused (book/mcp.md).
func (s *Server) mailboxCreate(ctx context.Context, c *call) (any, string, error) {
	var args struct {
		Name  string `json:"name"`
		Owner string `json:"owner"`
	}
	if err := c.bind(&args); err != nil {
		return nil, "", err
	}
	if c.caller.narrowed() {
		return nil, "", errorf("this token is limited to named mailboxes and cannot create mailboxes; ask the operator.")
	}
	name, err := resolveName(c.cfg, args.Name)
	if err != nil {
		return nil, "", err
	}
	if domains.IsCatchall(name) {
		return nil, "", errorf("%s is a catchall; catchalls are created by the operator (aimx mailboxes create on the host), not through MCP.", name)
	}
	if domains.IsRoleAddress(name) {
		// Whoever receives postmaster@, hostmaster@, admin@ ... can pass
		// a certificate authority's domain check or take reports meant
		// for the host's operator (book/security.md, "Role addresses").
		return nil, "", errorf("%s is a role address that speaks for the whole domain (like postmaster, abuse, hostmaster, admin); only the operator creates role addresses, on the host with aimx mailboxes create, not through MCP. Choose another local part.", name)
	}
	owner := c.caller.Owner
	if args.Owner != "" && args.Owner != owner {
		if !c.caller.Operator {
			return nil, "", errorf("only the operator may create a mailbox for another owner; leave owner out to own %s yourself.", name)
		}
		owner = args.Owner
	}
	if owner == "" {
		return nil, "", errorf("pass owner: the operator's mailboxes need a named owner.")
	}
	created, err := s.deps.Mailboxes.CreateMailbox(ctx, name, owner, false)
	var cerr *domains.ConfigError
	switch {
	case errors.Is(err, storage.ErrForeignMail):
		return nil, "", errorf("storage for %s already holds mail of another owner; nothing was created. An operator can re-create it with aimx mailboxes create --force, which deletes that mail.", name)
	case errors.Is(err, ErrMailboxTaken):
		return nil, "", errorf("the name %s is already taken; choose another local part.", name)
	case errors.Is(err, ErrDomainNotServed):
		_, domain := domains.SplitName(name)
		return nil, "", errorf("this server does not receive mail for %s; use one of its domains: %s.", domain, strings.Join(c.cfg.Domains, ", "))
	case errors.Is(err, ErrUnknownOwner):
		return nil, "", errorf("owner %q is not a user on this host.", owner)
	case errors.As(err, &cerr):
		return nil, "", errorf("mailbox %s cannot be created: %s.", name, strings.TrimSuffix(cerr.Msg, "."))
	case err != nil:
		return nil, "", err
	}
	text := "created mailbox " + name
	if !created {
		text = "mailbox " + name + " already exists and is yours; nothing changed"
	}
	return MailboxNameResult{Name: name}, text, nil
}

// mailboxDelete answers mailbox_delete: visible mailboxes only, never a
// catchall, never one holding mail without force (book/mcp.md).
func (s *Server) mailboxDelete(ctx context.Context, c *call) (any, string, error) {
	var args struct {
		Name  string `json:"name"`
		Force bool   `json:"force"`
	}
	if err := c.bind(&args); err != nil {
		return nil, "", err
	}
	m, err := visibleMailbox(c.cfg, c.caller, args.Name)
	if err != nil {
		return nil, "", err
	}
	if domains.IsCatchall(m.Name) {
		return nil, "", errorf("%s is a catchall; catchalls are deleted by the operator (aimx mailboxes delete on the host), not through MCP.", m.Name)
	}
	n, err := s.deps.Mailboxes.DeleteMailbox(ctx, m.Name, args.Force)
	var ne *NotEmptyError
	switch {
	case errors.As(err, &ne):
		return nil, "", errorf("mailbox %s still holds %d emails; nothing was deleted. Confirm with the user, then call mailbox_delete again with force: true to delete it and its email.", m.Name, ne.Messages)
	case errors.Is(err, ErrNoSuchMailbox):
		return nil, "", errMailboxNotFound(m.Name)
	case err != nil:
		return nil, "", err
	}
	return MailboxDeleteResult{Name: m.Name, DeletedFiles: n}, fmt.Sprintf("deleted mailbox %s (%d files)", m.Name, n), nil
}
