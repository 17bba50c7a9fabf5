package systemd

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// recorder is a Runner that records each command line and answers from
// a table keyed by the line.
type recorder struct {
	lines []string
	fail  map[string]error
	out   map[string]string
}

func (r *recorder) run(_ context.Context, name string, args ...string) ([]byte, error) {
	line := strings.Join(append([]string{name}, args...), " ")
	r.lines = append(r.lines, line)
	return []byte(r.out[line]), r.fail[line]
}

// exitError returns a real *exec.ExitError with the given status.
func exitError(t *testing.T, code int) error {
	t.Helper()
	err := exec.Command("sh", "-c", "exit "+strconv.Itoa(code)).Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("sh exit %d: %v", code, err)
	}
	return err
}

func TestInstallWritesUnitAndReloads(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "etc", "systemd", "system")
	r := &recorder{}
	s := &Systemctl{Dir: dir, Run: r.run}
	ctx := context.Background()
	if ok, err := s.Installed(); err != nil || ok {
		t.Fatalf("Installed before install = %v, %v", ok, err)
	}
	for _, unit := range []string{"[Unit]\nDescription=one\n", "[Unit]\nDescription=two\n"} {
		if err := s.Install(ctx, []byte(unit)); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(dir, "aimx.service"))
		if err != nil || string(got) != unit {
			t.Fatalf("unit file = %q, %v; want %q", got, err, unit)
		}
	}
	fi, err := os.Stat(s.Path())
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("unit mode = %v, %v; want 0644", fi.Mode(), err)
	}
	if ok, err := s.Installed(); err != nil || !ok {
		t.Fatalf("Installed after install = %v, %v", ok, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("unit dir holds %d entries, want only the unit (no temp file left)", len(entries))
	}
	if err := s.Enable(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Disable(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(ctx); err != nil {
		t.Fatalf("second Remove: %v (a missing unit is not an error)", err)
	}
	if ok, _ := s.Installed(); ok {
		t.Fatal("unit file still there after Remove")
	}
	want := []string{
		"systemctl daemon-reload", "systemctl daemon-reload",
		"systemctl enable aimx.service", "systemctl start aimx.service",
		"systemctl stop aimx.service", "systemctl disable aimx.service",
		"systemctl daemon-reload", "systemctl reset-failed aimx.service",
		"systemctl daemon-reload", "systemctl reset-failed aimx.service",
	}
	if !reflect.DeepEqual(r.lines, want) {
		t.Fatalf("systemctl calls:\n got %q\nwant %q", r.lines, want)
	}
}

func TestFailureCarriesSystemctlOutput(t *testing.T) {
	r := &recorder{
		fail: map[string]error{"systemctl start aimx.service": exitError(t, 1)},
		out:  map[string]string{"systemctl start aimx.service": "Job for aimx.service failed.\n"},
	}
	s := &Systemctl{Dir: t.TempDir(), Run: r.run}
	err := s.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "systemctl start aimx.service") || !strings.Contains(err.Error(), "Job for aimx.service failed.") {
		t.Fatalf("Start error = %v; want the command and systemctl's words", err)
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("Start error %v does not wrap the exit error", err)
	}
}

func TestIsActive(t *testing.T) {
	ctx := context.Background()
	line := "systemctl is-active --quiet aimx.service"
	for _, tc := range []struct {
		name    string
		err     error
		want    bool
		wantErr bool
	}{
		{"active", nil, true, false},
		{"inactive", exitError(t, 3), false, false},
		{"no systemctl", exec.ErrNotFound, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{fail: map[string]error{line: tc.err}}
			got, err := (&Systemctl{Run: r.run}).IsActive(ctx)
			if got != tc.want || (err != nil) != tc.wantErr {
				t.Fatalf("IsActive = %v, %v; want %v, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestBooted(t *testing.T) {
	dir := t.TempDir()
	if !(&Systemctl{BootedPath: dir}).Booted() {
		t.Fatal("Booted = false with the marker dir present")
	}
	if (&Systemctl{BootedPath: filepath.Join(dir, "missing")}).Booted() {
		t.Fatal("Booted = true without the marker dir")
	}
}

func TestFakeRecordsAndFails(t *testing.T) {
	ctx := context.Background()
	f := &Fake{Fail: map[string]error{"start": errors.New("boom")}}
	if err := f.Install(ctx, []byte("u")); err != nil {
		t.Fatal(err)
	}
	if err := f.Enable(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.Start(ctx); err == nil {
		t.Fatal("Start did not fail")
	}
	if active, _ := f.IsActive(ctx); active {
		t.Fatal("a failed Start left the fake active")
	}
	if want := []string{"install", "enable", "start", "is-active"}; !reflect.DeepEqual(f.Calls, want) {
		t.Fatalf("calls %q, want %q", f.Calls, want)
	}
}
