package main

import (
	"net/smtp"
	"strconv"
	"strings"
	"time"
)

// intakeResult is one SMTP load: how many messages were accepted, in
// what wall time, and each one's end-of-DATA to `250` latency.
type intakeResult struct {
	N       int
	Elapsed time.Duration
	Lat     latencies
}

func (r intakeResult) rate() float64 { return float64(r.N) / r.Elapsed.Seconds() }

// runIntake sends n messages of size bytes to rcpt over conns concurrent
// connections, one message per connection as a remote MTA does. Latency
// is from writing the final "." of DATA (RFC 5321 4.1.1.4) to reading the
// reply: go's DotWriter flushes the tail of the body with it, at most one
// buffer (4 KiB).
func runIntake(addr, rcpt string, n, conns, size int) (intakeResult, error) {
	return runIntakeSpread([]string{addr}, rcpt, strconv.Itoa(size), n, conns, size)
}

// messageBody is a text body of about size bytes in 76-character lines.
func messageBody(size int) string {
	line := strings.Repeat("abcdefghij", 7) + "012345\r\n"
	return strings.Repeat(line, max(1, size/len(line)))
}

// sendOne delivers one message on a new connection and returns its
// end-of-DATA to `250` time.
func sendOne(addr, rcpt, msgID, body string) (time.Duration, error) {
	c, err := smtp.Dial(addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	if err := c.Hello("client.example.test"); err != nil {
		return 0, err
	}
	if err := c.Mail("sender@example.test"); err != nil {
		return 0, err
	}
	if err := c.Rcpt(rcpt); err != nil {
		return 0, err
	}
	w, err := c.Data()
	if err != nil {
		return 0, err
	}
	hdr := "From: Sender <sender@example.test>\r\nTo: " + rcpt + "\r\nSubject: bench " + msgID +
		"\r\nMessage-ID: <" + msgID + ">\r\nDate: " + time.Now().Format(time.RFC1123Z) + "\r\n\r\n"
	if _, err := w.Write([]byte(hdr + body)); err != nil {
		return 0, err
	}
	t := time.Now()
	if err := w.Close(); err != nil { // writes ".", returns once the reply is read
		return 0, err
	}
	d := time.Since(t)
	return d, c.Quit()
}
