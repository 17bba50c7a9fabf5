package connlimit

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

const reply421 = "421 4.7.0 mx.test too many connections, try again later\r\n"

// server accepts on a limited listener and greets every accepted
// connection with "220 ok", handing it to the test to close.
type server struct {
	l        *Listener
	accepted chan net.Conn
	done     chan error
	mu       sync.Mutex
	rejects  []string
}

func startServer(t *testing.T, total, perIP int) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{accepted: make(chan net.Conn, 16), done: make(chan error, 1)}
	s.l = New(ln, Config{
		Hostname: "mx.test", MaxTotal: total, MaxPerIP: perIP,
		OnReject: func(_ net.Addr, limit string) {
			s.mu.Lock()
			s.rejects = append(s.rejects, limit)
			s.mu.Unlock()
		},
	})
	go func() {
		for {
			c, err := s.l.Accept()
			if err != nil {
				s.done <- err
				return
			}
			if _, err := io.WriteString(c, "220 ok\r\n"); err != nil {
				t.Errorf("greet: %v", err)
			}
			s.accepted <- c
		}
	}()
	t.Cleanup(func() {
		_ = s.l.Close()
		<-s.done
	})
	return s
}

// dial connects from the given loopback source address and returns the
// first line the server sends and, for a 421, whether EOF follows.
func dial(t *testing.T, s *server, from string) (net.Conn, string) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 10 * time.Second}
	c, err := d.Dial("tcp", s.l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second)) // backstop only
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("read greeting: %v", err)
	}
	if line == reply421 {
		if _, err := r.ReadByte(); err != io.EOF {
			t.Errorf("after 421: %v, want EOF", err)
		}
	}
	return c, line
}

func (s *server) next(t *testing.T) net.Conn {
	t.Helper()
	select {
	case c := <-s.accepted:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no accepted connection")
		return nil
	}
}

func TestLimits(t *testing.T) {
	t.Parallel()
	s := startServer(t, 3, 2)
	lo1, lo2 := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2")

	greet := func(from, want string) {
		t.Helper()
		if _, got := dial(t, s, from); got != want {
			t.Fatalf("from %s: got %q, want %q", from, got, want)
		}
	}
	greet("127.0.0.1", "220 ok\r\n")
	a1 := s.next(t)
	greet("127.0.0.1", "220 ok\r\n")
	s.next(t)
	greet("127.0.0.1", reply421) // per-IP limit (2) reached, total is 2 of 3
	greet("127.0.0.2", "220 ok\r\n")
	s.next(t)
	greet("127.0.0.2", reply421) // total limit (3) reached, this IP has 1 of 2

	if total, n := s.l.Active(lo1); total != 3 || n != 2 {
		t.Errorf("active = %d total, %d from lo1; want 3, 2", total, n)
	}
	// Closing a connection frees its slot, once, however often it closes.
	if err := a1.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a1.Close(); err == nil {
		t.Error("second Close reported no error")
	}
	if total, n := s.l.Active(lo1); total != 2 || n != 1 {
		t.Errorf("after close: %d total, %d from lo1; want 2, 1", total, n)
	}
	greet("127.0.0.1", "220 ok\r\n")
	s.next(t)
	if total, n := s.l.Active(lo2); total != 3 || n != 1 {
		t.Errorf("after reconnect: %d total, %d from lo2; want 3, 1", total, n)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.rejects) != 2 || s.rejects[0] != "per-ip" || s.rejects[1] != "total" {
		t.Errorf("rejects = %v, want [per-ip total]", s.rejects)
	}
}

func TestUnlimited(t *testing.T) {
	t.Parallel()
	s := startServer(t, 0, 0)
	var conns []net.Conn
	for range 20 {
		if _, got := dial(t, s, "127.0.0.1"); got != "220 ok\r\n" {
			t.Fatalf("got %q", got)
		}
		conns = append(conns, s.next(t))
	}
	for _, c := range conns {
		_ = c.Close()
	}
	if total, _ := s.l.Active(netip.Addr{}); total != 0 {
		t.Errorf("total = %d after closing all", total)
	}
}

func TestAcceptErrorPassesThrough(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := New(ln, Config{MaxTotal: 1})
	_ = l.Close()
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close: %v, want net.ErrClosed", err)
	}
}
