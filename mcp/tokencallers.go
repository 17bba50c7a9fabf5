package mcp

import "github.com/aimx-dev/aimx/domains/tokens"

// TokenCallers is the TokenVerifier of the TCP transport over the token
// store (book/mcp.md): a token acts as its owner, narrowed to its mailboxes
// when it names any, with the hook tools only when minted with
// --allow-hooks. A token is never the operator, whoever it was minted for:
// operator work is admin.sock's, and a leaked token must not reach every
// mailbox.
type TokenCallers struct {
	Store tokens.Backend
}

var _ TokenVerifier = TokenCallers{}

// Verify looks the secret up by hash in the store; an unknown or revoked
// secret is no caller.
func (t TokenCallers) Verify(secret string) (Caller, bool) {
	tok, ok := t.Store.Verify(secret)
	if !ok {
		return Caller{}, false
	}
	return Caller{Owner: tok.Owner, Mailboxes: tok.Mailboxes, AllowHooks: tok.AllowHooks}, true
}
