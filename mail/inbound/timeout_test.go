package inbound

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// TestL1_LongDataLineIsPermanent: a DATA line over go-smtp's line limit
// gets one permanent reply, and the connection closes after it (the end
// of the data cannot be found any more), instead of 451 then 500.
func TestL1_LongDataLineIsPermanent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	rc := dialRaw(t, e.addr)
	rc.greet()
	rc.cmd("MAIL FROM:<a@example.org>", 250, "")
	rc.cmd("RCPT TO:<support@agent.example.com>", 250, "")
	rc.cmd("DATA", 354, "")
	rc.send("Subject: long\r\n\r\n" + strings.Repeat("x", 3000) + "\r\n.\r\n")
	code, text := rc.reply()
	if code/100 != 5 || !strings.Contains(text, "5.6.0") {
		t.Fatalf("reply %d %q, want a permanent 5.6.0", code, text)
	}
	// Nothing else is said: the connection is closed.
	_ = rc.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if line, err := rc.r.ReadLine(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the reply: %q %v, want EOF", line, err)
	}
	if n := len(e.inbox("support@agent.example.com")); n != 0 {
		t.Errorf("stored %d", n)
	}
}

// TestM2_SMTPStalledCommandIsDropped: a client that stops sending in the
// middle of a command is answered 421 and dropped after the command
// timeout, not after go-smtp's minutes.
func TestM2_SMTPStalledCommandIsDropped(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{server: func(c *ServerConfig) { c.CommandTimeout = 300 * time.Millisecond }})
	rc := dialRaw(t, e.addr)
	rc.greet()
	start := time.Now()
	// Nothing more is sent. (A half-sent line is first answered as what
	// it is, 501, by go-smtp; then the timeout applies the same way.)
	code, text := rc.reply()
	if code != 421 {
		t.Fatalf("reply %d %q, want 421", code, text)
	}
	if time.Since(start) > 8*time.Second { // loose backstop only
		t.Errorf("dropped after %v", time.Since(start))
	}
	_ = rc.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := rc.r.ReadLine(); !errors.Is(err, io.EOF) {
		t.Fatalf("connection still open: %v", err)
	}
}

// TestM2_SMTPSlowDataIsNotCutAtTheCommandTimeout: DATA that keeps coming,
// slowly, for longer than the command timeout is received whole: its
// deadline is the data deadline, which grows with the size.
func TestM2_SMTPSlowDataIsNotCutAtTheCommandTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{server: func(c *ServerConfig) {
		c.CommandTimeout = 200 * time.Millisecond
		c.DataTimeout = time.Minute
	}})
	rc := dialRaw(t, e.addr)
	rc.greet()
	rc.cmd("MAIL FROM:<a@example.org>", 250, "")
	rc.cmd("RCPT TO:<support@agent.example.com>", 250, "")
	rc.cmd("DATA", 354, "")
	rc.send("From: a@example.org\r\nSubject: slow\r\n\r\n")
	for i := range 8 { // 8 x 100 ms: four command timeouts
		time.Sleep(100 * time.Millisecond)
		rc.send("line " + strings.Repeat("z", i) + "\r\n")
	}
	rc.send(".\r\n")
	if code, text := rc.reply(); code != 250 {
		t.Fatalf("reply %d %q, want 250", code, text)
	}
	if n := len(e.inbox("support@agent.example.com")); n != 1 {
		t.Errorf("stored %d, want 1", n)
	}
}

// TestM2_SMTPStalledDataIsDropped: DATA that stops coming is cut at the
// data deadline and nothing is stored.
func TestM2_SMTPStalledDataIsDropped(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{server: func(c *ServerConfig) {
		c.CommandTimeout = 5 * time.Second
		c.DataTimeout = 300 * time.Millisecond
	}})
	rc := dialRaw(t, e.addr)
	rc.greet()
	rc.cmd("MAIL FROM:<a@example.org>", 250, "")
	rc.cmd("RCPT TO:<support@agent.example.com>", 250, "")
	rc.cmd("DATA", 354, "")
	rc.send("From: a@example.org\r\nSubject: stalled\r\n\r\nhalf a mess")
	code, text := rc.reply()
	if code/100 != 4 {
		t.Fatalf("reply %d %q, want a 4xx", code, text)
	}
	if n := len(e.inbox("support@agent.example.com")); n != 0 {
		t.Errorf("stored %d, want 0", n)
	}
}
