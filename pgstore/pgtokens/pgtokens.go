// Package pgtokens is the token store of the postgres backend
// (book/scale-out.md): the MCP bearer tokens in the table aimx.tokens,
// shared by every node, with the file store's rules (tokens.Mint: the same
// ids, secrets and refusals) and, like it, only the sha256 of each secret.
//
// Verify runs on every MCP HTTP request. It is one lookup in the unique
// index on the hash, with no cache, so a token revoked through any node's
// admin.sock stops working on every node as soon as the revoke commits.
package pgtokens

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/aimx-dev/aimx/domains/tokens"
	"github.com/aimx-dev/aimx/pgstore"
)

// DefaultTimeout bounds each call's database work.
const DefaultTimeout = 5 * time.Second

// Options configures a Store; the zero value is ready.
type Options struct {
	// Timeout bounds each call (DefaultTimeout when 0): the Backend's
	// methods take no context, and a request must not hang on a database
	// that does not answer.
	Timeout time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Rand is the entropy source; nil means crypto/rand.
	Rand io.Reader
}

// Store is the token store in the shared database. It is safe for
// concurrent use.
type Store struct {
	db   *pgstore.DB
	opts Options
}

var _ tokens.Backend = (*Store)(nil)

// New returns the token store of db, whose migrations (060_tokens) have
// run (pgstore.Open runs them).
func New(db *pgstore.DB, opts Options) *Store {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	return &Store{db: db, opts: opts}
}

func (s *Store) now() time.Time {
	if s.opts.Now != nil {
		return s.opts.Now()
	}
	return time.Now()
}

func (s *Store) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.opts.Timeout)
}

// columns are the columns a token is read from, in scanToken's order.
const columns = "id, name, owner, mailboxes, allow_hooks, created_at, hash"

// maxIDAttempts bounds the retries on an id collision (one in 2^48 each).
const maxIDAttempts = 5

// Create mints a token and stores it; it returns the token (without its
// hash) and the secret, which is never stored.
func (s *Store) Create(n tokens.New) (tokens.Token, string, error) {
	t, secret, err := tokens.Mint(n, s.now(), s.opts.Rand)
	if err != nil {
		return tokens.Token{}, "", fmt.Errorf("create token: %w", err)
	}
	ctx, cancel := s.ctx()
	defer cancel()
	mailboxes := t.Mailboxes
	if mailboxes == nil {
		mailboxes = []string{}
	}
	for attempt := 1; ; attempt++ {
		if t.ID, err = tokens.NewID(s.opts.Rand); err != nil {
			return tokens.Token{}, "", fmt.Errorf("create token: %w", err)
		}
		_, err = s.db.Pool.Exec(ctx, `INSERT INTO aimx.tokens (id, hash, name, owner, mailboxes, allow_hooks, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)`, t.ID, t.Hash, t.Name, t.Owner, mailboxes, t.AllowHooks, t.CreatedAt)
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23505" && pe.ConstraintName == "tokens_pkey" && attempt < maxIDAttempts {
			continue // the id was taken: draw another
		}
		if err != nil {
			return tokens.Token{}, "", fmt.Errorf("create token: %w", err)
		}
		break
	}
	t.Hash = ""
	return t, secret, nil
}

// List returns every token in creation order, without hashes.
func (s *Store) List() ([]tokens.Token, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	rows, err := s.db.Pool.Query(ctx, "SELECT "+columns+" FROM aimx.tokens ORDER BY seq")
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	list, err := pgx.CollectRows(rows, scanToken)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	for i := range list {
		list[i].Hash = ""
	}
	return list, nil
}

// Revoke deletes the token with this id and returns it (without its hash),
// or tokens.ErrNotFound.
func (s *Store) Revoke(id string) (tokens.Token, error) {
	if len(id) != tokens.IDLen {
		return tokens.Token{}, fmt.Errorf("revoke token %q: %w", id, tokens.ErrNotFound)
	}
	ctx, cancel := s.ctx()
	defer cancel()
	rows, err := s.db.Pool.Query(ctx, "DELETE FROM aimx.tokens WHERE id = $1 RETURNING "+columns, id)
	if err != nil {
		return tokens.Token{}, fmt.Errorf("revoke token %s: %w", id, err)
	}
	t, err := pgx.CollectExactlyOneRow(rows, scanToken)
	if errors.Is(err, pgx.ErrNoRows) {
		return tokens.Token{}, fmt.Errorf("revoke token %s: %w", id, tokens.ErrNotFound)
	}
	if err != nil {
		return tokens.Token{}, fmt.Errorf("revoke token %s: %w", id, err)
	}
	t.Hash = ""
	return t, nil
}

// Verify looks a presented secret up by its hash. It is false for a
// secret of the wrong shape (refused before any query), an unknown or
// revoked one, and any failure to ask the database (the caller answers
// 401; the database's trouble shows in the daemon's other work and in
// `aimx doctor`).
func (s *Store) Verify(secret string) (tokens.Token, bool) {
	if !tokens.Plausible(secret) {
		return tokens.Token{}, false
	}
	h := tokens.HashSecret(secret)
	ctx, cancel := s.ctx()
	defer cancel()
	rows, err := s.db.Pool.Query(ctx, "SELECT "+columns+" FROM aimx.tokens WHERE hash = $1", h)
	if err != nil {
		return tokens.Token{}, false
	}
	t, err := pgx.CollectExactlyOneRow(rows, scanToken)
	// The lookup is by hash, which tells nothing about the secret; the
	// final compare is constant-time anyway, as in the file store.
	if err != nil || subtle.ConstantTimeCompare([]byte(t.Hash), []byte(h)) != 1 {
		return tokens.Token{}, false
	}
	t.Hash = ""
	return t, true
}

// scanToken reads one row of columns. No mailboxes is nil, as the file
// store gives it.
func scanToken(row pgx.CollectableRow) (tokens.Token, error) {
	var t tokens.Token
	if err := row.Scan(&t.ID, &t.Name, &t.Owner, &t.Mailboxes, &t.AllowHooks, &t.CreatedAt, &t.Hash); err != nil {
		return tokens.Token{}, err
	}
	if len(t.Mailboxes) == 0 {
		t.Mailboxes = nil
	} else {
		t.Mailboxes = slices.Clip(t.Mailboxes)
	}
	t.CreatedAt = t.CreatedAt.UTC()
	return t, nil
}
