package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/domains/dkimkey"
	"github.com/aimx-dev/aimx/domains/tokens"
	"github.com/aimx-dev/aimx/operations"
	"github.com/aimx-dev/aimx/storage"
)

const dom = "a.test"

// testOwners resolves the test users to the current uid, so chown works as
// root and changes nothing otherwise.
func testOwners(name string) (domains.Owner, error) {
	switch name {
	case "alice", "bob":
		return domains.Owner{Name: name, UID: os.Getuid(), GID: os.Getgid(), Home: "/"}, nil
	}
	return domains.Owner{}, fmt.Errorf("user %s: unknown user", name)
}

// fixture is an Admin over a temp install served on a real admin.sock.
type fixture struct {
	admin  *Admin
	store  *storage.Store
	client *Client
	sock   string
	cfg    string
}

// newFixture serves the API; allow decides which peer uids are operators.
func newFixture(t *testing.T, allow func(uint32) bool) *fixture {
	t.Helper()
	dir := t.TempDir()
	cfg := domains.Default(dom)
	cfg.Mailboxes = map[string]domains.Mailbox{
		"support@" + dom: {Name: "support@" + dom, Owner: "alice"},
		"billing@" + dom: {Name: "billing@" + dom, Owner: "bob"},
	}
	cfgPath := filepath.Join(dir, "config.toml")
	if err := domains.Save(cfgPath, cfg); err != nil {
		t.Fatal(err)
	}
	opts := domains.LoadOptions{LookupOwner: testOwners}
	loaded, err := domains.Load(cfgPath, opts)
	if err != nil {
		t.Fatal(err)
	}
	st, err := storage.Open(filepath.Join(dir, "data"), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	changer := &domains.Changer{Store: &domains.Store{Path: cfgPath, Options: opts}, Registry: domains.NewRegistry(loaded)}
	started := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	a := &Admin{
		Config:      changer,
		Mailboxes:   &operations.Mailboxes{Config: changer, Store: st, LookupOwner: testOwners},
		Hooks:       &operations.Hooks{Config: changer},
		Tokens:      &tokens.Store{Path: filepath.Join(dir, tokens.FileName)},
		Store:       st,
		LookupOwner: testOwners,
		Log:         zerolog.Nop(),
		Status: func() Status {
			return Status{Version: "test", StartedAt: started, UptimeSecs: 5, Listeners: map[string]string{"smtp": "127.0.0.1:1"},
				Domains: changer.Registry.Current().Domains, Mailboxes: len(changer.Registry.Current().Mailboxes), HookJobs: 2}
		},
	}
	run, err := os.MkdirTemp("", "ax")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(run) })
	ln, err := Listen(run)
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(Handler(a, allow, zerolog.Nop()))
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	c := NewClient(run)
	t.Cleanup(func() {
		c.Close()
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	a.Domains = &operations.Domains{Config: changer, Store: st, Keys: dkimkey.NewStore(dir), Mailboxes: a.Mailboxes, Log: zerolog.Nop()}
	return &fixture{admin: a, store: st, client: c, sock: filepath.Join(run, SocketName), cfg: cfgPath}
}

func everyone(uint32) bool { return true }

// wantCode checks that err is an API *Error with this code and status.
func wantCode(t *testing.T, what string, err error, code string, status int) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Errorf("%s: %v (%T), want API error %s", what, err, err, code)
		return
	}
	if e.Code != code || e.Status != status || e.Message == "" {
		t.Errorf("%s: %d %s %q, want %d %s", what, e.Status, e.Code, e.Message, status, code)
	}
}

func TestSocketMode(t *testing.T) {
	t.Parallel()
	f := newFixture(t, everyone)
	fi, err := os.Stat(f.sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != SocketMode {
		t.Errorf("admin.sock mode %v, want socket %v", fi.Mode(), SocketMode)
	}
}

// TestMailboxes: list, create (any owner, catchall, idempotent), delete
// (nonempty refused, force), with every error code these endpoints give.
func TestMailboxes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, everyone)
	ctx := context.Background()
	c := f.client

	got, err := c.CreateMailbox(ctx, NewMailbox{Name: "*", Owner: "bob"})
	if err != nil || got.Name != "*@"+dom || !got.Created {
		t.Fatalf("create catchall: %+v %v", got, err)
	}
	if got, err = c.CreateMailbox(ctx, NewMailbox{Name: "*@" + dom, Owner: "bob"}); err != nil || got.Created {
		t.Fatalf("create again: %+v %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(f.cfg), "data", dom, "inbox", "catchall")); err != nil {
		t.Errorf("catchall storage: %v", err)
	}
	list, err := c.ListMailboxes(ctx)
	if err != nil || len(list.Mailboxes) != 3 || list.Mailboxes[0].Name != "*@"+dom || !list.Mailboxes[0].Catchall || list.Mailboxes[2].Owner != "alice" {
		t.Fatalf("list: %+v %v", list, err)
	}
	if !strings.Contains(readFile(t, f.cfg), `[mailboxes."*@a.test"]`) {
		t.Error("config.toml lacks the catchall")
	}

	for _, c2 := range []struct {
		req    NewMailbox
		code   string
		status int
	}{
		{NewMailbox{Name: "", Owner: "bob"}, CodeValidation, 400},
		{NewMailbox{Name: "Bad Name", Owner: "bob"}, CodeValidation, 400},
		{NewMailbox{Name: "x", Owner: ""}, CodeValidation, 400},
		{NewMailbox{Name: "x", Owner: "mallory"}, CodeValidation, 400},
		{NewMailbox{Name: "x@elsewhere.test", Owner: "bob"}, CodeValidation, 400},
		{NewMailbox{Name: "support", Owner: "bob"}, CodeConflict, 409},
	} {
		_, err := c.CreateMailbox(ctx, c2.req)
		wantCode(t, fmt.Sprintf("create %+v", c2.req), err, c2.code, c2.status)
	}

	putMessage(t, f.store, "support")
	_, err = c.DeleteMailbox(ctx, "support", false)
	wantCode(t, "delete nonempty", err, CodeNonEmpty, 409)
	var e *Error
	if errors.As(err, &e) && e.Messages != 1 {
		t.Errorf("nonempty reports %d messages", e.Messages)
	}
	del, err := c.DeleteMailbox(ctx, "support@"+dom, true)
	if err != nil || del.Name != "support@"+dom || del.DeletedFiles != 2 {
		t.Fatalf("forced delete: %+v %v", del, err)
	}
	_, err = c.DeleteMailbox(ctx, "support", false)
	wantCode(t, "delete missing", err, CodeNotFound, 404)
	if del, err = c.DeleteMailbox(ctx, "*", false); err != nil || del.Name != "*@"+dom {
		t.Fatalf("delete catchall: %+v %v", del, err)
	}
	if _, ok := f.admin.Config.Registry.Current().Mailboxes["*@"+dom]; ok {
		t.Error("deleted catchall still live")
	}
}

// TestHooks: create (named, derived), list (all, one mailbox), delete,
// and the codes validation, not_found and conflict.
func TestHooks(t *testing.T) {
	t.Parallel()
	f := newFixture(t, everyone)
	ctx := context.Background()
	c := f.client
	h, err := c.CreateHook(ctx, HookInfo{Mailbox: "support", Event: "on_receive", Cmd: []string{"/bin/true"}, Name: "t1"})
	if err != nil || h.Name != "t1" || h.Mailbox != "support@"+dom || h.TimeoutSecs != domains.DefaultHookTimeoutSecs {
		t.Fatalf("create: %+v %v", h, err)
	}
	h2, err := c.CreateHook(ctx, HookInfo{Mailbox: "billing@" + dom, Event: "after_send", Cmd: []string{"/bin/echo", "x"}, TimeoutSecs: 9})
	if err != nil || h2.Name != domains.DeriveHookName("after_send", []string{"/bin/echo", "x"}, false) || h2.TimeoutSecs != 9 {
		t.Fatalf("create derived: %+v %v", h2, err)
	}
	all, err := c.ListHooks(ctx, "")
	if err != nil || len(all.Hooks) != 2 {
		t.Fatalf("list: %+v %v", all, err)
	}
	one, err := c.ListHooks(ctx, "billing")
	if err != nil || len(one.Hooks) != 1 || one.Hooks[0].Name != h2.Name {
		t.Fatalf("list billing: %+v %v", one, err)
	}
	_, err = c.ListHooks(ctx, "nobody")
	wantCode(t, "list missing mailbox", err, CodeNotFound, 404)
	for _, bad := range []struct {
		req    HookInfo
		code   string
		status int
	}{
		{HookInfo{Mailbox: "support", Event: "on_receive", Cmd: []string{"true"}}, CodeValidation, 400},
		{HookInfo{Mailbox: "support", Event: "on_boot", Cmd: []string{"/bin/true"}}, CodeValidation, 400},
		{HookInfo{Mailbox: "nobody", Event: "on_receive", Cmd: []string{"/bin/true"}}, CodeNotFound, 404},
		{HookInfo{Mailbox: "billing", Event: "on_receive", Cmd: []string{"/bin/false"}, Name: "t1"}, CodeConflict, 409},
	} {
		_, err := c.CreateHook(ctx, bad.req)
		wantCode(t, fmt.Sprintf("create %+v", bad.req), err, bad.code, bad.status)
	}
	if d, err := c.DeleteHook(ctx, "t1"); err != nil || d.Name != "t1" || d.Mailbox != "support@"+dom {
		t.Fatalf("delete: %+v %v", d, err)
	}
	_, err = c.DeleteHook(ctx, "t1")
	wantCode(t, "delete missing", err, CodeNotFound, 404)
	if _, ok := f.admin.Config.Registry.Current().FindHook(h2.Name); !ok {
		t.Error("the derived hook is not live")
	}
}

// TestTokens: create prints the secret once and it verifies; list shows
// no secret; narrowing is checked against ownership; revoke.
func TestTokens(t *testing.T) {
	t.Parallel()
	f := newFixture(t, everyone)
	ctx := context.Background()
	c := f.client
	tok, err := c.CreateToken(ctx, NewToken{Owner: "alice", Mailboxes: []string{"support"}, AllowHooks: true, Name: "laptop"})
	if err != nil || !strings.HasPrefix(tok.Token, tokens.SecretPrefix) || tok.Owner != "alice" ||
		len(tok.Mailboxes) != 1 || tok.Mailboxes[0] != "support@"+dom || !tok.AllowHooks {
		t.Fatalf("create: %+v %v", tok, err)
	}
	if v, ok := f.admin.Tokens.Verify(tok.Token); !ok || v.ID != tok.ID {
		t.Fatalf("the new secret does not verify")
	}
	list, err := c.ListTokens(ctx)
	if err != nil || len(list.Tokens) != 1 || list.Tokens[0].ID != tok.ID || list.Tokens[0].Name != "laptop" {
		t.Fatalf("list: %+v %v", list, err)
	}
	raw := f.get(t, "/v1/tokens")
	if strings.Contains(raw, tok.Token) || strings.Contains(raw, tokens.HashSecret(tok.Token)) || strings.Contains(raw, `"hash"`) {
		t.Errorf("token list leaks the secret or hash: %s", raw)
	}
	for _, bad := range []NewToken{
		{Owner: ""},
		{Owner: "mallory"},
		{Owner: "alice", Mailboxes: []string{"billing"}},
		{Owner: "alice", Mailboxes: []string{"nobody"}},
		{Owner: "alice", Name: "a\nb"},
	} {
		_, err := c.CreateToken(ctx, bad)
		wantCode(t, fmt.Sprintf("create %+v", bad), err, CodeValidation, 400)
	}
	if r, err := c.RevokeToken(ctx, tok.ID); err != nil || r.ID != tok.ID {
		t.Fatalf("revoke: %+v %v", r, err)
	}
	if _, ok := f.admin.Tokens.Verify(tok.Token); ok {
		t.Error("revoked token verifies")
	}
	_, err = c.RevokeToken(ctx, tok.ID)
	wantCode(t, "revoke again", err, CodeNotFound, 404)

	// A token file that cannot be read is an internal error.
	if err := os.WriteFile(f.admin.Tokens.(*tokens.Store).Path, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = c.ListTokens(ctx)
	wantCode(t, "corrupt tokens.json", err, CodeInternal, 500)
}

// TestReloadAndStatus: reload publishes an edited file; a broken file is
// refused and the running config kept; status reports the daemon.
func TestReloadAndStatus(t *testing.T) {
	t.Parallel()
	f := newFixture(t, everyone)
	ctx := context.Background()
	c := f.client
	cfg := f.admin.Config.Registry.Current().Clone()
	cfg.Domains = append(cfg.Domains, "b.test")
	if err := (&domains.Store{Path: f.cfg}).Save(cfg); err != nil {
		t.Fatal(err)
	}
	r, err := c.Reload(ctx)
	if err != nil || len(r.Domains) != 2 || r.Mailboxes != 2 {
		t.Fatalf("reload: %+v %v", r, err)
	}
	if err := os.WriteFile(f.cfg, []byte("domains = [\"a.test\"]\nbogus = 1\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	_, err = c.Reload(ctx)
	wantCode(t, "reload broken", err, CodeValidation, 400)
	if !f.admin.Config.Registry.Current().HasDomain("b.test") {
		t.Error("a refused reload replaced the running config")
	}
	st, err := c.DaemonStatus(ctx)
	if err != nil || st.Version != "test" || st.HookJobs != 2 || st.Listeners["smtp"] == "" || len(st.Domains) != 2 {
		t.Fatalf("status: %+v %v", st, err)
	}
	// Outside a daemon there is no status.
	_, err = (&Admin{}).DaemonStatus(ctx)
	wantCode(t, "status without daemon", err, CodeInternal, 500)
}

// TestBadRequests: unknown endpoints, wrong methods, bad JSON, unknown
// fields, a bad force value.
func TestBadRequests(t *testing.T) {
	t.Parallel()
	f := newFixture(t, everyone)
	for _, c := range []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"GET", "/v1/nope", "", 404, CodeNotFound},
		{"POST", "/v1/mailboxes", "{", 400, CodeValidation},
		{"POST", "/v1/mailboxes", `{"name":"x","owner":"bob","extra":1}`, 400, CodeValidation},
		{"POST", "/v1/tokens", `{"owner":"alice","mailboxes":"support"}`, 400, CodeValidation},
		{"DELETE", "/v1/mailboxes/support@a.test?force=maybe", "", 400, CodeValidation},
		{"POST", "/v1/hooks", strings.Repeat(" ", maxBody+1), 400, CodeValidation},
		// A method a route does not serve falls to the JSON catch-all.
		{"PUT", "/v1/status", "", 404, CodeNotFound},
	} {
		status, body := f.request(t, c.method, c.path, c.body)
		if status != c.status || !strings.Contains(body, `"code": "`+c.code+`"`) {
			t.Errorf("%s %s: %d %s, want %d %s", c.method, c.path, status, body, c.status, c.code)
		}
	}
}

// TestForbidden: a peer the operator check refuses gets 403 forbidden on
// every endpoint and changes nothing.
func TestForbidden(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(uint32) bool { return false })
	ctx := context.Background()
	_, err := f.client.CreateMailbox(ctx, NewMailbox{Name: "x", Owner: "bob"})
	wantCode(t, "create as non-operator", err, CodeForbidden, 403)
	_, err = f.client.DaemonStatus(ctx)
	wantCode(t, "status as non-operator", err, CodeForbidden, 403)
	_, err = f.client.ListDomains(ctx)
	wantCode(t, "domains list as non-operator", err, CodeForbidden, 403)
	_, err = f.client.AddDomain(ctx, NewDomain{Domain: "b.test"})
	wantCode(t, "domains add as non-operator", err, CodeForbidden, 403)
	_, err = f.client.RemoveDomain(ctx, dom, true)
	wantCode(t, "domains remove as non-operator", err, CodeForbidden, 403)
	if len(f.admin.Config.Registry.Current().Domains) != 1 {
		t.Error("a forbidden request changed the domains")
	}
	if _, ok := f.admin.Config.Registry.Current().Mailboxes["x@"+dom]; ok {
		t.Error("a forbidden request changed the config")
	}
}

func TestOperatorUID(t *testing.T) {
	t.Parallel()
	op := OperatorUID(1000)
	for uid, want := range map[uint32]bool{0: true, 1000: true, 1001: false, 65534: false} {
		if op(uid) != want {
			t.Errorf("uid %d: %v", uid, !want)
		}
	}
}

func TestDaemonDown(t *testing.T) {
	t.Parallel()
	run, err := os.MkdirTemp("", "ax")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(run)
	c := NewClient(run)
	if _, err := c.DaemonStatus(context.Background()); !errors.Is(err, ErrDaemonDown) {
		t.Errorf("no socket: %v", err)
	}
	// A socket nobody accepts on (a crashed daemon's) is down too.
	ln, err := net.Listen("unix", filepath.Join(run, SocketName))
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	if _, err := c.DaemonStatus(context.Background()); !errors.Is(err, ErrDaemonDown) {
		t.Errorf("stale socket: %v", err)
	}
}

// request sends a raw request over the fixture's socket.
func (f *fixture) request(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://aimx"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := f.client.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	return resp.StatusCode, string(b)
}

func (f *fixture) get(t *testing.T, path string) string {
	t.Helper()
	status, body := f.request(t, "GET", path, "")
	if status != 200 {
		t.Fatalf("GET %s: %d %s", path, status, body)
	}
	return body
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// putMessage stores one inbound message in a mailbox of dom.
func putMessage(t *testing.T, st *storage.Store, local string) {
	t.Helper()
	at := time.Date(2026, 11, 2, 9, 41, 7, 0, time.UTC)
	_, err := st.Put(context.Background(), storage.PutRequest{Mailbox: storage.MailboxRef{Domain: dom, Local: local}, Folder: storage.Inbox, At: at,
		Raw: []byte("Subject: hi\r\n\r\nbody\r\n"), Body: "body",
		Frontmatter: storage.Frontmatter{MessageID: "m1@x.test", From: "x@x.test", Subject: "hi", Date: at.Format(time.RFC3339),
			ReceivedAt: at, DKIM: "none", SPF: "none", DMARC: "none", Trusted: "none", Mailbox: local + "@" + dom}})
	if err != nil {
		t.Fatal(err)
	}
}
