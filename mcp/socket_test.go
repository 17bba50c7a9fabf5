package mcp

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	"github.com/rs/zerolog"

	"github.com/aimx-dev/aimx/storage"
)

func TestPeerCallers(t *testing.T) {
	t.Parallel()
	names := map[uint32]string{0: "root", 1000: "alice", 1001: "daemonuser"}
	lookup := func(uid uint32) (string, error) {
		if n, ok := names[uid]; ok {
			return n, nil
		}
		return "", errors.New("unknown uid")
	}
	p := PeerCallers{DaemonUID: 1001, LookupUID: lookup}
	for _, tc := range []struct {
		uid  uint32
		want Caller
		ok   bool
	}{
		{0, Caller{Owner: "root", Operator: true, AllowHooks: true}, true},
		{1001, Caller{Owner: "daemonuser", Operator: true, AllowHooks: true}, true},
		{1000, Caller{Owner: "alice", AllowHooks: true}, true},
		{4242, Caller{}, false},
	} {
		got, ok := p.Caller(tc.uid)
		if ok != tc.ok || got.Owner != tc.want.Owner || got.Operator != tc.want.Operator || got.AllowHooks != tc.want.AllowHooks || got.narrowed() {
			t.Errorf("uid %d: %+v, %v; want %+v, %v", tc.uid, got, ok, tc.want, tc.ok)
		}
	}
	// The operator's uid without a name still is the operator.
	p = PeerCallers{DaemonUID: 4242, LookupUID: lookup}
	if got, ok := p.Caller(4242); !ok || !got.Operator || got.Owner != "4242" {
		t.Errorf("unnamed daemon uid: %+v, %v", got, ok)
	}
	// The real lookup resolves this process's uid.
	if got, ok := (PeerCallers{DaemonUID: os.Geteuid()}).Caller(uint32(os.Getuid())); !ok || got.Owner == "" || !got.Operator {
		t.Errorf("own uid: %+v, %v", got, ok)
	}
}

// sockDir is a short runtime dir: socket paths must stay under 108 bytes.
func sockDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "axm")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// serveSocket serves e's tools on a fresh aimx.sock; callerOf decides the
// peer's caller. It returns the socket path and a stop function.
func (e *env) serveSocket(callerOf func(uint32) (Caller, bool)) (string, func()) {
	e.t.Helper()
	path := SocketPath(sockDir(e.t))
	ss := e.srv.SocketServer(callerOf, zerolog.Nop())
	ln, err := ss.Listen(path)
	if err != nil {
		e.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- ss.Serve(ln) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		if err := ss.Shutdown(context.Background()); err != nil {
			e.t.Error(err)
		}
		if err := <-done; err != nil {
			e.t.Errorf("Serve: %v", err)
		}
	}
	e.t.Cleanup(stop)
	return path, stop
}

// as returns a callerOf that names every peer who.
func as(who Caller) func(uint32) (Caller, bool) {
	return func(uint32) (Caller, bool) { return who, true }
}

// The socket is created 0666; the peer's caller reaches the tools on both
// protocol versions; an unidentified peer reaches nothing.
func TestSocketServerCallerFromPeer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.put(support, storage.Inbox, t0, inbound("over the socket", "x@y.example", "false"), "hello\n")
	var seenUID atomic.Int64
	seenUID.Store(-1)
	path, _ := e.serveSocket(func(uid uint32) (Caller, bool) { seenUID.Store(int64(uid)); return alice, true })
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != SocketMode || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("aimx.sock: %v, %v", fi, err)
	}
	pathBob, _ := e.serveSocket(as(bob))
	pathNone, _ := e.serveSocket(func(uint32) (Caller, bool) { return Caller{}, false })
	for _, v := range protocolVersions {
		t.Run(v, func(t *testing.T) {
			cl := dial(t, path, v)
			if got := seenUID.Load(); got != int64(os.Getuid()) {
				t.Fatalf("callerOf saw uid %d, want ours %d", got, os.Getuid())
			}
			r := e.callCtx(cl, t.Context(), "email_read", map[string]any{"mailbox": "support", "id": id}).ok(t)
			checkFenced(t, r.structured["body"].(string), "hello\n", "false")
			e.callCtx(dial(t, pathBob, v), t.Context(), "email_read", map[string]any{"mailbox": "support", "id": id}).
				fails(t, `mailbox "support@agent.example.com" not found`)
			e.callCtx(dial(t, pathNone, v), t.Context(), "mailbox_list", nil).fails(t, "no caller identity")
		})
	}
}

func dial(t *testing.T, path, version string) *client.Client {
	t.Helper()
	cl, err := DialSocket(t.Context(), path, version)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	return cl
}

// A request body over 2 × max_message_bytes is refused before mcp-go
// parses it; one under the cap is served.
func TestSocketServerBodyCap(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := e.reg.Current().Clone()
	cfg.SMTP.MaxMessageBytes = 1000
	e.reg.Swap(cfg)
	path, _ := e.serveSocket(as(alice))
	hc := SocketHTTPClient(path)
	post := func(n int) (int, string) {
		body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},` +
			`"clientInfo":{"name":"` + strings.Repeat("x", n) + `","version":"1"}}}`
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, socketURL, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String()
	}
	if code, body := post(1800); code != http.StatusOK || !strings.Contains(body, `"protocolVersion"`) {
		t.Fatalf("under the cap: %d %s", code, body)
	}
	if _, body := post(2100); !strings.Contains(body, "too large") {
		t.Fatalf("over the cap answered %s", body)
	}
}

// A live aimx.sock is never taken over; a stale one is replaced.
func TestSocketServerListen(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	path, stop := e.serveSocket(as(alice))
	if _, err := e.srv.SocketServer(as(alice), zerolog.Nop()).Listen(path); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second Listen on a live socket: %v", err)
	}
	stop()
	// A crash leaves the file behind with nobody accepting.
	ln, err := net.Listen("unix", filepath.Join(filepath.Dir(path), "stale.sock"))
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	_ = ln.Close()
	ln2, err := e.srv.SocketServer(as(alice), zerolog.Nop()).Listen(filepath.Join(filepath.Dir(path), "stale.sock"))
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	_ = ln2.Close()
}
