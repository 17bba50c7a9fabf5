package upgrade

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/aimx-dev/aimx/domains/dkimkey"
	"github.com/aimx-dev/aimx/internal/safefs"
	"github.com/aimx-dev/aimx/storage"
)

// The single-domain key files in `<config>/dkim/`, in the order they
// move: the public key first, the private key last, as dkimkey writes a
// pair (the private key's appearance completes it).
var legacyKeyNames = []string{"public.key", "private.key"}

// Modes of the key store (book/configuration.md).
const (
	keyDirMode    = 0o700
	publicKeyMode = 0o644
)

// maxKeyBytes caps a key file read: an RSA 4096 PEM is about 3.3 KB.
const maxKeyBytes = 64 << 10

// keyMove is one planned key file move.
type keyMove struct {
	name string
	// dropOld: the migrated key is byte-identical; the legacy copy goes.
	dropOld bool
	// replace: the migrated key was seeded by dev mode at this start and
	// the legacy key replaces it.
	replace bool
}

// legacyKeys reports whether `<config>/dkim/` still holds a key file of
// the single-domain layout.
func legacyKeys(configDir string) (bool, error) {
	top, err := safefs.OpenDir(filepath.Join(configDir, "dkim"))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("upgrade: open DKIM key dir: %w", err)
	}
	defer top.Close()
	for _, name := range legacyKeyNames {
		if _, err := top.Lstat(name); err == nil {
			return true, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return false, fmt.Errorf("upgrade: %w", err)
		}
	}
	return false, nil
}

// moveKeys is step 2: `<config>/dkim/{public,private}.key` move to
// `<config>/dkim/<domain>/`, where dkimkey.Store reads them; the dir is
// made 0700. Both files are checked before the first move: a key present
// in both places with different bytes stops it, unless dev mode seeded
// the migrated one at this start (fresh).
func moveKeys(configDir string, rep *Report, fresh bool, sm *seams) error {
	top, err := safefs.OpenDir(filepath.Join(configDir, "dkim"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("upgrade: open DKIM key dir: %w", err)
	}
	defer top.Close()
	plan, err := planKeys(top, rep.Domain, fresh)
	if err != nil || len(plan) == 0 {
		return err
	}
	dir, _, err := top.EnsureDir(rep.Domain, keyDirMode, nil)
	if err != nil {
		return fmt.Errorf("upgrade: create %s: %w", top.Join(rep.Domain), err)
	}
	defer dir.Close()
	replaced := false
	for _, m := range plan {
		if m.dropOld {
			if err := top.Remove(m.name); err != nil {
				return fmt.Errorf("upgrade: remove the copy of %s: %w", dir.Join(m.name), err)
			}
			continue
		}
		if err := sm.rename(top, m.name, dir, m.name, m.replace); err != nil {
			return moveErr(top.Join(m.name), dir.Join(m.name), err)
		}
		replaced = replaced || m.replace
		rep.Keys++
	}
	if replaced {
		if err := matchPublicKey(dir, sm); err != nil {
			return err
		}
	}
	if err := dir.Sync(); err != nil {
		return fmt.Errorf("upgrade: sync %s: %w", dir.Path(), err)
	}
	if err := top.Sync(); err != nil {
		return fmt.Errorf("upgrade: sync %s: %w", top.Path(), err)
	}
	rep.Migrated = true
	return nil
}

func planKeys(top *safefs.Dir, domain string, fresh bool) ([]keyMove, error) {
	var plan []keyMove
	for _, name := range legacyKeyNames {
		st, err := top.Lstat(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("upgrade: %w", err)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFREG {
			return nil, &NotDirError{Path: top.Join(name), Want: "regular file"}
		}
		m := keyMove{name: name}
		newName := domain + "/" + name
		if _, err := top.Lstat(newName); errors.Is(err, fs.ErrNotExist) {
			plan = append(plan, m)
			continue
		} else if err != nil {
			return nil, fmt.Errorf("upgrade: %w", err)
		}
		same, err := sameBytes(top, name, newName)
		switch {
		case err != nil:
			return nil, err
		case same:
			m.dropOld = true
		case fresh:
			m.replace = true
		default:
			return nil, &ConflictError{Old: top.Path(), New: top.Join(domain), Key: true}
		}
		plan = append(plan, m)
	}
	return plan, nil
}

func sameBytes(d *safefs.Dir, a, b string) (bool, error) {
	x, err := d.ReadFile(a, maxKeyBytes)
	if err != nil {
		return false, fmt.Errorf("upgrade: read %s: %w", d.Join(a), err)
	}
	y, err := d.ReadFile(b, maxKeyBytes)
	if err != nil {
		return false, fmt.Errorf("upgrade: read %s: %w", d.Join(b), err)
	}
	return bytes.Equal(x, y), nil
}

// matchPublicKey rewrites public.key from private.key when they are not
// a pair: after the legacy private key replaced one dev mode seeded, a
// public key the legacy layout lacked is still the seeded one.
func matchPublicKey(dir *safefs.Dir, sm *seams) error {
	priv, err := dir.ReadFile("private.key", maxKeyBytes)
	if err != nil {
		return fmt.Errorf("upgrade: read %s: %w", dir.Join("private.key"), err)
	}
	signer, err := dkimkey.ParsePrivateKey(priv)
	if err != nil {
		return fmt.Errorf("upgrade: %s: %w", dir.Join("private.key"), err)
	}
	der, err := x509.MarshalPKIXPublicKey(signer.Public())
	if err != nil {
		return fmt.Errorf("upgrade: encode public key: %w", err)
	}
	want := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	if got, err := dir.ReadFile("public.key", maxKeyBytes); err == nil && publicKeyEqual(got, der) {
		return nil
	}
	if err := sm.writer.WriteFileAt(dir, "public.key", want, storage.WriteOptions{Mode: publicKeyMode}); err != nil {
		return fmt.Errorf("upgrade: write %s: %w", dir.Join("public.key"), err)
	}
	return nil
}

// publicKeyEqual reports whether the PEM file holds the SPKI DER der.
func publicKeyEqual(pemBytes, der []byte) bool {
	b, _ := pem.Decode(pemBytes)
	return b != nil && bytes.Equal(b.Bytes, der)
}
