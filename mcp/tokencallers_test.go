package mcp

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/aimx-dev/aimx/domains/tokens"
)

func TestTokenCallers(t *testing.T) {
	t.Parallel()
	st := &tokens.Store{Path: filepath.Join(t.TempDir(), tokens.FileName)}
	_, narrow, err := st.Create(tokens.New{Owner: "alice", Mailboxes: []string{support}})
	if err != nil {
		t.Fatal(err)
	}
	rootTok, hooksSecret, err := st.Create(tokens.New{Owner: "root", AllowHooks: true})
	if err != nil {
		t.Fatal(err)
	}
	v := TokenCallers{Store: st}
	c, ok := v.Verify(narrow)
	if !ok || c.Owner != "alice" || c.Operator || c.AllowHooks || !slices.Equal(c.Mailboxes, []string{support}) {
		t.Errorf("narrow token: %+v %v", c, ok)
	}
	// A token minted for root is still no operator.
	c, ok = v.Verify(hooksSecret)
	if !ok || c.Owner != "root" || c.Operator || !c.AllowHooks || c.narrowed() {
		t.Errorf("hooks token: %+v %v", c, ok)
	}
	if _, err := st.Revoke(rootTok.ID); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{hooksSecret, "", "aimx_nope", "Bearer " + narrow} {
		if c, ok := v.Verify(s); ok {
			t.Errorf("Verify(%q) = %+v", s, c)
		}
	}
}
