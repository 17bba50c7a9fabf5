// Package pgstore is the shared PostgreSQL database of the postgres backend
// (book/scale-out.md): the connection pool, the versioned schema and its
// migrations, and LISTEN/NOTIFY. The stores that live in the database (the
// messages, the hook state, the outbound queue, the config registry) are
// its subpackages; each owns its tables, created by the migrations here.
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Options configures Open.
type Options struct {
	// Node names this daemon among the nodes sharing the database; ""
	// means the host name.
	Node string
	// MaxConns caps the pool (0: 32).
	MaxConns int32
	// SkipMigrate opens without running the migrations (doctor, say, which
	// only reports whether the schema is current).
	SkipMigrate bool
}

// DB is an open database: a pool and this node's name.
type DB struct {
	// Pool is the connection pool every store shares.
	Pool *pgxpool.Pool
	// Node is this daemon's name among the nodes.
	Node string
	// Started is this node's incarnation, set by Register: claims are
	// taken in the name of (Node, Started).
	Started time.Time
}

// Open connects to dsn, checks the server answers, and brings the schema up
// to date under an advisory lock (Migrate).
func Open(ctx context.Context, dsn string, opts Options) (*DB, error) {
	if strings.TrimSpace(dsn) == "" {
		return nil, errors.New("postgres backend: no dsn ([storage] dsn or AIMX_STORAGE_DSN)")
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres backend: parse dsn: %w", err)
	}
	cfg.MaxConns = opts.MaxConns
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 32
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = "aimx"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres backend: connect: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres backend: %s: %w", redact(dsn), err)
	}
	node := opts.Node
	if node == "" {
		if node, err = os.Hostname(); err != nil {
			pool.Close()
			return nil, fmt.Errorf("postgres backend: node name: %w", err)
		}
	}
	db := &DB{Pool: pool, Node: node}
	if !opts.SkipMigrate {
		if _, err := db.Migrate(ctx); err != nil {
			pool.Close()
			return nil, err
		}
	}
	return db, nil
}

// Close closes the pool.
func (db *DB) Close() { db.Pool.Close() }

// redact drops a password from a DSN for error messages.
func redact(dsn string) string {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return "the database"
	}
	c := cfg.ConnConfig
	return fmt.Sprintf("%s@%s:%d/%s", c.User, c.Host, c.Port, c.Database)
}
