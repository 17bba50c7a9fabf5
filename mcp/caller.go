package mcp

import (
	"context"
	"slices"

	"github.com/aimx-dev/aimx/domains"
)

// Caller is who is calling a tool, as the transport established it: the
// peer uid of aimx.sock mapped to a user name, or the owner a bearer token
// was minted for. It is the only identity the tools know (book/admin.md, book/mcp.md).
type Caller struct {
	// Owner is the Unix user name the caller acts as; it owns the
	// mailboxes it creates.
	Owner string
	// Operator sees and acts on every mailbox (peer uid 0 or the daemon's
	// own user, book/configuration.md).
	Operator bool
	// Mailboxes, when non-empty, narrows the caller to these mailbox names
	// (FQDNs): a token minted with --mailbox. A narrowed caller cannot
	// create mailboxes.
	Mailboxes []string
	// AllowHooks permits the hook tools: always for a socket caller, only
	// with --allow-hooks for a token, since a hook runs commands as the
	// owner (book/mcp.md).
	AllowHooks bool
}

// narrowed reports whether the caller is limited to named mailboxes.
func (c Caller) narrowed() bool { return len(c.Mailboxes) > 0 }

// sees reports whether the caller may see the mailbox with this name and
// owner. The one rule of book/admin.md: the operator sees everything, anyone
// else only what it owns; a token narrows either to its mailboxes.
func (c Caller) sees(name, owner string) bool {
	if c.narrowed() && !slices.Contains(c.Mailboxes, name) {
		return false
	}
	return c.Operator || (c.Owner != "" && owner == c.Owner)
}

// seesMailbox is sees as the operations take it (operations.Sees), which
// re-check it under the lock of a change.
func (c Caller) seesMailbox(m domains.Mailbox) bool { return c.sees(m.Name, m.Owner) }

type callerKey struct{}

// WithCaller returns a context carrying the caller; transports call it for
// every request (an HTTP context func, the socket's connection context).
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller a transport put into the context.
func CallerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}
