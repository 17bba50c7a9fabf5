package dkimkey

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestKeyring(t *testing.T) {
	t.Parallel()
	s := NewStore(t.TempDir())
	if _, err := s.Import("a.test", readTestdata(t, "rsa-pkcs1.key.pem")); err != nil {
		t.Fatal(err)
	}
	ring, missing, err := LoadKeyring(s, []string{"a.test", "b.test"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(missing, []string{"b.test"}) || !reflect.DeepEqual(ring.Domains(), []string{"a.test"}) {
		t.Fatalf("missing %v, loaded %v", missing, ring.Domains())
	}
	if set, err := ring.KeySet("a.test"); err != nil || set.RSA == nil {
		t.Fatalf("a.test: %v %v", set, err)
	}
	_, err = ring.KeySet("b.test")
	if !errors.Is(err, ErrNoKey) || !strings.Contains(err.Error(), "aimx dkim-keygen --domain b.test") {
		t.Fatalf("b.test: %v", err)
	}
	// A key made while the daemon runs is picked up by Refresh (reload).
	if _, err := s.Import("b.test", readTestdata(t, "rsa-pkcs1.key.pem")); err != nil {
		t.Fatal(err)
	}
	if missing, err := ring.Refresh(s, []string{"a.test", "b.test", "z.test"}); err != nil || !reflect.DeepEqual(missing, []string{"z.test"}) {
		t.Fatalf("refresh: missing %v, %v", missing, err)
	}
	if _, err := ring.KeySet("b.test"); err != nil {
		t.Fatal(err)
	}
	ring.Publish(&KeySet{Domain: "b.test"})
	if _, err := ring.KeySet("b.test"); err != nil {
		t.Fatal(err)
	}
	ring.Forget("a.test")
	if _, err := ring.KeySet("a.test"); !errors.Is(err, ErrNoKey) {
		t.Fatalf("forgotten: %v", err)
	}

	// A malformed key is an error, not a missing one.
	priv, _ := s.KeyPaths("c.test", RSA)
	if err := os.MkdirAll(filepath.Dir(priv), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(priv, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadKeyring(s, []string{"c.test"}); err == nil || errors.Is(err, ErrNoKey) {
		t.Fatalf("malformed key: %v", err)
	}
}
