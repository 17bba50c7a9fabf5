package admin

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/aimx-dev/aimx/domains/tokens"
)

// TokenInfo is one token as listed: never its secret or hash.
type TokenInfo struct {
	ID         string    `json:"id"`
	Name       string    `json:"name,omitempty"`
	Owner      string    `json:"owner"`
	Mailboxes  []string  `json:"mailboxes"`
	AllowHooks bool      `json:"allow_hooks"`
	CreatedAt  time.Time `json:"created_at"`
}

// TokenList is the body of GET /v1/tokens.
type TokenList struct {
	Tokens []TokenInfo `json:"tokens"`
}

// NewToken is the body of POST /v1/tokens (book/mcp.md: `aimx tokens create
// --owner USER [--mailbox M]... [--allow-hooks] [--name N]`).
type NewToken struct {
	Owner      string   `json:"owner"`
	Mailboxes  []string `json:"mailboxes,omitempty"`
	AllowHooks bool     `json:"allow_hooks,omitempty"`
	Name       string   `json:"name,omitempty"`
}

// TokenCreated answers POST /v1/tokens: the token and, this once, its
// secret.
type TokenCreated struct {
	TokenInfo
	Token string `json:"token"`
}

func tokenInfo(t tokens.Token) TokenInfo {
	mb := t.Mailboxes
	if mb == nil {
		mb = []string{}
	}
	return TokenInfo{ID: t.ID, Name: t.Name, Owner: t.Owner, Mailboxes: mb, AllowHooks: t.AllowHooks, CreatedAt: t.CreatedAt}
}

// ListTokens lists every token, oldest first.
func (a *Admin) ListTokens(context.Context) (TokenList, error) {
	list, err := a.Tokens.List()
	if err != nil {
		return TokenList{}, err
	}
	out := TokenList{Tokens: make([]TokenInfo, 0, len(list))}
	for _, t := range list {
		out.Tokens = append(out.Tokens, tokenInfo(t))
	}
	return out, nil
}

// CreateToken mints a token for an owner that exists on this host. Named
// mailboxes must exist and belong to that owner: a token narrowed to
// someone else's mailbox would see nothing, which is surely a mistake.
func (a *Admin) CreateToken(_ context.Context, req NewToken) (TokenCreated, error) {
	owner := strings.TrimSpace(req.Owner)
	if owner == "" {
		return TokenCreated{}, apiErr(CodeValidation, "an owner is required: the Unix user the token acts as")
	}
	if _, err := a.lookup(owner); err != nil {
		return TokenCreated{}, apiErr(CodeValidation, "owner %q is not a user on this host", owner)
	}
	cfg := a.current()
	var names []string
	for _, in := range req.Mailboxes {
		name, err := a.resolve(in)
		if err != nil {
			return TokenCreated{}, err
		}
		m, ok := cfg.Mailboxes[name]
		if !ok {
			return TokenCreated{}, apiErr(CodeValidation, "no mailbox %s", name)
		}
		if m.Owner != owner {
			return TokenCreated{}, apiErr(CodeValidation, "mailbox %s belongs to %s, not %s: a token sees only its owner's mailboxes", name, m.Owner, owner)
		}
		names = append(names, name)
	}
	slices.Sort(names)
	t, secret, err := a.Tokens.Create(tokens.New{Name: req.Name, Owner: owner, Mailboxes: slices.Compact(names), AllowHooks: req.AllowHooks})
	if errors.Is(err, tokens.ErrInvalid) {
		return TokenCreated{}, apiErr(CodeValidation, "%s", strings.TrimPrefix(err.Error(), "create token: invalid token: "))
	}
	if err != nil {
		return TokenCreated{}, err
	}
	a.Log.Info().Str("token_id", t.ID).Str("owner", owner).Strs("mailboxes", t.Mailboxes).Bool("allow_hooks", t.AllowHooks).Msg("admin: token created")
	return TokenCreated{TokenInfo: tokenInfo(t), Token: secret}, nil
}

// RevokeToken removes a token; its secret stops working at once.
func (a *Admin) RevokeToken(_ context.Context, id string) (TokenInfo, error) {
	t, err := a.Tokens.Revoke(id)
	if errors.Is(err, tokens.ErrNotFound) {
		return TokenInfo{}, apiErr(CodeNotFound, "no token %s: `aimx tokens list` shows the ids", id)
	}
	if err != nil {
		return TokenInfo{}, err
	}
	a.Log.Info().Str("token_id", t.ID).Str("owner", t.Owner).Msg("admin: token revoked")
	return tokenInfo(t), nil
}
