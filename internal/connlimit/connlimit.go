// Package connlimit wraps the SMTP listener with a total and a per-IP
// connection limit (book/smtp.md). Over a limit it still accepts the connection,
// answers "421 4.7.0" and closes it, so the client learns to come back later
// instead of hanging in the kernel backlog the way it would behind
// golang.org/x/net/netutil.LimitListener, which stops accepting.
package connlimit

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Config sets the limits. Zero means no limit.
type Config struct {
	// Hostname is named in the 421 reply (our [smtp] hostname).
	Hostname string
	// MaxTotal caps connections open at once ([smtp] max_connections).
	MaxTotal int
	// MaxPerIP caps connections open at once from one address
	// ([smtp] max_connections_per_ip). IPv4-mapped IPv6 addresses count
	// as their IPv4 address.
	MaxPerIP int
	// Refusal, when set, is written to a refused connection instead of the
	// SMTP 421 line: another protocol's "busy" answer (the MCP HTTP
	// listener writes a 503 response).
	Refusal string
	// OnReject, when set, is called for every refused connection with its
	// remote address and which limit it hit ("total" or "per-ip"), so the
	// daemon can log it. It runs on the accepting goroutine: keep it quick.
	OnReject func(remote net.Addr, limit string)
}

// rejectWriteTimeout bounds the 421 write so a client that never reads
// cannot stall Accept.
const rejectWriteTimeout = 5 * time.Second

// Listener is a net.Listener that enforces Config. Its Accept only returns
// connections within the limits; each counts until its Close.
type Listener struct {
	net.Listener
	cfg Config

	mu    sync.Mutex
	total int
	perIP map[netip.Addr]int
}

// New wraps ln with the limits in cfg.
func New(ln net.Listener, cfg Config) *Listener {
	return &Listener{Listener: ln, cfg: cfg, perIP: make(map[netip.Addr]int)}
}

// Accept returns the next connection within the limits. A connection over a
// limit gets "421 4.7.0 <hostname> too many connections, try again later"
// (RFC 5321 3.8: a server may refuse a session with 421) and is closed
// here; Accept then goes on waiting. Errors from the wrapped listener are
// returned as they are.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := remoteIP(c)
		limit := l.acquire(ip)
		if limit == "" {
			return &conn{Conn: c, l: l, ip: ip}, nil
		}
		if l.cfg.OnReject != nil {
			l.cfg.OnReject(c.RemoteAddr(), limit)
		}
		l.reject(c)
	}
}

// acquire counts a new connection from ip, or names the limit it would
// break ("total", "per-ip") and counts nothing.
func (l *Listener) acquire(ip netip.Addr) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cfg.MaxTotal > 0 && l.total >= l.cfg.MaxTotal {
		return "total"
	}
	if l.cfg.MaxPerIP > 0 && ip.IsValid() && l.perIP[ip] >= l.cfg.MaxPerIP {
		return "per-ip"
	}
	l.total++
	if ip.IsValid() {
		l.perIP[ip]++
	}
	return ""
}

// release undoes one acquire.
func (l *Listener) release(ip netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if ip.IsValid() {
		if l.perIP[ip]--; l.perIP[ip] <= 0 {
			delete(l.perIP, ip)
		}
	}
}

// Active reports the connections currently counted: in total and from ip.
func (l *Listener) Active(ip netip.Addr) (total, fromIP int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total, l.perIP[ip.Unmap()]
}

// reject answers 421 and closes. Write errors are irrelevant: the client
// may already be gone, and the connection is closed either way.
func (l *Listener) reject(c net.Conn) {
	_ = c.SetWriteDeadline(time.Now().Add(rejectWriteTimeout))
	if l.cfg.Refusal != "" {
		_, _ = io.WriteString(c, l.cfg.Refusal)
	} else {
		_, _ = fmt.Fprintf(c, "421 4.7.0 %s too many connections, try again later\r\n", l.cfg.Hostname)
	}
	// Half-close first so the reply is delivered before the FIN rather
	// than lost to a reset.
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_ = c.Close()
}

// remoteIP is the connection's remote address, IPv4-mapped addresses
// unmapped; the zero Addr when the address is not IP (never counted per IP).
func remoteIP(c net.Conn) netip.Addr {
	ap, err := netip.ParseAddrPort(c.RemoteAddr().String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap().WithZone("")
}

// conn releases its slot on the first Close.
type conn struct {
	net.Conn
	l    *Listener
	ip   netip.Addr
	once sync.Once
}

// Close closes the connection and frees its slot; later calls only close.
func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.ip) })
	if err != nil {
		return fmt.Errorf("close connection: %w", err)
	}
	return nil
}

// NetConn returns the wrapped connection (as crypto/tls.Conn does), so
// callers can reach the *net.TCPConn underneath.
func (c *conn) NetConn() net.Conn { return c.Conn }
