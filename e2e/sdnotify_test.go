package e2e

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSystemdNotify runs the real binary with $NOTIFY_SOCKET pointing at
// a unixgram socket of the test's, as systemd does for a Type=notify unit
// (book/operations.md). When READY=1 arrives, listen.json names every
// listener and each one accepts a connection; SIGTERM brings STOPPING=1.
func TestSystemdNotify(t *testing.T) {
	t.Parallel()
	dir := newDevDir(t)
	sock := filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	type check struct {
		datagram string
		failures []string
	}
	ready := make(chan check, 1)
	go func() {
		buf := make([]byte, 4096)
		_ = conn.SetReadDeadline(time.Now().Add(90 * time.Second))
		n, err := conn.Read(buf)
		if err != nil {
			ready <- check{failures: []string{err.Error()}}
			return
		}
		// At once, before anything else: every listener must be up.
		c := check{datagram: string(buf[:n])}
		data, err := os.ReadFile(filepath.Join(dir, "run", "listen.json"))
		var listen map[string]string
		if err != nil || json.Unmarshal(data, &listen) != nil {
			c.failures = append(c.failures, "listen.json not written at READY=1")
		}
		for _, name := range []string{"smtp", "mcp_http", "mcp_unix", "metrics"} {
			network := "tcp"
			if name == "mcp_unix" {
				network = "unix"
			}
			addr := listen[name]
			nc, err := net.DialTimeout(network, addr, 5*time.Second)
			if err != nil {
				c.failures = append(c.failures, name+" "+addr+": "+err.Error())
				continue
			}
			nc.Close()
		}
		ready <- c
	}()
	d := StartDev(t, DaemonOptions{Dir: dir, Config: hookConfig(1, metricsListen+mailboxTOML("hello", currentUser(t))),
		Env: []string{"NOTIFY_SOCKET=" + sock}})
	c := <-ready
	if len(c.failures) > 0 {
		t.Fatalf("at READY=1: %q", c.failures)
	}
	if !strings.HasPrefix(c.datagram, "READY=1\nSTATUS=serving "+hookDomain+"; ") || !strings.Contains(c.datagram, "smtp 127.0.0.1:") {
		t.Fatalf("ready datagram %q", c.datagram)
	}
	d.Signal(syscall.SIGTERM)
	buf := make([]byte, 4096)
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	n, err := conn.Read(buf)
	if err != nil || string(buf[:n]) != "STOPPING=1\nSTATUS=stopping\n" {
		t.Fatalf("stop datagram %q, %v", buf[:n], err)
	}
	if code := d.Wait(35 * time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM", code)
	}
}
