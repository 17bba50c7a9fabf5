package safefs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// Owner is a numeric uid/gid to give a new file or directory; nil leaves
// the creator's.
type Owner struct {
	UID, GID int
}

// Create makes a new regular file name directly in d (O_EXCL, never
// through a symlink) with exactly mode (not filtered by the umask) and,
// when owner is set, that owner, all through the new file's fd.
func (d *Dir) Create(name string, mode os.FileMode, owner *Owner) (*os.File, error) {
	if err := checkBase(name); err != nil {
		return nil, err
	}
	fd, err := unix.Openat(d.Fd(), name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(mode.Perm()))
	if err != nil {
		return nil, &fs.PathError{Op: "create", Path: d.Join(name), Err: err}
	}
	f := os.NewFile(uintptr(fd), d.Join(name))
	if err := setModeOwner(fd, mode, owner); err != nil {
		f.Close()
		_ = unix.Unlinkat(d.Fd(), name, 0)
		return nil, &fs.PathError{Op: "create", Path: d.Join(name), Err: err}
	}
	return f, nil
}

func setModeOwner(fd int, mode os.FileMode, owner *Owner) error {
	if owner != nil {
		if err := unix.Fchown(fd, owner.UID, owner.GID); err != nil {
			return fmt.Errorf("chown: %w", err)
		}
	}
	// After the chown, which clears set-id bits; the umask filtered the
	// creation mode.
	if err := unix.Fchmod(fd, uint32(mode.Perm())); err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	return nil
}

// Link links the existing entry oldName of d to newName in to without
// replacing anything (fails with fs.ErrExist) and without following a
// symlink at oldName.
func (d *Dir) Link(oldName string, to *Dir, newName string) error {
	if err := checkBase(oldName); err != nil {
		return err
	}
	if err := checkBase(newName); err != nil {
		return err
	}
	if err := unix.Linkat(d.Fd(), oldName, to.Fd(), newName, 0); err != nil {
		return &os.LinkError{Op: "link", Old: d.Join(oldName), New: to.Join(newName), Err: err}
	}
	return nil
}

// Rename renames oldName in d to newName in to, replacing a file there.
func (d *Dir) Rename(oldName string, to *Dir, newName string) error {
	if err := checkBase(oldName); err != nil {
		return err
	}
	if err := checkBase(newName); err != nil {
		return err
	}
	if err := unix.Renameat(d.Fd(), oldName, to.Fd(), newName); err != nil {
		return &os.LinkError{Op: "rename", Old: d.Join(oldName), New: to.Join(newName), Err: err}
	}
	return nil
}

// RenameNoReplace renames oldName in d to newName in to only when newName
// does not exist (renameat2 RENAME_NOREPLACE); otherwise fs.ErrExist.
func (d *Dir) RenameNoReplace(oldName string, to *Dir, newName string) error {
	if err := checkBase(oldName); err != nil {
		return err
	}
	if err := checkBase(newName); err != nil {
		return err
	}
	if err := unix.Renameat2(d.Fd(), oldName, to.Fd(), newName, unix.RENAME_NOREPLACE); err != nil {
		return &os.LinkError{Op: "rename", Old: d.Join(oldName), New: to.Join(newName), Err: err}
	}
	return nil
}

// Remove removes the non-directory name directly in d (a symlink is
// removed, not followed).
func (d *Dir) Remove(name string) error {
	if err := checkBase(name); err != nil {
		return err
	}
	if err := unix.Unlinkat(d.Fd(), name, 0); err != nil {
		return &fs.PathError{Op: "remove", Path: d.Join(name), Err: err}
	}
	return nil
}

// Mkdir creates the directory name directly in d with exactly mode and,
// when owner is set, that owner, set through the new directory's fd. It
// returns the new directory held open. An existing name is fs.ErrExist.
// The caller makes the entry durable with d.Sync.
func (d *Dir) Mkdir(name string, mode os.FileMode, owner *Owner) (*Dir, error) {
	if err := checkBase(name); err != nil {
		return nil, err
	}
	if err := unix.Mkdirat(d.Fd(), name, uint32(mode.Perm())); err != nil {
		return nil, &fs.PathError{Op: "mkdir", Path: d.Join(name), Err: err}
	}
	sub, err := d.OpenDir(name)
	if err != nil {
		return nil, err
	}
	if err := setModeOwner(sub.Fd(), mode, owner); err != nil {
		sub.Close()
		return nil, &fs.PathError{Op: "mkdir", Path: d.Join(name), Err: err}
	}
	return sub, nil
}

// EnsureDir opens the directory name directly in d, creating it when
// missing (its parent d then fsynced, so the new entry is durable), and
// gives it exactly mode and, when owner is set, that owner, through its fd.
// A symlink or a non-directory at name is refused. created reports whether
// it was made now.
func (d *Dir) EnsureDir(name string, mode os.FileMode, owner *Owner) (sub *Dir, created bool, err error) {
	sub, err = d.Mkdir(name, mode, owner)
	if err == nil {
		if err := d.Sync(); err != nil {
			sub.Close()
			return nil, false, err
		}
		return sub, true, nil
	}
	if !errors.Is(err, fs.ErrExist) {
		return nil, false, err
	}
	sub, err = d.OpenDir(name)
	if err != nil {
		return nil, false, err
	}
	st, err := sub.Stat()
	if err != nil {
		sub.Close()
		return nil, false, err
	}
	if os.FileMode(st.Mode&0o7777) != mode.Perm() || owner != nil && (int(st.Uid) != owner.UID || int(st.Gid) != owner.GID) {
		if err := setModeOwner(sub.Fd(), mode, owner); err != nil {
			sub.Close()
			return nil, false, &fs.PathError{Op: "ensure dir", Path: d.Join(name), Err: err}
		}
	}
	return sub, false, nil
}

// MkdirAll opens the directory at path, creating every missing component
// with mode and fsyncing each new component's parent, so the whole chain
// is durable (book/security.md: "every directory created anywhere"). path
// is an operator-given path (config, data, runtime dir): components that
// exist are followed as the operator made them; components it creates are
// created without following anything.
func MkdirAll(path string, mode os.FileMode) (*Dir, error) {
	if d, err := OpenDir(path); err == nil {
		return d, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	parent, base := splitPath(path)
	if base == "" {
		return nil, fmt.Errorf("mkdir %s: %w", path, ErrBadName)
	}
	pd, err := MkdirAll(parent, mode)
	if err != nil {
		return nil, err
	}
	defer pd.Close()
	sub, _, err := pd.ensureNew(base, mode)
	return sub, err
}

// ensureNew is EnsureDir without changing an existing dir's mode: a race
// with another creator is not an error.
func (d *Dir) ensureNew(name string, mode os.FileMode) (*Dir, bool, error) {
	sub, err := d.Mkdir(name, mode, nil)
	if errors.Is(err, fs.ErrExist) {
		sub, err = d.OpenDir(name)
		return sub, false, err
	}
	if err != nil {
		return nil, false, err
	}
	if err := d.Sync(); err != nil {
		sub.Close()
		return nil, false, err
	}
	return sub, true, nil
}

func splitPath(path string) (string, string) {
	for len(path) > 1 && path[len(path)-1] == '/' {
		path = path[:len(path)-1]
	}
	i := len(path) - 1
	for i >= 0 && path[i] != '/' {
		i--
	}
	switch {
	case i < 0:
		return ".", path
	case i == 0:
		return "/", path[1:]
	}
	return path[:i], path[i+1:]
}

// RemoveAll removes name directly in d and, when it is a directory,
// everything below it, reached through fds and never through a symlink. It
// returns how many non-directories it removed. A missing name removes
// nothing.
func (d *Dir) RemoveAll(name string) (int, error) {
	if err := checkBase(name); err != nil {
		return 0, err
	}
	var st unix.Stat_t
	if err := unix.Fstatat(d.Fd(), name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return 0, nil
		}
		return 0, &fs.PathError{Op: "lstat", Path: d.Join(name), Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		if err := d.Remove(name); err != nil {
			return 0, err
		}
		return 1, nil
	}
	sub, err := d.OpenDir(name)
	if err != nil {
		return 0, err
	}
	n, err := sub.removeContents()
	sub.Close()
	if err != nil {
		return n, err
	}
	if err := unix.Unlinkat(d.Fd(), name, unix.AT_REMOVEDIR); err != nil && !errors.Is(err, unix.ENOENT) {
		return n, &fs.PathError{Op: "remove", Path: d.Join(name), Err: err}
	}
	return n, nil
}

func (d *Dir) removeContents() (int, error) {
	n := 0
	for {
		des, err := d.Names()
		if err != nil {
			return n, err
		}
		if len(des) == 0 {
			return n, nil
		}
		for _, de := range des {
			m, err := d.RemoveAll(de.Name())
			n += m
			if err != nil {
				return n, err
			}
		}
	}
}
