package hooks

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/aimx-dev/aimx/internal/safefs"
)

// maxStateFileBytes caps every hook state file read back (a job record, an
// after_send record, the checkpoint): they are a few hundred bytes, so
// anything larger is damage and is refused, never read whole
// (book/security.md).
const maxStateFileBytes = 64 << 10

// errStateFileTooLarge reports a hook state file over maxStateFileBytes.
var errStateFileTooLarge = safefs.ErrTooLarge

// errStateNotRegular reports a hook state name that is not a regular file.
var errStateNotRegular = safefs.ErrNotRegular

// readStateFile reads a small state file through the file layer: opened
// without following a symlink and without blocking on a FIFO, checked by
// fstat to be a regular file, and read only when within max bytes. A
// missing file is fs.ErrNotExist.
func readStateFile(path string, max int64) ([]byte, error) {
	dir, err := safefs.OpenDir(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	return dir.ReadFile(filepath.Base(path), max)
}

// mkdirDurable creates dir and any missing parents, each with perm, and
// fsyncs the parent of every directory it creates (through syncDir), so a
// directory that a later durable write lands in survives a crash too
// (DESIGN "Durability is a named primitive"). Existing directories cost one
// stat. A directory created meanwhile by another writer still gets its
// parent fsynced before mkdirDurable returns.
func mkdirDurable(dir string, perm fs.FileMode, syncDir func(string) error) error {
	dir = filepath.Clean(dir)
	var missing []string
	for d := dir; ; {
		fi, err := os.Stat(d)
		if err == nil {
			if !fi.IsDir() {
				return fmt.Errorf("create dir %s: %s is not a directory", dir, d)
			}
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("create dir %s: %w", dir, err)
		}
		missing = append(missing, d)
		parent := filepath.Dir(d)
		if parent == d {
			break
		}
		d = parent
	}
	for i := len(missing) - 1; i >= 0; i-- {
		d := missing[i]
		if err := os.Mkdir(d, perm); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("create dir %s: %w", d, err)
		}
		if err := syncDir(filepath.Dir(d)); err != nil {
			return fmt.Errorf("create dir %s: sync parent: %w", d, err)
		}
	}
	return nil
}
