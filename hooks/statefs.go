package hooks

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// maxStateFileBytes caps every hook state file read back (a job record, an
// after_send record, the checkpoint): they are a few hundred bytes, so
// anything larger is damage and is refused, never read whole
// (book/security.md).
const maxStateFileBytes = 64 << 10

// errStateFileTooLarge reports a hook state file over maxStateFileBytes.
var errStateFileTooLarge = errors.New("hook state file over the size cap")

// errStateNotRegular reports a hook state name that is not a regular file.
var errStateNotRegular = errors.New("hook state file is not a regular file")

// readStateFile reads a small state file: opened without following a
// symlink and without blocking on a FIFO, checked by fstat to be a regular
// file, and read up to max bytes. A missing file is fs.ErrNotExist.
func readStateFile(path string, max int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w", path, errStateNotRegular)
	}
	if fi.Size() > max {
		return nil, fmt.Errorf("%s: %w (%d bytes)", path, errStateFileTooLarge, fi.Size())
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s: %w (grew while read)", path, errStateFileTooLarge)
	}
	return data, nil
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
