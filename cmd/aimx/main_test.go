package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/storage"
)

// result is one run of the CLI as a user sees it.
type result struct {
	stdout, stderr string
	err            error
	code           int
}

// aimx runs the CLI in-process with the given environment.
func aimx(t *testing.T, env []string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, env, strings.NewReader(""), &out, &errb)
	code := report(err, &errb)
	return result{stdout: out.String(), stderr: errb.String(), err: err, code: code}
}

const testConfig = `domains = ["a.test", "b.test"]

[domain."b.test"]
dkim_selector = "bsel"

[mailboxes."support@a.test"]
address = "support@a.test"
owner = "root"
trust = "verified"
trusted_senders = ["*@partner.test"]

[[mailboxes."support@a.test".hooks]]
event = "on_receive"
cmd = ["/bin/echo", "hi"]

[mailboxes."*@a.test"]
address = "*@a.test"
owner = "root"
`

// newInstall writes a config dir and an empty data dir.
func newInstall(t *testing.T) (configDir, dataDir string) {
	t.Helper()
	root := t.TempDir()
	configDir, dataDir = filepath.Join(root, "etc"), filepath.Join(root, "data")
	if err := os.MkdirAll(configDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(configDir, "config.toml"), []byte(testConfig), 0o640); err != nil {
		t.Fatal(err)
	}
	return configDir, dataDir
}

func TestExitCodes(t *testing.T) {
	t.Parallel()
	cfgDir, _ := newInstall(t)
	cases := []struct {
		name string
		args []string
		code int
		err  string
	}{
		{"version", []string{"version"}, 0, ""},
		{"help", []string{}, 0, ""},
		{"unknown command", []string{"frobnicate"}, 2, "unknown command"},
		{"unknown flag", []string{"version", "--nope"}, 2, "unknown flag"},
		{"extra argument", []string{"version", "x"}, 2, "accepts 0 arg"},
		{"show needs a name", []string{"--config-dir", cfgDir, "mailboxes", "show"}, 2, "accepts 1 arg"},
		{"bad algorithm", []string{"--config-dir", cfgDir, "dkim-keygen", "--algorithm", "dsa"}, 2, "unknown DKIM algorithm"},
		{"missing config", []string{"--config-dir", t.TempDir(), "mailboxes", "list"}, 1, "no config at"},
		{"unknown mailbox", []string{"--config-dir", cfgDir, "mailboxes", "show", "nobody@a.test"}, 1, "no mailbox nobody@a.test"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := aimx(t, nil, c.args...)
			if r.code != c.code {
				t.Fatalf("exit %d, want %d (stderr %q)", r.code, c.code, r.stderr)
			}
			if c.err == "" {
				if r.stderr != "" {
					t.Errorf("unexpected stderr %q", r.stderr)
				}
				return
			}
			if !strings.HasPrefix(r.stderr, "Error: ") || !strings.Contains(r.stderr, c.err) {
				t.Errorf("stderr %q, want one `Error: ...%s` line", r.stderr, c.err)
			}
			if n := strings.Count(r.stderr, "\n"); n != 1 {
				t.Errorf("stderr has %d lines, want 1: %q", n, r.stderr)
			}
		})
	}
}

func TestVersionJSON(t *testing.T) {
	t.Parallel()
	r := aimx(t, nil, "version", "--json")
	var v versionInfo
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || v.Version == "" || !strings.HasPrefix(v.Go, "go") {
		t.Fatalf("version --json = %q (%v)", r.stdout, err)
	}
}

func TestDKIMKeygen(t *testing.T) {
	t.Parallel()
	cfgDir, _ := newInstall(t)
	// Ed25519 keeps the test fast; RSA generation is covered in dkimkey.
	r := aimx(t, nil, "--config-dir", cfgDir, "dkim-keygen", "--algorithm", "ed25519", "--json")
	if r.code != 0 {
		t.Fatalf("keygen failed: %s", r.stderr)
	}
	var rec dkimRecord
	if err := json.Unmarshal([]byte(r.stdout), &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Domain != "a.test" || rec.RecordName != "aimx-ed25519._domainkey.a.test" ||
		!strings.HasPrefix(rec.Record, "v=DKIM1; k=ed25519; p=") {
		t.Errorf("record %+v", rec)
	}
	if rec.PrivateKey != filepath.Join(cfgDir, "dkim", "a.test", "ed25519.private.key") {
		t.Errorf("private key at %s", rec.PrivateKey)
	}
	// The domain's own selector comes from its [domain."b.test"] override.
	r = aimx(t, nil, "--config-dir", cfgDir, "dkim-keygen", "--domain", "B.test", "--algorithm", "ed25519")
	if r.code != 0 || !strings.Contains(r.stdout, "bsel-ed25519._domainkey.b.test TXT \"v=DKIM1; k=ed25519; p=") {
		t.Fatalf("b.test keygen: %d %q %q", r.code, r.stdout, r.stderr)
	}
	// Without --force an existing key is kept and its record printed
	// again, byte for byte the same key.
	keyBefore, err := os.ReadFile(rec.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	r = aimx(t, nil, "--config-dir", cfgDir, "dkim-keygen", "--algorithm", "ed25519", "--json")
	var again dkimRecord
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &again) != nil || again.Created || again.Record != rec.Record ||
		again.Published != "missing" {
		t.Fatalf("reprint without --force: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if keyAfter, _ := os.ReadFile(rec.PrivateKey); string(keyAfter) != string(keyBefore) {
		t.Fatal("the key changed without --force")
	}
	if r = aimx(t, nil, "--config-dir", cfgDir, "dkim-keygen", "--algorithm", "ed25519", "--force"); r.code != 0 {
		t.Fatalf("--force: %q", r.stderr)
	}
	// An unconfigured domain gets told where to add it.
	r = aimx(t, nil, "--config-dir", cfgDir, "dkim-keygen", "--domain", "c.test", "--algorithm", "ed25519")
	if r.code != 1 || !strings.Contains(r.stderr, "add it to `domains` in") || !strings.Contains(r.stderr, "config.toml") {
		t.Fatalf("unconfigured domain: %d %q", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(cfgDir, "dkim", "c.test")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused keygen created files: %v", err)
	}
}

func TestDKIMKeygenRSARecord(t *testing.T) {
	t.Parallel()
	cfgDir, _ := newInstall(t)
	r := aimx(t, nil, "--config-dir", cfgDir, "dkim-keygen", "--selector", "s1")
	if r.code != 0 || !strings.Contains(r.stdout, "s1._domainkey.a.test TXT \"v=DKIM1; k=rsa; p=MII") {
		t.Fatalf("rsa keygen: %d %q %q", r.code, r.stdout, r.stderr)
	}
}

func TestMailboxesListAndShow(t *testing.T) {
	t.Parallel()
	cfgDir, dataDir := newInstall(t)
	// A missing data dir lists as empty, and listing creates nothing.
	r := aimx(t, nil, "--config-dir", cfgDir, "--data-dir", dataDir, "mailboxes", "list", "--json")
	if r.code != 0 {
		t.Fatalf("list: %q", r.stderr)
	}
	if _, err := os.Stat(dataDir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("read-only list created the data dir: %v", err)
	}
	var list struct{ Mailboxes []mailboxSummary }
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Mailboxes) != 2 || list.Mailboxes[0].Name != "*@a.test" || list.Mailboxes[1].Name != "support@a.test" {
		t.Fatalf("mailboxes %+v", list.Mailboxes)
	}

	// Store one inbound message, then the counts show it.
	st, err := storage.Open(dataDir, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ref := storage.MailboxRef{Domain: "a.test", Local: "support"}
	if err := st.EnsureMailbox(context.Background(), ref, nil); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 2, 9, 41, 7, 0, time.UTC)
	_, err = st.Put(context.Background(), storage.PutRequest{Mailbox: ref, Folder: storage.Inbox, At: at,
		Raw: []byte("Subject: hi\r\n\r\nbody\r\n"), Body: "body",
		Frontmatter: storage.Frontmatter{MessageID: "m1@x.test", From: "x@x.test", Subject: "hi", Date: at.Format(time.RFC3339),
			ReceivedAt: at, DKIM: "none", SPF: "none", DMARC: "none", Trusted: "none", Mailbox: "support@a.test"}})
	if err != nil {
		t.Fatal(err)
	}
	// The data dir comes from AIMX_DATA_DIR here: the environment layer.
	env := []string{"AIMX_DATA_DIR=" + dataDir, "AIMX_CONFIG_DIR=" + cfgDir}
	r = aimx(t, env, "mailboxes", "list")
	if r.code != 0 || !strings.Contains(r.stdout, "support@a.test") {
		t.Fatalf("list: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "support@a.test  root   1      1       0") {
		t.Errorf("list row for support@a.test lacks its counts:\n%s", r.stdout)
	}
	// A bare local part resolves against the default domain.
	r = aimx(t, env, "mailbox", "show", "support", "--json")
	var d mailboxDetail
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatalf("show: %v %q %q", err, r.stdout, r.stderr)
	}
	if d.Name != "support@a.test" || d.Total != 1 || d.Unread != 1 || d.Trust != "verified" ||
		len(d.TrustedSenders) != 1 || len(d.Hooks) != 1 || d.Hooks[0].Name != "9f5503741a28" || d.Signature != "Sent from aimx" {
		t.Errorf("show = %+v", d)
	}
	// A flag beats the environment: an empty data dir shows no mail.
	r = aimx(t, env, "--data-dir", t.TempDir(), "mailboxes", "show", "support@a.test", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil || d.Total != 0 {
		t.Errorf("--data-dir did not beat AIMX_DATA_DIR: %+v %v", d, err)
	}
}
