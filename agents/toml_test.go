package agents

import (
	"strings"
	"testing"
)

// TestTOMLCut: aimx's tables go with the blank lines before them; the
// comments that introduce the next table stay, and so does text in a
// multi-line string that looks like a header.
func TestTOMLCut(t *testing.T) {
	t.Parallel()
	doc := "a = 1\n\n[mcp_servers.aimx]\ncommand = \"/x\"\n\n[mcp_servers.aimx.env]\nK = \"v\"\n\n# about b\n[b]\ns = '''\n[mcp_servers.aimx]\n'''\n"
	got := string(cutTOMLTables([]byte(doc), []string{"mcp_servers"}, "aimx"))
	want := "a = 1\n\n# about b\n[b]\ns = '''\n[mcp_servers.aimx]\n'''\n"
	if got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
	for _, h := range []string{`[ mcp_servers . "aimx" ]`, `[mcp_servers.'aimx'.env]`, `[[mcp_servers.aimx.x]]`} {
		if !isOurHeader(h, []string{"mcp_servers", "aimx"}) {
			t.Errorf("%s is not recognised", h)
		}
	}
	for _, h := range []string{`[mcp_servers.aimx2]`, `[mcp_servers]`, `["mcp_servers.aimx"]`} {
		if isOurHeader(h, []string{"mcp_servers", "aimx"}) {
			t.Errorf("%s is taken for aimx's", h)
		}
	}
}

// TestTOMLInlineRefused: an entry the text edit cannot see is refused,
// never duplicated.
func TestTOMLInlineRefused(t *testing.T) {
	t.Parallel()
	h, _ := Lookup("codex")
	c := tomlCodec{}
	for _, doc := range []string{
		"mcp_servers = { aimx = { command = \"/x\" } }\n",
		"[mcp_servers]\naimx.command = \"/x\"\n",
	} {
		if _, err := c.put([]byte(doc), h.ServersPath, ServerName, h.Entry(stdioServer()), nil); err == nil || !strings.Contains(err.Error(), "by hand") {
			t.Errorf("%q: %v", doc, err)
		}
	}
	// An inline servers table cannot take a new [mcp_servers.aimx].
	if _, err := c.put([]byte("mcp_servers = { other = { command = \"/y\" } }\n"), h.ServersPath, ServerName, h.Entry(stdioServer()), nil); err == nil {
		t.Error("added a table to an inline table")
	}
}

// TestTOMLStrings: only escapes TOML has.
func TestTOMLStrings(t *testing.T) {
	t.Parallel()
	if got := tomlString("a\"b\\c\n\x01é"); got != `"a\"b\\c\n\u0001é"` {
		t.Errorf("%s", got)
	}
	if tomlKey("Authorization") != "Authorization" || tomlKey("a.b") != `"a.b"` {
		t.Error("keys")
	}
}
