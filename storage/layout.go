package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/aimx-dev/aimx/internal/safefs"
)

// layoutMarker is the content of `<data>/.layout-version` for layout 2 (book/storage.md).
const layoutMarker = "2\n"

// ErrBadMarker reports a `.layout-version` whose content is not "2\n".
var ErrBadMarker = errors.New("unknown layout marker")

// ErrLegacyLayout matches a *LegacyLayoutError with errors.Is.
var ErrLegacyLayout = errors.New("legacy data layout")

// ErrMixedLayout matches a *MixedLayoutError with errors.Is.
var ErrMixedLayout = errors.New("legacy tree beside a layout marker")

// LegacyLayoutError reports a Rust v1 layout (`<data>/inbox` or
// `<data>/sent` with no marker): the store will not open it until it is
// migrated (`aimx serve` does that at start, book/upgrade.md), and nothing
// is written over it.
type LegacyLayoutError struct {
	Path string // the legacy dir found
}

// Error says what was found and what to do.
func (e *LegacyLayoutError) Error() string {
	return fmt.Sprintf("data dir has a legacy single-domain layout (%s exists and there is no .layout-version): `aimx serve` migrates it at start (book/upgrade.md)", e.Path)
}

// Is makes errors.Is(err, ErrLegacyLayout) true.
func (e *LegacyLayoutError) Is(target error) bool { return target == ErrLegacyLayout }

// MixedLayoutError reports a legacy tree (`<data>/inbox` or `<data>/sent`)
// in a data dir that also has the version 2 marker: the mail in it would
// be invisible, so the store refuses to open rather than start over it
// (book/upgrade.md).
type MixedLayoutError struct {
	Marker string // the marker file
	Path   string // the legacy dir found
}

// Error says what was found and what to do.
func (e *MixedLayoutError) Error() string {
	return fmt.Sprintf("data dir has the layout marker %s and also a legacy single-domain tree %s, whose mail aimx would not see: "+
		"move each mailbox dir %s/<local> into <data>/<domain>/%s/<local> by hand (or remove %s if it holds nothing you need), "+
		"then start again (book/upgrade.md)", e.Marker, e.Path, e.Path, filepath.Base(e.Path), e.Path)
}

// Is makes errors.Is(err, ErrMixedLayout) true.
func (e *MixedLayoutError) Is(target error) bool { return target == ErrMixedLayout }

// Layout is what a data dir holds, as InspectLayout finds it.
type Layout int

// The layouts InspectLayout tells apart.
const (
	// LayoutAbsent: the data dir does not exist.
	LayoutAbsent Layout = iota
	// LayoutNew: no marker and no legacy tree; Open writes the marker.
	LayoutNew
	// LayoutCurrent: the version 2 marker, no legacy tree.
	LayoutCurrent
	// LayoutLegacy: no marker and `<data>/inbox` or `<data>/sent`: a
	// single-domain (Rust v1) install to migrate (book/upgrade.md).
	LayoutLegacy
)

// LegacyFolders are the top-level dirs of a single-domain (Rust v1) data
// dir: `<data>/inbox/<local>/` and `<data>/sent/<local>/` (book/upgrade.md).
var LegacyFolders = []Folder{Inbox, Sent}

// LayoutMarkerName is the layout marker's name in the data dir.
const LayoutMarkerName = ".layout-version"

// markerName is the layout marker's name in the data dir.
const markerName = LayoutMarkerName

// maxMarkerBytes caps the marker read: it holds two bytes.
const maxMarkerBytes = 4096

// InspectLayout classifies the data dir at dataDir without writing
// anything. A marker with other content than "2\n" is an error wrapping
// ErrBadMarker; a legacy tree beside the marker is a *MixedLayoutError.
func InspectLayout(dataDir string) (Layout, error) {
	root, err := safefs.OpenDir(dataDir)
	if errors.Is(err, fs.ErrNotExist) {
		return LayoutAbsent, nil
	}
	if err != nil {
		return 0, fmt.Errorf("open data dir: %w", err)
	}
	defer root.Close()
	return inspect(root)
}

// WriteLayoutMarker writes the version 2 marker into the data dir root
// durably, never replacing one: a marker already there must hold "2\n".
func WriteLayoutMarker(root *safefs.Dir, w *Writer) error {
	if w == nil {
		w = &Writer{}
	}
	err := w.WriteFileAt(root, markerName, []byte(layoutMarker), WriteOptions{Mode: 0o644, NoReplace: true})
	if errors.Is(err, ErrExist) { // written meanwhile: it must be ours
		_, err = readMarker(root)
		return err
	}
	if err != nil {
		return fmt.Errorf("write layout marker: %w", err)
	}
	return nil
}

// readMarker reports whether the data dir has a valid marker; an invalid
// one is an error wrapping ErrBadMarker that says what to do.
func readMarker(root *safefs.Dir) (bool, error) {
	b, err := root.ReadFile(markerName, maxMarkerBytes)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case errors.Is(err, safefs.ErrTooLarge):
		b = []byte("(more than 4096 bytes)")
	case err != nil:
		return false, fmt.Errorf("read layout marker: %w", err)
	}
	if string(b) != layoutMarker {
		return false, fmt.Errorf("%w: %s contains %q, want %q: if this data dir was migrated (its mail is under <data>/<domain>/), "+
			"write the two bytes \"2\\n\" into it; if it is a single-domain install that was never migrated (its mail is under "+
			"<data>/inbox/), remove it so the next start migrates it (book/upgrade.md)", ErrBadMarker, root.Join(markerName), b, layoutMarker)
	}
	return true, nil
}

// legacyTree returns the first legacy folder dir found in root, "" when
// there is none.
func legacyTree(root *safefs.Dir) (string, error) {
	for _, f := range LegacyFolders {
		if _, err := root.Lstat(string(f)); err == nil {
			return string(f), nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("check legacy layout: %w", err)
		}
	}
	return "", nil
}

func inspect(root *safefs.Dir) (Layout, error) {
	marked, err := readMarker(root)
	if err != nil {
		return 0, err
	}
	legacy, err := legacyTree(root)
	if err != nil {
		return 0, err
	}
	switch {
	case marked && legacy != "":
		return 0, &MixedLayoutError{Marker: root.Join(markerName), Path: root.Join(legacy)}
	case marked:
		return LayoutCurrent, nil
	case legacy != "":
		return LayoutLegacy, nil
	}
	return LayoutNew, nil
}

type layoutState int

const (
	layoutCurrent layoutState = iota // marker present and valid
	layoutNew                        // no marker, no legacy dirs
)

// checkLayout classifies a data dir without writing anything: a legacy
// layout is a *LegacyLayoutError, a legacy tree beside the marker a
// *MixedLayoutError, a bad marker an error wrapping ErrBadMarker.
func checkLayout(root *safefs.Dir) (layoutState, error) {
	l, err := inspect(root)
	if err != nil {
		return 0, err
	}
	switch l {
	case LayoutLegacy:
		legacy, err := legacyTree(root)
		if err != nil {
			return 0, err
		}
		return 0, &LegacyLayoutError{Path: root.Join(legacy)}
	case LayoutCurrent:
		return layoutCurrent, nil
	}
	return layoutNew, nil
}
