package inbound

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/aimx-dev/aimx/mail/message"
)

// spoolBufSize is the write buffer between the SMTP reader and the spool
// file.
const spoolBufSize = 64 << 10

// Spool is one transaction's DATA on disk (book/smtp.md "Spooling"): the
// bytes are written to an unnamed file in the spool dir as they arrive and
// checked for the book/smtp.md line-ending shapes on the way, so a message is
// never held in memory, however large. Parsing, verification and every
// mailbox's copy read the file; decoded attachments and the body text go
// to a second unnamed file (the scratch). Close removes both: they have no
// name, so nothing is left behind even by a crash.
type Spool struct {
	dir     string
	f       *os.File
	w       *bufio.Writer
	n       int64
	check   message.DataChecker
	werr    error
	scratch fileScratch
}

// NewSpool opens a spool for one transaction in Config.SpoolDir (made
// 0700 when missing).
func (d *Deliverer) NewSpool() (*Spool, error) {
	f, err := openUnnamed(d.spoolDir)
	if err != nil {
		return nil, fmt.Errorf("open spool: %w", err)
	}
	return &Spool{
		dir: d.spoolDir, f: f, w: bufio.NewWriterSize(f, spoolBufSize),
		scratch: fileScratch{dir: d.spoolDir},
	}, nil
}

// Write spools p and checks it. After a bad line-ending shape the rest is
// counted but not kept: the message is refused whatever follows. A write
// error is returned and kept for DeliverSpool.
func (s *Spool) Write(p []byte) (int, error) {
	s.n += int64(len(p))
	_, _ = s.check.Write(p) // never fails; the verdict is read at the end
	if s.check.Failed() || s.werr != nil {
		return len(p), s.werr
	}
	if _, err := s.w.Write(p); err != nil {
		s.werr = &spoolError{err}
		return len(p), s.werr
	}
	return len(p), nil
}

// Size is the number of DATA bytes received.
func (s *Spool) Size() int64 { return s.n }

// source flushes the spool and returns the message as received.
func (s *Spool) source() (message.Source, error) {
	if s.werr != nil {
		return nil, s.werr
	}
	if err := s.w.Flush(); err != nil {
		return nil, fmt.Errorf("flush spool: %w", err)
	}
	return io.NewSectionReader(s.f, 0, s.n), nil
}

// Close releases the spool and its scratch file.
func (s *Spool) Close() error {
	err := s.f.Close()
	return errors.Join(err, s.scratch.Close())
}

// spoolError is a failure to write the spool: the server's fault (451),
// not the sender's.
type spoolError struct{ err error }

func (e *spoolError) Error() string { return "write spool: " + e.err.Error() }
func (e *spoolError) Unwrap() error { return e.err }

// fileScratch is a message.Scratch in one unnamed file, appended to.
type fileScratch struct {
	dir string
	f   *os.File
	off int64
}

// Append copies r to the end of the file.
func (s *fileScratch) Append(r io.Reader) (message.Source, error) {
	if s.f == nil {
		f, err := openUnnamed(s.dir)
		if err != nil {
			return nil, fmt.Errorf("open scratch: %w", err)
		}
		s.f = f
	}
	start := s.off
	n, err := io.Copy(io.NewOffsetWriter(s.f, start), r)
	s.off += n
	if err != nil {
		return nil, err
	}
	return io.NewSectionReader(s.f, start, n), nil
}

// Close closes the file, if one was opened.
func (s *fileScratch) Close() error {
	if s.f == nil {
		return nil
	}
	return s.f.Close()
}

// openUnnamed opens a new file in dir that has no name: O_TMPFILE where the
// file system has it, else a file created and unlinked at once. dir is
// made 0700 when missing.
func openUnnamed(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("make spool dir: %w", err)
	}
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err == nil {
		return os.NewFile(uintptr(fd), filepath.Join(dir, "(unnamed)")), nil
	}
	f, err := os.CreateTemp(dir, ".spool-*")
	if err != nil {
		return nil, fmt.Errorf("create spool file: %w", err)
	}
	if err := os.Remove(f.Name()); err != nil {
		_ = f.Close() // the remove error is the one to report
		return nil, fmt.Errorf("unlink spool file: %w", err)
	}
	return f, nil
}
