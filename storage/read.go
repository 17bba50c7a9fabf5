package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/aimx-dev/aimx/internal/safefs"
)

// Message is one message read back: its frontmatter and its body. Where
// its files are is the file store's own business (Store.Paths): other
// backends have no paths.
type Message struct {
	ID          string
	Folder      Folder
	Frontmatter *Frontmatter
	Body        string
}

// msgHandle is a located message: the dir that holds its files (the
// folder, or its bundle dir) held open, so nothing is resolved by path
// again after it was checked.
type msgHandle struct {
	dir    *safefs.Dir
	bundle bool
	hasEML bool // a regular <id>.eml is beside the .md
	msg    *Message
}

// mdPath names the message's .md, for errors and logs.
func (h *msgHandle) mdPath() string { return h.dir.Join(h.msg.ID + ".md") }

func (h *msgHandle) close() { h.dir.Close() }

// open opens one of the message's files (see safefs.Dir.OpenFile).
func (h *msgHandle) open(name string, max int64) (*MessageFile, error) {
	f, size, err := h.dir.OpenFile(name, max)
	if err != nil {
		return nil, mapFileErr(err)
	}
	return newFileMessageFile(f, size), nil
}

// mapFileErr turns the file layer's refusals into the store's errors.
func mapFileErr(err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, safefs.ErrSymlink):
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	case errors.Is(err, safefs.ErrNotRegular):
		return fmt.Errorf("%w: %w", ErrNotRegular, err)
	case errors.Is(err, safefs.ErrTooLarge):
		return fmt.Errorf("%w: %w", ErrTooLarge, err)
	}
	return err
}

// openMessage resolves id to the dir holding its .md without following
// symlinks: `<id>.md` in the folder, or the bundle `<id>/<id>.md`. Ids that
// could escape are ErrInvalidID; ids that name nothing (or a symlink) are
// ErrNotFound.
func (s *Store) openMessage(ref MailboxRef, folder Folder, id string) (*msgHandle, error) {
	if err := checkRef(ref, folder); err != nil {
		return nil, err
	}
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	notFound := fmt.Errorf("%w: %s in %s/%s", ErrNotFound, id, ref, folder)
	fdir, err := s.openFolder(ref, folder)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, safefs.ErrSymlink) {
		return nil, notFound
	}
	if err != nil {
		return nil, err
	}
	m := &Message{ID: id, Folder: folder}
	h := &msgHandle{dir: fdir, msg: m}
	if st, err := fdir.Lstat(id + ".md"); err == nil && st.Mode&unix.S_IFMT == unix.S_IFREG {
		// a flat message: its files are in the folder
	} else if st, err := fdir.Lstat(id); err == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
		bdir, err := fdir.OpenDir(id)
		fdir.Close()
		if err != nil {
			return nil, notFound
		}
		h.dir, h.bundle = bdir, true
		if st, err := bdir.Lstat(id + ".md"); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
			bdir.Close()
			return nil, notFound
		}
	} else {
		fdir.Close()
		return nil, notFound
	}
	if st, err := h.dir.Lstat(id + ".eml"); err == nil && st.Mode&unix.S_IFMT == unix.S_IFREG {
		h.hasEML = true
	}
	s.seam(SeamMessageOpened, h.dir.Path())
	return h, nil
}

// readMD reads the message's .md through the handle, capped.
func (s *Store) readMD(h *msgHandle) ([]byte, *MessageFile, error) {
	f, err := h.open(h.msg.ID+".md", s.maxFile)
	if err != nil {
		s.refused(h.mdPath(), err)
		return nil, nil, err
	}
	data := make([]byte, f.Size())
	if _, err := io.ReadFull(f.Reader(), data); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("read message: %w", err)
	}
	return data, f, nil
}

// refused logs a file the store would not read (book/security.md).
func (s *Store) refused(path string, err error) {
	if errors.Is(err, ErrTooLarge) || errors.Is(err, ErrNotRegular) {
		s.log.Warn().Str("path", path).Err(err).Msg("message file refused")
	}
}

// Read returns one message with its frontmatter and body.
func (s *Store) Read(ctx context.Context, ref MailboxRef, folder Folder, id string) (*Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	h, err := s.openMessage(ref, folder, id)
	if err != nil {
		return nil, err
	}
	defer h.close()
	data, f, err := s.readMD(h)
	if err != nil {
		return nil, err
	}
	f.Close()
	fm, body, err := DecodeMD(data)
	if err != nil {
		return nil, fmt.Errorf("read message %s: %w", h.mdPath(), err)
	}
	m := h.msg
	m.Frontmatter, m.Body = fm, body
	return m, nil
}

// SetRead marks a message read (read = true, read_at = now in RFC 3339 UTC)
// or unread (read = false, read_at removed). Only those lines change: every
// other byte, unknown keys and Rust formatting included, stays as it was,
// and the file is replaced atomically through the Writer (book/storage.md, book/upgrade.md),
// inside the message's dir held open: swapping a bundle dir for a symlink
// sends the write nowhere else (C2). Marking a message that is already in
// the asked state writes nothing.
func (s *Store) SetRead(ctx context.Context, ref MailboxRef, folder Folder, id string, read bool) (*Frontmatter, error) {
	if s.readOnly {
		return nil, ErrReadOnly
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	h, err := s.openMessage(ref, folder, id)
	if err != nil {
		return nil, err
	}
	defer h.close()
	lock := &s.readLocks[readLockSlot(s.folderDir(ref, folder), id)]
	lock.Lock()
	defer lock.Unlock()
	s.seam(SeamReadStateLocated, h.dir.Path())
	fm, err := s.setRead(h, read)
	if err != nil {
		return nil, err
	}
	s.indexUpsert(ref, folder, newIndexEntry(id, h.bundle, fm))
	return fm, nil
}

// setRead rewrites the read state of the located message, keeping the
// file's mode, owner and group (read from the descriptor it read).
func (s *Store) setRead(h *msgHandle, read bool) (*Frontmatter, error) {
	data, f, err := s.readMD(h)
	if err != nil {
		return nil, fmt.Errorf("set read state: %w", err)
	}
	var st unix.Stat_t
	err = unix.Fstat(int(f.file.Fd()), &st)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("set read state: %w", err)
	}
	out, fm, err := setReadBytes(data, read, s.now())
	if err != nil {
		return nil, fmt.Errorf("set read state of %s: %w", h.mdPath(), err)
	}
	if out == nil {
		return fm, nil
	}
	opts := WriteOptions{Mode: os.FileMode(st.Mode & 0o777)}
	if s.chown {
		opts.Owner = &Owner{UID: int(st.Uid), GID: int(st.Gid)}
	}
	if err := s.w.WriteFileAt(h.dir, h.msg.ID+".md", out, opts); err != nil {
		return nil, fmt.Errorf("set read state: %w", err)
	}
	return fm, nil
}

// setReadBytes returns the file with its read state changed, or nil when
// it is already in that state. It edits the `read` line and the `read_at`
// line in place; when the file has no plain read line, or the edit does
// not decode to exactly the intended change, it re-encodes the frontmatter
// (which keeps unknown keys, but not the file's formatting).
func setReadBytes(data []byte, read bool, now time.Time) ([]byte, *Frontmatter, error) {
	loc, err := locateMD(data)
	if err != nil {
		return nil, nil, err
	}
	fm, err := decodeFields(data[loc.fmStart:loc.fmEnd], loc.m)
	if err != nil {
		return nil, nil, err
	}
	if fm.Read == read && fm.ReadAt.IsZero() != read {
		return nil, fm, nil
	}
	want := *fm
	want.Read = read
	want.ReadAt = time.Time{}
	if read {
		want.ReadAt = now.UTC()
	}
	orig := data[loc.fmStart:loc.fmEnd]
	newFM := editReadLines(orig, read, want.ReadAt)
	if newFM != nil {
		got, err := DecodeFrontmatter(newFM)
		if err != nil || !bytes.Equal(EncodeFrontmatter(got), EncodeFrontmatter(&want)) {
			newFM = nil
		}
	}
	if newFM == nil {
		newFM = EncodeFrontmatter(&want)
	}
	out := make([]byte, 0, len(data)+64)
	out = append(out, data[:loc.fmStart]...)
	out = append(out, newFM...)
	out = append(out, data[loc.fmEnd:]...)
	return out, &want, nil
}

// editReadLines rewrites the top-level `read = ...` line and drops any
// `read_at = ...` line, adding a fresh one right after `read` when marking
// read. It returns nil when there is no read line to edit.
func editReadLines(fm []byte, read bool, at time.Time) []byte {
	lines := bytes.SplitAfter(fm, []byte("\n"))
	var out bytes.Buffer
	found, inTable := false, false
	for _, line := range lines {
		trimmed := bytes.TrimRight(line, "\r\n")
		if len(trimmed) > 0 && trimmed[0] == '[' {
			inTable = true
		}
		if !inTable {
			if _, ok := readLineValue(trimmed); ok && !found {
				found = true
				fmt.Fprintf(&out, "read = %t\n", read)
				if read {
					out.WriteString("read_at = ")
					writeString(&out, at.Format(time.RFC3339Nano))
					out.WriteByte('\n')
				}
				continue
			}
			if isKeyLine(trimmed, "read_at") {
				continue
			}
		}
		out.Write(line)
	}
	if !found {
		return nil
	}
	return out.Bytes()
}

// isKeyLine reports a `key = ...` line for exactly key.
func isKeyLine(line []byte, key string) bool {
	rest, ok := bytes.CutPrefix(line, []byte(key))
	if !ok {
		return false
	}
	rest = bytes.TrimLeft(rest, " \t")
	return bytes.HasPrefix(rest, []byte("="))
}
