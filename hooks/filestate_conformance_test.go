package hooks_test

import (
	"path/filepath"
	"testing"

	"github.com/aimx-dev/aimx/hooks"
	"github.com/aimx-dev/aimx/hooks/hookstatetest"
)

// TestFileStateConformance runs the StateStore conformance suite on the
// default, file-backed hook state.
func TestFileStateConformance(t *testing.T) {
	hookstatetest.Run(t, func(t *testing.T) hooks.StateStore {
		st, err := hooks.OpenFileState(filepath.Join(t.TempDir(), "hooks"), nil)
		if err != nil {
			t.Fatal(err)
		}
		return st
	})
}
