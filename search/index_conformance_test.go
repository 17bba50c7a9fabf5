package search_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/aimx-dev/aimx/search"
	"github.com/aimx-dev/aimx/search/indextest"
)

// TestFTSConformance runs the index suite against SQLite FTS5; the
// postgres backend's index runs the same suite (pgstore/pgsearch).
func TestFTSConformance(t *testing.T) {
	indextest.Run(t, func(t *testing.T) search.Index {
		f, err := search.OpenFTS(context.Background(), filepath.Join(t.TempDir(), "index.db"))
		if err != nil {
			t.Fatal(err)
		}
		return f
	})
}
