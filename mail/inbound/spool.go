package inbound

import (
	"bufio"
	"bytes"
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

// spoolMemBytes is how much of a transaction's DATA, and separately of its
// decoded parts, is kept in memory before it goes to an unnamed file: most
// mail fits, and creating an inode per message in the spool dir costs
// intake a third of its rate on ext4 (it waits on the journal that the
// message fsyncs commit), while the bound keeps 20 connections under 10 MiB
// (book/smtp.md "Spooling").
const spoolMemBytes = 256 << 10

// Spool is one transaction's DATA (book/smtp.md "Spooling"): the bytes are
// kept in memory up to spoolMemBytes, then written to an unnamed file in
// the spool dir as they arrive, and checked for the book/smtp.md
// line-ending shapes on the way, so a large message is never held in
// memory. Parsing, verification and every mailbox's copy read the spool;
// decoded attachments and the body text go to a scratch with the same
// bound. Close removes both: the files have no name, so nothing is left
// behind even by a crash.
type Spool struct {
	dir     string
	mem     []byte // DATA while it fits in spoolMemBytes
	f       *os.File
	w       *bufio.Writer
	n       int64
	check   message.DataChecker
	werr    error
	scratch spoolScratch
}

// NewSpool starts a spool for one transaction in Config.SpoolDir (made
// 0700 when missing, once DATA outgrows memory).
func (d *Deliverer) NewSpool() (*Spool, error) {
	return &Spool{dir: d.spoolDir, scratch: spoolScratch{file: fileScratch{dir: d.spoolDir}}}, nil
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
	if s.f == nil && len(s.mem)+len(p) <= spoolMemBytes {
		s.mem = append(s.mem, p...)
		return len(p), nil
	}
	if s.f == nil {
		if err := s.spill(); err != nil {
			s.werr = &spoolError{err}
			return len(p), s.werr
		}
	}
	if _, err := s.w.Write(p); err != nil {
		s.werr = &spoolError{err}
		return len(p), s.werr
	}
	return len(p), nil
}

// spill moves the DATA held in memory to an unnamed file, where the rest
// follows.
func (s *Spool) spill() error {
	f, err := openUnnamed(s.dir)
	if err != nil {
		return fmt.Errorf("open spool: %w", err)
	}
	s.f, s.w = f, bufio.NewWriterSize(f, spoolBufSize)
	_, err = s.w.Write(s.mem)
	s.mem = nil
	return err
}

// Size is the number of DATA bytes received.
func (s *Spool) Size() int64 { return s.n }

// source flushes the spool and returns the message as received.
func (s *Spool) source() (message.Source, error) {
	if s.werr != nil {
		return nil, s.werr
	}
	if s.f == nil {
		return bytes.NewReader(s.mem), nil
	}
	if err := s.w.Flush(); err != nil {
		return nil, fmt.Errorf("flush spool: %w", err)
	}
	return io.NewSectionReader(s.f, 0, s.n), nil
}

// Close releases the spool and its scratch.
func (s *Spool) Close() error {
	var err error
	if s.f != nil {
		err = s.f.Close()
	}
	s.mem = nil
	return errors.Join(err, s.scratch.Close())
}

// spoolScratch is a message.Scratch in memory up to spoolMemBytes in all,
// then in an unnamed file.
type spoolScratch struct {
	mem  []byte
	file fileScratch
}

// Append keeps r in memory while the total fits, else appends it (and
// everything after it) to the file. Earlier sources stay valid: a grown
// slice leaves the bytes they point at in place.
func (s *spoolScratch) Append(r io.Reader) (message.Source, error) {
	if s.file.f == nil {
		room := spoolMemBytes - len(s.mem)
		b, err := io.ReadAll(io.LimitReader(r, int64(room)+1))
		if err != nil {
			return nil, err
		}
		if len(b) <= room {
			start := len(s.mem)
			s.mem = append(s.mem, b...)
			return bytes.NewReader(s.mem[start:len(s.mem):len(s.mem)]), nil
		}
		r = io.MultiReader(bytes.NewReader(b), r)
	}
	return s.file.Append(r)
}

// Close releases the file, if one was opened.
func (s *spoolScratch) Close() error {
	s.mem = nil
	return s.file.Close()
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
