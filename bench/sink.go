package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"time"

	gosmtp "github.com/emersion/go-smtp"
)

// sink is a loopback SMTP server standing for the relay the daemon
// delivers through: it accepts every message and records, per Subject,
// when DATA completed and how many recipients the transaction had.
type sink struct {
	srv  *gosmtp.Server
	ln   net.Listener
	mu   sync.Mutex
	got  map[string]sinkMsg // by Subject
	msgs int
	rcpt int
}

// sinkMsg is one message the sink accepted.
type sinkMsg struct {
	At    time.Time // the message's last byte read; the 250 follows at once
	Rcpts int
}

// startSink listens on a free loopback port and serves until close.
func startSink() (*sink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &sink{ln: ln, got: map[string]sinkMsg{}}
	s.srv = gosmtp.NewServer(gosmtp.BackendFunc(func(*gosmtp.Conn) (gosmtp.Session, error) {
		return &sinkSession{s: s}, nil
	}))
	s.srv.Domain = "sink.localhost"
	s.srv.MaxMessageBytes = 32 << 20
	s.srv.MaxRecipients = 1000
	s.srv.ReadTimeout, s.srv.WriteTimeout = time.Minute, time.Minute
	s.srv.ErrorLog = log.New(io.Discard, "", 0)
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

func (s *sink) addr() string { return s.ln.Addr().String() }

func (s *sink) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		_ = s.srv.Close()
	}
}

// reset forgets what was received.
func (s *sink) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = map[string]sinkMsg{}
	s.msgs, s.rcpt = 0, 0
}

// received returns the recorded messages and the totals of messages and
// recipient deliveries.
func (s *sink) received() (map[string]sinkMsg, int, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got, s.msgs, s.rcpt
}

// sinkSession is one SMTP session at the sink.
type sinkSession struct {
	s     *sink
	rcpts int
}

func (ss *sinkSession) Reset()        { ss.rcpts = 0 }
func (ss *sinkSession) Logout() error { return nil }

func (ss *sinkSession) Mail(string, *gosmtp.MailOptions) error {
	ss.rcpts = 0
	return nil
}

func (ss *sinkSession) Rcpt(string, *gosmtp.RcptOptions) error {
	ss.rcpts++
	return nil
}

// Data reads the header for the Subject, the rest to the end, and records
// the time: go-smtp writes the 250 as soon as Data returns.
func (ss *sinkSession) Data(r io.Reader) error {
	br := bufio.NewReaderSize(r, 16<<10)
	h, err := textproto.NewReader(br).ReadMIMEHeader()
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if _, err := io.Copy(io.Discard, br); err != nil {
		return err
	}
	at := time.Now()
	subj := strings.TrimSpace(h.Get("Subject"))
	ss.s.mu.Lock()
	ss.s.got[subj] = sinkMsg{At: at, Rcpts: ss.rcpts}
	ss.s.msgs++
	ss.s.rcpt += ss.rcpts
	ss.s.mu.Unlock()
	return nil
}
