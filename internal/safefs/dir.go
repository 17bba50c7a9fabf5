// Package safefs is the one traversal-safe file layer of aimx
// (book/security.md): every open, create, link, rename, chmod, chown and
// remove under the data, config and runtime dirs goes through a Dir, a
// directory held open by file descriptor. Names are resolved one component
// at a time with openat(2) and O_NOFOLLOW, so no symlink is ever followed
// and ".." never climbs out; a directory reached once is used through its
// fd and never resolved by path again; files are opened O_NONBLOCK, checked
// with fstat as regular files and capped in size before anything is read.
//
// os.Root is not used: it follows symlinks that stay inside the root, and
// the daemon must follow none (an owner-planted link inside one mailbox
// can point into another's). openat2(RESOLVE_NO_SYMLINKS) would do, but the
// component walk below gives the same guarantee on every kernel.
package safefs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Errors callers compare with errors.Is.
var (
	// ErrNotRegular reports a name that is not a regular file (a FIFO, a
	// socket, a device, a directory where a file was expected).
	ErrNotRegular = errors.New("not a regular file")
	// ErrTooLarge reports a file over the caller's size cap.
	ErrTooLarge = errors.New("file over the size cap")
	// ErrBadName reports a name that is empty, absolute, or has a "." or
	// ".." component.
	ErrBadName = errors.New("unsafe file name")
	// ErrSymlink reports a symlink where a file or directory was expected.
	ErrSymlink = errors.New("is a symlink")
)

// Dir is a directory held open. Its methods take names relative to it; a
// name may have several '/'-separated components, each resolved without
// following symlinks. A Dir is safe for concurrent use; Close it when done.
type Dir struct {
	f    *os.File
	path string // for messages only; never resolved again
}

// OpenDir opens the directory at path, an operator-given path (data,
// config or runtime dir): symlinks in it are followed, as the operator
// chose them. Everything below it is reached through the returned Dir.
func OpenDir(path string) (*Dir, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return &Dir{f: os.NewFile(uintptr(fd), path), path: path}, nil
}

// Path is the path the Dir was reached by, for messages.
func (d *Dir) Path() string { return d.path }

// Fd is the directory's descriptor.
func (d *Dir) Fd() int { return int(d.f.Fd()) }

// Close closes the directory.
func (d *Dir) Close() error { return d.f.Close() }

// Join names a child for messages.
func (d *Dir) Join(name string) string { return filepath.Join(d.path, name) }

// split checks name and returns its components.
func split(name string) ([]string, error) {
	if name == "" || strings.HasPrefix(name, "/") {
		return nil, fmt.Errorf("%w: %q", ErrBadName, name)
	}
	parts := strings.Split(name, "/")
	for _, p := range parts {
		if p == "" || p == "." || p == ".." || strings.IndexByte(p, 0) >= 0 {
			return nil, fmt.Errorf("%w: %q", ErrBadName, name)
		}
	}
	return parts, nil
}

// checkBase checks a single-component name.
func checkBase(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return fmt.Errorf("%w: %q", ErrBadName, name)
	}
	return nil
}

// openSub opens one component below fd as a directory without following it.
func openSub(fd int, name string) (int, error) {
	nfd, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ELOOP) {
		return -1, ErrSymlink
	}
	if errors.Is(err, unix.ENOTDIR) {
		// A symlink with O_DIRECTORY|O_NOFOLLOW answers ENOTDIR or ELOOP
		// depending on the kernel; tell them apart.
		var st unix.Stat_t
		if unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
			return -1, ErrSymlink
		}
	}
	return nfd, err
}

// walk resolves every component but the last of name, returning the fd of
// the parent (which the caller closes when it is not d's own) and the last
// component.
func (d *Dir) walk(name string) (parent int, base string, closeParent func(), err error) {
	parts, err := split(name)
	if err != nil {
		return -1, "", nil, err
	}
	fd := d.Fd()
	opened := -1
	for _, p := range parts[:len(parts)-1] {
		nfd, err := openSub(fd, p)
		if opened >= 0 {
			unix.Close(opened)
		}
		if err != nil {
			return -1, "", nil, &fs.PathError{Op: "open", Path: d.Join(name), Err: err}
		}
		fd, opened = nfd, nfd
	}
	closer := func() {}
	if opened >= 0 {
		closer = func() { unix.Close(opened) }
	}
	return fd, parts[len(parts)-1], closer, nil
}

// OpenDir opens the directory name below d without following symlinks.
func (d *Dir) OpenDir(name string) (*Dir, error) {
	pfd, base, done, err := d.walk(name)
	if err != nil {
		return nil, err
	}
	defer done()
	fd, err := openSub(pfd, base)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: d.Join(name), Err: err}
	}
	return &Dir{f: os.NewFile(uintptr(fd), d.Join(name)), path: d.Join(name)}, nil
}

// OpenFile opens the regular file name below d for reading: never through a
// symlink, without blocking on a FIFO, and only when fstat shows a regular
// file no larger than max bytes (max <= 0: no cap). The file's size at open
// is returned with it.
func (d *Dir) OpenFile(name string, max int64) (*os.File, int64, error) {
	pfd, base, done, err := d.walk(name)
	if err != nil {
		return nil, 0, err
	}
	defer done()
	fd, err := unix.Openat(pfd, base, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if err != nil {
		if errors.Is(err, unix.ELOOP) {
			err = ErrSymlink
		}
		return nil, 0, &fs.PathError{Op: "open", Path: d.Join(name), Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, 0, &fs.PathError{Op: "fstat", Path: d.Join(name), Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return nil, 0, &fs.PathError{Op: "open", Path: d.Join(name), Err: ErrNotRegular}
	}
	if max > 0 && st.Size > max {
		unix.Close(fd)
		return nil, 0, &fs.PathError{Op: "open", Path: d.Join(name), Err: fmt.Errorf("%w: %d bytes, cap %d", ErrTooLarge, st.Size, max)}
	}
	// O_NONBLOCK has no effect on a regular file; clear it all the same so
	// the fd handed to a hook as stdin behaves as an ordinary one.
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return nil, 0, &fs.PathError{Op: "fcntl", Path: d.Join(name), Err: err}
	}
	return os.NewFile(uintptr(fd), d.Join(name)), st.Size, nil
}

// ReadFile reads the regular file name below d whole, refusing one larger
// than max bytes (see OpenFile).
func (d *Dir) ReadFile(name string, max int64) ([]byte, error) {
	f, size, err := d.OpenFile(name, max)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, size)
	n, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, fmt.Errorf("read %s: %w", d.Join(name), err)
	}
	return buf[:n], nil
}

// Lstat describes name below d without following a final symlink.
func (d *Dir) Lstat(name string) (unix.Stat_t, error) {
	var st unix.Stat_t
	pfd, base, done, err := d.walk(name)
	if err != nil {
		return st, err
	}
	defer done()
	if err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return st, &fs.PathError{Op: "lstat", Path: d.Join(name), Err: err}
	}
	return st, nil
}

// Stat describes the directory itself.
func (d *Dir) Stat() (unix.Stat_t, error) {
	var st unix.Stat_t
	if err := unix.Fstat(d.Fd(), &st); err != nil {
		return st, &fs.PathError{Op: "fstat", Path: d.path, Err: err}
	}
	return st, nil
}

// Sync fsyncs the directory, making entries created, linked, renamed or
// removed in it durable.
func (d *Dir) Sync() error {
	if err := d.f.Sync(); err != nil {
		return fmt.Errorf("sync dir %s: %w", d.path, err)
	}
	return nil
}

// Chmod sets the directory's own mode through its fd.
func (d *Dir) Chmod(mode os.FileMode) error {
	if err := unix.Fchmod(d.Fd(), uint32(mode.Perm())); err != nil {
		return &fs.PathError{Op: "chmod", Path: d.path, Err: err}
	}
	return nil
}

// Chown sets the directory's own owner and group through its fd.
func (d *Dir) Chown(uid, gid int) error {
	if err := unix.Fchown(d.Fd(), uid, gid); err != nil {
		return &fs.PathError{Op: "chown", Path: d.path, Err: err}
	}
	return nil
}

// Any reports whether some entry's name satisfies match, reading the
// directory in small batches and stopping at the first match, so a probe of
// a large directory costs one batch, not a full listing.
func (d *Dir) Any(match func(name string) bool) (bool, error) {
	fd, err := unix.Openat(d.Fd(), ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false, &fs.PathError{Op: "open", Path: d.path, Err: err}
	}
	f := os.NewFile(uintptr(fd), d.path)
	defer f.Close()
	for {
		names, err := f.Readdirnames(64)
		for _, n := range names {
			if match(n) {
				return true, nil
			}
		}
		if errors.Is(err, io.EOF) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("read dir %s: %w", d.path, err)
		}
	}
}

// Names lists the entries of the directory (no "." or ".."), with their
// types as the kernel reports them (fs.ModeSymlink, fs.ModeDir, 0 for a
// regular file, ...), without following or stat-ing any of them.
func (d *Dir) Names() ([]fs.DirEntry, error) {
	fd, err := unix.Openat(d.Fd(), ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: d.path, Err: err}
	}
	f := os.NewFile(uintptr(fd), d.path)
	defer f.Close()
	des, err := f.ReadDir(-1)
	if err != nil {
		return nil, fmt.Errorf("read dir %s: %w", d.path, err)
	}
	return des, nil
}

// ReadPath reads the regular file at path, an operator-given path (the
// config file, the tokens file): symlinks in it are followed, as the
// operator chose them, but a FIFO or device is refused without blocking
// and a file over max bytes is refused without being read.
func ReadPath(path string, max int64) ([]byte, error) {
	dir, err := OpenDir(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	fd, err := unix.Openat(dir.Fd(), filepath.Base(path), unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, &fs.PathError{Op: "fstat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, &fs.PathError{Op: "open", Path: path, Err: ErrNotRegular}
	}
	if max > 0 && st.Size > max {
		return nil, &fs.PathError{Op: "open", Path: path, Err: fmt.Errorf("%w: %d bytes, cap %d", ErrTooLarge, st.Size, max)}
	}
	buf := make([]byte, st.Size)
	n, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return buf[:n], nil
}
