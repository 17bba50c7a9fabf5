package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// adminGet is `curl --unix-socket DIR/run/admin.sock http://aimx/PATH`.
func adminGet(t *testing.T, d *Daemon, path string) (int, []byte) {
	t.Helper()
	sock := filepath.Join(d.Dir, "run", "admin.sock")
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var dl net.Dialer
			return dl.DialContext(ctx, "unix", sock)
		}}}
	defer c.CloseIdleConnections()
	resp, err := c.Get("http://aimx" + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

// startAdminDev starts a dev daemon with MCP HTTP on a free port (the dev
// default, 3025, would collide between tests).
func startAdminDev(t *testing.T) *Daemon {
	t.Helper()
	return StartDev(t, DaemonOptions{Extra: []string{"--mcp-http", "127.0.0.1:0"}})
}

// TestAdminSocketAndTokens: against a running dev daemon, admin.sock is
// 0600 and answers status; the dev mcp-token exists; `aimx tokens` creates
// (printed once, stored as a hash), lists and revokes through the socket;
// `aimx reload` reloads.
func TestAdminSocketAndTokens(t *testing.T) {
	t.Parallel()
	d := startAdminDev(t)
	me := currentUser(t)

	fi, err := os.Stat(filepath.Join(d.Dir, "run", "admin.sock"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Errorf("admin.sock mode %v", fi.Mode())
	}
	status, body := adminGet(t, d, "/v1/status")
	var st struct {
		Version   string            `json:"version"`
		Listeners map[string]string `json:"listeners"`
		Domains   []string          `json:"domains"`
		Mailboxes int               `json:"mailboxes"`
		HookJobs  *int              `json:"hook_jobs"`
		Queue     *int              `json:"queue"`
	}
	if status != 200 || json.Unmarshal(body, &st) != nil || st.Version == "" || st.Listeners["smtp"] != d.SMTPAddr() ||
		st.Listeners["admin"] == "" || len(st.Domains) != 1 || st.Mailboxes != 2 || st.HookJobs == nil || st.Queue == nil {
		t.Fatalf("status: %d %s", status, body)
	}
	if status, body := adminGet(t, d, "/v1/nope"); status != 404 || !bytes.Contains(body, []byte(`"code": "not_found"`)) {
		t.Errorf("unknown endpoint: %d %s", status, body)
	}

	// The dev dir's token: 0600, one line, listed as the developer's.
	devTok, err := os.ReadFile(filepath.Join(d.Dir, "mcp-token"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(devTok, []byte("aimx_")) || !bytes.HasSuffix(devTok, []byte("\n")) {
		t.Errorf("mcp-token %q", devTok)
	}

	out, errOut, code := d.CLI("tokens", "create", "--owner", me, "--allow-hooks", "--mailbox", "hello", "--name", "laptop", "--json")
	if code != 0 {
		t.Fatalf("tokens create: %d %s", code, errOut)
	}
	var created struct {
		ID, Owner, Token string
		Mailboxes        []string
	}
	if err := json.Unmarshal([]byte(out), &created); err != nil || !strings.HasPrefix(created.Token, "aimx_") ||
		created.Owner != me || len(created.Mailboxes) != 1 || created.Mailboxes[0] != "hello@agent.localhost" {
		t.Fatalf("tokens create: %s (%v)", out, err)
	}
	if strings.Contains(errOut, "not running") {
		t.Errorf("tokens create fell back with the daemon up: %s", errOut)
	}
	file, err := os.ReadFile(filepath.Join(d.Dir, "tokens.json"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(file, []byte(created.Token)) || bytes.Contains(file, bytes.TrimSpace(devTok)) {
		t.Errorf("tokens.json holds a secret")
	}
	// Text output shows the token once and says so.
	out, _, code = d.CLI("tokens", "create", "--owner", me)
	if code != 0 || !strings.HasPrefix(out, "aimx_") || !strings.Contains(out, "only time the token is shown") {
		t.Errorf("tokens create text: %d %q", code, out)
	}

	out, _, code = d.CLI("tokens", "list", "--json")
	var list struct {
		Tokens []struct{ ID, Name, Owner string }
	}
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list.Tokens) != 3 || strings.Contains(out, "aimx_") {
		t.Fatalf("tokens list: %d %s", code, out)
	}
	if out, errOut, code = d.CLI("tokens", "revoke", created.ID); code != 0 || !strings.Contains(out, "revoked token "+created.ID) {
		t.Fatalf("revoke: %d %s %s", code, out, errOut)
	}
	if _, errOut, code = d.CLI("tokens", "revoke", created.ID); code != 1 || !strings.Contains(errOut, "no token "+created.ID) {
		t.Errorf("revoke again: %d %s", code, errOut)
	}
	if _, errOut, code = d.CLI("tokens", "create", "--owner", "no-such-user-x"); code != 1 || !strings.Contains(errOut, "not a user") {
		t.Errorf("unknown owner: %d %s", code, errOut)
	}

	if out, errOut, code = d.CLI("reload"); code != 0 || !strings.Contains(out, "reloaded: 1 domains") {
		t.Errorf("reload: %d %s %s", code, out, errOut)
	}
	waitLog(t, d, "admin: reload: config is live")
}

// TestMailboxAndHookCLIThroughSockets: with the daemon up, `aimx mailboxes
// create|delete` and `aimx hooks create|delete` go over aimx.sock (live at
// once, no hint), catchalls over admin.sock; with it down, the operator's
// changes edit config.toml and print the restart hint, and reload says the
// daemon is not running.
func TestMailboxAndHookCLIThroughSockets(t *testing.T) {
	t.Parallel()
	d := startAdminDev(t)
	me := currentUser(t)

	out, errOut, code := d.CLI("mailboxes", "create", "x")
	if code != 0 || !strings.Contains(out, "created mailbox x@agent.localhost") || errOut != "" {
		t.Fatalf("create x: %d %q %q", code, out, errOut)
	}
	// Live for the next SMTP transaction: the daemon stores mail for it.
	if err := d.Deliver("a@example.com", []string{"x@agent.localhost"}, hookMessage("x@agent.localhost", "m1@example.com", "hi")); err != nil {
		t.Fatalf("deliver to the new mailbox: %v", err)
	}
	out, _, code = d.CLI("mailboxes", "create", "x", "--json")
	if code != 0 || strings.TrimSpace(out) != "{\n  \"name\": \"x@agent.localhost\"\n}" {
		t.Errorf("create again --json: %d %q", code, out)
	}
	out, errOut, code = d.CLI("hooks", "create", "--mailbox", "x", "--event", "on_receive", "--name", "h1", "--", "/bin/true")
	if code != 0 || !strings.Contains(out, "h1") {
		t.Fatalf("hooks create: %d %q %q", code, out, errOut)
	}
	if _, errOut, code = d.CLI("hooks", "create", "--mailbox", "x", "--event", "on_receive", "--name", "h1", "--", "/bin/true"); code != 1 || !strings.Contains(errOut, "h1") {
		t.Errorf("duplicate hook: %d %q", code, errOut)
	}
	if out, _, code = d.CLI("hooks", "list", "--mailbox", "x", "--json"); code != 0 || !strings.Contains(out, `"name": "h1"`) {
		t.Errorf("hooks list: %d %s", code, out)
	}
	if out, errOut, code = d.CLI("hooks", "delete", "h1"); code != 0 || !strings.Contains(out, "h1") {
		t.Errorf("hooks delete: %d %q %q", code, out, errOut)
	}
	// Non-empty without --force is refused in shell terms.
	if _, errOut, code = d.CLI("mailboxes", "delete", "x"); code != 1 || !strings.Contains(errOut, "--force") {
		t.Errorf("delete nonempty: %d %q", code, errOut)
	}
	if out, errOut, code = d.CLI("mailboxes", "delete", "x", "--force", "--json"); code != 0 || !strings.Contains(out, `"deleted_files": 2`) {
		t.Errorf("delete --force: %d %q %q", code, out, errOut)
	}
	// Catchalls go through admin.sock.
	if out, errOut, code = d.CLI("mailboxes", "delete", "*"); code != 0 || !strings.Contains(out, "deleted mailbox *@agent.localhost") {
		t.Errorf("delete catchall: %d %q %q", code, out, errOut)
	}
	if out, errOut, code = d.CLI("mailboxes", "create", "*@agent.localhost"); code != 0 || !strings.Contains(out, "created mailbox *@agent.localhost (owner "+me+")") {
		t.Errorf("create catchall: %d %q %q", code, out, errOut)
	}

	d.Stop()
	out, errOut, code = d.CLI("mailboxes", "create", "y")
	if code != 0 || !strings.Contains(out, "created mailbox y@agent.localhost") ||
		!strings.Contains(errOut, "daemon not running: changed config.toml; start aimx serve to apply") {
		t.Errorf("create with the daemon down: %d %q %q", code, out, errOut)
	}
	cfg, err := os.ReadFile(filepath.Join(d.Dir, "config.toml"))
	if err != nil || !strings.Contains(string(cfg), `[mailboxes."y@agent.localhost"]`) {
		t.Errorf("config.toml lacks y: %v\n%s", err, cfg)
	}
	if _, errOut, code = d.CLI("reload"); code != 1 || !strings.Contains(errOut, "daemon not running") {
		t.Errorf("reload with the daemon down: %d %q", code, errOut)
	}
	if out, errOut, code = d.CLI("tokens", "list"); code != 0 || !strings.Contains(out, "dev mcp-token") {
		t.Errorf("tokens list with the daemon down: %d %q %q", code, out, errOut)
	}
}

// TestCLIAsNobody: a user who is not the operator acts as itself over
// aimx.sock (the mailbox it creates is its own), cannot use admin.sock,
// and with the daemon down is told the daemon must be running.
func TestCLIAsNobody(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: runs the CLI as nobody")
	}
	t.Parallel()
	d := startAdminDev(t)
	// nobody must reach the binary and aimx.sock (the dir modes guard
	// them; the socket itself is 0666).
	for _, p := range []string{filepath.Dir(aimxBinary(t)), d.Dir, filepath.Join(d.Dir, "run")} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	asNobody := func(args ...string) (string, string, int) {
		t.Helper()
		var out, errb bytes.Buffer
		cmd := exec.Command(aimxBinary(t), append([]string{"--config-dir", d.Dir, "--runtime-dir", filepath.Join(d.Dir, "run")}, args...)...)
		cmd.Dir = "/"
		cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=/"}
		cmd.Stdout, cmd.Stderr = &out, &errb
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		err := cmd.Run()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return out.String(), errb.String(), ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), errb.String(), 0
	}
	out, errOut, code := asNobody("mailboxes", "create", "nb")
	if code != 0 || !strings.Contains(out, "created mailbox nb@agent.localhost") {
		t.Fatalf("nobody creates: %d %q %q", code, out, errOut)
	}
	out, _, code = d.CLI("mailboxes", "list", "--json")
	if code != 0 || !strings.Contains(out, "\"name\": \"nb@agent.localhost\",\n      \"owner\": \"nobody\"") {
		t.Errorf("nb is not nobody's: %s", out)
	}
	// nobody cannot read the config: list goes through the daemon and
	// shows only its own mailbox.
	out, errOut, code = asNobody("mailboxes", "list", "--json")
	if code != 0 || !strings.Contains(out, "nb@agent.localhost") || strings.Contains(out, "hello@") {
		t.Errorf("nobody's list: %d %q %q", code, out, errOut)
	}
	if _, errOut, code = asNobody("mailboxes", "create", "other", "--owner", "root"); code != 1 || !strings.Contains(errOut, "only the operator") {
		t.Errorf("nobody with --owner: %d %q", code, errOut)
	}
	if _, errOut, code = asNobody("tokens", "list"); code != 1 || !strings.Contains(errOut, "only the operator") {
		t.Errorf("nobody lists tokens: %d %q", code, errOut)
	}
	d.Stop()
	if _, errOut, code = asNobody("mailboxes", "create", "nb2"); code != 1 || !strings.Contains(errOut, "daemon must be running") {
		t.Errorf("nobody with the daemon down: %d %q", code, errOut)
	}
}
