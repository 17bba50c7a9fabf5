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

// MessageFile is one message file opened for reading: a regular file
// opened without following symlinks and checked with fstat, so what is
// read is what was checked. Close it when done.
type MessageFile struct {
	*os.File
	size int64
}

// Size is the file's size at open.
func (f *MessageFile) Size() int64 { return f.size }

// Reader returns a reader of at most the size seen at open, so a file
// that grows meanwhile is not read past its checked size.
func (f *MessageFile) Reader() io.Reader { return io.NewSectionReader(f.File, 0, f.size) }

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
