package mcp

import (
	"fmt"
	"os/user"
	"strconv"

	"github.com/aimx-dev/aimx/domains"
)

// TokenVerifier checks a bearer token presented over TCP and returns the
// caller it was minted for: its owner, the mailboxes it is narrowed to and
// whether it may use the hook tools (book/mcp.md). It is consulted on every
// request, so a revoked token stops working at once. The token store
// (hashes only, looked up by hash) satisfies it through a small adapter
// in the daemon's wiring; the secret never reaches a log.
type TokenVerifier interface {
	// Verify returns the token's caller, or ok false for a token that is
	// unknown, revoked or malformed.
	Verify(secret string) (c Caller, ok bool)
}

// TokenVerifierFunc adapts a function to TokenVerifier.
type TokenVerifierFunc func(secret string) (Caller, bool)

// Verify calls f.
func (f TokenVerifierFunc) Verify(secret string) (Caller, bool) { return f(secret) }

// PeerCallers turns the peer uid of an aimx.sock connection into a Caller
// (book/configuration.md, book/admin.md): the user of that uid, the operator when the uid is 0 or
// the daemon's own (in dev mode the daemon runs as the developer, who is
// therefore the operator). Socket callers may use the hook tools: a hook
// runs as its mailbox's owner, which a local user already is.
type PeerCallers struct {
	// DaemonUID is the daemon's effective uid.
	DaemonUID int
	// LookupUID resolves a uid to a user name; nil means os/user.
	LookupUID func(uid uint32) (string, error)
}

// Caller returns the caller of peer uid. A uid with no user name is no
// caller (ok false) unless it is the operator, whose name then falls back
// to the decimal uid.
func (p PeerCallers) Caller(uid uint32) (Caller, bool) {
	name, err := p.lookup(uid)
	operator := domains.IsOperatorUID(uid, p.DaemonUID)
	if err != nil {
		if !operator {
			return Caller{}, false
		}
		name = strconv.FormatUint(uint64(uid), 10)
	}
	return Caller{Owner: name, Operator: operator, AllowHooks: true}, true
}

func (p PeerCallers) lookup(uid uint32) (string, error) {
	if p.LookupUID != nil {
		return p.LookupUID(uid)
	}
	u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10))
	if err != nil {
		return "", fmt.Errorf("look up uid %d: %w", uid, err)
	}
	return u.Username, nil
}
