package storage

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/aimx-dev/aimx/internal/safefs"
)

// Step names one step of a durable write. The fault seam in Writer reports
// each step before it runs so tests can simulate a crash at any point.
type Step int

// The steps of a durable write, in the order they run.
const (
	StepCreateTemp Step = iota // create the dot-named temp file beside the target
	StepWrite                  // write the bytes into the temp file
	StepSyncFile               // fsync the temp file
	StepPublish                // rename (replace) or link (no-replace) the temp file to its final name
	StepSyncDir                // fsync the directory holding the final name
	StepRemove                 // remove a name: a moved or deleted message's old files (move.go)
)

// String names the step for logs and test failures.
func (s Step) String() string {
	switch s {
	case StepCreateTemp:
		return "create-temp"
	case StepWrite:
		return "write"
	case StepSyncFile:
		return "sync-file"
	case StepPublish:
		return "publish"
	case StepSyncDir:
		return "sync-dir"
	case StepRemove:
		return "remove"
	}
	return "step-" + strconv.Itoa(int(s))
}

// ErrExist is returned by a no-replace write whose final name is taken.
var ErrExist = os.ErrExist

// Owner is a numeric uid/gid a written file is chowned to before it is
// published (book/storage.md: the daemon's user and the mailbox owner's group).
type Owner = safefs.Owner

// WriteOptions tunes one durable write.
type WriteOptions struct {
	// Mode is the permission of the published file (default 0600).
	Mode os.FileMode
	// NoReplace publishes with link(2) so an existing final name is never
	// replaced; the write then fails with an error wrapping ErrExist.
	NoReplace bool
	// Owner, when set, chowns the temp file before it is published.
	Owner *Owner
	// SkipDirSync leaves the directory fsync to the caller, who batches it
	// (group commit) with SyncDir or a DirSyncer.
	SkipDirSync bool
}

// Writer is the one durable-write primitive every writer in aimx uses:
// messages, config, tokens, queue and hook state. It writes a dot-named temp
// file, fsyncs it, publishes it under the final name, and fsyncs the
// directory, so a crash at any step leaves either nothing or the complete
// file under the final name. The zero Writer is ready to use.
type Writer struct {
	// Fault, when set, is called before each step. A non-nil error stops the
	// write at that step without any cleanup, as a crash would. Tests only.
	Fault func(step Step, path string) error
}

// tempName returns a unique dot-named sibling name of name that listers ignore.
func tempName(name string) string {
	var r [8]byte
	_, _ = rand.Read(r[:]) // crypto/rand.Read never fails on Linux
	return "." + name + ".tmp-" + hex.EncodeToString(r[:])
}

func (w *Writer) fault(step Step, path string) error {
	if w == nil || w.Fault == nil {
		return nil
	}
	if err := w.Fault(step, path); err != nil {
		return &FaultError{Step: step, Path: path, Err: err}
	}
	return nil
}

// FaultError is the error a write stops with when Writer.Fault injects one:
// a simulated crash at Step. Callers must not clean up after it, so tests
// see exactly what a crash would leave.
type FaultError struct {
	Step Step
	Path string
	Err  error
}

// Error names the path and step the simulated crash hit.
func (e *FaultError) Error() string {
	return fmt.Sprintf("durable write %s: %s: %v", e.Path, e.Step, e.Err)
}

// Unwrap returns the injected error.
func (e *FaultError) Unwrap() error { return e.Err }

// WriteFile durably writes data to path.
func (w *Writer) WriteFile(path string, data []byte, opts WriteOptions) error {
	_, err := w.WriteFrom(path, bytes.NewReader(data), opts)
	return err
}

// WriteFrom durably writes everything r yields to path and returns the
// byte count. The parent dir is opened once and everything after happens
// through it (internal/safefs), so a symlink at path is replaced, never
// followed.
func (w *Writer) WriteFrom(path string, r io.Reader, opts WriteOptions) (int64, error) {
	dir, err := safefs.OpenDir(filepath.Dir(path))
	if err != nil {
		return 0, fmt.Errorf("durable write %s: %w", path, err)
	}
	defer dir.Close()
	return w.WriteAt(dir, filepath.Base(path), r, opts)
}

// WriteFileAt durably writes data to name in dir.
func (w *Writer) WriteFileAt(dir *safefs.Dir, name string, data []byte, opts WriteOptions) error {
	_, err := w.WriteAt(dir, name, bytes.NewReader(data), opts)
	return err
}

// WriteAt durably writes everything r yields to name directly in dir, a
// directory held open, and returns the byte count: a dot-named temp file
// created without following anything, fsynced, then linked (no-replace) or
// renamed over name, then dir fsynced unless SkipDirSync.
func (w *Writer) WriteAt(dir *safefs.Dir, name string, r io.Reader, opts WriteOptions) (int64, error) {
	path := dir.Join(name)
	mode := opts.Mode
	if mode == 0 {
		mode = 0o600
	}
	if err := w.fault(StepCreateTemp, path); err != nil {
		return 0, err
	}
	tmp := tempName(name)
	f, err := dir.Create(tmp, mode, opts.Owner)
	if err != nil {
		return 0, fmt.Errorf("durable write %s: create temp: %w", path, err)
	}
	published := false
	defer func() {
		if !published {
			_ = f.Close()
			_ = dir.Remove(tmp) // best effort: a dot-named leftover is ignored by listers
		}
	}()
	if err := w.fault(StepWrite, path); err != nil {
		published = true // simulated crash: leave the temp file behind
		return 0, err
	}
	n, err := io.Copy(f, r)
	if err != nil {
		return n, fmt.Errorf("durable write %s: write: %w", path, err)
	}
	if err := w.fault(StepSyncFile, path); err != nil {
		published = true
		return n, err
	}
	if err := f.Sync(); err != nil {
		return n, fmt.Errorf("durable write %s: fsync: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return n, fmt.Errorf("durable write %s: close: %w", path, err)
	}
	if err := w.fault(StepPublish, path); err != nil {
		published = true
		return n, err
	}
	if opts.NoReplace {
		if err := dir.Link(tmp, dir, name); err != nil {
			if errors.Is(err, os.ErrExist) {
				return n, fmt.Errorf("durable write %s: %w", path, ErrExist)
			}
			return n, fmt.Errorf("durable write %s: link: %w", path, err)
		}
		published = true
		if err := dir.Remove(tmp); err != nil {
			return n, fmt.Errorf("durable write %s: remove temp: %w", path, err)
		}
	} else {
		if err := dir.Rename(tmp, dir, name); err != nil {
			return n, fmt.Errorf("durable write %s: rename: %w", path, err)
		}
		published = true
	}
	if opts.SkipDirSync {
		return n, nil
	}
	if err := w.fault(StepSyncDir, path); err != nil {
		return n, err
	}
	if err := dir.Sync(); err != nil {
		return n, fmt.Errorf("durable write %s: %w", path, err)
	}
	return n, nil
}

// PublishDir renames a fully written, dot-named temp directory to its final
// name without replacing anything (renameat2 RENAME_NOREPLACE) and fsyncs
// the parent unless SkipDirSync is set. Both must be in the same parent.
func (w *Writer) PublishDir(tmpDir, final string, skipDirSync bool) error {
	parent, err := safefs.OpenDir(filepath.Dir(final))
	if err != nil {
		return fmt.Errorf("publish dir %s: %w", final, err)
	}
	defer parent.Close()
	return w.PublishDirAt(parent, filepath.Base(tmpDir), filepath.Base(final), skipDirSync)
}

// PublishDirAt is PublishDir for two names in parent, a directory held open.
func (w *Writer) PublishDirAt(parent *safefs.Dir, tmpName, finalName string, skipDirSync bool) error {
	final := parent.Join(finalName)
	if err := w.fault(StepPublish, final); err != nil {
		return err
	}
	if err := parent.RenameNoReplace(tmpName, parent, finalName); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("publish dir %s: %w", final, ErrExist)
		}
		return fmt.Errorf("publish dir %s: %w", final, err)
	}
	if skipDirSync {
		return nil
	}
	if err := w.fault(StepSyncDir, final); err != nil {
		return err
	}
	return parent.Sync()
}

// SyncDir fsyncs dir like the package-level SyncDir, reporting StepSyncDir
// to the fault seam first, so group commits and bundle temp dirs can be
// crash-tested (and counted) like every other step.
func (w *Writer) SyncDir(dir string) error {
	if err := w.fault(StepSyncDir, dir); err != nil {
		return err
	}
	return SyncDir(dir)
}

// SyncDirAt is SyncDir for a directory held open.
func (w *Writer) SyncDirAt(dir *safefs.Dir) error {
	if err := w.fault(StepSyncDir, dir.Path()); err != nil {
		return err
	}
	return dir.Sync()
}

// SyncDir fsyncs a directory so the entries created or renamed in it survive a crash.
func SyncDir(dir string) error {
	d, err := safefs.OpenDir(dir)
	if err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	defer d.Close()
	return d.Sync()
}
