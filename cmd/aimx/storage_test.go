package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/viper"
	"golang.org/x/sys/unix"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/storage"
	"github.com/aimx-dev/aimx/storemove"
)

// putTestMail stores n inbox messages and one sent copy for support@a.test
// under dataDir, the first inbox one archived.
func putTestMail(t *testing.T, dataDir string, n int) {
	t.Helper()
	ctx := context.Background()
	s, err := storage.Open(dataDir, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ref := domains.MailboxRef("support@a.test")
	t0 := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	for i := range n {
		at := t0.Add(time.Duration(i) * time.Minute)
		st, err := s.Put(ctx, storage.PutRequest{
			Mailbox: ref, Folder: storage.Inbox, At: at,
			Frontmatter: storage.Frontmatter{Subject: fmt.Sprintf("hello %d", i), From: "a@partner.test", ReceivedAt: at,
				DKIM: "pass", SPF: "pass", DMARC: "pass", Trusted: "true"},
			Raw:  []byte(fmt.Sprintf("Subject: hello %d\r\n\r\nhi\r\n", i)),
			Body: "hi\n",
		})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if _, err := s.Move(ctx, ref, storage.Inbox, storage.Archive, st.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := s.Put(ctx, storage.PutRequest{Mailbox: ref, Folder: storage.Sent, At: t0,
		Frontmatter: storage.Frontmatter{Subject: "a reply", From: "support@a.test", DeliveryStatus: "delivered",
			Recipients: []storage.Recipient{{Address: "a@partner.test", Status: "delivered", Attempts: 1}}},
		Raw: []byte("Subject: a reply\r\n\r\nok\r\n"), Body: "ok\n"}); err != nil {
		t.Fatal(err)
	}
}

// storageTestApp is an app as run builds it, on a config dir.
func storageTestApp(configDir, dataDir, runtimeDir string) (*app, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	a := &app{ctx: context.Background(), env: map[string]string{}, stdout: &out, stderr: &errb, v: viper.New()}
	a.v.Set("config_dir", configDir)
	a.v.Set("data_dir", dataDir)
	a.v.Set("runtime_dir", runtimeDir)
	return a, &out, &errb
}

// filesAsPG stands a second file store in for the database.
func filesAsPG(t *testing.T, dir string) openMessagesFunc {
	return func(context.Context, *domains.Config, string) (storage.MessageStore, func(), error) {
		s, err := storage.Open(dir, storage.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return s, func() { s.Close() }, nil
	}
}

// TestStorageMoveRoundTrip exports an install into another store, verifies
// it, and imports it into an empty data dir, through the command's code
// with a file store standing in for the database (the run through the
// real database is TestStorageExportImportPostgres).
func TestStorageMoveRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	configDir, dataDir := newInstall(t)
	putTestMail(t, dataDir, 3)
	runtimeDir := t.TempDir()
	middle := filepath.Join(t.TempDir(), "db")

	a, out, errb := storageTestApp(configDir, dataDir, runtimeDir)
	if err := a.storageMove(ctx, true, storageFlags{dsn: "postgres://x"}, filesAsPG(t, middle)); err != nil {
		t.Fatalf("export: %v\n%s", err, errb)
	}
	if want := "exported 4 messages of 2 mailboxes in "; !strings.HasPrefix(out.String(), want) ||
		!strings.Contains(out.String(), "(4 copied, 0 already there); verified: counts and digests equal in all 8 folders") {
		t.Errorf("stdout %q", out)
	}
	if !strings.Contains(errb.String(), "support@a.test: 4 messages (inbox 2, sent 1, archive 1, trash 0)") ||
		!strings.Contains(errb.String(), "verified *@a.test: inbox 0 ok") {
		t.Errorf("stderr lacks the progress:\n%s", errb)
	}

	a, out, _ = storageTestApp(configDir, dataDir, runtimeDir)
	if err := a.storageMove(ctx, true, storageFlags{dsn: "postgres://x", verifyOnly: true}, filesAsPG(t, middle)); err != nil {
		t.Fatalf("verify: %v", err)
	}
	if got, want := out.String(), "verified 4 messages of 2 mailboxes: counts and digests equal in all 8 folders\n"; got != want {
		t.Errorf("verify stdout %q, want %q", got, want)
	}

	// Import into a fresh data dir.
	fresh := filepath.Join(t.TempDir(), "data")
	a, out, errb = storageTestApp(configDir, fresh, runtimeDir)
	if err := a.storageMove(ctx, false, storageFlags{dsn: "postgres://x"}, filesAsPG(t, middle)); err != nil {
		t.Fatalf("import: %v\n%s", err, errb)
	}
	if !strings.HasPrefix(out.String(), "imported 4 messages of 2 mailboxes") {
		t.Errorf("import stdout %q", out)
	}
	if strings.Contains(errb.String(), "note:") {
		t.Errorf("a fresh data dir got a note: %s", errb)
	}
	// Into a data dir with a hook state of its own: a note says to remove it.
	if err := os.MkdirAll(filepath.Join(fresh, ".spool", "hooks"), 0o700); err != nil {
		t.Fatal(err)
	}
	a, out, errb = storageTestApp(configDir, fresh, runtimeDir)
	if err := a.storageMove(ctx, false, storageFlags{dsn: "postgres://x"}, filesAsPG(t, middle)); err != nil {
		t.Fatalf("second import: %v", err)
	}
	if !strings.Contains(out.String(), "(0 copied, 4 already there)") || !strings.Contains(errb.String(), "note: "+fresh+"/.spool/hooks is this host's hook state") {
		t.Errorf("second import: %q %q", out, errb)
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
	if _, err := storemove.Verify(ctx, orig, back, storemove.Options{Mailboxes: configMailboxes(mustLoad(t, configDir))}); err != nil {
		t.Errorf("the imported data dir differs from the original: %v", err)
	}

	// A difference fails the verification, naming the mailbox.
	ref := domains.MailboxRef("support@a.test")
	ids, err := back.List(ctx, storage.ListQuery{Mailbox: ref})
	if err != nil || len(ids.Messages) == 0 {
		t.Fatal(ids, err)
	}
	if _, err := back.Delete(ctx, ref, storage.Inbox, ids.Messages[0].ID); err != nil {
		t.Fatal(err)
	}
	a, _, _ = storageTestApp(configDir, fresh, runtimeDir)
	err = a.storageMove(ctx, false, storageFlags{dsn: "postgres://x", verifyOnly: true}, filesAsPG(t, middle))
	var mm *storemove.MismatchError
	if !errors.As(err, &mm) || !strings.Contains(err.Error(), "support@a.test inbox: 2 messages in the source, 1 in the target") {
		t.Errorf("verify after a delete: %v", err)
	}
}

func mustLoad(t *testing.T, configDir string) *domains.Config {
	t.Helper()
	cfg, err := domains.Load(filepath.Join(configDir, "config.toml"), domains.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestStorageRefusals: no database named is a usage error; a running
// daemon (one holding the pid file's lock) is refused before anything is
// opened.
func TestStorageRefusals(t *testing.T) {
	t.Parallel()
	configDir, dataDir := newInstall(t)
	runtimeDir := t.TempDir()
	env := []string{"AIMX_CONFIG_DIR=" + configDir, "AIMX_DATA_DIR=" + dataDir, "AIMX_RUNTIME_DIR=" + runtimeDir}
	for _, args := range [][]string{{"storage", "export"}, {"storage", "import", "--verify-only"}} {
		r := aimx(t, env, args...)
		if r.code != 2 || !strings.Contains(r.stderr, "no database: give --") {
			t.Errorf("%v: %d %q, want a usage error", args, r.code, r.stderr)
		}
	}
	if r := aimx(t, env, "storage", "import", "--to", "x"); r.code != 2 || !strings.Contains(r.stderr, "unknown flag: --to") {
		t.Errorf("import --to: %d %q", r.code, r.stderr)
	}

	pid, err := os.OpenFile(filepath.Join(runtimeDir, "aimx.pid"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer pid.Close()
	if _, err := pid.WriteString("4242\n"); err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(int(pid.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"storage", "export", "--to", "postgres://nowhere.invalid/aimx"},
		{"storage", "import", "--from", "postgres://nowhere.invalid/aimx", "--verify-only"},
	} {
		r := aimx(t, env, args...)
		if r.code != 1 || !strings.Contains(r.stderr, "an aimx daemon (pid 4242) runs on "+runtimeDir) {
			t.Errorf("%v with a daemon: %d %q", args, r.code, r.stderr)
		}
	}
	if _, err := os.Stat(dataDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused export touched the data dir: %v", err)
	}
}
