package outbound

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// testCA is a certificate authority made per test run (ECDSA keys are
// cheap; no RSA key generation in tests).
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "aimx test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// leaf issues a server certificate for names, signed by ca, or
// self-signed when ca is nil.
func leaf(t *testing.T, ca *testCA, names ...string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: names[0]},
		DNSNames:     names,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	parent, signer := tmpl, any(key)
	if ca != nil {
		parent, signer = ca.cert, ca.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// received is one message a sink accepted.
type received struct {
	from   string
	rcpts  []string
	data   []byte
	helo   string
	tls    bool
	user   string
	sizeOK bool
}

// sinkOpts shapes a go-smtp server acting as a remote MX or relay.
type sinkOpts struct {
	cert        *tls.Certificate
	implicitTLS bool
	// users enables AUTH PLAIN with these user → password pairs.
	users map[string]string
	// insecureAuth allows AUTH without TLS.
	insecureAuth bool
	// rcpt decides each RCPT by address (accept when nil or nil error).
	rcpt func(addr string) error
	// data decides the end of DATA (accept when nil).
	data func() error
	// tlsConfig adjusts the server's TLS configuration.
	tlsConfig func(*tls.Config)
}

// sink is a running test server and what it received.
type sink struct {
	addr string
	mu   sync.Mutex
	msgs []received
	// sessions counts go-smtp sessions (one more after STARTTLS).
	sessions int
	// accepts counts TCP connections, open those still open and maxOpen
	// the most open at once; conns are the server ends, for drop.
	accepts, open, maxOpen int
	conns                  []net.Conn
}

// counts returns accepts, open and maxOpen.
func (s *sink) counts() (accepts, open, maxOpen int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepts, s.open, s.maxOpen
}

// drop closes every connection from the server's side, as a server does
// with a connection idle for too long.
func (s *sink) drop() {
	s.mu.Lock()
	conns := s.conns
	s.conns = nil
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}

// countingListener counts the connections it accepts and those still open.
type countingListener struct {
	net.Listener
	s *sink
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	cc := &countedConn{Conn: c, s: l.s}
	l.s.mu.Lock()
	l.s.accepts++
	l.s.open++
	l.s.maxOpen = max(l.s.maxOpen, l.s.open)
	l.s.conns = append(l.s.conns, cc)
	l.s.mu.Unlock()
	return cc, nil
}

type countedConn struct {
	net.Conn
	s    *sink
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() {
		c.s.mu.Lock()
		c.s.open--
		c.s.mu.Unlock()
	})
	return c.Conn.Close()
}

func (s *sink) messages() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.msgs...)
}

func startSink(t *testing.T, o sinkOpts) *sink {
	t.Helper()
	s := &sink{}
	be := smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		s.mu.Lock()
		s.sessions++
		s.mu.Unlock()
		return &sinkSession{sink: s, opts: o, conn: c}, nil
	})
	srv := smtp.NewServer(be)
	srv.Domain = "mx.test"
	srv.ReadTimeout = time.Minute
	srv.WriteTimeout = time.Minute
	srv.AllowInsecureAuth = o.insecureAuth
	srv.EnableSMTPUTF8 = true
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := net.Listener(countingListener{Listener: raw, s: s})
	if o.cert != nil {
		cfg := &tls.Config{Certificates: []tls.Certificate{*o.cert}}
		if o.tlsConfig != nil {
			o.tlsConfig(cfg)
		}
		if o.implicitTLS {
			ln = tls.NewListener(ln, cfg)
		} else {
			srv.TLSConfig = cfg
		}
	}
	s.addr = ln.Addr().String()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		// Close runs before Serve has registered ln when the test was
		// quick: closing ln ourselves ends an Accept go-smtp never saw.
		_ = ln.Close()
		<-done
	})
	return s
}

type sinkSession struct {
	sink  *sink
	opts  sinkOpts
	conn  *smtp.Conn
	cur   received
	authd string
}

func (ss *sinkSession) AuthMechanisms() []string {
	if ss.opts.users == nil {
		return nil
	}
	return []string{"PLAIN"}
}

func (ss *sinkSession) Auth(mech string) (sasl.Server, error) {
	if mech != "PLAIN" || ss.opts.users == nil {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if want, ok := ss.opts.users[user]; !ok || want != pass {
			return smtp.ErrAuthFailed
		}
		ss.authd = user
		return nil
	}), nil
}

func (ss *sinkSession) Mail(from string, opts *smtp.MailOptions) error {
	if ss.opts.users != nil && ss.authd == "" {
		return smtp.ErrAuthRequired
	}
	ss.cur = received{from: from, user: ss.authd, sizeOK: opts != nil && opts.Size > 0}
	return nil
}

func (ss *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if ss.opts.rcpt != nil {
		if err := ss.opts.rcpt(to); err != nil {
			return err
		}
	}
	ss.cur.rcpts = append(ss.cur.rcpts, to)
	return nil
}

func (ss *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if ss.opts.data != nil {
		if err := ss.opts.data(); err != nil {
			return err
		}
	}
	ss.cur.data = b
	ss.cur.helo = ss.conn.Hostname()
	_, ss.cur.tls = ss.conn.TLSConnectionState()
	ss.sink.mu.Lock()
	ss.sink.msgs = append(ss.sink.msgs, ss.cur)
	ss.sink.mu.Unlock()
	return nil
}

func (ss *sinkSession) Reset()        { ss.cur = received{} }
func (ss *sinkSession) Logout() error { return nil }

// byLocalPart answers RCPT by the recipient's local part: later → 451,
// bad → 550, anything else → accepted.
func byLocalPart(addr string) error {
	switch strings.SplitN(addr, "@", 2)[0] {
	case "later":
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	case "bad":
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	case "noenh":
		return &smtp.SMTPError{Code: 552, EnhancedCode: smtp.NoEnhancedCode, Message: "mailbox full"}
	}
	return nil
}

// fakeServer answers a client with scripted lines: for each line the
// client sends whose prefix matches a key, it writes the value in one
// write. It returns the address and the client lines it saw.
func fakeServer(t *testing.T, greeting string, script map[string]string) (string, <-chan []string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	seen := make(chan []string, 1)
	go func() {
		var lines []string
		defer func() { seen <- lines }()
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		if greeting != "" {
			if _, err := conn.Write([]byte(greeting)); err != nil {
				return
			}
		}
		r := bufio.NewReader(conn)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			lines = append(lines, strings.TrimRight(line, "\r\n"))
			for prefix, reply := range script {
				if strings.HasPrefix(line, prefix) {
					if _, err := conn.Write([]byte(reply)); err != nil {
						return
					}
				}
			}
		}
	}()
	return ln.Addr().String(), seen
}
