package mcp

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// serveTCP serves e's TCP transport with limits on a loopback port.
func serveTCP(t *testing.T, l Limits) (*env, string) {
	t.Helper()
	e := newEnv(t)
	h := e.srv.HTTPServer(&testTokens{m: map[string]Caller{tokAlice: alice}}, zerolog.Nop())
	h.Limits = l
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- h.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = h.Shutdown(ctx)
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return e, ln.Addr().String()
}

func dialTCP(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second)) // backstop only
	return c
}

// closed reports whether the server closed c: a read ends in EOF (or a
// reset) after whatever it sent.
func closed(c net.Conn) (sent string, ok bool) {
	b, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return string(b), false
	}
	return string(b), true
}

// Idle connections cannot pile up: over the cap a connection is answered
// 503 and closed at once, and a slot freed is usable again.
func TestM2_ConnectionCap(t *testing.T) {
	t.Parallel()
	_, addr := serveTCP(t, Limits{MaxConns: 3, MaxConnsPerIP: -1})
	held := []net.Conn{dialTCP(t, addr), dialTCP(t, addr), dialTCP(t, addr)}
	extra := dialTCP(t, addr)
	got, ok := closed(extra)
	if !ok || !strings.HasPrefix(got, "HTTP/1.1 503 ") || !strings.Contains(got, "Connection: close") {
		t.Fatalf("over the cap: closed %v, got %q", ok, got)
	}
	// The held ones still work.
	if code := get(t, held[0], "/mcp", ""); code != http.StatusUnauthorized {
		t.Fatalf("held connection answered %d", code)
	}
	// A freed slot is given out again (the server notices the close when
	// it reads).
	_ = held[1].Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c := dialTCP(t, addr)
		_, _ = io.WriteString(c, "GET /mcp HTTP/1.1\r\nHost: localhost\r\n\r\n")
		line, _ := bufio.NewReader(c).ReadString('\n')
		_ = c.Close()
		if strings.HasPrefix(line, "HTTP/1.1 401") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no slot after a close: %q", line)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The per-address cap refuses one address's extra connection.
func TestM2_ConnectionCapPerIP(t *testing.T) {
	t.Parallel()
	_, addr := serveTCP(t, Limits{MaxConns: 100, MaxConnsPerIP: 2})
	dialTCP(t, addr)
	dialTCP(t, addr)
	if got, ok := closed(dialTCP(t, addr)); !ok || !strings.HasPrefix(got, "HTTP/1.1 503 ") {
		t.Fatalf("over the per-IP cap: closed %v, got %q", ok, got)
	}
}

// A client that sends its headers slowly is dropped after
// ReadHeaderTimeout.
func TestM2_SlowHeadersDropped(t *testing.T) {
	t.Parallel()
	_, addr := serveTCP(t, Limits{ReadHeaderTimeout: 200 * time.Millisecond, MaxConns: -1, MaxConnsPerIP: -1})
	c := dialTCP(t, addr)
	_, _ = io.WriteString(c, "POST /mcp HTTP/1.1\r\nHost: localhost\r\n")
	start := time.Now()
	if _, ok := closed(c); !ok {
		t.Fatal("slow-header client still connected at the backstop")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("dropped after %v", d)
	}
}

// A 401 closes the connection: it cannot be parked as an idle keep-alive.
func TestM2_UnauthorizedCloses(t *testing.T) {
	t.Parallel()
	_, addr := serveTCP(t, Limits{})
	c := dialTCP(t, addr)
	_, _ = io.WriteString(c, "GET /mcp HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer wrong\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !resp.Close || resp.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("status %d, close %v, header %v", resp.StatusCode, resp.Close, resp.Header)
	}
	if _, ok := closed(c); !ok {
		t.Fatal("connection left open after 401")
	}
}

// Long-lived streams outlive IdleTimeout and the body deadline: an SSE
// session opened before them still answers calls after.
func TestM2_StreamsOutliveTimeouts(t *testing.T) {
	t.Parallel()
	e, addr := serveTCP(t, Limits{IdleTimeout: 100 * time.Millisecond, BodyTimeout: 100 * time.Millisecond,
		ReadHeaderTimeout: 100 * time.Millisecond})
	for _, sse := range []bool{true, false} {
		cl := httpClient(t, "http://"+addr, tokAlice, protocolVersions[0], sse)
		e.callCtx(cl, t.Context(), "mailbox_list", nil).ok(t)
		time.Sleep(400 * time.Millisecond)
		e.callCtx(cl, t.Context(), "mailbox_list", nil).ok(t)
	}
}

func get(t *testing.T, c net.Conn, path, token string) int {
	t.Helper()
	req := "GET " + path + " HTTP/1.1\r\nHost: localhost\r\n"
	if token != "" {
		req += "Authorization: Bearer " + token + "\r\n"
	}
	if _, err := io.WriteString(c, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
