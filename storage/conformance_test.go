package storage_test

import (
	"testing"

	"github.com/aimx-dev/aimx/storage"
	"github.com/aimx-dev/aimx/storage/storetest"
)

// TestConformance runs the MessageStore conformance suite against the file
// store, the reference implementation.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storage.MessageStore {
		s, err := storage.Open(t.TempDir(), storage.Options{})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
