// Package tokens is the store of the bearer tokens that let a remote agent
// use MCP over TCP (book/configuration.md, book/mcp.md): `<config dir>/tokens.json`, mode 0600,
// holding only the sha256 of each secret. A secret is shown once, when it
// is created, and never stored, logged or returned again.
//
// Every change is a locked, durable rewrite of the file (the same flock
// and storage.Writer discipline as config.toml), so the daemon (through
// admin.sock) and the operator's CLI with the daemon down never lose each
// other's changes. The store re-reads the file whenever it changed on disk
// (compared by inode, size and modification time on each use), so a token
// the CLI revoked while the daemon runs stops working at the next request.
package tokens

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/gofrs/flock"

	"github.com/aimx-dev/aimx/internal/safefs"
	"github.com/aimx-dev/aimx/storage"
)

// FileName is the token file's name in the config dir (book/configuration.md).
const FileName = "tokens.json"

// FileMode is the token file's permission (book/configuration.md): hashes only, but still
// nobody's business but the operator's.
const FileMode os.FileMode = 0o600

// SecretPrefix starts every secret, so a leaked one is recognisable by
// secret scanners and people alike.
const SecretPrefix = "aimx_"

// secretBytes is the entropy of a secret: 256 bits, so a plain sha256 is
// a safe verifier (no salt or slow hash needed for a random secret).
const secretBytes = 32

// MaxNameLen bounds a token's descriptive name.
const MaxNameLen = 128

// Errors of the store, compared with errors.Is.
var (
	// ErrNotFound: no token has that id.
	ErrNotFound = errors.New("no such token")
	// ErrInvalid: the new token breaks a rule (no owner, a bad name).
	ErrInvalid = errors.New("invalid token")
)

// Token is one minted token as stored: who it acts as and what it may do.
// Hash is the hex sha256 of the secret; List and Create leave it out of
// what they return, since nothing outside the store needs it.
type Token struct {
	// ID names the token for list and revoke; it is not secret.
	ID string `json:"id"`
	// Name is the operator's label for it ("laptop agent").
	Name string `json:"name,omitempty"`
	// Owner is the Unix user the token acts as.
	Owner string `json:"owner"`
	// Mailboxes, when set, narrows the token to these mailbox names
	// (FQDNs); such a token cannot create mailboxes (book/mcp.md).
	Mailboxes []string `json:"mailboxes,omitempty"`
	// AllowHooks permits the hook tools (a hook runs commands as Owner).
	AllowHooks bool `json:"allow_hooks"`
	// CreatedAt is when it was minted, in UTC.
	CreatedAt time.Time `json:"created_at"`
	// Hash is the lowercase hex sha256 of the secret.
	Hash string `json:"hash,omitempty"`
}

// New is a token to mint.
type New struct {
	Name       string
	Owner      string
	Mailboxes  []string
	AllowHooks bool
}

// file is the on-disk shape of tokens.json.
type file struct {
	Version int     `json:"version"`
	Tokens  []Token `json:"tokens"`
}

// fileVersion is the format written; a file of another version is refused
// rather than half-understood.
const fileVersion = 1

// Store is the token file of one config dir. The zero value is not ready:
// set Path. A Store is safe for concurrent use.
type Store struct {
	// Path is the token file, <config dir>/tokens.json.
	Path string
	// Writer is the durable-write primitive; its zero value is ready.
	Writer storage.Writer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Rand is the entropy source; nil means crypto/rand.
	Rand io.Reader

	mu     sync.Mutex
	stamp  stamp
	byHash map[string]Token
}

// stamp identifies one version of the file on disk, to tell when to
// re-read it.
type stamp struct {
	ok         bool
	ino        uint64
	size       int64
	mtimeNanos int64
}

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// random reads n bytes from r (crypto/rand when nil).
func random(r io.Reader, n int) ([]byte, error) {
	b := make([]byte, n)
	if r == nil {
		r = rand.Reader
	}
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("read random bytes: %w", err)
	}
	return b, nil
}

// HashSecret is the stored form of a secret: lowercase hex sha256.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// Create mints a token and returns it (without its hash) and the secret,
// which is shown to the operator once and never again.
func (s *Store) Create(n New) (Token, string, error) {
	t, secret, err := Mint(n, s.now(), s.Rand)
	if err != nil {
		return Token{}, "", fmt.Errorf("create token: %w", err)
	}
	err = s.update(func(f *file) error {
		for {
			id, err := NewID(s.Rand)
			if err != nil {
				return err
			}
			t.ID = id
			if !slices.ContainsFunc(f.Tokens, func(o Token) bool { return o.ID == t.ID }) {
				break
			}
		}
		f.Tokens = append(f.Tokens, t)
		return nil
	})
	if err != nil {
		return Token{}, "", fmt.Errorf("create token: %w", err)
	}
	t.Hash = ""
	return t, secret, nil
}

// List returns every token in creation order, without hashes.
func (s *Store) List() ([]Token, error) {
	f, err := s.read()
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	out := make([]Token, 0, len(f.Tokens))
	for _, t := range f.Tokens {
		t.Hash = ""
		out = append(out, t)
	}
	return out, nil
}

// Revoke removes the token with this id and returns it (without its hash);
// its secret stops working at once.
func (s *Store) Revoke(id string) (Token, error) {
	var gone Token
	err := s.update(func(f *file) error {
		i := slices.IndexFunc(f.Tokens, func(t Token) bool { return t.ID == id })
		if i < 0 {
			return ErrNotFound
		}
		gone = f.Tokens[i]
		f.Tokens = slices.Delete(f.Tokens, i, i+1)
		return nil
	})
	if err != nil {
		return Token{}, fmt.Errorf("revoke token %s: %w", id, err)
	}
	gone.Hash = ""
	return gone, nil
}

// Verify looks a presented secret up by its hash and returns its token.
// It is false for an unknown or revoked secret, and for any failure to
// read the file (which is logged by nobody: the caller answers 401 and
// the operator sees the file error on the next CLI use).
func (s *Store) Verify(secret string) (Token, bool) {
	if !Plausible(secret) {
		return Token{}, false
	}
	h := HashSecret(secret)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.refreshLocked(); err != nil {
		return Token{}, false
	}
	t, ok := s.byHash[h]
	// The map lookup is by hash, which tells nothing about the secret; the
	// final compare is constant-time anyway, so no path leaks timing.
	if !ok || subtle.ConstantTimeCompare([]byte(t.Hash), []byte(h)) != 1 {
		return Token{}, false
	}
	t.Hash = ""
	t.Mailboxes = slices.Clone(t.Mailboxes)
	return t, true
}

// read returns the file's current content.
func (s *Store) read() (*file, error) {
	data, err := safefs.ReadPath(s.Path, maxFileBytes)
	if errors.Is(err, os.ErrNotExist) {
		return &file{Version: fileVersion}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", s.Path, err)
	}
	return decode(data, s.Path)
}

// maxFileBytes caps the tokens file read (book/security.md): about 20,000
// tokens.
const maxFileBytes = 8 << 20

func decode(data []byte, path string) (*file, error) {
	var f file
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	if f.Version != fileVersion {
		return nil, fmt.Errorf("%s: unknown version %d (this aimx writes %d)", path, f.Version, fileVersion)
	}
	return &f, nil
}

// update runs fn on the file's content under the lock and writes the
// result durably. An error from fn writes nothing.
func (s *Store) update(fn func(*file) error) error {
	l := flock.New(s.Path+".lock", flock.SetPermissions(0o600))
	if err := l.Lock(); err != nil {
		return fmt.Errorf("lock %s: %w", s.Path, err)
	}
	defer func() { _ = l.Unlock() }() // closing the fd drops the lock anyway
	f, err := s.read()
	if err != nil {
		return err
	}
	if err := fn(f); err != nil {
		return err
	}
	f.Version = fileVersion
	if f.Tokens == nil {
		f.Tokens = []Token{}
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", s.Path, err)
	}
	if err := s.Writer.WriteFile(s.Path, append(data, '\n'), storage.WriteOptions{Mode: FileMode}); err != nil {
		return fmt.Errorf("write %s: %w", s.Path, err)
	}
	return nil
}

// refreshLocked re-reads the file when it changed since the last read.
// The caller holds s.mu.
func (s *Store) refreshLocked() error {
	st, err := statFile(s.Path)
	if err != nil {
		return err
	}
	if s.byHash != nil && st == s.stamp {
		return nil
	}
	f, err := s.read()
	if err != nil {
		return err
	}
	// A write that lands between the stat and the read is picked up by the
	// next call: the stat taken before the read is older than what we hold.
	m := make(map[string]Token, len(f.Tokens))
	for _, t := range f.Tokens {
		m[t.Hash] = t
	}
	s.byHash, s.stamp = m, st
	return nil
}

func statFile(path string) (stamp, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return stamp{}, nil
	}
	if err != nil {
		return stamp{}, fmt.Errorf("stat %s: %w", path, err)
	}
	st := stamp{ok: true, size: fi.Size(), mtimeNanos: fi.ModTime().UnixNano()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.ino = sys.Ino
	}
	return st, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }
