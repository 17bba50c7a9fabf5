package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aimx-dev/aimx/internal/pgtest"
	"github.com/aimx-dev/aimx/pgstore"
)

// pgInstall is newInstall with the postgres backend: config.toml names the
// backend, AIMX_STORAGE_DSN in the returned env a fresh migrated database.
func pgInstall(t *testing.T) (env []string, configDir string, db *pgstore.DB) {
	t.Helper()
	configDir, dataDir := newInstall(t)
	f, err := os.OpenFile(filepath.Join(configDir, "config.toml"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("\n[storage]\nbackend = \"postgres\"\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	dsn := pgtest.DSN(t)
	db, err = pgstore.Open(context.Background(), dsn, pgstore.Options{Node: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	env = []string{"AIMX_CONFIG_DIR=" + configDir, "AIMX_DATA_DIR=" + dataDir, "AIMX_RUNTIME_DIR=" + t.TempDir(), "AIMX_STORAGE_DSN=" + dsn}
	return env, configDir, db
}

// TestDKIMKeygenSharesKeys: with the postgres backend, a key made (or
// replaced) with dkim-keygen goes into the database, so every node signs
// with it; reprinting an existing key writes nothing there.
func TestDKIMKeygenSharesKeys(t *testing.T) {
	t.Parallel()
	env, configDir, db := pgInstall(t)
	ctx := context.Background()
	stored := func() string {
		t.Helper()
		var pem string
		err := db.Pool.QueryRow(ctx, "SELECT private_pem FROM aimx.dkim_keys WHERE domain = 'a.test' AND algorithm = 'rsa'").Scan(&pem)
		if err != nil && !strings.Contains(err.Error(), "no rows") {
			t.Fatal(err)
		}
		return pem
	}
	local := func() string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(configDir, "dkim", "a.test", "private.key"))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if r := aimx(t, env, "dkim-keygen", "--domain", "a.test"); r.code != 0 {
		t.Fatalf("keygen: %d %s", r.code, r.stderr)
	}
	first := stored()
	if first == "" || strings.TrimSpace(first) != strings.TrimSpace(local()) {
		t.Fatalf("the database holds %q after keygen, want this host's new key", first)
	}
	if r := aimx(t, env, "dkim-keygen", "--domain", "a.test"); r.code != 0 || stored() != first {
		t.Fatalf("reprinting the key changed the database's: %d %s", r.code, r.stderr)
	}
	if r := aimx(t, env, "dkim-keygen", "--domain", "a.test", "--force"); r.code != 0 {
		t.Fatalf("keygen --force: %d %s", r.code, r.stderr)
	}
	if now := stored(); now == first || strings.TrimSpace(now) != strings.TrimSpace(local()) {
		t.Fatal("a rotation with --force did not replace the database's key with the new one")
	}
}

// TestMailboxesListReadsTheDatabase: with the postgres backend, `aimx
// mailboxes list` shows the shared config's mailboxes (one made through
// another node is there) and not this host's stale config.toml.
func TestMailboxesListReadsTheDatabase(t *testing.T) {
	t.Parallel()
	env, _, db := pgInstall(t)
	ctx := context.Background()
	// Another node's first start imported a config with one more mailbox.
	shared := testConfig + "\n[mailboxes.\"other@b.test\"]\naddress = \"other@b.test\"\nowner = \"root\"\n"
	if _, err := db.Pool.Exec(ctx, "INSERT INTO aimx.config (version, toml, updated_by) VALUES (1, $1, 'mx2')", shared); err != nil {
		t.Fatal(err)
	}
	r := aimx(t, env, "mailboxes", "list")
	if r.code != 0 {
		t.Fatalf("list: %d %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "other@b.test") {
		t.Fatalf("list does not show the shared config's mailbox:\n%s", r.stdout)
	}
}
