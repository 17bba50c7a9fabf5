package mcp

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/operations"
)

// mailboxList answers mailbox_list: the visible mailboxes with counts from
// the storage index (book/mcp.md).
func (s *Server) mailboxList(ctx context.Context, c *call) (any, string, error) {
	rows, err := operations.Rows(ctx, s.deps.Store, c.cfg, c.caller.seesMailbox)
	if err != nil {
		return nil, "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d mailboxes", len(rows))
	for _, m := range rows {
		fmt.Fprintf(&b, "\n%s (owner %s, trust %s): %d emails, %d unread, %d sent", m.Name, m.Owner, m.Trust, m.Total, m.Unread, m.Sent)
	}
	return MailboxListResult{Mailboxes: rows}, b.String(), nil
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
	// The door's name rule answers before the owner rules, as it always has.
	if err := operations.CheckName(name, operations.AgentDoor, true); err != nil {
		return nil, "", createRefusal(c.cfg, name, "", err)
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
	res, err := s.deps.Mailboxes.Create(ctx, operations.NewMailbox{Name: name, Owner: owner, Door: operations.AgentDoor})
	if err != nil {
		return nil, "", createRefusal(c.cfg, name, owner, err)
	}
	text := "created mailbox " + name
	if !res.Created {
		text = "mailbox " + name + " already exists and is yours; nothing changed"
	}
	return MailboxNameResult{Name: name}, text, nil
}

// createRefusal words a refused mailbox_create for the agent; an error it
// does not know stays internal.
func createRefusal(cfg *domains.Config, name, owner string, err error) error {
	var cerr *domains.ConfigError
	switch {
	case errors.Is(err, operations.ErrCatchall):
		return errorf("%s is a catchall; catchalls are created by the operator (aimx mailboxes create on the host), not through MCP.", name)
	case errors.Is(err, operations.ErrRoleAddress):
		// book/security.md, "Role addresses".
		return errorf("%s is a role address that speaks for the whole domain (like postmaster, abuse, hostmaster, admin); only the operator creates role addresses, on the host with aimx mailboxes create, not through MCP. Choose another local part.", name)
	case errors.Is(err, operations.ErrForeignMail):
		return errorf("storage for %s already holds mail of another owner; nothing was created. An operator can re-create it with aimx mailboxes create --force, which deletes that mail.", name)
	case errors.Is(err, operations.ErrMailboxTaken):
		return errorf("the name %s is already taken; choose another local part.", name)
	case errors.Is(err, operations.ErrDomainNotServed):
		_, domain := domains.SplitName(name)
		return errorf("this server does not receive mail for %s; use one of its domains: %s.", domain, strings.Join(cfg.Domains, ", "))
	case errors.Is(err, operations.ErrUnknownOwner):
		return errorf("owner %q is not a user on this host.", owner)
	case errors.As(err, &cerr):
		return errorf("mailbox %s cannot be created: %s.", name, strings.TrimSuffix(cerr.Msg, "."))
	}
	return err
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
	res, err := s.deps.Mailboxes.Delete(ctx, operations.DeleteMailbox{Name: m.Name, Force: args.Force, Door: operations.AgentDoor, Sees: c.caller.seesMailbox})
	var ne *operations.NotEmptyError
	switch {
	case errors.Is(err, operations.ErrCatchall):
		return nil, "", errorf("%s is a catchall; catchalls are deleted by the operator (aimx mailboxes delete on the host), not through MCP.", m.Name)
	case errors.As(err, &ne):
		return nil, "", errorf("mailbox %s still holds %d emails; nothing was deleted. Confirm with the user, then call mailbox_delete again with force: true to delete it and its email.", m.Name, ne.Messages)
	case errors.Is(err, operations.ErrNoSuchMailbox):
		return nil, "", errMailboxNotFound(m.Name)
	case err != nil:
		return nil, "", err
	}
	text := fmt.Sprintf("deleted mailbox %s (%d files)", res.Name, res.DeletedFiles)
	if len(res.Hooks) > 0 {
		text += "; removed its hooks: " + strings.Join(res.Hooks, ", ")
	}
	if len(res.Webhooks) > 0 {
		text += "; removed its webhooks: " + strings.Join(res.Webhooks, ", ")
	}
	return MailboxDeleteResult{Name: res.Name, DeletedFiles: res.DeletedFiles, Hooks: res.Hooks, Webhooks: res.Webhooks}, text, nil
}
