package tokens

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Backend is a token store: the file store (*Store, tokens.json) on one
// host, or the shared database's (pgstore/pgtokens) when several nodes
// serve the same domains (book/scale-out.md). The admin door and the MCP
// TCP transport use only this. Every Backend mints with Mint, so ids,
// secrets and refusals are the same whichever one holds the tokens; none
// stores or returns a secret after Create.
type Backend interface {
	// Create mints a token and returns it (without its hash) and its
	// secret; an invalid New is refused with ErrInvalid.
	Create(n New) (Token, string, error)
	// List returns every token in creation order, without hashes.
	List() ([]Token, error)
	// Revoke removes the token with this id and returns it (without its
	// hash), or ErrNotFound; its secret stops working at once.
	Revoke(id string) (Token, error)
	// Verify returns the token of a presented secret (without its hash),
	// or false for an unknown, revoked or malformed secret and for any
	// failure to look it up.
	Verify(secret string) (Token, bool)
}

var _ Backend = (*Store)(nil)

// SecretLen is the length of every secret Mint makes: SecretPrefix and
// the base64url (unpadded) of 32 random bytes.
const SecretLen = len(SecretPrefix) + 43

// IDLen is the length of every token id: "tok_" and 12 hex digits.
const IDLen = 4 + 12

// Mint checks n against the rules every Backend applies (an owner, a
// short printable name) and makes the token and its secret: the hash of
// the secret, the mailboxes sorted without repeats, the creation time
// truncated to the second in UTC. It has no id yet (NewID draws one). rnd
// is the entropy source (crypto/rand when nil).
func Mint(n New, now time.Time, rnd io.Reader) (Token, string, error) {
	n.Owner = strings.TrimSpace(n.Owner)
	if n.Owner == "" {
		return Token{}, "", fmt.Errorf("%w: an owner is required", ErrInvalid)
	}
	if len(n.Name) > MaxNameLen || strings.ContainsFunc(n.Name, isControl) {
		return Token{}, "", fmt.Errorf("%w: name must be at most %d printable characters", ErrInvalid, MaxNameLen)
	}
	raw, err := random(rnd, secretBytes)
	if err != nil {
		return Token{}, "", err
	}
	secret := SecretPrefix + base64.RawURLEncoding.EncodeToString(raw)
	mailboxes := slices.Clone(n.Mailboxes)
	slices.Sort(mailboxes)
	mailboxes = slices.Compact(mailboxes)
	return Token{Name: n.Name, Owner: n.Owner, Mailboxes: mailboxes, AllowHooks: n.AllowHooks,
		CreatedAt: now.UTC().Truncate(time.Second), Hash: HashSecret(secret)}, secret, nil
}

// NewID draws a token id: "tok_" and 12 random hex digits. It is not
// secret; a store retries on the rare collision.
func NewID(rnd io.Reader) (string, error) {
	b, err := random(rnd, 6)
	if err != nil {
		return "", err
	}
	return "tok_" + hex.EncodeToString(b), nil
}

// Plausible reports whether secret has the shape Mint gives every secret,
// so a store can refuse anything else before hashing or looking it up.
func Plausible(secret string) bool {
	return len(secret) == SecretLen && strings.HasPrefix(secret, SecretPrefix)
}
