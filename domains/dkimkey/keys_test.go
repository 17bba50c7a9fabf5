package dkimkey

import (
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParsePrivateKeyFormats(t *testing.T) {
	t.Parallel()
	cases := []struct {
		file string
		want Algorithm
	}{
		{"rsa-pkcs1.key.pem", RSA}, // the Rust aimx's format
		{"rsa-pkcs8.key.pem", RSA}, // ours
		{"ed25519.key.pem", Ed25519},
	}
	for _, c := range cases {
		s, err := ParsePrivateKey(readTestdata(t, c.file))
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		if got := algorithmOf(s); got != c.want {
			t.Errorf("%s: algorithm %s, want %s", c.file, got, c.want)
		}
	}
	for _, bad := range []string{"", "not pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
		"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"} {
		if _, err := ParsePrivateKey([]byte(bad)); err == nil {
			t.Errorf("ParsePrivateKey(%q) accepted garbage", bad)
		}
	}
}

// TestTXTRecordMatchesThirdPartyVectors checks the published record against
// the TXT values dkimpy's fixtures carry for the same keys.
func TestTXTRecordMatchesThirdPartyVectors(t *testing.T) {
	t.Parallel()
	rsaKey, err := ParsePrivateKey(readTestdata(t, "rsa-pkcs1.key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	name, value, err := TXTRecord("mail.example.net", "rsa2026", rsaKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	if name != "rsa2026._domainkey.mail.example.net" {
		t.Errorf("rsa name %q", name)
	}
	if want := strings.TrimSpace(string(readTestdata(t, "rsa.txt"))); value != want {
		t.Errorf("rsa value\n got %s\nwant %s", value, want)
	}
	edKey, err := ParsePrivateKey(readTestdata(t, "ed25519.key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	name, value, err = TXTRecord("mail.example.net", "ed2026", edKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	if name != "ed2026-ed25519._domainkey.mail.example.net" {
		t.Errorf("ed25519 name %q", name)
	}
	if want := strings.TrimSpace(string(readTestdata(t, "ed25519.txt"))); value != want {
		t.Errorf("ed25519 value\n got %s\nwant %s", value, want)
	}
}

func TestImportLoadAndModes(t *testing.T) {
	t.Parallel()
	s := NewStore(t.TempDir())
	if _, err := s.LoadSet("a.test"); !errors.Is(err, ErrNoKey) {
		t.Fatalf("LoadSet on empty store: %v, want ErrNoKey", err)
	}
	if _, err := s.Import("a.test", readTestdata(t, "rsa-pkcs1.key.pem")); err != nil {
		t.Fatal(err)
	}
	set, err := s.LoadSet("a.test")
	if err != nil {
		t.Fatal(err)
	}
	if set.Ed25519 != nil {
		t.Error("ed25519 key appeared from nowhere")
	}
	if _, ok := set.RSA.Signer.(*rsa.PrivateKey); !ok {
		t.Fatalf("rsa signer is %T", set.RSA.Signer)
	}
	if _, err := s.Import("a.test", readTestdata(t, "ed25519.key.pem")); err != nil {
		t.Fatal(err)
	}
	set, err = s.LoadSet("a.test")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := set.Ed25519.Signer.(ed25519.PrivateKey); !ok {
		t.Fatalf("ed25519 signer is %T", set.Ed25519.Signer)
	}
	// Written private keys are PKCS#8, public keys SPKI (book/configuration.md).
	priv, _ := os.ReadFile(set.RSA.PrivatePath)
	if !strings.HasPrefix(string(priv), "-----BEGIN PRIVATE KEY-----") {
		t.Errorf("private key not PKCS#8 PEM: %.40q", priv)
	}
	pub, _ := os.ReadFile(set.RSA.PublicPath)
	if !strings.HasPrefix(string(pub), "-----BEGIN PUBLIC KEY-----") {
		t.Errorf("public key not SPKI PEM: %.40q", pub)
	}
	modes := map[string]os.FileMode{
		filepath.Join(s.Dir, "a.test"): 0o700,
		set.RSA.PrivatePath:            0o600,
		set.RSA.PublicPath:             0o644,
		set.Ed25519.PrivatePath:        0o600,
		set.Ed25519.PublicPath:         0o644,
	}
	for p, want := range modes {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s mode %o, want %o", p, got, want)
		}
	}
	// Import never replaces.
	if _, err := s.Import("a.test", readTestdata(t, "rsa-pkcs8.key.pem")); !errors.Is(err, ErrKeyExists) {
		t.Errorf("second import: %v, want ErrKeyExists", err)
	}
}

func TestGenerateRefusesOverwriteWithoutForce(t *testing.T) {
	t.Parallel()
	s := NewStore(t.TempDir())
	first, err := s.Generate("b.test", Ed25519, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Generate("b.test", Ed25519, false); !errors.Is(err, ErrKeyExists) {
		t.Fatalf("second generate without force: %v, want ErrKeyExists", err)
	}
	loaded, err := s.Load("b.test", Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	if !loaded.Signer.(ed25519.PrivateKey).Equal(first.Signer) {
		t.Fatal("refused generate still changed the key")
	}
	second, err := s.Generate("b.test", Ed25519, true)
	if err != nil {
		t.Fatalf("generate with force: %v", err)
	}
	loaded, err = s.Load("b.test", Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	if !loaded.Signer.(ed25519.PrivateKey).Equal(second.Signer) || loaded.Signer.(ed25519.PrivateKey).Equal(first.Signer) {
		t.Fatal("forced generate did not replace the key")
	}
}

func TestGenerateRSA(t *testing.T) {
	t.Parallel()
	s := NewStore(t.TempDir())
	k, err := s.Generate("c.test", RSA, false)
	if err != nil {
		t.Fatal(err)
	}
	if bits := k.Signer.(*rsa.PrivateKey).N.BitLen(); bits != RSABits {
		t.Errorf("RSA key has %d bits", bits)
	}
	if _, err := s.Load("c.test", RSA); err != nil {
		t.Fatal(err)
	}
}

func TestDomainCannotEscapeKeyDir(t *testing.T) {
	t.Parallel()
	s := NewStore(t.TempDir())
	for _, d := range []string{"", "../etc", "a/b", "A.test", ".hidden", "a..b", "a\\b", "x\x00y"} {
		if _, err := s.Generate(d, Ed25519, true); err == nil {
			t.Errorf("Generate(%q) accepted", d)
		}
		if _, err := s.Load(d, RSA); err == nil || errors.Is(err, ErrNoKey) {
			t.Errorf("Load(%q) = %v, want a validation error", d, err)
		}
	}
}

func TestLoadRejectsWrongAlgorithmInFile(t *testing.T) {
	t.Parallel()
	s := NewStore(t.TempDir())
	priv, _ := s.KeyPaths("d.test", RSA)
	if err := os.MkdirAll(filepath.Dir(priv), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(priv, readTestdata(t, "ed25519.key.pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load("d.test", RSA); err == nil {
		t.Fatal("an ed25519 key in private.key loaded as RSA")
	}
}

func TestParseAlgorithm(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Algorithm{"": RSA, "rsa": RSA, "RSA": RSA, "ed25519": Ed25519} {
		got, err := ParseAlgorithm(in)
		if err != nil || got != want {
			t.Errorf("ParseAlgorithm(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseAlgorithm("dsa"); err == nil {
		t.Error("dsa accepted")
	}
}

// A key file swapped for a symlink (or a FIFO) is never followed or
// opened for reading: Load fails instead of reading what it points at.
func TestLoadNeverFollowsSymlinkOrFIFO(t *testing.T) {
	t.Parallel()
	s := NewStore(t.TempDir())
	if _, err := s.Import("a.test", readTestdata(t, "rsa-pkcs1.key.pem")); err != nil {
		t.Fatal(err)
	}
	other := NewStore(t.TempDir())
	if _, err := other.Import("b.test", readTestdata(t, "rsa-pkcs1.key.pem")); err != nil {
		t.Fatal(err)
	}
	priv, _ := s.KeyPaths("a.test", RSA)
	target, _ := other.KeyPaths("b.test", RSA)
	if err := os.Remove(priv); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, priv); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load("a.test", RSA); err == nil {
		t.Fatal("Load followed a symlink")
	}
	if err := os.Remove(priv); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(priv, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := s.Load("a.test", RSA); done <- err }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Load read a FIFO")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Load blocked on a FIFO")
	}
}
