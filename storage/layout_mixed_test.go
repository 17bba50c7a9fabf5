package storage

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A legacy tree beside the version 2 marker stops the store from opening
// (book/upgrade.md): its mail would be invisible.
func TestUpgradeOpenLegacyBesideMarker(t *testing.T) {
	t.Parallel()
	for _, legacy := range []string{"inbox", "sent"} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, ".layout-version"), []byte("2\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dir, legacy, "support"), 0o700); err != nil {
			t.Fatal(err)
		}
		before := snapshot(t, dir)
		_, err := Open(dir, Options{})
		var me *MixedLayoutError
		if !errors.Is(err, ErrMixedLayout) || !errors.As(err, &me) || me.Path != filepath.Join(dir, legacy) ||
			!strings.Contains(err.Error(), "move each mailbox dir") {
			t.Fatalf("%s: Open err = %v", legacy, err)
		}
		if _, err := OpenReadOnly(dir); !errors.Is(err, ErrMixedLayout) {
			t.Errorf("%s: OpenReadOnly err = %v", legacy, err)
		}
		if l, err := InspectLayout(dir); !errors.Is(err, ErrMixedLayout) {
			t.Errorf("%s: InspectLayout = %v, %v", legacy, l, err)
		}
		if !equalSnap(before, snapshot(t, dir)) {
			t.Errorf("%s: Open wrote into a mixed layout", legacy)
		}
	}
}

func TestUpgradeInspectLayout(t *testing.T) {
	t.Parallel()
	if l, err := InspectLayout(filepath.Join(t.TempDir(), "nope")); l != LayoutAbsent || err != nil {
		t.Errorf("missing: %v %v", l, err)
	}
	dir := t.TempDir()
	if l, err := InspectLayout(dir); l != LayoutNew || err != nil {
		t.Errorf("empty: %v %v", l, err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sent"), 0o755); err != nil {
		t.Fatal(err)
	}
	if l, err := InspectLayout(dir); l != LayoutLegacy || err != nil {
		t.Errorf("legacy: %v %v", l, err)
	}
	if err := os.Remove(filepath.Join(dir, "sent")); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, Options{}); err != nil {
		t.Fatal(err)
	}
	if l, err := InspectLayout(dir); l != LayoutCurrent || err != nil {
		t.Errorf("current: %v %v", l, err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".layout-version"), []byte("3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := InspectLayout(dir); !errors.Is(err, ErrBadMarker) || !strings.Contains(err.Error(), "book/upgrade.md") {
		t.Errorf("bad marker: %v", err)
	}
}
