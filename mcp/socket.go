package mcp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"syscall"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	mcpgo "github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/rs/zerolog"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/internal/peercred"
)

// SocketName is the agent socket's file name in the runtime dir (book/configuration.md).
const SocketName = "aimx.sock"

// SocketMode lets every local user connect: the peer uid, not the file
// mode, decides what a caller sees (book/admin.md).
const SocketMode = 0o666

// EndpointPath is where MCP streamable HTTP is served, on aimx.sock and
// on TCP.
const EndpointPath = "/mcp"

// SocketPath is aimx.sock's path in runtimeDir.
func SocketPath(runtimeDir string) string { return filepath.Join(runtimeDir, SocketName) }

// SocketServer serves MCP streamable HTTP on aimx.sock (book/admin.md): the
// caller of every request is the peer uid that SO_PEERCRED reported when
// the connection was accepted. It has the daemon's Service shape.
type SocketServer struct {
	// Limits bound connections and slow clients (MaxConnsPerIP does not
	// apply to a Unix socket); set before Serve. The zero value means
	// DefaultLimits.
	Limits Limits

	log        zerolog.Logger
	mux        http.Handler
	http       *http.Server
	streamable *server.StreamableHTTPServer
}

// SocketServer builds the aimx.sock transport; callerOf (PeerCallers.Caller
// in the daemon) maps a peer uid to its caller, log receives mcp-go's
// warnings.
func (s *Server) SocketServer(callerOf func(uid uint32) (Caller, bool), log zerolog.Logger) *SocketServer {
	identify := func(r *http.Request) (Caller, bool) { return CallerFrom(r.Context()) }
	st := s.streamable(identify, server.WithStreamableHTTPLogger(warnLogger(log)),
		// Unix sockets have no Host to rebind; the peer uid is the guard.
		server.WithDisableLocalhostProtection(true))
	mux := http.NewServeMux()
	mux.Handle(EndpointPath, s.capBody(st))
	return &SocketServer{
		log:        log,
		mux:        recoverPanics(mux, s.deps.Panics, log, "mcp socket"),
		streamable: st,
		http: &http.Server{
			// The caller is fixed per connection: resolve the uid once,
			// at accept.
			ConnContext: func(ctx context.Context, c net.Conn) context.Context {
				ctx = peercred.ConnContext(ctx, peerConn(c))
				cred, ok := peercred.FromContext(ctx)
				if !ok {
					return ctx
				}
				if caller, ok := callerOf(cred.UID); ok {
					return WithCaller(ctx, caller)
				}
				log.Warn().Uint32("uid", cred.UID).Msg("aimx.sock peer uid has no user name; its calls are refused")
				return ctx
			},
		},
	}
}

// peerConn finds the peer-credential connection under the connection
// cap's wrapper (which, like crypto/tls.Conn, offers NetConn).
func peerConn(c net.Conn) net.Conn {
	for {
		if _, ok := c.(*peercred.Conn); ok {
			return c
		}
		u, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			return c
		}
		c = u.NetConn()
	}
}

// Listen creates aimx.sock at path (mode 0666), replacing a stale socket
// left by a crash and refusing one a live daemon answers on.
func (ss *SocketServer) Listen(path string) (net.Listener, error) {
	ln, err := peercred.Listen(path, SocketMode)
	if err != nil {
		return nil, fmt.Errorf("agent socket: %w", err)
	}
	return ln, nil
}

// Serve answers connections on ln (a listener from Listen) until Shutdown.
func (ss *SocketServer) Serve(ln net.Listener) error {
	l := ss.Limits.withDefaults()
	ss.http.Handler = l.bodyDeadline(ss.mux)
	l.apply(ss.http)
	err := ss.http.Serve(l.listener(ln, ss.log, "mcp_unix"))
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting, ends open MCP sessions and waits for calls in
// flight within ctx.
func (ss *SocketServer) Shutdown(ctx context.Context) error {
	ss.streamable.CloseSessions(ctx)
	if err := ss.http.Shutdown(ctx); err != nil {
		return fmt.Errorf("shut down aimx.sock: %w", err)
	}
	return nil
}

// capBody limits request bodies to 2 × max_message_bytes of the live
// config (book/mcp.md): mcp-go reads POST bodies without a limit.
func (s *Server) capBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, s.bodyLimit())
		}
		next.ServeHTTP(w, r)
	})
}

// bodyLimit is the request body cap of the live config.
func (s *Server) bodyLimit() int64 {
	if s.deps.Registry != nil {
		if cfg := s.deps.Registry.Current(); cfg != nil && cfg.SMTP.MaxMessageBytes > 0 {
			return 2 * cfg.SMTP.MaxMessageBytes
		}
	}
	return 2 * domains.DefaultMaxMessageBytes
}

// SocketHTTPClient is an http.Client whose every request goes to the
// Unix socket at path, whatever the URL's host: what the stdio bridge and
// the owner CLI reach aimx.sock with.
func SocketHTTPClient(path string) *http.Client {
	var d net.Dialer
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "unix", path)
		},
		MaxIdleConns:    4,
		IdleConnTimeout: 30 * time.Second,
	}}
}

// socketURL is the URL clients of aimx.sock use; the host is ignored by
// SocketHTTPClient's dialer.
const socketURL = "http://aimx.sock" + EndpointPath

// DialSocket connects an mcp-go client to aimx.sock at path and
// initializes it; version "" lets mcp-go negotiate (2026-07-28). The
// caller closes the client. A daemon that is not running answers with an
// error for which DaemonDown is true.
func DialSocket(ctx context.Context, path, version string) (*client.Client, error) {
	tr, err := transport.NewStreamableHTTP(socketURL, transport.WithHTTPBasicClient(SocketHTTPClient(path)))
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", path, err)
	}
	var opts []client.ClientOption
	if version != "" {
		opts = append(opts, client.WithProtocolVersion(version))
	}
	cl := client.NewClient(tr, opts...)
	if err := cl.Start(ctx); err != nil {
		return nil, fmt.Errorf("connect to %s: %w", path, err)
	}
	init := mcpgo.InitializeRequest{}
	init.Params.ClientInfo = mcpgo.Implementation{Name: "aimx-bridge", Version: ServerVersion}
	init.Params.ProtocolVersion = version
	if _, err := cl.Initialize(ctx, init); err != nil {
		_ = cl.Close() // the initialize error is the one to report
		return nil, fmt.Errorf("connect to %s: %w", path, err)
	}
	return cl, nil
}

// DaemonDown reports whether err means nothing answers on the socket: no
// socket file, or one nobody accepts on (a crashed or stopped daemon).
func DaemonDown(err error) bool {
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "dial" {
		return false
	}
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT)
}
