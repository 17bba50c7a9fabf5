package agents

import (
	"bytes"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// testToken is a made-up token in the shape of book/tokens.md's.
const testToken = "aimx_TESTtokenTESTtokenTESTtokenTESTtokenTES"

// testEnv is a temp HOME and project dir, with no environment variables
// and every harness binary "installed" in /usr/local/bin.
func testEnv(t *testing.T, vars map[string]string) Env {
	t.Helper()
	return Env{
		Home:       t.TempDir(),
		ProjectDir: t.TempDir(),
		Getenv:     func(k string) string { return vars[k] },
		LookPath:   func(name string) (string, error) { return "/usr/local/bin/" + name, nil },
	}
}

// stdioServer is the bridge of a dev install (book/dev-mode.md).
func stdioServer() Server {
	return Server{Command: []string{"/usr/local/bin/aimx", "--config-dir", "/home/agent/.aimx-dev", "mcp"}}
}

// httpServer is a remote agent's (book/mcp.md, "Remote agents").
func httpServer() Server { return Server{URL: "http://mail.example.com:3025/mcp", Token: testToken} }

// fixtureExt is the extension of each harness's config fixture.
func fixtureExt(h Harness) string {
	return map[Format]string{JSON: "json", TOML: "toml", YAML: "yaml"}[h.Format]
}

// golden compares got with testdata/name.golden (rewritten with -update).
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./agents -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./agents -update rewrites it):\n%s", path, got)
	}
}

// rendered is the plan with the real token, paths relative to $HOME and
// $PROJECT, as the golden files hold it.
func rendered(t *testing.T, p *Plan, env Env) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := p.render(&b, false); err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(b.String(), env.Home, "$HOME")
	return []byte(strings.ReplaceAll(s, env.ProjectDir, "$PROJECT"))
}

// tree lists every file under dir with its content.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			out[rel+"/"] = ""
			return nil
		}
		b, err := os.ReadFile(p)
		out[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readTest(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
