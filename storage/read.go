package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Message is one message read back: its frontmatter, its body and where its
// files are.
type Message struct {
	ID          string
	Folder      Folder
	Frontmatter *Frontmatter
	Body        string
	MDPath      string
	EMLPath     string // "" when there is no .eml (Rust-written mail)
	BundleDir   string // "" for a flat message
}

// locate resolves id to its .md without following symlinks: `<id>.md`, or
// the bundle `<id>/<id>.md`. Ids that could escape are ErrInvalidID; ids
// that name nothing (or a symlink) are ErrNotFound.
func (s *Store) locate(ref MailboxRef, folder Folder, id string) (*Message, error) {
	if err := checkRef(ref, folder); err != nil {
		return nil, err
	}
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	dir := s.folderDir(ref, folder)
	m := &Message{ID: id, Folder: folder}
	flat := filepath.Join(dir, id+".md")
	if fi, err := os.Lstat(flat); err == nil && fi.Mode().IsRegular() {
		m.MDPath = flat
	} else if bfi, err := os.Lstat(filepath.Join(dir, id)); err == nil && bfi.IsDir() {
		md := filepath.Join(dir, id, id+".md")
		if fi, err := os.Lstat(md); err == nil && fi.Mode().IsRegular() {
			m.MDPath = md
			m.BundleDir = filepath.Join(dir, id)
		}
	}
	if m.MDPath == "" {
		return nil, fmt.Errorf("%w: %s in %s/%s", ErrNotFound, id, ref, folder)
	}
	eml := filepath.Join(filepath.Dir(m.MDPath), id+".eml")
	if fi, err := os.Lstat(eml); err == nil && fi.Mode().IsRegular() {
		m.EMLPath = eml
	}
	return m, nil
}

// Read returns one message with its frontmatter and body.
func (s *Store) Read(ctx context.Context, ref MailboxRef, folder Folder, id string) (*Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m, err := s.locate(ref, folder, id)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(m.MDPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s in %s/%s", ErrNotFound, id, ref, folder)
	}
	if err != nil {
		return nil, fmt.Errorf("read message: %w", err)
	}
	fm, body, err := DecodeMD(data)
	if err != nil {
		return nil, fmt.Errorf("read message %s: %w", m.MDPath, err)
	}
	m.Frontmatter, m.Body = fm, body
	return m, nil
}

// SetRead marks a message read (read = true, read_at = now in RFC 3339 UTC)
// or unread (read = false, read_at removed). Only those lines change: every
// other byte, unknown keys and Rust formatting included, stays as it was,
// and the file is replaced atomically through the Writer (SPEC §4, §13).
// Marking a message that is already in the asked state writes nothing.
func (s *Store) SetRead(ctx context.Context, ref MailboxRef, folder Folder, id string, read bool) (*Frontmatter, error) {
	if s.readOnly {
		return nil, ErrReadOnly
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m, err := s.locate(ref, folder, id)
	if err != nil {
		return nil, err
	}
	lock := &s.readLocks[readLockSlot(s.folderDir(ref, folder), id)]
	lock.Lock()
	defer lock.Unlock()
	fm, err := s.setRead(m, read)
	if err != nil {
		return nil, err
	}
	s.indexUpsert(ref, folder, newIndexEntry(id, m.BundleDir != "", fm))
	return fm, nil
}

// setRead rewrites the read state of the located message.
func (s *Store) setRead(m *Message, read bool) (*Frontmatter, error) {
	fi, err := os.Lstat(m.MDPath)
	if err != nil {
		return nil, fmt.Errorf("set read state: %w", err)
	}
	data, err := os.ReadFile(m.MDPath)
	if err != nil {
		return nil, fmt.Errorf("set read state: %w", err)
	}
	out, fm, err := setReadBytes(data, read, s.now())
	if err != nil {
		return nil, fmt.Errorf("set read state of %s: %w", m.MDPath, err)
	}
	if out == nil {
		return fm, nil
	}
	opts := WriteOptions{Mode: fi.Mode().Perm()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && s.chown {
		opts.Owner = &Owner{UID: int(st.Uid), GID: int(st.Gid)}
	}
	if err := s.w.WriteFile(m.MDPath, out, opts); err != nil {
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
