package storage

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/aimx-dev/aimx/internal/safefs"
)

// layoutMarker is the content of `<data>/.layout-version` for layout 2 (book/storage.md).
const layoutMarker = "2\n"

// ErrBadMarker reports a `.layout-version` whose content is not "2\n".
var ErrBadMarker = errors.New("unknown layout marker")

// ErrLegacyLayout matches a *LegacyLayoutError with errors.Is.
var ErrLegacyLayout = errors.New("legacy data layout")

// LegacyLayoutError reports a Rust v1 layout (`<data>/inbox` or
// `<data>/sent` with no marker): startup stops until it is migrated
// (book/upgrade.md), and nothing is written over it.
type LegacyLayoutError struct {
	Path string // the legacy dir found
}

// Error says what was found and what to do.
func (e *LegacyLayoutError) Error() string {
	return fmt.Sprintf("data dir has a legacy single-domain layout (%s exists and there is no .layout-version): migrate it before use (book/upgrade.md)", e.Path)
}

// Is makes errors.Is(err, ErrLegacyLayout) true.
func (e *LegacyLayoutError) Is(target error) bool { return target == ErrLegacyLayout }

type layoutState int

const (
	layoutCurrent layoutState = iota // marker present and valid
	layoutNew                        // no marker, no legacy dirs
)

// markerName is the layout marker's name in the data dir.
const markerName = ".layout-version"

// maxMarkerBytes caps the marker read: it holds two bytes.
const maxMarkerBytes = 4096

// checkLayout classifies a data dir without writing anything.
func checkLayout(root *safefs.Dir) (layoutState, error) {
	b, err := root.ReadFile(markerName, maxMarkerBytes)
	switch {
	case err == nil:
		if string(b) != layoutMarker {
			return 0, fmt.Errorf("%w: %s contains %q, want %q; fix or remove it", ErrBadMarker, root.Join(markerName), b, layoutMarker)
		}
		return layoutCurrent, nil
	case !errors.Is(err, fs.ErrNotExist):
		return 0, fmt.Errorf("read layout marker: %w", err)
	}
	for _, legacy := range []string{"inbox", "sent"} {
		if _, err := root.Lstat(legacy); err == nil {
			return 0, &LegacyLayoutError{Path: root.Join(legacy)}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return 0, fmt.Errorf("check legacy layout: %w", err)
		}
	}
	return layoutNew, nil
}
