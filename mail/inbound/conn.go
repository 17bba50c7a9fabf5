package inbound

import (
	"crypto/tls"
	"io"
	"net"
	"strings"
	"sync"
	"time"
)

// Greeting verbs seen on a connection, for the Received protocol
// (RFC 3848: SMTP after HELO, ESMTP after EHLO).
const (
	greetUnknown = iota
	greetHELO
	greetEHLO
)

// trackedConn is one accepted connection as the Server sees it: whether a
// transaction is open (Shutdown lets it finish), whether it must close
// after its next reply, and which greeting verb the client used first.
// go-smtp does not tell HELO from EHLO, so the first greeting line is read
// off the plaintext stream as it passes (before any STARTTLS).
type trackedConn struct {
	net.Conn
	srv *Server

	mu         sync.Mutex
	inData     bool      // DATA or BDAT is being received: the data deadline applies
	dataStart  time.Time // when it began
	announced  int64     // SIZE= of the transaction
	received   int64     // DATA bytes received so far
	busy       bool      // a transaction is open (MAIL accepted, not yet ended)
	draining   bool      // the server is shutting down
	closeAfter bool      // close once the next reply has been written
	closed     bool

	// greeting sniffer, only touched by the connection's reading goroutine
	// and read by NewSession on that same goroutine.
	greet     int
	sniffDone bool
	lineStart bool
	line      []byte
}

func newTrackedConn(c net.Conn, srv *Server) *trackedConn {
	return &trackedConn{Conn: c, srv: srv, lineStart: true}
}

// Read passes bytes through and watches for the first HELO or EHLO line.
func (c *trackedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if !c.sniffDone && n > 0 {
		c.sniff(b[:n])
	}
	return n, err
}

func (c *trackedConn) sniff(b []byte) {
	for _, ch := range b {
		if c.sniffDone {
			return
		}
		if ch == '\n' {
			c.lineStart, c.line = true, c.line[:0]
			continue
		}
		if !c.lineStart {
			continue
		}
		c.line = append(c.line, ch)
		if len(c.line) < 5 {
			continue
		}
		verb := string(c.line[:4])
		if c.line[4] == ' ' {
			switch {
			// RFC 5321 2.4: verbs are case-insensitive. No rune folds
			// to E, H, L or O, so Unicode folding matches ASCII here.
			case strings.EqualFold(verb, "EHLO"):
				c.greet, c.sniffDone = greetEHLO, true
			case strings.EqualFold(verb, "HELO"):
				c.greet, c.sniffDone = greetHELO, true
			}
		}
		c.lineStart, c.line = false, c.line[:0]
	}
}

// Write writes a reply; when the connection was told to close after it
// (a drained transaction ended), it closes right after. Outside DATA, each
// reply starts the time the client has for its next command
// (CommandTimeout, book/smtp.md "Timeouts").
func (c *trackedConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.mu.Lock()
	closeNow := c.closeAfter && !c.closed
	if !c.inData && !c.closed {
		_ = c.Conn.SetReadDeadline(time.Now().Add(c.srv.cfg.CommandTimeout)) // fails only once closed
	}
	c.mu.Unlock()
	if closeNow {
		_ = c.Close() // the reply is out; an error closing is of no use to anyone
	}
	return n, err
}

// Close closes the connection once and forgets it.
func (c *trackedConn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	c.srv.untrack(c)
	return c.Conn.Close()
}

// beginTx marks a transaction open. It reports false when the server is
// draining: the caller refuses the transaction and the connection closes
// after that reply.
func (c *trackedConn) beginTx() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.draining {
		c.closeAfter = true
		return false
	}
	c.busy = true
	return true
}

// endTx marks the transaction over; while draining, the connection closes
// after the reply that ends it.
func (c *trackedConn) endTx() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.busy = false
	if c.draining {
		c.closeAfter = true
	}
}

// beginData switches the connection to the data deadline: DataTimeout
// plus DataTimePerMiB per MiB announced or received.
func (c *trackedConn) beginData(announced int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inData, c.dataStart, c.announced, c.received = true, time.Now(), announced, 0
	c.setDataDeadline()
}

// dataRead counts n DATA bytes received and moves the deadline on.
func (c *trackedConn) dataRead(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.received += int64(n)
	c.setDataDeadline()
}

func (c *trackedConn) setDataDeadline() {
	cfg := c.srv.cfg
	mib := float64(max(c.announced, c.received)) / (1 << 20)
	d := cfg.DataTimeout + time.Duration(mib*float64(cfg.DataTimePerMiB))
	_ = c.Conn.SetReadDeadline(c.dataStart.Add(d)) // fails only once closed
}

// endData leaves the data deadline in place until the DATA reply is
// written (go-smtp first reads what is left of the data), after which the
// command timeout applies again.
func (c *trackedConn) endData() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inData = false
}

// closeAfterReply closes the connection once the next reply is written.
func (c *trackedConn) closeAfterReply() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closeAfter = true
}

// deadlineReader passes DATA through and moves the data deadline on as
// bytes arrive.
type deadlineReader struct {
	r io.Reader
	c *trackedConn
}

func (d *deadlineReader) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	if n > 0 {
		d.c.dataRead(n)
	}
	return n, err
}

// drain is Shutdown's request: an idle connection closes now, a busy one
// after its transaction's final reply.
func (c *trackedConn) drain() {
	c.mu.Lock()
	c.draining = true
	idle := !c.busy
	c.mu.Unlock()
	if idle {
		_ = c.Close() // closing an idle connection at shutdown; nothing to report
	}
}

// trackedOf finds our connection under go-smtp's (which is a *tls.Conn
// after STARTTLS).
func trackedOf(nc net.Conn) *trackedConn {
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	c, _ := nc.(*trackedConn)
	return c
}

// trackListener registers every accepted connection with the Server.
type trackListener struct {
	net.Listener
	srv *Server
}

func (l *trackListener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		c := newTrackedConn(nc, l.srv)
		if l.srv.track(c) {
			return c, nil
		}
		// Shutting down: refuse quietly, the listener closes next.
		_ = nc.Close()
	}
}
