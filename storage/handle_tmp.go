package storage

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// temporary: replaced by the safefs-based handle.
type msgHandle struct{ dir string }

func (s *Store) openMessage(ref MailboxRef, folder Folder, id string) (*msgHandle, error) {
	m, err := s.locate(ref, folder, id)
	if err != nil {
		return nil, err
	}
	return &msgHandle{dir: filepath.Dir(m.MDPath)}, nil
}

func (h *msgHandle) close() {}

func (h *msgHandle) open(name string, max int64) (*MessageFile, error) {
	f, err := os.OpenFile(filepath.Join(h.dir, name), os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, ErrNotRegular
	}
	if fi.Size() > max {
		f.Close()
		return nil, fmt.Errorf("%w: %d bytes", ErrTooLarge, fi.Size())
	}
	_ = syscall.SetNonblock(int(f.Fd()), false)
	return &MessageFile{File: f, size: fi.Size()}, nil
}
