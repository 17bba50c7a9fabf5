package sdnotify

import (
	"errors"
	"net"
	"path/filepath"
	"testing"
	"time"
)

// listen makes a notification socket like systemd's and returns it with
// its address.
func listen(t *testing.T, name string) *net.UnixConn {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func read(t *testing.T, conn *net.UnixConn) string {
	t.Helper()
	buf := make([]byte, 4096)
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	return string(buf[:n])
}

func TestNotifyPathSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	conn := listen(t, path)
	n := FromEnv(map[string]string{EnvSocket: path})
	if !n.Enabled() {
		t.Fatal("not enabled with NOTIFY_SOCKET set")
	}
	if err := n.Notify(Ready, Status("serving\nREADY=0")); err != nil {
		t.Fatal(err)
	}
	if got, want := read(t, conn), "READY=1\nSTATUS=serving READY=0\n"; got != want {
		t.Fatalf("datagram %q, want %q", got, want)
	}
}

func TestNotifyAbstractSocket(t *testing.T) {
	name := "@aimx-sdnotify-test-" + filepath.Base(t.TempDir())
	conn := listen(t, name)
	if err := (Notifier{Socket: name}).Notify(Stopping); err != nil {
		t.Fatal(err)
	}
	if got := read(t, conn); got != "STOPPING=1\n" {
		t.Fatalf("datagram %q", got)
	}
}

func TestNotifyWithoutSocketDoesNothing(t *testing.T) {
	n := FromEnv(map[string]string{})
	if n.Enabled() {
		t.Fatal("enabled without NOTIFY_SOCKET")
	}
	if err := n.Notify(Ready); err != nil {
		t.Fatal(err)
	}
}

func TestNotifyErrors(t *testing.T) {
	if err := (Notifier{Socket: "vsock:2:1234"}).Notify(Ready); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("vsock address: %v, want ErrUnsupported", err)
	}
	if err := (Notifier{Socket: filepath.Join(t.TempDir(), "missing")}).Notify(Ready); err == nil {
		t.Fatal("no error for a socket nobody listens on")
	}
}
