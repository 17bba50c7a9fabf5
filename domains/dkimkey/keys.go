// Package dkimkey is the per-domain DKIM key store: it generates, writes and
// loads the key pairs under <config dir>/dkim/<domain>/ (book/configuration.md) and renders
// the DNS TXT records that publish them. The outbound signer loads its keys
// through it.
package dkimkey

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/aimx-dev/aimx/internal/safefs"
	"github.com/aimx-dev/aimx/storage"
)

// Algorithm is a DKIM signing algorithm aimx keeps keys for.
type Algorithm string

// The algorithms aimx generates keys for. RSA is the one every domain needs;
// Ed25519 (RFC 8463) is an optional second signature.
const (
	RSA     Algorithm = "rsa"
	Ed25519 Algorithm = "ed25519"
)

// RSABits is the size of generated RSA keys.
const RSABits = 2048

// File modes of the key store (book/configuration.md).
const (
	domainDirMode  os.FileMode = 0o700
	privateKeyMode os.FileMode = 0o600
	publicKeyMode  os.FileMode = 0o644
	dkimDirMode    os.FileMode = 0o755
)

// ErrNoKey reports that a domain has no key of the asked algorithm on disk.
var ErrNoKey = errors.New("no DKIM key")

// ErrKeyExists reports that a key would be overwritten without force.
var ErrKeyExists = errors.New("DKIM key already exists")

// ParseAlgorithm turns a CLI or API string into an Algorithm.
func ParseAlgorithm(s string) (Algorithm, error) {
	switch Algorithm(strings.ToLower(strings.TrimSpace(s))) {
	case RSA, "":
		return RSA, nil
	case Ed25519:
		return Ed25519, nil
	}
	return "", fmt.Errorf("unknown DKIM algorithm %q: use rsa or ed25519", s)
}

// Store reads and writes the key files under one config dir.
type Store struct {
	// Dir is <config dir>/dkim.
	Dir string
	// Writer is the durable-write helper used for key files.
	Writer *storage.Writer
	// Rand is the entropy source for key generation (crypto/rand when nil).
	Rand interface{ Read([]byte) (int, error) }
}

// NewStore returns the key store of a config dir.
func NewStore(configDir string) *Store {
	return &Store{Dir: filepath.Join(configDir, "dkim"), Writer: &storage.Writer{}}
}

// KeyPaths returns the private and public key file paths of a domain's key.
func (s *Store) KeyPaths(domain string, alg Algorithm) (private, public string) {
	dir := filepath.Join(s.Dir, domain)
	if alg == Ed25519 {
		return filepath.Join(dir, "ed25519.private.key"), filepath.Join(dir, "ed25519.public.key")
	}
	return filepath.Join(dir, "private.key"), filepath.Join(dir, "public.key")
}

// Key is one loaded or generated key pair.
type Key struct {
	Algorithm Algorithm
	Signer    crypto.Signer
	// PrivatePath and PublicPath are where the pair lives on disk.
	PrivatePath, PublicPath string
}

// Public returns the public half of the key.
func (k *Key) Public() crypto.PublicKey { return k.Signer.Public() }

// KeySet is what the signer needs for one domain: the RSA key (required to
// send) and, when present, an Ed25519 key for a second signature.
type KeySet struct {
	Domain  string
	RSA     *Key
	Ed25519 *Key
}

// checkDomain keeps a domain name from escaping the key dir. Full RFC 1035
// validation is the config model's job; this is the store's own guard.
func checkDomain(domain string) error {
	if domain == "" || domain != strings.ToLower(domain) || strings.ContainsAny(domain, "/\\\x00") ||
		strings.HasPrefix(domain, ".") || strings.Contains(domain, "..") {
		return fmt.Errorf("invalid domain name %q for the DKIM key store", domain)
	}
	return nil
}

// Load reads one key of a domain. It returns an error wrapping ErrNoKey when
// the private key file does not exist.
func (s *Store) Load(domain string, alg Algorithm) (*Key, error) {
	if err := checkDomain(domain); err != nil {
		return nil, err
	}
	priv, pub := s.KeyPaths(domain, alg)
	data, err := s.readKey(domain, filepath.Base(priv))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("load %s DKIM key of %s: %w (%s)", alg, domain, ErrNoKey, priv)
	}
	if err != nil {
		return nil, fmt.Errorf("load %s DKIM key of %s: %w", alg, domain, err)
	}
	signer, err := ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("load %s DKIM key %s: %w", alg, priv, err)
	}
	if got := algorithmOf(signer); got != alg {
		return nil, fmt.Errorf("load %s DKIM key %s: file holds a %s key", alg, priv, got)
	}
	return &Key{Algorithm: alg, Signer: signer, PrivatePath: priv, PublicPath: pub}, nil
}

// LoadSet reads every key a domain has. A domain without an RSA key is an
// error wrapping ErrNoKey; the Ed25519 key is optional.
func (s *Store) LoadSet(domain string) (*KeySet, error) {
	rsaKey, err := s.Load(domain, RSA)
	if err != nil {
		return nil, err
	}
	set := &KeySet{Domain: domain, RSA: rsaKey}
	edKey, err := s.Load(domain, Ed25519)
	switch {
	case err == nil:
		set.Ed25519 = edKey
	case !errors.Is(err, ErrNoKey):
		return nil, err
	}
	return set, nil
}

// Generate makes a new key pair for a domain and writes it durably. It
// refuses to replace an existing private key unless force is set.
func (s *Store) Generate(domain string, alg Algorithm, force bool) (*Key, error) {
	if err := checkDomain(domain); err != nil {
		return nil, err
	}
	priv, pub := s.KeyPaths(domain, alg)
	if !force {
		if _, err := s.readKey(domain, filepath.Base(priv)); !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("generate %s DKIM key for %s: %w at %s (use --force to replace it)", alg, domain, ErrKeyExists, priv)
		}
	}
	var random interface{ Read([]byte) (int, error) } = rand.Reader
	if s.Rand != nil {
		random = s.Rand
	}
	var signer crypto.Signer
	var err error
	switch alg {
	case RSA:
		signer, err = rsa.GenerateKey(random, RSABits)
	case Ed25519:
		_, signer, err = ed25519.GenerateKey(random)
	default:
		err = fmt.Errorf("unknown algorithm %q", alg)
	}
	if err != nil {
		return nil, fmt.Errorf("generate %s DKIM key for %s: %w", alg, domain, err)
	}
	if err := s.write(domain, alg, signer, !force); err != nil {
		return nil, err
	}
	return &Key{Algorithm: alg, Signer: signer, PrivatePath: priv, PublicPath: pub}, nil
}

// Import writes an existing private key (PKCS#8 or PKCS#1 PEM) as a domain's
// key, for migrations. It never replaces an existing private key.
func (s *Store) Import(domain string, privatePEM []byte) (*Key, error) {
	if err := checkDomain(domain); err != nil {
		return nil, err
	}
	signer, err := ParsePrivateKey(privatePEM)
	if err != nil {
		return nil, fmt.Errorf("import DKIM key for %s: %w", domain, err)
	}
	alg := algorithmOf(signer)
	if err := s.write(domain, alg, signer, true); err != nil {
		return nil, err
	}
	priv, pub := s.KeyPaths(domain, alg)
	return &Key{Algorithm: alg, Signer: signer, PrivatePath: priv, PublicPath: pub}, nil
}

// write stores the pair: the public key first, then the private key, whose
// appearance marks the pair complete.
func (s *Store) write(domain string, alg Algorithm, signer crypto.Signer, noReplace bool) error {
	// Every dir made durably, nothing followed (book/security.md).
	top, err := safefs.MkdirAll(s.Dir, dkimDirMode)
	if err != nil {
		return fmt.Errorf("create %s: %w", s.Dir, err)
	}
	defer top.Close()
	dir, _, err := top.EnsureDir(domain, domainDirMode, nil)
	if err != nil {
		return fmt.Errorf("create %s: %w", top.Join(domain), err)
	}
	defer dir.Close()
	privDER, err := x509.MarshalPKCS8PrivateKey(signer)
	if err != nil {
		return fmt.Errorf("encode %s private key: %w", alg, err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(signer.Public())
	if err != nil {
		return fmt.Errorf("encode %s public key: %w", alg, err)
	}
	privPath, pubPath := s.KeyPaths(domain, alg)
	w := s.Writer
	if w == nil {
		w = &storage.Writer{}
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	if err := w.WriteFileAt(dir, filepath.Base(pubPath), pubPEM, storage.WriteOptions{Mode: publicKeyMode}); err != nil {
		return fmt.Errorf("write DKIM public key: %w", err)
	}
	privPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER})
	if err := w.WriteFileAt(dir, filepath.Base(privPath), privPEM, storage.WriteOptions{Mode: privateKeyMode, NoReplace: noReplace}); err != nil {
		if errors.Is(err, storage.ErrExist) {
			return fmt.Errorf("write DKIM private key of %s: %w at %s", domain, ErrKeyExists, privPath)
		}
		return fmt.Errorf("write DKIM private key: %w", err)
	}
	return nil
}

// maxKeyBytes caps a key file read: an RSA 4096 PEM is about 3.3 KB.
const maxKeyBytes = 64 << 10

// readKey reads one key file of a domain through the file layer: no
// symlink followed, regular files only, capped.
func (s *Store) readKey(domain, name string) ([]byte, error) {
	top, err := safefs.OpenDir(s.Dir)
	if err != nil {
		return nil, err
	}
	defer top.Close()
	return top.ReadFile(domain+"/"+name, maxKeyBytes)
}

// ParsePrivateKey reads a PEM private key: PKCS#8 (what aimx writes) or
// PKCS#1 (what the Rust aimx wrote), RSA or Ed25519.
func ParsePrivateKey(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	switch block.Type {
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse PKCS#1 key: %w", err)
		}
		return k, nil
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse PKCS#8 key: %w", err)
		}
		switch k := k.(type) {
		case *rsa.PrivateKey:
			return k, nil
		case ed25519.PrivateKey:
			return k, nil
		default:
			return nil, fmt.Errorf("unsupported private key type %T", k)
		}
	}
	return nil, fmt.Errorf("unsupported PEM block %q", block.Type)
}

func algorithmOf(s crypto.Signer) Algorithm {
	if _, ok := s.(ed25519.PrivateKey); ok {
		return Ed25519
	}
	return RSA
}

// TXTRecord returns the DNS name and TXT value that publish a public key for
// domain under selector. Ed25519 keys live under "<selector>-ed25519" and
// carry the raw 32-byte key (RFC 8463); RSA keys carry the SPKI DER.
func TXTRecord(domain, selector string, pub crypto.PublicKey) (name, value string, err error) {
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return "", "", fmt.Errorf("encode RSA public key: %w", err)
		}
		return selector + "._domainkey." + domain, "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der), nil
	case ed25519.PublicKey:
		return Ed25519Selector(selector) + "._domainkey." + domain,
			"v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub), nil
	}
	return "", "", fmt.Errorf("unsupported public key type %T", pub)
}

// Ed25519Selector is the selector of a domain's Ed25519 key, derived from
// its RSA selector (RFC 8463; book/configuration.md).
func Ed25519Selector(selector string) string { return selector + "-ed25519" }
