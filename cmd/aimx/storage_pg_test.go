package main

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/internal/pgtest"
	"github.com/aimx-dev/aimx/pgstore"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// TestStorageRefusesLiveNodes: a database a node beat in within the lease
// is refused; once its heartbeat is older, it is not.
func TestStorageRefusesLiveNodes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	db, err := pgstore.Open(ctx, dsn, pgstore.Options{Node: "mx1"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Register(ctx, nil); err != nil {
		t.Fatal(err)
	}
	cfg := &domains.Config{}
	_, _, err = openPGMessages(ctx, cfg, dsn)
	if err == nil || !strings.Contains(err.Error(), "node mx1 serves from this database") {
		t.Fatalf("open with a live node: %v", err)
	}
	if _, err := db.Pool.Exec(ctx, "UPDATE aimx.nodes SET seen_at = now() - interval '1 minute'"); err != nil {
		t.Fatal(err)
	}
	_, done, err := openPGMessages(ctx, cfg, dsn)
	if err != nil && strings.Contains(err.Error(), "serves from this database") {
		t.Fatalf("open with a node gone a minute: %v", err)
	}
	if err == nil {
		done()
	}
}
