package upgrade

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/aimx-dev/aimx/domains"
)

// fixtureRoot holds the Rust installs (testdata/fixtures/rust-install/README.md).
const fixtureRoot = "../testdata/fixtures/rust-install"

// install lays a copy of a fixture tree (v1 or v2) in a temp dir: its
// etc/ as the config dir, its data/ as the data dir, with the modes of
// vN.modes.tsv and the empty dirs git cannot keep (fixture README, "How
// to use"). Owners are left as they are: the fixture's users need not
// exist here.
func install(t *testing.T, version string) domains.Paths {
	t.Helper()
	src := filepath.Join(fixtureRoot, version)
	if _, err := os.Stat(src); err != nil {
		t.Fatalf("fixtures missing (testdata/fixtures in the repo): %v", err)
	}
	dst := t.TempDir()
	copyTree(t, src, dst)
	f, err := os.Open(filepath.Join(fixtureRoot, version+".modes.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		cols := strings.Split(line, "\t")
		if len(cols) != 4 {
			t.Fatalf("modes line %q", line)
		}
		mode, err := strconv.ParseUint(cols[0], 8, 32)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dst, cols[3])
		if cols[2] == "d-empty" {
			if err := os.MkdirAll(p, 0o700); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chmod(p, os.FileMode(mode)); err != nil {
			t.Fatal(err)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return domains.Paths{ConfigDir: filepath.Join(dst, "etc"), DataDir: filepath.Join(dst, "data"), RuntimeDir: filepath.Join(dst, "run")}
}

// copyTree copies regular files and dirs from src to dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(to, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// snapshot records every path below root (relative), its type, mode and,
// for files, its content. Crash leftovers of the durable writer (dot-named
// temp files) and the config lock file are left out: neither is part of
// the result.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		name := d.Name()
		if strings.Contains(name, ".tmp-") || strings.HasSuffix(name, domains.LockSuffix) {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		v := fmt.Sprintf("%v", fi.Mode())
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			v += " " + string(b)
		}
		out[rel] = v
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// diffSnap describes how two snapshots differ ("" when equal).
func diffSnap(a, b map[string]string) string {
	var d []string
	for k, v := range a {
		if w, ok := b[k]; !ok {
			d = append(d, "only in first: "+k)
		} else if v != w {
			d = append(d, "differs: "+k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			d = append(d, "only in second: "+k)
		}
	}
	sort.Strings(d)
	return strings.Join(d, "\n")
}

// installRoot is the temp dir holding an install's etc/ and data/.
func installRoot(p domains.Paths) string { return filepath.Dir(p.ConfigDir) }

// logTo returns a logger writing JSON lines into buf.
func logTo(buf *bytes.Buffer) zerolog.Logger { return zerolog.New(buf) }

func mustRun(t *testing.T, o Options) Report {
	t.Helper()
	rep, err := Run(o)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return rep
}
