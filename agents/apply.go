package agents

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Apply makes the plan's changes, file by file: the backup first, then the
// new content by an atomic rename (a symlinked config, as dotfile managers
// make, is written through to its target).
func (p *Plan) Apply() error {
	for _, c := range p.Changes {
		if err := p.apply(c); err != nil {
			return err
		}
	}
	return nil
}

func (p *Plan) apply(c Change) error {
	if c.Unchanged {
		return nil
	}
	if c.Delete {
		if err := os.Remove(c.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("delete %w", err)
		}
		if c.PruneDir != "" {
			_ = os.Remove(c.PruneDir) // only when empty; a leftover dir is harmless
		}
		return nil
	}
	target := c.Path
	if t, err := filepath.EvalSymlinks(c.Path); err == nil {
		target = t
	}
	mode := c.Mode
	if fi, err := os.Stat(target); err == nil {
		mode = fi.Mode().Perm()
	}
	if c.Secret {
		mode &^= 0o077
	}
	if c.Backup {
		if err := backup(target, c.Path+BackupSuffix); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Dir(target), p.dirMode); err != nil {
		return fmt.Errorf("create the directory of %s: %w", c.Path, err)
	}
	return writeAtomic(target, c.Content, mode)
}

// backup copies src to dst with src's mode, unless dst exists.
func backup(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("back up %w", err)
	}
	fi, err := os.Stat(src)
	if err != nil {
		return fmt.Errorf("back up %w", err)
	}
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fi.Mode().Perm())
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("back up %s: %w", src, err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("back up %s: %w", src, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("back up %s: %w", src, err)
	}
	return nil
}

// writeAtomic writes b to path through a temp file in the same directory,
// synced and renamed over it, so a crash leaves the old file or the new.
func writeAtomic(path string, b []byte, mode fs.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".aimx-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // gone after the rename
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
