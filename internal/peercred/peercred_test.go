package peercred

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// shortDir returns a temp dir whose socket paths fit in sun_path.
func shortDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func TestCredentialsOverHTTP(t *testing.T) {
	t.Parallel()
	path := filepath.Join(shortDir(t), "s.sock")
	ln, err := Listen(path, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{ConnContext: ConnContext, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := FromContext(r.Context())
		if !ok {
			http.Error(w, "no cred", 500)
			return
		}
		_, _ = io.WriteString(w, strconv.Itoa(int(c.UID))+" "+strconv.Itoa(int(c.PID)))
	})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o666 {
		t.Fatalf("socket mode: %v %v", fi, err)
	}
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", path)
	}}}
	resp, err := client.Get("http://aimx/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := strconv.Itoa(os.Geteuid()) + " " + strconv.Itoa(os.Getpid())
	if string(body) != want {
		t.Fatalf("server saw %q, want %q", body, want)
	}
}

// TestCredentialsOfAnotherUser: a client running as nobody is seen as uid
// 65534 (root only: switching users needs it).
func TestCredentialsOfAnotherUser(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a client as another user; runs in CI, which is root")
	}
	dir := shortDir(t)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "s.sock")
	ln, err := Listen(path, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan Cred, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		got <- c.(*Conn).Cred
		c.Close()
	}()
	// The client is this test binary (TestHelperDial), copied where
	// nobody can execute it: go test builds it in a 0700 dir.
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "client")
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestHelperDial$")
	cmd.Env = append(os.Environ(), "PEERCRED_DIAL="+path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("client as nobody: %v\n%s", err, out)
	}
	if c := <-got; c.UID != 65534 || c.GID != 65534 {
		t.Fatalf("server saw uid %d gid %d, want 65534", c.UID, c.GID)
	}
}

// TestHelperDial is the client TestCredentialsOfAnotherUser runs.
func TestHelperDial(t *testing.T) {
	path := os.Getenv("PEERCRED_DIAL")
	if path == "" {
		return
	}
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.ReadAll(c)
	c.Close()
}

func TestStaleSocketReplacedLiveRefused(t *testing.T) {
	t.Parallel()
	dir := shortDir(t)
	path := filepath.Join(dir, "s.sock")
	// A stale socket: bound, then the "process" died without unlinking.
	stale, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	stale.SetUnlinkOnClose(false)
	stale.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("stale socket not left behind: %v", err)
	}
	ln, err := Listen(path, 0o600)
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	if _, err := Listen(path, 0o600); !errors.Is(err, ErrInUse) {
		t.Fatalf("second Listen on a live socket: %v, want ErrInUse", err)
	}
	// A regular file is not ours to remove.
	file := filepath.Join(dir, "file.sock")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(file, 0o600); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("Listen over a regular file: %v", err)
	}
}

func TestLongPathRefused(t *testing.T) {
	t.Parallel()
	path := "/tmp/" + strings.Repeat("x", 110)
	if _, err := Listen(path, 0o600); err == nil || !strings.Contains(err.Error(), "107-byte limit") {
		t.Fatalf("long path: %v", err)
	}
}
