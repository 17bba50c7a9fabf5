package metrics

import (
	"errors"
	"net"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// countingListener counts the connections it accepts while they are open.
type countingListener struct {
	net.Listener
	open  prometheus.Gauge
	total prometheus.Counter
}

// Accept counts the new connection and returns it wrapped so its Close
// uncounts it.
func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.total.Inc()
	l.open.Inc()
	return &countingConn{Conn: c, open: l.open}, nil
}

// countingConn uncounts itself once, at its first Close.
type countingConn struct {
	net.Conn
	open prometheus.Gauge
	once sync.Once
}

// errNoHalfClose answers CloseWrite on a connection that has none.
var errNoHalfClose = errors.New("connection has no half-close")

// Close closes the connection and uncounts it.
func (c *countingConn) Close() error {
	c.once.Do(c.open.Dec)
	return c.Conn.Close()
}

// NetConn is the wrapped connection, for code that looks beneath
// wrappers (the peer credentials of aimx.sock, as under crypto/tls.Conn).
func (c *countingConn) NetConn() net.Conn { return c.Conn }

// CloseWrite half-closes the connection when the wrapped one can (a
// connection refused over a limit is answered, then half-closed).
func (c *countingConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errNoHalfClose
}
