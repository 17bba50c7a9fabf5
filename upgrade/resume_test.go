package upgrade

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/internal/safefs"
	"github.com/aimx-dev/aimx/storage"
)

var errCrash = errors.New("simulated crash")

// reference is the result of one clean migration of the v1 fixture,
// relative to its install dir.
func reference(t *testing.T) (map[string]string, int) {
	t.Helper()
	p := install(t, "v1")
	renames := 0
	o := Options{Paths: p}
	o.seams.rename = func(from *safefs.Dir, oldName string, to *safefs.Dir, newName string, replace bool) error {
		renames++
		return rename(from, oldName, to, newName, replace)
	}
	mustRun(t, o)
	return snapshot(t, installRoot(p)), renames
}

// resumeAndCompare reruns the migration with no fault and checks that the
// install ends identical to a clean migration's, and that one more run is
// a no-op.
func resumeAndCompare(t *testing.T, p domains.Paths, want map[string]string, what string) {
	t.Helper()
	mustRun(t, Options{Paths: p})
	if d := diffSnap(want, snapshot(t, installRoot(p))); d != "" {
		t.Errorf("%s: resumed migration differs from a clean one:\n%s", what, d)
	}
	if rep := mustRun(t, Options{Paths: p}); rep.Migrated {
		t.Errorf("%s: a run after the resumed one did something: %+v", what, rep)
	}
}

// A migration stopped after any step (a crash, a kill) resumes at the
// next start and ends as a clean one (book/upgrade.md).
func TestUpgradeResumesAfterEachStep(t *testing.T) {
	t.Parallel()
	want, _ := reference(t)
	for _, step := range []Step{StepStorage, StepDKIM, StepConfig, StepMarker} {
		p := install(t, "v1")
		o := Options{Paths: p}
		o.seams.after = func(s Step) error {
			if s == step {
				return errCrash
			}
			return nil
		}
		if _, err := Run(o); !errors.Is(err, errCrash) {
			t.Fatalf("after %s: %v", step, err)
		}
		resumeAndCompare(t, p, want, "after "+step.String())
	}
}

// A crash between two renames of one step resumes too.
func TestUpgradeResumesMidStep(t *testing.T) {
	t.Parallel()
	want, n := reference(t)
	if n != 4 { // inbox, sent, public.key, private.key
		t.Fatalf("a clean migration renamed %d times, want 4", n)
	}
	for crashAt := 1; crashAt <= n; crashAt++ {
		p := install(t, "v1")
		calls := 0
		o := Options{Paths: p}
		o.seams.rename = func(from *safefs.Dir, oldName string, to *safefs.Dir, newName string, replace bool) error {
			calls++
			if calls == crashAt {
				return errCrash
			}
			return rename(from, oldName, to, newName, replace)
		}
		if _, err := Run(o); !errors.Is(err, errCrash) {
			t.Fatalf("crash at rename %d: %v", crashAt, err)
		}
		resumeAndCompare(t, p, want, fmt.Sprintf("rename %d", crashAt))
	}
}

// A crash inside the durable writes of the config rewrite or the marker,
// at each of their steps, resumes too: the durable writer leaves the old
// file or the new one (book/storage.md).
func TestUpgradeResumesMidWrite(t *testing.T) {
	t.Parallel()
	want, _ := reference(t)
	for _, target := range []string{"config.toml", ".layout-version"} {
		for step := storage.StepCreateTemp; step <= storage.StepSyncDir; step++ {
			p := install(t, "v1")
			o := Options{Paths: p}
			o.seams.writer.Fault = func(s storage.Step, path string) error {
				if s == step && filepath.Base(path) == target {
					return errCrash
				}
				return nil
			}
			if _, err := Run(o); !errors.Is(err, errCrash) {
				t.Fatalf("%s at %s: %v", target, step, err)
			}
			resumeAndCompare(t, p, want, target+" at "+step.String())
		}
	}
}
