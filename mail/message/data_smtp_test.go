package message

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// These tests run a real go-smtp v0.25.1 server on loopback and write raw
// bytes to it, to pin down what Session.Data sees and to prove that
// CheckData in Session.Data answers every book/smtp.md shape with a 5xx.

// testBackend is the minimal go-smtp backend: it records what Data reads
// and, when check is set, answers with CheckData's verdict.
type testBackend struct {
	check bool
	mu    sync.Mutex
	got   [][]byte
}

func (b *testBackend) NewSession(*smtp.Conn) (smtp.Session, error) {
	return &testSession{b: b}, nil
}

func (b *testBackend) last() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.got) == 0 {
		return nil
	}
	return b.got[len(b.got)-1]
}

type testSession struct{ b *testBackend }

func (s *testSession) Reset()                               {}
func (s *testSession) Logout() error                        { return nil }
func (s *testSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *testSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *testSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("read data: %w", err)
	}
	s.b.mu.Lock()
	s.b.got = append(s.b.got, raw)
	s.b.mu.Unlock()
	if !s.b.check {
		return nil
	}
	var de *DataError
	if err := CheckData(raw); errors.As(err, &de) {
		code, enh, text := de.Reply()
		return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode(enh), Message: text}
	}
	return nil
}

// startServer runs a go-smtp server on 127.0.0.1:0 until the test ends.
func startServer(t *testing.T, be *testBackend) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := smtp.NewServer(be)
	s.Domain = "mx.test"
	s.ReadTimeout = time.Minute
	s.WriteTimeout = time.Minute
	s.MaxMessageBytes = 1 << 20
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Serve(ln) // returns smtp.ErrServerClosed after Close
	}()
	t.Cleanup(func() {
		_ = s.Close()
		_ = ln.Close() // in case Close ran before Serve registered ln
		<-done
	})
	return ln.Addr().String()
}

// transact opens a connection, runs EHLO/MAIL/RCPT and then sends body
// either after DATA (body is the wire form up to, not including, the final
// ".\r\n") or as one BDAT LAST chunk. It returns the final reply code.
func transact(t *testing.T, addr string, body []byte, bdat bool) int {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second)) // backstop only
	tp := textproto.NewConn(c)
	expect := func(want int) {
		t.Helper()
		code, msg, err := tp.ReadResponse(0)
		if err != nil || code != want {
			t.Fatalf("reply %d %q (%v), want %d", code, msg, err, want)
		}
	}
	cmd := func(line string, want int) {
		t.Helper()
		if err := tp.PrintfLine("%s", line); err != nil {
			t.Fatal(err)
		}
		expect(want)
	}
	expect(220)
	cmd("EHLO client.test", 250)
	cmd("MAIL FROM:<a@client.test>", 250)
	cmd("RCPT TO:<b@mx.test>", 250)
	if bdat {
		if _, err := fmt.Fprintf(tp.W, "BDAT %s LAST\r\n", strconv.Itoa(len(body))); err != nil {
			t.Fatal(err)
		}
		_, _ = tp.W.Write(body)
	} else {
		cmd("DATA", 354)
		_, _ = tp.W.Write(body)
		_, _ = tp.W.WriteString(".\r\n")
	}
	if err := tp.W.Flush(); err != nil {
		t.Fatal(err)
	}
	code, _, err := tp.ReadResponse(0)
	if err != nil {
		t.Fatalf("final reply: %v", err)
	}
	if err := tp.PrintfLine("QUIT"); err == nil {
		_, _, _ = tp.ReadResponse(221)
	}
	return code
}

// TestGoSMTPDataBytes records what go-smtp v0.25.1 hands to Session.Data
// for each shape: the facts CheckData's placement rests on. If a go-smtp
// upgrade changes any of them, this test says which.
func TestGoSMTPDataBytes(t *testing.T) {
	be := &testBackend{}
	addr := startServer(t, be)
	cases := []struct {
		name string
		wire string // DATA: bytes before the final ".\r\n"; BDAT: the chunk
		bdat bool
		want string
	}{
		{"crlf kept", "Subject: a\r\n\r\nline\r\n", false, "Subject: a\r\n\r\nline\r\n"},
		{"dot-stuffing removed", "a\r\n..b\r\n", false, "a\r\n.b\r\n"},
		{"lone leading dot removed", "a\r\n.b\r\n", false, "a\r\nb\r\n"},
		{"bare LF kept", "a\nb\r\n", false, "a\nb\r\n"},
		{"bare CR kept", "a\rb\r\n", false, "a\rb\r\n"},
		{"NUL kept", "a\x00b\r\n", false, "a\x00b\r\n"},
		{`\n.\n kept`, "a\n.\nb\r\n", false, "a\n.\nb\r\n"},
		{`\n.\r\n kept`, "a\n.\r\nb\r\n", false, "a\n.\r\nb\r\n"},
		{`\r.\r\n kept`, "a\r.\r\nb\r\n", false, "a\r.\r\nb\r\n"},
		{`\r\n.\n loses its dot, LF stays bare`, "a\r\n.\nb\r\n", false, "a\r\n\nb\r\n"},
		{`\r\n.\r<x> loses dot and bare CR`, "a\r\n.\rb\r\n", false, "a\r\nb\r\n"},
		{"BDAT byte for byte", "a\r\n.\r\n..\n\r\x00.\rb", true, "a\r\n.\r\n..\n\r\x00.\rb"},
	}
	for _, tc := range cases {
		if code := transact(t, addr, []byte(tc.wire), tc.bdat); code != 250 {
			t.Errorf("%s: reply %d, want 250", tc.name, code)
			continue
		}
		if got := be.last(); !bytes.Equal(got, []byte(tc.want)) {
			t.Errorf("%s: Session.Data got %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestCheckDataOverSMTP is the book/smtp.md table against a real server: each
// shape gets a 5xx in DATA and in BDAT, and good CRLF mail gets 250.
func TestCheckDataOverSMTP(t *testing.T) {
	be := &testBackend{check: true}
	addr := startServer(t, be)
	good := "From: a@client.test\r\nSubject: hi\r\n\r\nHello.\r\n..leading dot\r\n"
	cases := []struct {
		name string
		body string
		want int
	}{
		{"good CRLF mail", good, 250},
		{"bare LF", "Subject: x\r\n\r\na\nb\r\n", 550},
		{"bare CR", "Subject: x\r\n\r\na\rb\r\n", 550},
		{"NUL", "Subject: x\r\n\r\na\x00b\r\n", 550},
		{`\n.\n`, "Subject: x\r\n\r\na\n.\nMAIL FROM:<x@y>\r\n", 550},
		{`\n.\r\n`, "Subject: x\r\n\r\na\n.\r\nMAIL FROM:<x@y>\r\n", 550},
		{`\r.\r\n`, "Subject: x\r\n\r\na\r.\r\nMAIL FROM:<x@y>\r\n", 550},
		{`\r\n.\n`, "Subject: x\r\n\r\na\r\n.\nMAIL FROM:<x@y>\r\n", 550},
		// An LF-only client would end with "\n.\n", which is not the
		// terminator (go-smtp keeps waiting); end it properly here.
		{"LF-only mail", "Subject: x\n\nbody\n\r\n", 550},
	}
	for _, tc := range cases {
		for _, bdat := range []bool{false, true} {
			body := tc.body
			if bdat {
				// BDAT carries the message unstuffed.
				body = string(bytes.ReplaceAll([]byte(body), []byte("\r\n..leading"), []byte("\r\n.leading")))
			}
			if code := transact(t, addr, []byte(body), bdat); code != tc.want {
				t.Errorf("%s (bdat=%v): reply %d, want %d", tc.name, bdat, code, tc.want)
			}
		}
	}
}
