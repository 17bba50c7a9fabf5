package domains

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"github.com/gofrs/flock"

	"github.com/aimx-dev/aimx/storage"
)

// NewFileMode is the mode of a config file Save creates (book/configuration.md).
const NewFileMode fs.FileMode = 0o640

// LockSuffix names the sibling lock file: config.toml.lock. The lock is
// never on config.toml itself, which every rewrite replaces by rename.
const LockSuffix = ".lock"

// Store rewrites one config file. Every change runs under an exclusive
// flock on the sibling lock file and is written through storage.Writer, so
// concurrent writers (the daemon, a CLI fallback) never lose each other's
// changes and a crash leaves the old or the new file (book/configuration.md, book/admin.md).
type Store struct {
	// Path is the config file, e.g. /etc/aimx/config.toml.
	Path string
	// Writer is the durable-write primitive; its zero value is ready.
	Writer storage.Writer
	// Options are used for the load inside Update and for the returned Config.
	Options LoadOptions
}

// Save writes c to path (see Store.Save).
func Save(path string, c *Config) error {
	return (&Store{Path: path}).Save(c)
}

// Update changes the config at path (see Store.Update).
func Update(path string, fn func(*Config) error) (*Config, error) {
	return (&Store{Path: path}).Update(fn)
}

// Save validates c and writes it as the config file under the lock,
// keeping the existing file's mode (and owner, when running as root);
// a new file gets NewFileMode.
func (s *Store) Save(c *Config) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	_, err = s.write(c, nil)
	return err
}

// Update is the primitive every config change uses: lock, load the file,
// apply fn to that private copy, validate, write durably, unlock. It
// returns the new Config, ready to Swap into a Registry. An error from fn
// or from validation leaves the file untouched. If the change leaves the
// encoded file identical, nothing is written. A caller that also needs
// per-mailbox locks takes them first, in sorted FQDN order, and then calls
// Update (book/admin.md).
func (s *Store) Update(fn func(*Config) error) (*Config, error) {
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	old, err := readConfigFile(s.Path)
	if err != nil {
		return nil, fmt.Errorf("update config %s: %w", s.Path, err)
	}
	c, err := parse(old, s.Path, nil)
	if err != nil {
		return nil, fmt.Errorf("update config: %w", err)
	}
	if err := fn(c); err != nil {
		return nil, fmt.Errorf("update config %s: %w", s.Path, err)
	}
	return s.write(c, old)
}

// write validates and encodes c, proves the bytes load back to the same
// Config, and publishes them unless they equal old.
func (s *Store) write(c *Config, old []byte) (*Config, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("save config %s: %w", s.Path, err)
	}
	data := c.Encode()
	lookup := s.Options.LookupOwner
	if lookup == nil {
		lookup = LookupOwner
	}
	back, err := parse(data, s.Path, lookup)
	if err != nil || !Equal(back, c) {
		return nil, fmt.Errorf("save config %s: encoded config does not load back the same (a bug): %v", s.Path, err)
	}
	if old != nil && bytes.Equal(old, data) {
		return back, nil
	}
	opts := storage.WriteOptions{Mode: NewFileMode}
	fi, err := os.Stat(s.Path)
	switch {
	case err == nil:
		opts.Mode = fi.Mode().Perm()
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && os.Geteuid() == 0 {
			opts.Owner = &storage.Owner{UID: int(st.Uid), GID: int(st.Gid)}
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("save config %s: %w", s.Path, err)
	}
	if err := s.Writer.WriteFile(s.Path, data, opts); err != nil {
		return nil, fmt.Errorf("save config: %w", err)
	}
	return back, nil
}

// lock takes the exclusive config lock and returns its release.
func (s *Store) lock() (func(), error) {
	l := flock.New(s.Path+LockSuffix, flock.SetPermissions(0o600))
	if err := l.Lock(); err != nil {
		return nil, fmt.Errorf("lock config %s: %w", s.Path, err)
	}
	return func() { _ = l.Close() }, nil // Close unlocks; the fd is ours alone
}
