package operations

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/aimx-dev/aimx/"

// deps lists the project packages pkg depends on, directly or not, as
// `go list -deps` sees them (test files excluded).
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-json=ImportPath", module+pkg).Output()
	if err != nil {
		t.Skipf("go list unavailable: %v", err)
	}
	var paths []string
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p struct{ ImportPath string }
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if rel, ok := strings.CutPrefix(p.ImportPath, module); ok && rel != pkg {
			paths = append(paths, rel)
		}
	}
	return paths
}

// The two doors reach the config and the mail through this package, never
// through each other or the hook runner (book/admin.md, "One set of
// operations"), and this package sits below both.
func TestDoorsImportNeitherEachOtherNorHooks(t *testing.T) {
	t.Parallel()
	for pkg, banned := range map[string][]string{
		"mcp":           {"domains/admin", "hooks", "daemon", "cmd/aimx"},
		"domains/admin": {"mcp", "hooks", "daemon", "cmd/aimx"},
		"operations":    {"mcp", "domains/admin", "hooks", "daemon", "cmd/aimx"},
	} {
		got := deps(t, pkg)
		for _, b := range banned {
			if slices.Contains(got, b) {
				t.Errorf("%s depends on %s (deps: %v)", pkg, b, got)
			}
		}
		if pkg != "operations" && !slices.Contains(got, "operations") {
			t.Errorf("%s does not use the operations layer", pkg)
		}
	}
}
