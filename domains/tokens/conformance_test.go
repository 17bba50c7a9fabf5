package tokens_test

import (
	"path/filepath"
	"testing"

	"github.com/aimx-dev/aimx/domains/tokens"
	"github.com/aimx-dev/aimx/domains/tokens/tokenstest"
)

// TestFileStoreConformance runs the tokens.Backend suite against the file
// store; pgstore/pgtokens runs the same suite against PostgreSQL.
func TestFileStoreConformance(t *testing.T) {
	tokenstest.Run(t, func(t *testing.T) tokens.Backend {
		return &tokens.Store{Path: filepath.Join(t.TempDir(), tokens.FileName)}
	})
}
