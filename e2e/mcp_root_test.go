package e2e

import (
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
)

// TestMCPOwnersNonDev is the issue's Done-when as root: non-dev `aimx
// serve` with a mailbox owned by nobody and one owned by daemon. `aimx
// mcp` run as nobody lists only nobody's mailbox and reads the other
// owner's message exactly like a missing one; the same holds over HTTP
// with a token minted for each owner.
func TestMCPOwnersNonDev(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root: aimx mcp must run as nobody and the daemon must own mail for nobody and daemon (runs in CI, which is root)")
	}
	for _, name := range []string{"nobody", "daemon"} {
		if _, err := user.Lookup(name); err != nil {
			t.Fatalf("running as root but user %s does not resolve: %v", name, err)
		}
	}
	// nobody runs the binary and reaches aimx.sock.
	if err := os.Chmod(filepath.Dir(aimxBinary(t)), 0o755); err != nil {
		t.Fatal(err)
	}
	dir := newDevDir(t)
	nb, dm := "nb@"+hookDomain, "dm@"+hookDomain
	cfg := "domains = [\"" + hookDomain + "\"]\ndata_dir = \"" + dir + "/data\"\nruntime_dir = \"" + dir + "/run\"\n\n" +
		"[smtp]\nlisten = \"127.0.0.1:0\"\n\n[mcp]\nhttp_listen = \"127.0.0.1:0\"\n\n" +
		mailboxTOML("nb", "nobody") + mailboxTOML("dm", "daemon")
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(cfg), 0o640); err != nil {
		t.Fatal(err)
	}
	d := StartServe(t, dir)
	for _, rcpt := range []string{nb, dm} {
		if err := d.Deliver("bob@example.test", []string{rcpt}, hookMessage(rcpt, rcpt+".1@example.test", "for "+rcpt)); err != nil {
			t.Fatal(err)
		}
	}
	_, nobodyTok := d.mintToken("--owner", "nobody")
	_, daemonTok := d.mintToken("--owner", "daemon")
	daemonSess := connect(t, connectOpts{via: viaHTTP, version: protocolVersions[1], token: daemonTok, httpAddr: d.Listen["mcp_http"]})
	dmID := onlyMailbox(t, daemonSess, dm)
	if info, err := os.Stat(d.Listen["mcp_unix"]); err != nil || info.Mode().Perm() != 0o666 {
		t.Fatalf("aimx.sock: %v %v", info, err)
	}

	nobodyUID := uint32(65534)
	for _, v := range protocolVersions {
		t.Run("stdio as nobody/"+v, func(t *testing.T) {
			s := connect(t, connectOpts{via: viaStdio, version: v, uid: &nobodyUID,
				stdioEnv: []string{"AIMX_RUNTIME_DIR=" + filepath.Join(dir, "run")}})
			onlyMailbox(t, s, nb)
			hiddenLikeMissing(t, s, dm, dmID)
		})
		t.Run("http as nobody/"+v, func(t *testing.T) {
			s := connect(t, connectOpts{via: viaHTTP, version: v, token: nobodyTok, httpAddr: d.Listen["mcp_http"]})
			nbID := onlyMailbox(t, s, nb)
			hiddenLikeMissing(t, s, dm, dmID)
			hiddenLikeMissing(t, daemonSess, nb, nbID)
		})
	}
	// The operator on aimx.sock (root) sees both.
	op := connect(t, connectOpts{via: viaUnix, version: protocolVersions[0], socket: d.Listen["mcp_unix"]})
	if n := len(op.call("mailbox_list", nil).ok(t).s["mailboxes"].([]any)); n != 2 {
		t.Fatalf("operator sees %d mailboxes, want 2", n)
	}
}

// onlyMailbox checks that s sees exactly mailbox name, holding one email,
// and returns that email's id.
func onlyMailbox(t *testing.T, s *mcpSession, name string) string {
	t.Helper()
	mbs := s.call("mailbox_list", nil).ok(t).s["mailboxes"].([]any)
	if len(mbs) != 1 || mbs[0].(map[string]any)["name"] != name {
		t.Fatalf("mailbox_list = %v, want only %s", mbs, name)
	}
	emails := s.call("email_list", map[string]any{"mailbox": name}).ok(t).s["emails"].([]any)
	if len(emails) != 1 {
		t.Fatalf("email_list %s = %v", name, emails)
	}
	id := emails[0].(map[string]any)["id"].(string)
	if got := s.call("email_read", map[string]any{"mailbox": name, "id": id}).ok(t).s["subject"]; got != "for "+name {
		t.Fatalf("email_read %s: subject %v", name, got)
	}
	return id
}

// hiddenLikeMissing checks that every read of another owner's mailbox
// answers, byte for byte, what the same call on a missing mailbox does.
func hiddenLikeMissing(t *testing.T, s *mcpSession, hidden, id string) {
	t.Helper()
	missing := "zz-missing@" + hookDomain
	for _, tool := range []string{"email_read", "email_list", "email_mark_read"} {
		got := s.call(tool, map[string]any{"mailbox": hidden, "id": id})
		want := s.call(tool, map[string]any{"mailbox": missing, "id": id})
		if !got.isError || !want.isError || got.text != strings.ReplaceAll(want.text, missing, hidden) {
			t.Errorf("%s on another owner's mailbox answered %q; a missing one answers %q", tool, got.text, want.text)
		}
	}
}
