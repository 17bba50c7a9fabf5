package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
)

// ErrTooLarge reports a message file over the store's file cap
// (Options.MaxFileBytes): it is refused, never read whole.
var ErrTooLarge = errors.New("message file over the size cap")

// ErrNotRegular reports a message name that is not a regular file (a FIFO,
// a device, a socket): it is refused without being opened for I/O.
var ErrNotRegular = errors.New("not a regular file")

// MessageFile is one stored message file (a .md or an .eml) opened for
// reading. From the file store it is a regular file opened without
// following symlinks and checked with fstat, so what is read is what was
// checked (book/security.md); another backend wraps what it opened (a
// database row, an object) with NewMessageFile. Close it when done.
type MessageFile struct {
	r    io.ReaderAt
	c    io.Closer
	size int64
	file *os.File // set only by the file store
}

// NewMessageFile wraps size bytes readable from r as a MessageFile; Close
// closes c (nil: nothing to close). It is for stores that do not keep
// messages as files on this host: such a MessageFile has no OSFile.
func NewMessageFile(r io.ReaderAt, c io.Closer, size int64) *MessageFile {
	return &MessageFile{r: r, c: c, size: size}
}

// newFileMessageFile is the file store's MessageFile over an open file.
func newFileMessageFile(f *os.File, size int64) *MessageFile {
	return &MessageFile{r: f, c: f, size: size, file: f}
}

// Size is the file's size at open.
func (f *MessageFile) Size() int64 { return f.size }

// ReadAt reads like io.ReaderAt; with the file store it leaves the file
// offset alone.
func (f *MessageFile) ReadAt(p []byte, off int64) (int, error) { return f.r.ReadAt(p, off) }

// Reader returns a reader of at most the size seen at open, so a file
// that grows meanwhile is not read past its checked size.
func (f *MessageFile) Reader() io.Reader { return io.NewSectionReader(f.r, 0, f.size) }

// Close releases the file.
func (f *MessageFile) Close() error {
	if f.c == nil {
		return nil
	}
	return f.c.Close()
}

// OSFile returns the open file when the store keeps messages as files on
// this host (the file store), nil otherwise. Hooks get that descriptor as
// their stdin and its name as AIMX_FILEPATH, a path the mailbox owner may
// read with its own rights (book/hooks.md); nothing else may rely on it.
func (f *MessageFile) OSFile() *os.File { return f.file }

// OpenMD opens a message's .md (see MessageStore).
func (s *Store) OpenMD(ctx context.Context, ref MailboxRef, folder Folder, id string) (*MessageFile, error) {
	return s.openMessageFile(ctx, ref, folder, id, ".md")
}

// OpenRaw opens a message's .eml (see MessageStore).
func (s *Store) OpenRaw(ctx context.Context, ref MailboxRef, folder Folder, id string) (*MessageFile, error) {
	return s.openMessageFile(ctx, ref, folder, id, ".eml")
}

func (s *Store) openMessageFile(ctx context.Context, ref MailboxRef, folder Folder, id, ext string) (*MessageFile, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	h, err := s.openMessage(ref, folder, id)
	if err != nil {
		return nil, err
	}
	defer h.close()
	f, err := h.open(id+ext, s.maxFile)
	if err != nil {
		return nil, fmt.Errorf("open %s%s in %s/%s: %w", id, ext, ref, folder, err)
	}
	return f, nil
}

// MessagePaths are where the file store keeps one message (book/storage.md).
// They belong to the file store alone: other backends have no paths, so
// nothing in mail, hooks or mcp relies on them. Tests and operator tools
// that inspect the files on disk use them.
type MessagePaths struct {
	MD     string // the .md
	EML    string // the .eml; "" when the message has none (Rust-written mail)
	Bundle string // the bundle dir; "" for a flat message
}

// Paths locates a stored message's files, as openMessage does: without
// following symlinks, ErrNotFound when the id names nothing.
func (s *Store) Paths(ref MailboxRef, folder Folder, id string) (MessagePaths, error) {
	h, err := s.openMessage(ref, folder, id)
	if err != nil {
		return MessagePaths{}, err
	}
	defer h.close()
	p := MessagePaths{MD: h.mdPath()}
	if h.hasEML {
		p.EML = h.dir.Join(id + ".eml")
	}
	if h.bundle {
		p.Bundle = h.dir.Path()
	}
	return p, nil
}
