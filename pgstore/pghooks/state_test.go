package pghooks_test

import (
	"context"
	"os"
	"testing"

	"github.com/aimx-dev/aimx/hooks"
	"github.com/aimx-dev/aimx/hooks/hookstatetest"
	"github.com/aimx-dev/aimx/internal/pgtest"
	"github.com/aimx-dev/aimx/pgstore"
	"github.com/aimx-dev/aimx/pgstore/pghooks"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// openDB opens a registered node on dsn.
func openDB(t *testing.T, dsn, node string) *pgstore.DB {
	t.Helper()
	ctx := context.Background()
	db, err := pgstore.Open(ctx, dsn, pgstore.Options{Node: node})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	if err := db.Register(ctx, nil); err != nil {
		t.Fatal(err)
	}
	return db
}

// TestConformance runs the hooks.StateStore conformance suite on the
// postgres hook state, each subtest on a fresh database.
func TestConformance(t *testing.T) {
	hookstatetest.Run(t, func(t *testing.T) hooks.StateStore {
		return pghooks.New(openDB(t, pgtest.DSN(t), "a"), pghooks.Options{})
	})
}

// openDBUnregistered opens node on dsn without Register.
func openDBUnregistered(t *testing.T, dsn, node string) *pgstore.DB {
	t.Helper()
	db, err := pgstore.Open(context.Background(), dsn, pgstore.Options{Node: node})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}
