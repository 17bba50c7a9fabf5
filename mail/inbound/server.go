package inbound

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/rs/zerolog"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/internal/connlimit"
	"github.com/aimx-dev/aimx/internal/panics"
)

// Timeouts of the SMTP server (book/smtp.md "Timeouts"). go-smtp's own
// ReadTimeout would bound every read, the whole DATA body included, so it
// is off: our connection sets the read deadlines instead. A client gets
// DefaultCommandTimeout for each command line (counted from our previous
// reply; RFC 5321 4.5.3.2 allows servers 5 minutes, far more than any
// live client needs, and each idle connection holds resources). DATA gets
// DefaultDataTimeout plus DefaultDataTimePerMiB for every MiB announced
// (SIZE=) or received, whichever is more: a client sending at about
// 100 KiB/s always finishes, a stalled one is cut, like mox does.
const (
	DefaultCommandTimeout = 30 * time.Second
	DefaultDataTimeout    = time.Minute
	DefaultDataTimePerMiB = 10 * time.Second
	DefaultWriteTimeout   = 5 * time.Minute
)

// ServerConfig builds a Server.
type ServerConfig struct {
	// Registry is the live configuration (required). Each transaction
	// reads it once, at MAIL, so a swap applies from the next one.
	Registry *domains.Registry
	// Deliverer stores what the server accepts (required).
	Deliverer *Deliverer
	// TLSConfig enables STARTTLS; nil leaves it out of EHLO (see
	// LoadTLSConfig).
	TLSConfig *tls.Config
	// CommandTimeout, DataTimeout, DataTimePerMiB and WriteTimeout
	// default to the Default* constants.
	CommandTimeout, DataTimeout, DataTimePerMiB, WriteTimeout time.Duration
	// Panics counts panics recovered while serving (go-smtp's own
	// recovery included); nil logs them only.
	Panics *panics.Counter
	// NewID returns a transaction id (16 random hex digits when nil).
	NewID func() string
	// Now times transactions for duration_ms (time.Now when nil).
	Now func() time.Time
	// Observer, when set, is told how each transaction ended (metrics).
	Observer Observer
	// Log gets one line per transaction and the server's own errors.
	Log zerolog.Logger
}

// Server is the inbound SMTP server (book/smtp.md): go-smtp with a thin session
// that calls the Deliverer. The daemon owns the listeners and hands each to
// Serve.
//
// Settings that belong to the listener are taken from the configuration
// when the Server is built: the greeting hostname, the connection limits
// and the SIZE advertised in EHLO (which go-smtp also enforces as a
// ceiling). Everything a transaction decides (recipients, size, limits,
// trust, hostname in trace fields) follows the live configuration.
type Server struct {
	cfg     ServerConfig
	smtp    *smtp.Server
	limits  connlimit.Config
	baseCtx context.Context
	cancel  context.CancelFunc

	mu        sync.Mutex
	shutting  bool
	conns     map[*trackedConn]struct{}
	listeners []net.Listener
}

// NewServer builds a Server from cfg and the registry's current
// configuration.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.Registry == nil || cfg.Registry.Current() == nil {
		return nil, errors.New("inbound: new server: no configuration")
	}
	if cfg.Deliverer == nil {
		return nil, errors.New("inbound: new server: no deliverer")
	}
	if cfg.CommandTimeout <= 0 {
		cfg.CommandTimeout = DefaultCommandTimeout
	}
	if cfg.DataTimeout <= 0 {
		cfg.DataTimeout = DefaultDataTimeout
	}
	if cfg.DataTimePerMiB <= 0 {
		cfg.DataTimePerMiB = DefaultDataTimePerMiB
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.NewID == nil {
		cfg.NewID = randomID
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := cfg.Registry.Current()
	s := &Server{cfg: cfg, conns: map[*trackedConn]struct{}{}}
	s.baseCtx, s.cancel = context.WithCancel(context.Background())
	s.limits = connlimit.Config{
		Hostname: c.Hostname(),
		MaxTotal: c.SMTP.MaxConnections,
		MaxPerIP: c.SMTP.MaxConnectionsPerIP,
		OnReject: func(remote net.Addr, limit string) {
			s.cfg.Log.Warn().Str("remote_ip", hostOf(remote)).Str("limit", limit).
				Msg("smtp connection refused: 421 4.7.0 too many connections")
		},
	}

	srv := smtp.NewServer(&backend{s: s})
	srv.Domain = c.Hostname()
	// SIZE advertised and enforced by go-smtp (RFC 1870); the session
	// checks the live limit as well.
	srv.MaxMessageBytes = c.SMTP.MaxMessageBytes
	// max_recipients is live: the session enforces it, so go-smtp's own
	// (static) check stays off.
	srv.MaxRecipients = 0
	srv.EnableSMTPUTF8 = true // RFC 6531: we store the bytes as they come
	// No ReadTimeout: trackedConn sets the read deadlines (see the
	// Default* timeouts).
	srv.ReadTimeout = 0
	srv.WriteTimeout = cfg.WriteTimeout
	srv.TLSConfig = cfg.TLSConfig
	srv.ErrorLog = errorLog{log: cfg.Log, panics: cfg.Panics}
	s.smtp = srv
	return s, nil
}

// LoadTLSConfig reads `[smtp] tls_cert` and `tls_key` into a TLS config
// for STARTTLS; nil (and no error) when neither is set.
func LoadTLSConfig(certFile, keyFile string) (*tls.Config, error) {
	if certFile == "" && keyFile == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load smtp tls cert %s / key %s: %w", certFile, keyFile, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// Serve accepts SMTP connections on ln until Shutdown or Close, enforcing
// max_connections and max_connections_per_ip (421 4.7.0 over a limit). It
// returns nil after Shutdown or Close, and the listener's error otherwise.
func (s *Server) Serve(ln net.Listener) error {
	l := &trackListener{Listener: connlimit.New(ln, s.limits), srv: s}
	s.mu.Lock()
	if s.shutting {
		s.mu.Unlock()
		_ = ln.Close() // never served; the caller asked us to stop
		return nil
	}
	s.listeners = append(s.listeners, l)
	s.mu.Unlock()
	err := s.smtp.Serve(l)
	s.mu.Lock()
	shutting := s.shutting
	s.mu.Unlock()
	if shutting {
		return nil
	}
	if err != nil {
		return fmt.Errorf("smtp serve %s: %w", ln.Addr(), err)
	}
	return nil
}

// Shutdown stops the server gracefully: it stops accepting, closes idle
// connections at once, lets every open transaction finish (a message in
// DATA still gets its answer) and closes each connection after its final
// reply. If ctx ends first, the remaining connections are closed and ctx's
// error is returned.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.shutting = true
	conns := make([]*trackedConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	var errs []error
	for _, l := range s.listeners {
		if err := l.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.drain()
	}
	if err := s.smtp.Shutdown(ctx); err != nil {
		if ctx.Err() != nil {
			s.cancel()
			if cerr := s.smtp.Close(); cerr != nil && !errors.Is(cerr, smtp.ErrServerClosed) {
				errs = append(errs, cerr)
			}
			return errors.Join(append([]error{ctx.Err()}, errs...)...)
		}
		if !errors.Is(err, net.ErrClosed) && !errors.Is(err, smtp.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	s.cancel()
	if len(errs) > 0 {
		return fmt.Errorf("smtp shutdown: %w", errors.Join(errs...))
	}
	return nil
}

// Close stops the server at once, dropping every connection.
func (s *Server) Close() error {
	s.mu.Lock()
	s.shutting = true
	s.mu.Unlock()
	s.cancel()
	if err := s.smtp.Close(); err != nil && !errors.Is(err, smtp.ErrServerClosed) {
		return fmt.Errorf("smtp close: %w", err)
	}
	return nil
}

func (s *Server) track(c *trackedConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutting {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c *trackedConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
}

// randomID is a 16-hex-digit transaction id.
func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux
	return hex.EncodeToString(b[:])
}

func hostOf(a net.Addr) string {
	if a == nil {
		return ""
	}
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap().String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

// errorLog carries go-smtp's own error reports (connection errors,
// recovered panics) into zerolog. go-smtp recovers a panic in a connection
// and reports it as "panic serving ...", with the stack: that one is
// logged as an error and counted.
type errorLog struct {
	log    zerolog.Logger
	panics *panics.Counter
}

func (l errorLog) Printf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	if strings.HasPrefix(format, "panic serving") {
		l.recovered(msg)
		return
	}
	l.log.Warn().Str("component", "smtp").Msg(msg)
}

// recovered logs and counts a panic go-smtp recovered; its message holds
// the stack already.
func (l errorLog) recovered(msg string) {
	l.panics.Recovered(l.log, "smtp.conn", msg)
}

func (l errorLog) Println(v ...any) {
	l.log.Warn().Str("component", "smtp").Msg(fmt.Sprint(v...))
}
