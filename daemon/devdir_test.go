package daemon

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/aimx-dev/aimx/domains/tokens"
)

// TestSeedDevDirToken: a new dev dir gets mcp-token (0600, the secret and
// a newline) for the developer with hook rights; a reused dir keeps it;
// a reused dir that lacks it gains one.
func TestSeedDevDirToken(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d, err := SeedDevDir(dir, nil, "dev")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(d.Seeded, "mcp-token") {
		t.Errorf("seeded %v lacks mcp-token", d.Seeded)
	}
	read := func() string {
		t.Helper()
		fi, err := os.Stat(d.MCPTokenFile())
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("mcp-token mode %v", fi.Mode().Perm())
		}
		b, err := os.ReadFile(d.MCPTokenFile())
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		if !strings.HasSuffix(s, "\n") || strings.Count(s, "\n") != 1 {
			t.Errorf("mcp-token %q: want the token and one newline", s)
		}
		return strings.TrimSuffix(s, "\n")
	}
	secret := read()
	st := &tokens.Store{Path: d.TokensFile()}
	tok, ok := st.Verify(secret)
	if !ok || tok.Owner != "dev" || !tok.AllowHooks || len(tok.Mailboxes) != 0 {
		t.Fatalf("dev token %+v %v", tok, ok)
	}

	d2, err := SeedDevDir(dir, nil, "dev")
	if err != nil {
		t.Fatal(err)
	}
	if len(d2.Seeded) != 0 || read() != secret {
		t.Errorf("a reused dir was re-seeded: %v", d2.Seeded)
	}

	if err := os.Remove(d.MCPTokenFile()); err != nil {
		t.Fatal(err)
	}
	d3, err := SeedDevDir(dir, nil, "dev")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d3.Seeded, []string{"mcp-token"}) || read() == secret {
		t.Errorf("reused dir without mcp-token: seeded %v", d3.Seeded)
	}
	if list, err := st.List(); err != nil || len(list) != 2 {
		t.Errorf("tokens %v %v", list, err)
	}
}
