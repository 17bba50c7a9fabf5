package message

import (
	"bytes"
	"fmt"
)

// DataProblem names what CheckData found wrong with a message body.
type DataProblem int

// The problems CheckData reports. The smuggling shapes are reported in
// preference to the bare CR or LF they contain, because they are the reason
// the rule exists: a server that reads one of them as end-of-data while we
// do not (or the reverse) lets a sender hide a second message inside the
// first ("SMTP smuggling", CVE-2023-51764/51765/51766).
const (
	// ProblemBareLF is an LF not preceded by CR (RFC 5321 2.3.8).
	ProblemBareLF DataProblem = iota + 1
	// ProblemBareCR is a CR not followed by LF (RFC 5321 2.3.8).
	ProblemBareCR
	// ProblemNUL is a NUL byte (RFC 5321 4.5.2 / RFC 5322 2.2 never allow it).
	ProblemNUL
	// ProblemSmugglingLF is "\n.\n": a dot line ended by bare LFs.
	ProblemSmugglingLF
	// ProblemSmugglingLFCRLF is "\n.\r\n" with a bare LF before the dot.
	ProblemSmugglingLFCRLF
	// ProblemSmugglingCR is "\r.\r\n" with a bare CR before the dot.
	ProblemSmugglingCR
)

// String names the problem for the SMTP reply and the log.
func (p DataProblem) String() string {
	switch p {
	case ProblemBareLF:
		return "bare LF"
	case ProblemBareCR:
		return "bare CR"
	case ProblemNUL:
		return "NUL byte"
	case ProblemSmugglingLF:
		return `smuggling shape \n.\n`
	case ProblemSmugglingLFCRLF:
		return `smuggling shape \n.\r\n`
	case ProblemSmugglingCR:
		return `smuggling shape \r.\r\n`
	}
	return fmt.Sprintf("DataProblem(%d)", int(p))
}

// DataError is what CheckData returns: the first problem in the body and
// its byte offset (into the bytes the SMTP session received).
type DataError struct {
	Problem DataProblem
	Offset  int
}

// Error describes the problem and where it is.
func (e *DataError) Error() string {
	return fmt.Sprintf("message data: %s at byte %d", e.Problem, e.Offset)
}

// Reply is the SMTP answer the session gives for this error: a permanent
// 550 5.6.0 naming the problem (book/smtp.md: a 5xx). The sender must fix the
// message; a retry with the same bytes would fail the same way.
func (e *DataError) Reply() (code int, enhanced [3]int, text string) {
	return 550, [3]int{5, 6, 0}, "Message rejected: " + e.Problem.String() + " not allowed in SMTP data"
}

// CheckData checks a DATA or BDAT message body, as go-smtp hands it to
// Session.Data, for the line-ending shapes book/smtp.md rejects: bare LF, bare
// CR, NUL, and the smuggling shapes "\n.\n", "\n.\r\n" and "\r.\r\n". It
// returns nil or a *DataError for the first problem. DataChecker gives the
// same verdict over a stream.
//
// What go-smtp v0.25.1 passes to Session.Data (read in its data.go and
// proved over TCP in data_smtp_test.go): for DATA, CRLF is kept, bare LF
// and bare CR are kept, NUL is kept, the dot-stuffing dot at the start of a
// line (after CRLF) is removed, and the final "\r\n.\r\n" is consumed with
// the message keeping its last CRLF. Every shape above reaches Session.Data
// intact except that a line starting "." after CRLF loses that dot, which
// turns "\r\n.\n" into "\r\n\n" (still a bare LF, so still rejected) and
// "\r\n.\rX" into "\r\nX" (the bare CR is gone: see book/parsing.md). For
// BDAT the chunks are passed byte for byte.
func CheckData(b []byte) error {
	var c DataChecker
	c.scan(b, true)
	return c.Err()
}

// DataChecker is CheckData over a stream: Write the DATA bytes as they
// arrive (it never fails), then Err gives the verdict CheckData would give
// for all of them at once. Between writes it keeps at most the three bytes
// whose verdict depends on what follows, so a message of any size is
// checked in bounded memory (book/smtp.md "Spooling").
type DataChecker struct {
	base    int64 // stream offset of the first byte of the next scan
	prev    byte  // the byte before it
	hasPrev bool
	carry   []byte // bytes held back for lookahead (at most 3)
	buf     []byte // carry joined with the next write
	err     *DataError
	closed  bool
}

// Write checks p. It always consumes all of p and never returns an error:
// the verdict is read with Err.
func (c *DataChecker) Write(p []byte) (int, error) {
	if c.err != nil || c.closed || len(p) == 0 {
		return len(p), nil
	}
	b := p
	if len(c.carry) > 0 {
		c.buf = append(append(c.buf[:0], c.carry...), p...)
		b = c.buf
	}
	c.scan(b, false)
	return len(p), nil
}

// Err ends the stream and returns nil or the *DataError for its first
// problem. Nothing written after Err is checked.
func (c *DataChecker) Err() error {
	if !c.closed && c.err == nil && len(c.carry) > 0 {
		c.scan(append([]byte(nil), c.carry...), true)
	}
	c.closed = true
	c.buf = nil
	if c.err == nil {
		return nil
	}
	return c.err
}

// Failed reports whether a problem was already found, so a caller can stop
// keeping the bytes that follow.
func (c *DataChecker) Failed() bool { return c.err != nil }

// scan checks b, which starts at c.base. Unless final, a CR or LF too close
// to the end of b to see the three bytes after it is held back in c.carry.
func (c *DataChecker) scan(b []byte, final bool) {
	c.carry = c.carry[:0]
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case 0:
			c.err = &DataError{Problem: ProblemNUL, Offset: int(c.base) + i}
			return
		case '\n', '\r':
			if !final && len(b)-i < 4 {
				if i > 0 {
					c.prev, c.hasPrev = b[i-1], true
				}
				c.carry = append(c.carry, b[i:]...)
				c.base += int64(i)
				return
			}
			if p := c.problem(b, i); p != 0 {
				c.err = &DataError{Problem: p, Offset: int(c.base) + i}
				return
			}
		}
	}
	if len(b) > 0 {
		c.prev, c.hasPrev = b[len(b)-1], true
	}
	c.base += int64(len(b))
}

// problem judges the CR or LF at b[i], seeing every byte after it that
// matters (or the end of the data).
func (c *DataChecker) problem(b []byte, i int) DataProblem {
	if b[i] == '\n' {
		prevCR := (i > 0 && b[i-1] == '\r') || (i == 0 && c.hasPrev && c.prev == '\r')
		switch {
		case prevCR:
			return 0
		case bytes.HasPrefix(b[i:], []byte("\n.\n")):
			return ProblemSmugglingLF
		case bytes.HasPrefix(b[i:], []byte("\n.\r\n")):
			return ProblemSmugglingLFCRLF
		}
		return ProblemBareLF
	}
	if i+1 < len(b) && b[i+1] == '\n' {
		return 0
	}
	if bytes.HasPrefix(b[i:], []byte("\r.\r\n")) {
		return ProblemSmugglingCR
	}
	return ProblemBareCR
}
