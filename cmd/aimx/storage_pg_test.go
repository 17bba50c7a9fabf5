package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/internal/pgtest"
	"github.com/aimx-dev/aimx/pgstore"
	"github.com/aimx-dev/aimx/pgstore/pgmessages"
	"github.com/aimx-dev/aimx/storage"
	"github.com/aimx-dev/aimx/storemove"
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

// TestStorageExportImportPostgres drives `aimx storage export` and
// `import` as a user runs them: an install's files into a fresh
// database, a check, and back into an empty data dir.
func TestStorageExportImportPostgres(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	configDir, dataDir := newInstall(t)
	putTestMail(t, dataDir, 5)
	runtimeDir := t.TempDir()
	dsn := pgtest.DSN(t)
	env := []string{"AIMX_CONFIG_DIR=" + configDir, "AIMX_DATA_DIR=" + dataDir, "AIMX_RUNTIME_DIR=" + runtimeDir}

	r := aimx(t, env, "storage", "export", "--to", dsn)
	if r.code != 0 {
		t.Fatalf("export: %d %s", r.code, r.stderr)
	}
	if !strings.HasPrefix(r.stdout, "exported 6 messages of 2 mailboxes in ") || !strings.Contains(r.stdout, "(6 copied, 0 already there)") {
		t.Errorf("export stdout %q", r.stdout)
	}
	if !strings.Contains(r.stderr, "support@a.test: 6 messages (inbox 4, sent 1, archive 1, trash 0)") {
		t.Errorf("export stderr lacks the progress: %q", r.stderr)
	}
	// Run again: nothing to copy; the DSN may come from the environment.
	r = aimx(t, append(env, "AIMX_STORAGE_DSN="+dsn), "storage", "export")
	if r.code != 0 || !strings.Contains(r.stdout, "(0 copied, 6 already there)") {
		t.Errorf("second export: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r = aimx(t, env, "storage", "export", "--to", dsn, "--verify-only"); r.code != 0 ||
		r.stdout != "verified 6 messages of 2 mailboxes: counts and digests equal in all 8 folders\n" {
		t.Errorf("verify: %d %q %q", r.code, r.stdout, r.stderr)
	}

	// Back into an empty data dir.
	fresh := filepath.Join(t.TempDir(), "data")
	envBack := []string{"AIMX_CONFIG_DIR=" + configDir, "AIMX_DATA_DIR=" + fresh, "AIMX_RUNTIME_DIR=" + runtimeDir}
	if r = aimx(t, envBack, "storage", "import", "--from", dsn); r.code != 0 || !strings.HasPrefix(r.stdout, "imported 6 messages") {
		t.Fatalf("import: %d %q %q", r.code, r.stdout, r.stderr)
	}
	orig, err := storage.Open(dataDir, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	back, err := storage.Open(fresh, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	ref := domains.MailboxRef("support@a.test")
	for _, folder := range storage.Folders {
		na, da, err := storemove.Digest(ctx, orig, ref, folder)
		if err != nil {
			t.Fatal(err)
		}
		nb, db, err := storemove.Digest(ctx, back, ref, folder)
		if err != nil {
			t.Fatal(err)
		}
		if na != nb || da != db {
			t.Errorf("%s: %d %s imported as %d %s", folder, na, da, nb, db)
		}
	}

	// A message missing from the database fails the verification.
	db, err := pgstore.Open(ctx, dsn, pgstore.Options{Node: "t"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pg := pgmessages.New(db, pgmessages.Options{})
	page, err := pg.List(ctx, storage.ListQuery{Mailbox: ref})
	if err != nil || len(page.Messages) == 0 {
		t.Fatal(page, err)
	}
	if _, err := pg.Delete(ctx, ref, storage.Inbox, page.Messages[0].ID); err != nil {
		t.Fatal(err)
	}
	r = aimx(t, env, "storage", "export", "--to", dsn, "--verify-only")
	if r.code != 1 || !strings.Contains(r.stderr, "support@a.test inbox: 4 messages in the source, 3 in the target ("+page.Messages[0].ID+")") {
		t.Errorf("verify after a delete: %d %q", r.code, r.stderr)
	}
}
