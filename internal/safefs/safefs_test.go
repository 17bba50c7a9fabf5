package safefs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func mkRoot(t *testing.T) (*Dir, string) {
	t.Helper()
	dir := t.TempDir()
	d, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, dir
}

func TestOpenFileRefusesSymlinkFIFOAndOversized(t *testing.T) {
	d, dir := mkRoot(t)
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("root only"), 0o600); err != nil {
		t.Fatal(err)
	}
	must(t, os.Symlink(secret, filepath.Join(dir, "link.md")))
	must(t, syscall.Mkfifo(filepath.Join(dir, "fifo.md"), 0o600))
	f, err := os.Create(filepath.Join(dir, "sparse.md"))
	must(t, err)
	must(t, f.Truncate(1<<40)) // 1 TiB, sparse
	f.Close()
	must(t, os.WriteFile(filepath.Join(dir, "ok.md"), []byte("hello"), 0o600))

	cases := []struct {
		name string
		want error
	}{
		{"link.md", ErrSymlink},
		{"fifo.md", ErrNotRegular},
		{"sparse.md", ErrTooLarge},
		{"../x", ErrBadName},
		{"/etc/passwd", ErrBadName},
	}
	for _, c := range cases {
		done := make(chan error, 1)
		go func() { _, err := d.ReadFile(c.name, 1<<20); done <- err }()
		select {
		case err := <-done:
			if !errors.Is(err, c.want) {
				t.Errorf("ReadFile(%s) = %v, want %v", c.name, err, c.want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("ReadFile(%s) blocked", c.name)
		}
	}
	b, err := d.ReadFile("ok.md", 5)
	if err != nil || string(b) != "hello" {
		t.Fatalf("ReadFile(ok.md) = %q, %v", b, err)
	}
}

func TestOpenDirNeverFollowsSymlinkComponents(t *testing.T) {
	d, dir := mkRoot(t)
	outside := t.TempDir()
	must(t, os.WriteFile(filepath.Join(outside, "f"), []byte("x"), 0o600))
	must(t, os.Mkdir(filepath.Join(dir, "real"), 0o700))
	must(t, os.Symlink(outside, filepath.Join(dir, "real", "sub")))
	if _, err := d.OpenDir("real/sub"); !errors.Is(err, ErrSymlink) {
		t.Fatalf("OpenDir through symlink = %v", err)
	}
	if _, err := d.ReadFile("real/sub/f", 10); !errors.Is(err, ErrSymlink) {
		t.Fatalf("ReadFile through symlink = %v", err)
	}
}

// A directory held open keeps being used even when its path is swapped
// for a symlink: nothing lands outside.
func TestHeldDirSurvivesSwap(t *testing.T) {
	d, dir := mkRoot(t)
	sub, err := d.Mkdir("box", 0o750, nil)
	must(t, err)
	defer sub.Close()
	outside := t.TempDir()
	must(t, os.Rename(filepath.Join(dir, "box"), filepath.Join(dir, "moved")))
	must(t, os.Symlink(outside, filepath.Join(dir, "box")))
	f, err := sub.Create("x.md", 0o640, nil)
	must(t, err)
	f.Close()
	if _, err := os.Stat(filepath.Join(outside, "x.md")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("file landed outside")
	}
	if _, err := os.Stat(filepath.Join(dir, "moved", "x.md")); err != nil {
		t.Fatal(err)
	}
}

func TestEnsureDirAndRemoveAll(t *testing.T) {
	d, dir := mkRoot(t)
	sub, created, err := d.EnsureDir("a", 0o750, nil)
	must(t, err)
	if !created {
		t.Fatal("not created")
	}
	must(t, os.WriteFile(filepath.Join(dir, "a", "f"), nil, 0o600))
	outside := t.TempDir()
	must(t, os.WriteFile(filepath.Join(outside, "keep"), nil, 0o600))
	must(t, os.Symlink(outside, filepath.Join(dir, "a", "l")))
	sub.Close()
	must(t, os.Chmod(filepath.Join(dir, "a"), 0o777))
	sub, created, err = d.EnsureDir("a", 0o750, nil)
	must(t, err)
	sub.Close()
	if fi, _ := os.Stat(filepath.Join(dir, "a")); created || fi.Mode().Perm() != 0o750 {
		t.Fatalf("created=%v mode=%v", created, fi.Mode())
	}
	must(t, os.Symlink(outside, filepath.Join(dir, "s")))
	if _, _, err := d.EnsureDir("s", 0o750, nil); !errors.Is(err, ErrSymlink) {
		t.Fatalf("EnsureDir(symlink) = %v", err)
	}
	n, err := d.RemoveAll("a")
	must(t, err)
	if n != 2 {
		t.Fatalf("removed %d, want 2", n)
	}
	if _, err := os.Stat(filepath.Join(outside, "keep")); err != nil {
		t.Fatal("RemoveAll followed a symlink")
	}
}

func TestMkdirAllCreatesChain(t *testing.T) {
	base := t.TempDir()
	d, err := MkdirAll(filepath.Join(base, "x", "y", "z"), 0o700)
	must(t, err)
	d.Close()
	fi, err := os.Stat(filepath.Join(base, "x", "y", "z"))
	if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Fatalf("%v %v", fi, err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestReadPathCapsAndRefusesFIFO(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "config.toml")
	must(t, os.WriteFile(p, []byte("x = 1\n"), 0o600))
	if b, err := ReadPath(p, 100); err != nil || string(b) != "x = 1\n" {
		t.Fatalf("ReadPath = %q, %v", b, err)
	}
	if _, err := ReadPath(p, 3); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("over the cap: %v", err)
	}
	fifo := filepath.Join(dir, "fifo")
	must(t, syscall.Mkfifo(fifo, 0o600))
	done := make(chan error, 1)
	go func() { _, err := ReadPath(fifo, 100); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, ErrNotRegular) {
			t.Fatalf("FIFO: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ReadPath blocked on a FIFO")
	}
	if _, err := ReadPath(filepath.Join(dir, "missing"), 100); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing: %v", err)
	}
}
