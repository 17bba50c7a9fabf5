package pgstore

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// migrationFS holds the schema, one file per version: NNN_name.sql, applied
// in order, each in its own transaction, never edited once released (a
// change is a new file).
//
//go:embed migrations/*.sql
var migrationFS embed.FS

// migrateLockKey is the advisory lock every node takes while it migrates,
// so two nodes starting at once apply each version once (book/scale-out.md).
const migrateLockKey = 0x61696d78 // "aimx"

// Migration is one version of the schema.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations returns the embedded migrations in version order.
func Migrations() ([]Migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var out []Migration
	seen := map[int]string{}
	for _, e := range entries {
		name := e.Name()
		num, rest, ok := strings.Cut(strings.TrimSuffix(name, ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: want NNN_name.sql", name)
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %s and %s share version %d", prev, name, v)
		}
		seen[v] = name
		b, err := migrationFS.ReadFile("migrations/" + name)
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", name, err)
		}
		out = append(out, Migration{Version: v, Name: rest, SQL: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// Migrate applies the migrations the database has not seen, under the
// advisory lock, and reports how many it applied.
func (db *DB) Migrate(ctx context.Context) (int, error) {
	ms, err := Migrations()
	if err != nil {
		return 0, err
	}
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		return 0, fmt.Errorf("migrate: acquire: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrateLockKey); err != nil {
		return 0, fmt.Errorf("migrate: lock: %w", err)
	}
	defer func() { _, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrateLockKey) }()
	if _, err := conn.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS aimx;
CREATE TABLE IF NOT EXISTS aimx.schema_migrations (
	version int PRIMARY KEY,
	name text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return 0, fmt.Errorf("migrate: version table: %w", err)
	}
	applied, err := appliedVersions(ctx, conn.Conn())
	if err != nil {
		return 0, err
	}
	n := 0
	for _, m := range ms {
		if applied[m.Version] {
			continue
		}
		err := pgx.BeginFunc(ctx, conn.Conn(), func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO aimx.schema_migrations (version, name) VALUES ($1, $2)", m.Version, m.Name)
			return err
		})
		if err != nil {
			return n, fmt.Errorf("migrate: version %d (%s): %w", m.Version, m.Name, err)
		}
		n++
	}
	return n, nil
}

// SchemaStatus says how far the database's schema is behind this binary.
type SchemaStatus struct {
	Current int // the highest version applied
	Latest  int // the highest version this binary knows
	Missing []int
}

// Status reports the schema's version against this binary's migrations.
func (db *DB) Status(ctx context.Context) (SchemaStatus, error) {
	ms, err := Migrations()
	if err != nil {
		return SchemaStatus{}, err
	}
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		return SchemaStatus{}, fmt.Errorf("schema status: %w", err)
	}
	defer conn.Release()
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT to_regclass('aimx.schema_migrations') IS NOT NULL").Scan(&exists); err != nil {
		return SchemaStatus{}, fmt.Errorf("schema status: %w", err)
	}
	applied := map[int]bool{}
	if exists {
		if applied, err = appliedVersions(ctx, conn.Conn()); err != nil {
			return SchemaStatus{}, err
		}
	}
	var st SchemaStatus
	for v := range applied {
		st.Current = max(st.Current, v)
	}
	for _, m := range ms {
		st.Latest = max(st.Latest, m.Version)
		if !applied[m.Version] {
			st.Missing = append(st.Missing, m.Version)
		}
	}
	return st, nil
}

func appliedVersions(ctx context.Context, conn *pgx.Conn) (map[int]bool, error) {
	rows, err := conn.Query(ctx, "SELECT version FROM aimx.schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("migrate: read versions: %w", err)
	}
	vs, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return nil, fmt.Errorf("migrate: read versions: %w", err)
	}
	out := make(map[int]bool, len(vs))
	for _, v := range vs {
		out[v] = true
	}
	return out, nil
}
