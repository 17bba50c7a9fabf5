package storage

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriterWriteFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var w Writer
	p := filepath.Join(dir, "f")
	if err := w.WriteFile(p, []byte("one"), WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "one" || mode(t, p) != 0o600 {
		t.Errorf("content %q mode %o", b, mode(t, p))
	}
	// Replace is the default; the mode is exact despite the umask.
	if err := w.WriteFile(p, []byte("two"), WriteOptions{Mode: 0o644}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "two" || mode(t, p) != 0o644 {
		t.Errorf("content %q mode %o", b, mode(t, p))
	}
	// NoReplace never overwrites and leaves no temp behind.
	err := w.WriteFile(p, []byte("three"), WriteOptions{NoReplace: true})
	if !errors.Is(err, ErrExist) {
		t.Errorf("no-replace over existing: %v", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "two" {
		t.Errorf("no-replace overwrote: %q", b)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("entries left: %d", len(ents))
	}
	if err := w.WriteFile(filepath.Join(dir, "missing", "f"), nil, WriteOptions{}); err == nil {
		t.Error("write into a missing dir succeeded")
	}
}

// TestWriterFaults: a fault at each step stops the write there, leaves the
// final name absent (or, from publish on, complete), and only dot-named
// temp files otherwise.
func TestWriterFaults(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	for _, noReplace := range []bool{false, true} {
		for step := StepCreateTemp; step <= StepSyncDir; step++ {
			dir := t.TempDir()
			p := filepath.Join(dir, "f")
			var steps []Step
			w := Writer{Fault: func(s Step, path string) error {
				steps = append(steps, s)
				if path != p {
					t.Errorf("fault path %s", path)
				}
				if s == step {
					return boom
				}
				return nil
			}}
			err := w.WriteFile(p, []byte("data"), WriteOptions{NoReplace: noReplace})
			var fe *FaultError
			if !errors.Is(err, boom) || !errors.As(err, &fe) || fe.Step != step {
				t.Fatalf("%s: err = %v", step, err)
			}
			if steps[len(steps)-1] != step || len(steps) != int(step)+1 {
				t.Errorf("%s: steps %v", step, steps)
			}
			b, rerr := os.ReadFile(p)
			if step <= StepPublish && rerr == nil {
				t.Errorf("%s: final name exists", step)
			}
			if step > StepPublish && string(b) != "data" {
				t.Errorf("%s: final content %q %v", step, b, rerr)
			}
			ents, _ := os.ReadDir(dir)
			for _, e := range ents {
				if e.Name() != "f" && !strings.HasPrefix(e.Name(), ".") {
					t.Errorf("%s: non-dot leftover %s", step, e.Name())
				}
			}
		}
	}
}

func TestPublishDirNoReplace(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var w Writer
	tmp, final := filepath.Join(dir, ".tmp"), filepath.Join(dir, "final")
	for _, d := range []string{tmp, final} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.PublishDir(tmp, final, false); !errors.Is(err, ErrExist) {
		t.Errorf("publish over existing dir: %v", err)
	}
	if err := os.Remove(final); err != nil {
		t.Fatal(err)
	}
	if err := w.PublishDir(tmp, final, false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Errorf("temp dir still there: %v", err)
	}
	if (Step(99)).String() != "step-99" || StepSyncDir.String() != "sync-dir" {
		t.Error("step names")
	}
}
