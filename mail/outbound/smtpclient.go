package outbound

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"time"

	"github.com/aimx-dev/aimx/mail/outcome"
	"github.com/emersion/go-smtp"
)

// TLSState is what the connection's TLS achieved, as the sent copy records
// it per recipient (`tls` in book/storage.md).
type TLSState string

// The TLS states.
const (
	// TLSVerified: TLS with a certificate that chains to a trusted root and
	// names the server.
	TLSVerified TLSState = "verified"
	// TLSUnverified: TLS whose certificate did not verify (self-signed,
	// expired, another name). Still encrypted, and still used: opportunistic
	// TLS (RFC 7435) beats plaintext.
	TLSUnverified TLSState = "unverified"
	// TLSNone: plaintext, because the server did not offer STARTTLS (or
	// refused it, or the caller disabled it).
	TLSNone TLSState = "none"
)

// Default timeouts of a delivery connection: RFC 5321 4.5.3.2 asks for 5
// minutes per command and 10 after the final dot.
const (
	DefaultCommandTimeout = 5 * time.Minute
	DefaultDataTimeout    = 10 * time.Minute
)

// ErrTLSHandshake marks a failed STARTTLS or implicit TLS handshake. A
// caller that does not require TLS may dial again with DisableSTARTTLS.
var ErrTLSHandshake = errors.New("TLS handshake failed")

// ErrTLSRequired marks a server that offered no usable TLS to a caller
// that requires it (a relay that is not on loopback).
var ErrTLSRequired = errors.New("TLS required but not available")

// Auth is a relay login, sent as AUTH PLAIN (RFC 4616).
type Auth struct {
	Username, Password string
}

// DialConfig is how to reach one remote MX or relay.
type DialConfig struct {
	// Hostname is our EHLO name (`[smtp] hostname`). Required: go-smtp's
	// own default is "localhost", which many servers refuse.
	Hostname string
	// ServerName is the name the server's certificate must carry (the MX
	// host name or the relay host). The host part of the address when
	// empty.
	ServerName string
	// RootCAs are the trusted roots (the system pool when nil).
	RootCAs *x509.CertPool
	// ImplicitTLS starts TLS before the greeting (smtps://, RFC 8314 3.3).
	ImplicitTLS bool
	// DisableSTARTTLS stays in plaintext even when STARTTLS is offered: a
	// second try after ErrTLSHandshake.
	DisableSTARTTLS bool
	// RequireTLS fails the dial unless TLS is established (verified or
	// not), wrapping ErrTLSRequired.
	RequireTLS bool
	// RequireVerified fails the handshake unless the certificate
	// verifies.
	RequireVerified bool
	// Auth, when set, logs in with AUTH PLAIN after TLS. Credentials are
	// never sent in plaintext except to a loopback address.
	Auth *Auth
	// Dial opens the TCP connection (a net.Dialer when nil).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// CommandTimeout bounds each command's reply, DataTimeout the reply
	// to the final dot (DefaultCommandTimeout, DefaultDataTimeout when 0).
	CommandTimeout, DataTimeout time.Duration
	// Now is the clock certificates are checked against (time.Now when
	// nil).
	Now func() time.Time
}

// Conn is one SMTP client connection, ready for transactions after Dial.
// It is not safe for concurrent use: transactions on one connection run
// one after another (RFC 5321 3.3).
type Conn struct {
	client    *smtp.Client
	raw       net.Conn
	tls       TLSState
	tlsDetail string
	broken    bool
	// mailOK is whether the last Send got MAIL FROM accepted: a reused
	// connection that failed before that carried nothing and may be
	// replaced by a fresh one.
	mailOK bool
}

// TLS is the TLS state of the connection.
func (c *Conn) TLS() TLSState { return c.tls }

// TLSDetail says why the certificate did not verify ("" otherwise), for
// the log.
func (c *Conn) TLSDetail() string { return c.tlsDetail }

// Usable reports whether another transaction may run on the connection:
// false after a network error or an interrupted DATA.
func (c *Conn) Usable() bool { return !c.broken }

// Extension reports whether the server's EHLO (the one after TLS, when
// there is TLS) listed an extension, and its parameter.
func (c *Conn) Extension(name string) (bool, string) { return c.client.Extension(name) }

// Close ends the session with QUIT and closes the connection.
func (c *Conn) Close() error {
	var err error
	if !c.broken {
		err = c.client.Quit()
	}
	if cerr := c.client.Close(); err == nil && cerr != nil && !errors.Is(cerr, net.ErrClosed) {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("smtp close: %w", err)
	}
	return nil
}

// closeWithin is Close with QUIT's reply awaited for at most timeout: an
// idle connection is closed without waiting on a slow server.
func (c *Conn) closeWithin(timeout time.Duration) error {
	c.client.CommandTimeout = timeout
	return c.Close()
}

// Dial connects to addr (host:port), reads the greeting, says EHLO as
// cfg.Hostname and starts TLS whenever the server offers it (RFC 3207),
// recording whether the certificate verified. Then it hands the connection
// to go-smtp's client, which says EHLO again over TLS (RFC 3207 4.2), and
// logs in when cfg.Auth is set. Errors are *outcome.Error values: an SMTP
// reply keeps its code, a network failure is 451 4.4.1 or 4.4.2.
func Dial(ctx context.Context, addr string, cfg DialConfig) (*Conn, error) {
	if err := checkHostname(cfg.Hostname); err != nil {
		return nil, outcome.New(451, [3]int{4, 3, 5}, outcome.FaultServer, "local configuration error", err)
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, outcome.New(451, [3]int{4, 4, 1}, outcome.FaultServer, "bad destination address", fmt.Errorf("smtp dial %q: %w", addr, err))
	}
	serverName := cfg.ServerName
	if serverName == "" {
		serverName = host
	}
	serverName = strings.TrimSuffix(serverName, ".")
	commandTimeout := orDuration(cfg.CommandTimeout, DefaultCommandTimeout)
	dial := cfg.Dial
	if dial == nil {
		dial = (&net.Dialer{Timeout: commandTimeout}).DialContext
	}
	raw, err := dial(ctx, "tcp", addr)
	if err != nil {
		return nil, netOutcome([3]int{4, 4, 1}, "no answer from host", fmt.Errorf("smtp dial %s: %w", addr, err))
	}
	// Until Dial returns, a cancelled context ends the conversation.
	// Closing (not a deadline, which the next step would replace) makes
	// it stick.
	stop := context.AfterFunc(ctx, func() { _ = raw.Close() })
	defer stop()
	c, err := handshake(ctx, raw, serverName, cfg, commandTimeout)
	if err != nil {
		_ = raw.Close()
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", err, ctx.Err())
		}
		return nil, Classify(fmt.Errorf("smtp %s: %w", addr, err))
	}
	if !stop() {
		_ = c.client.Close()
		return nil, netOutcome([3]int{4, 4, 2}, "connection aborted", fmt.Errorf("smtp %s: %w", addr, ctx.Err()))
	}
	return c, nil
}

// handshake runs the steps of Dial after the TCP connection is open.
func handshake(ctx context.Context, raw net.Conn, serverName string, cfg DialConfig, timeout time.Duration) (*Conn, error) {
	rec := &tlsRecord{state: TLSNone}
	tlsConfig := newTLSConfig(serverName, cfg, rec)
	conn := net.Conn(raw)
	if cfg.ImplicitTLS {
		tc := tls.Client(raw, tlsConfig)
		_ = raw.SetDeadline(time.Now().Add(timeout))
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrTLSHandshake, err)
		}
		conn = tc
	} else {
		tp := textproto.NewConn(raw)
		step := func() { _ = raw.SetDeadline(time.Now().Add(timeout)) }
		step()
		if _, _, err := tp.ReadResponse(220); err != nil {
			return nil, fmt.Errorf("greeting: %w", replyErr(err))
		}
		step()
		exts, err := ehlo(tp, cfg.Hostname)
		if err != nil {
			return nil, err
		}
		_, offered := exts["STARTTLS"]
		if offered && !cfg.DisableSTARTTLS {
			step()
			id, err := tp.Cmd("STARTTLS")
			if err != nil {
				return nil, fmt.Errorf("STARTTLS: %w", err)
			}
			tp.StartResponse(id)
			_, _, err = tp.ReadResponse(220)
			tp.EndResponse(id)
			switch {
			case err == nil:
				// Anything the server sent after its 220 would be read as
				// if it came over TLS: refuse (RFC 3207 5, the STARTTLS
				// command injection of CVE-2011-0411, here the server side).
				if n := tp.R.Buffered(); n > 0 {
					return nil, fmt.Errorf("STARTTLS: server sent %d bytes after its 220 reply", n)
				}
				tc := tls.Client(raw, tlsConfig)
				if err := tc.HandshakeContext(ctx); err != nil {
					return nil, fmt.Errorf("%w: %w", ErrTLSHandshake, err)
				}
				conn = tc
			case cfg.RequireTLS:
				return nil, fmt.Errorf("%w: STARTTLS refused: %w", ErrTLSRequired, replyErr(err))
			}
			// A refused STARTTLS leaves the session where it was
			// (RFC 3207 4): carry on in plaintext.
		}
		if n := tp.R.Buffered(); conn == net.Conn(raw) && n > 0 {
			return nil, fmt.Errorf("EHLO: server sent %d unexpected bytes", n)
		}
		// go-smtp's client starts by reading a greeting. After STARTTLS
		// the session is back in the state right after the greeting
		// (RFC 3207 4.2), and without TLS a second EHLO is allowed
		// (RFC 5321 4.1.4): so it is given a greeting line of our own and
		// says EHLO itself.
		conn = &greetedConn{Conn: conn, pending: "220 " + serverName + " ESMTP\r\n"}
	}
	state, detail := rec.get()
	if cfg.RequireTLS && state == TLSNone {
		return nil, fmt.Errorf("%w: the server does not offer STARTTLS", ErrTLSRequired)
	}

	client := smtp.NewClient(conn)
	client.CommandTimeout = timeout
	client.SubmissionTimeout = orDuration(cfg.DataTimeout, DefaultDataTimeout)
	if err := client.Hello(cfg.Hostname); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("EHLO: %w", err)
	}
	c := &Conn{client: client, raw: raw, tls: state, tlsDetail: detail}
	if cfg.Auth != nil {
		if err := c.auth(cfg.Auth); err != nil {
			_ = client.Close()
			return nil, err
		}
	}
	return c, nil
}

// auth logs in with AUTH PLAIN, refusing to send the password in the clear
// to anything but loopback (RFC 4616 6).
func (c *Conn) auth(a *Auth) error {
	if c.tls == TLSNone && !isLoopback(c.raw.RemoteAddr()) {
		return fmt.Errorf("%w: refusing to send relay credentials without TLS", ErrTLSRequired)
	}
	if !c.client.SupportsAuth("PLAIN") {
		return fmt.Errorf("AUTH: the server does not offer AUTH PLAIN")
	}
	if err := c.client.Auth(plainAuth{user: a.Username, pass: a.Password}); err != nil {
		return fmt.Errorf("AUTH PLAIN as %s: %w", a.Username, err)
	}
	return nil
}

// ehlo says EHLO and returns the extensions the reply lists (RFC 5321
// 4.1.1.1), keyed in upper case.
func ehlo(tp *textproto.Conn, hostname string) (map[string]string, error) {
	id, err := tp.Cmd("EHLO %s", hostname)
	if err != nil {
		return nil, fmt.Errorf("EHLO: %w", err)
	}
	tp.StartResponse(id)
	_, msg, err := tp.ReadResponse(250)
	tp.EndResponse(id)
	if err != nil {
		var pe *textproto.Error
		if errors.As(err, &pe) && (pe.Code == 500 || pe.Code == 502) {
			// An old server without EHLO: go-smtp falls back to HELO.
			return map[string]string{}, nil
		}
		return nil, fmt.Errorf("EHLO: %w", replyErr(err))
	}
	exts := map[string]string{}
	lines := strings.Split(msg, "\n")
	for _, l := range lines[1:] {
		k, v, _ := strings.Cut(strings.TrimSpace(l), " ")
		exts[strings.ToUpper(k)] = v
	}
	return exts, nil
}

// tlsRecord is what VerifyConnection found.
type tlsRecord struct {
	mu     sync.Mutex
	state  TLSState
	detail string
}

// get returns the recorded state.
func (r *tlsRecord) get() (TLSState, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.state, r.detail
}

// newTLSConfig verifies the certificate itself, in VerifyConnection, so
// that a failed check is recorded instead of ending the connection (unless
// the caller requires a verified one): SMTP between MTAs is opportunistic
// (RFC 7435, RFC 3207 4.1).
func newTLSConfig(serverName string, cfg DialConfig, rec *tlsRecord) *tls.Config {
	now := time.Now
	if cfg.Now != nil {
		now = cfg.Now
	}
	return &tls.Config{
		ServerName:         serverName,
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // verified below, in VerifyConnection
		VerifyConnection: func(cs tls.ConnectionState) error {
			state, detail := TLSVerified, ""
			if len(cs.PeerCertificates) == 0 {
				state, detail = TLSUnverified, "no certificate"
			} else {
				opts := x509.VerifyOptions{DNSName: serverName, Roots: cfg.RootCAs, CurrentTime: now(), Intermediates: x509.NewCertPool()}
				for _, ic := range cs.PeerCertificates[1:] {
					opts.Intermediates.AddCert(ic)
				}
				if _, err := cs.PeerCertificates[0].Verify(opts); err != nil {
					state, detail = TLSUnverified, err.Error()
				}
			}
			rec.mu.Lock()
			rec.state, rec.detail = state, detail
			rec.mu.Unlock()
			if state != TLSVerified && cfg.RequireVerified {
				return fmt.Errorf("certificate of %s: %s", serverName, detail)
			}
			return nil
		},
	}
}

// greetedConn replays a greeting line before the connection's own bytes.
type greetedConn struct {
	net.Conn
	pending string
}

// Read returns the pending greeting first.
func (g *greetedConn) Read(p []byte) (int, error) {
	if g.pending != "" {
		n := copy(p, g.pending)
		g.pending = g.pending[n:]
		return n, nil
	}
	return g.Conn.Read(p)
}

// plainAuth is a SASL PLAIN client (RFC 4616 2) for go-smtp's Client.Auth.
type plainAuth struct{ user, pass string }

// Start sends the authorization identity (empty), user and password.
func (a plainAuth) Start() (string, []byte, error) {
	return "PLAIN", []byte("\x00" + a.user + "\x00" + a.pass), nil
}

// Next refuses any challenge: PLAIN has none.
func (a plainAuth) Next([]byte) ([]byte, error) {
	return nil, errors.New("AUTH PLAIN: unexpected server challenge")
}

// checkHostname refuses an EHLO name that is empty or not one token of
// printable ASCII (RFC 5321 4.1.1.1).
func checkHostname(h string) error {
	if h == "" {
		return errors.New("smtp: no EHLO hostname configured")
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; c <= ' ' || c >= 0x7f {
			return fmt.Errorf("smtp: EHLO hostname %q is not printable ASCII without spaces", h)
		}
	}
	return nil
}

func isLoopback(a net.Addr) bool {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.IsLoopback()
	}
	return false
}

func orDuration(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// replyErr turns a net/textproto reply error into go-smtp's SMTPError, so
// every reply is classified the same way.
func replyErr(err error) error {
	var pe *textproto.Error
	if !errors.As(err, &pe) {
		return err
	}
	se := &smtp.SMTPError{Code: pe.Code, Message: pe.Msg}
	if code, text, ok := strings.Cut(pe.Msg, " "); ok {
		if enh, ok := parseEnhanced(code); ok {
			se.EnhancedCode, se.Message = smtp.EnhancedCode(enh), text
		}
	}
	return se
}

// parseEnhanced reads an RFC 3463 status code "c.s.d".
func parseEnhanced(s string) ([3]int, bool) {
	var e [3]int
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return e, false
	}
	for i, p := range parts {
		if p == "" || len(p) > 3 {
			return e, false
		}
		for _, c := range p {
			if c < '0' || c > '9' {
				return e, false
			}
			e[i] = e[i]*10 + int(c-'0')
		}
	}
	return e, e[0] >= 2 && e[0] <= 5
}

// isNetErr reports an I/O failure of the connection rather than a reply.
func isNetErr(err error) bool {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return false
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
