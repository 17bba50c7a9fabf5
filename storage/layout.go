package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// layoutMarker is the content of `<data>/.layout-version` for layout 2 (SPEC §4).
const layoutMarker = "2\n"

// ErrBadMarker reports a `.layout-version` whose content is not "2\n".
var ErrBadMarker = errors.New("unknown layout marker")

// ErrLegacyLayout matches a *LegacyLayoutError with errors.Is.
var ErrLegacyLayout = errors.New("legacy data layout")

// LegacyLayoutError reports a Rust v1 layout (`<data>/inbox` or
// `<data>/sent` with no marker): startup stops until it is migrated
// (SPEC §13), and nothing is written over it.
type LegacyLayoutError struct {
	Path string // the legacy dir found
}

// Error says what was found and what to do.
func (e *LegacyLayoutError) Error() string {
	return fmt.Sprintf("data dir has a legacy single-domain layout (%s exists and there is no .layout-version): migrate it before use (SPEC §13)", e.Path)
}

// Is makes errors.Is(err, ErrLegacyLayout) true.
func (e *LegacyLayoutError) Is(target error) bool { return target == ErrLegacyLayout }

type layoutState int

const (
	layoutCurrent layoutState = iota // marker present and valid
	layoutNew                        // no marker, no legacy dirs
)

func markerPath(root string) string { return filepath.Join(root, ".layout-version") }

// checkLayout classifies a data dir without writing anything.
func checkLayout(root string) (layoutState, error) {
	b, err := os.ReadFile(markerPath(root))
	switch {
	case err == nil:
		if string(b) != layoutMarker {
			return 0, fmt.Errorf("%w: %s contains %q, want %q; fix or remove it", ErrBadMarker, markerPath(root), b, layoutMarker)
		}
		return layoutCurrent, nil
	case !errors.Is(err, fs.ErrNotExist):
		return 0, fmt.Errorf("read layout marker: %w", err)
	}
	for _, legacy := range []string{"inbox", "sent"} {
		p := filepath.Join(root, legacy)
		if _, err := os.Lstat(p); err == nil {
			return 0, &LegacyLayoutError{Path: p}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return 0, fmt.Errorf("check legacy layout: %w", err)
		}
	}
	return layoutNew, nil
}

// ensureDir makes dir with exactly mode (and owner, when given), fixing the
// mode and owner of an existing one; it refuses a symlink or non-directory.
// With syncParent it fsyncs the parent after creating, so the new entry
// is durable. It reports whether it created the dir.
func ensureDir(dir string, mode os.FileMode, owner *Owner, syncParent bool) (bool, error) {
	created := false
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.Mkdir(dir, mode); err != nil && !errors.Is(err, fs.ErrExist) {
			return false, fmt.Errorf("create directory: %w", err)
		} else if err == nil {
			created = true
		}
		fi, err = os.Lstat(dir)
	}
	if err != nil {
		return false, fmt.Errorf("stat %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return false, fmt.Errorf("%s exists and is not a directory", dir)
	}
	if fi.Mode().Perm() != mode {
		if err := os.Chmod(dir, mode); err != nil {
			return false, fmt.Errorf("chmod %s: %w", dir, err)
		}
	}
	if owner != nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); !ok || int(st.Uid) != owner.UID || int(st.Gid) != owner.GID {
			if err := os.Lchown(dir, owner.UID, owner.GID); err != nil {
				return false, fmt.Errorf("chown %s: %w", dir, err)
			}
		}
	}
	if created && syncParent {
		if err := SyncDir(filepath.Dir(dir)); err != nil {
			return false, err
		}
	}
	return created, nil
}
