package e2e

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestCleanStopSkipsTheLeftoverScan: SIGTERM with nothing in flight records
// a clean stop; the next start consumes it (and skips the scan for crash
// leftovers, book/storage.md "Start-up repair"); a SIGKILL records nothing,
// so the start after a crash scans and removes an orphan .eml.
func TestCleanStopSkipsTheLeftoverScan(t *testing.T) {
	t.Parallel()
	d := StartDev(t, DaemonOptions{})
	marker := filepath.Join(d.DataDir(), ".spool", "clean-stop")
	d.Stop()
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("no clean-stop marker after SIGTERM: %v", err)
	}
	d.Restart()
	if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the marker survived a start: %v", err)
	}
	orphan := filepath.Join(d.DataDir(), "agent.localhost", "inbox", "hello", "2026-01-01-000000-orphan.eml")
	if err := os.MkdirAll(filepath.Dir(orphan), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(orphan, []byte("x"), 0o640); err != nil {
		t.Fatal(err)
	}
	d.Kill()
	if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a crash left a clean-stop marker")
	}
	d.Restart()
	if _, err := os.Stat(orphan); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the start after a crash kept the orphan .eml: %v", err)
	}
	d.Stop()
}
