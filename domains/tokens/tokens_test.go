package tokens

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func newStore(t *testing.T) *Store {
	t.Helper()
	return &Store{Path: filepath.Join(t.TempDir(), FileName),
		Now: func() time.Time { return time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC) }}
}

// TestCreateStoresHashOnly: the secret is returned once, recognisable, and
// the file (0600) holds its hash and never the secret.
func TestCreateStoresHashOnly(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	tok, secret, err := s.Create(New{Name: "laptop", Owner: "alice", Mailboxes: []string{"b@a.test", "a@a.test", "b@a.test"}, AllowHooks: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, SecretPrefix) || len(secret) != len(SecretPrefix)+43 {
		t.Errorf("secret %q: want aimx_ and 43 base64url characters", secret)
	}
	if tok.Hash != "" || !strings.HasPrefix(tok.ID, "tok_") || tok.Owner != "alice" || !tok.AllowHooks ||
		strings.Join(tok.Mailboxes, ",") != "a@a.test,b@a.test" || !tok.CreatedAt.Equal(s.now()) {
		t.Errorf("token %+v", tok)
	}
	data, err := os.ReadFile(s.Path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte(secret)) || bytes.Contains(data, []byte(strings.TrimPrefix(secret, SecretPrefix))) {
		t.Fatalf("tokens.json holds the secret:\n%s", data)
	}
	if !bytes.Contains(data, []byte(HashSecret(secret))) {
		t.Errorf("tokens.json lacks the hash:\n%s", data)
	}
	fi, err := os.Stat(s.Path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != FileMode {
		t.Errorf("mode %v, want %v", fi.Mode().Perm(), FileMode)
	}
}

func TestCreateRefuses(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	for _, n := range []New{{Owner: " "}, {Owner: "a", Name: "x\ny"}, {Owner: "a", Name: strings.Repeat("n", MaxNameLen+1)}} {
		if _, _, err := s.Create(n); !errors.Is(err, ErrInvalid) {
			t.Errorf("Create(%+v) = %v, want ErrInvalid", n, err)
		}
	}
	if _, err := os.Stat(s.Path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused create wrote the file: %v", err)
	}
}

// TestVerifyAndRevoke: a minted secret verifies to its token; a wrong,
// prefixless or revoked one does not; a revoke through another Store (the
// CLI while the daemon runs) is seen at once.
func TestVerifyAndRevoke(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	tok, secret, err := s.Create(New{Owner: "alice", Mailboxes: []string{"x@a.test"}})
	if err != nil {
		t.Fatal(err)
	}
	_, other, err := s.Create(New{Owner: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	got, ok := s.Verify(secret)
	if !ok || got.ID != tok.ID || got.Owner != "alice" || got.Hash != "" || len(got.Mailboxes) != 1 {
		t.Fatalf("Verify = %+v %v", got, ok)
	}
	for _, bad := range []string{"", "aimx_", secret + "x", strings.TrimPrefix(secret, SecretPrefix), HashSecret(secret)} {
		if _, ok := s.Verify(bad); ok {
			t.Errorf("Verify(%q) accepted", bad)
		}
	}
	cli := &Store{Path: s.Path}
	if _, err := cli.Revoke(tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Verify(secret); ok {
		t.Error("revoked token still verifies")
	}
	if got, ok := s.Verify(other); !ok || got.Owner != "bob" {
		t.Errorf("the other token: %+v %v", got, ok)
	}
	if _, err := s.Revoke(tok.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second revoke: %v", err)
	}
	list, err := s.List()
	if err != nil || len(list) != 1 || list[0].Owner != "bob" || list[0].Hash != "" {
		t.Errorf("List = %+v %v", list, err)
	}
}

func TestMissingAndBadFile(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	if l, err := s.List(); err != nil || len(l) != 0 {
		t.Fatalf("missing file: %v %v", l, err)
	}
	if _, ok := s.Verify("aimx_x"); ok {
		t.Fatal("verified against no file")
	}
	if err := os.WriteFile(s.Path, []byte(`{"version":9,"tokens":[]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.List(); err == nil || !strings.Contains(err.Error(), "unknown version 9") {
		t.Errorf("List of a future file: %v", err)
	}
	if _, _, err := s.Create(New{Owner: "a"}); err == nil {
		t.Error("Create over a file it cannot read succeeded")
	}
}

// TestConcurrentCreates: creates from many goroutines and two Stores (the
// daemon and the CLI) all land, and every secret verifies.
func TestConcurrentCreates(t *testing.T) {
	t.Parallel()
	a := newStore(t)
	b := &Store{Path: a.Path}
	const n = 16
	secrets := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := a
			if i%2 == 1 {
				s = b
			}
			_, sec, err := s.Create(New{Owner: "u"})
			if err != nil {
				t.Error(err)
			}
			secrets[i] = sec
		}()
	}
	wg.Wait()
	list, err := a.List()
	if err != nil || len(list) != n {
		t.Fatalf("List has %d tokens (%v), want %d", len(list), err, n)
	}
	for _, sec := range secrets {
		if _, ok := a.Verify(sec); !ok {
			t.Errorf("secret %d does not verify", len(sec))
		}
	}
}

// TestVerifyCachesByStamp: an unchanged file is not read again (the cache
// is keyed by the file's stamp), so a corrupt rewrite with the same stamp
// would not be noticed, while a real rewrite is.
func TestVerifyCachesByStamp(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	_, secret, err := s.Create(New{Owner: "u"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Verify(secret); !ok {
		t.Fatal("no verify")
	}
	before := s.stamp
	if _, ok := s.Verify(secret); !ok || s.stamp != before {
		t.Fatal("stamp changed without a write")
	}
	if _, _, err := (&Store{Path: s.Path}).Create(New{Owner: "v"}); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Verify(secret); !ok || s.stamp == before || len(s.byHash) != 2 {
		t.Errorf("a rewrite was not picked up: %d tokens", len(s.byHash))
	}
}
