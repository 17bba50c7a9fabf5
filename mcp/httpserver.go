package mcp

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"

	"github.com/mark3labs/mcp-go/server"
	"github.com/rs/zerolog"
)

// SSE endpoints on TCP, beside EndpointPath (book/mcp.md).
const (
	SSEPath     = "/sse"
	MessagePath = "/message"
)

// HTTPServer serves MCP on TCP when `[mcp] http_listen` is set (book/mcp.md):
// streamable HTTP at /mcp and SSE at /sse + /message. Every request needs
// `Authorization: Bearer <token>`; an SSE session belongs to the token that
// opened it; bodies are capped at 2 × max_message_bytes; the Host header
// is checked against loopback names and `[mcp] allowed_hosts`. It has the
// daemon's Service shape.
type HTTPServer struct {
	// Limits bound connections and slow clients; set before Serve. The
	// zero value means DefaultLimits.
	Limits Limits
	// DevTokenFile, set in dev mode, is named by every 401, so a newcomer
	// learns where the token is (book/dev-mode.md).
	DevTokenFile string

	log        zerolog.Logger
	srv        *Server
	tokens     TokenVerifier
	http       *http.Server
	streamable *server.StreamableHTTPServer
	sse        *server.SSEServer
	sessions   sync.Map // SSE session id → principal
}

// principal identifies a bearer token without keeping it: SHA-256 of the
// secret. An SSE session's POSTs must carry the token that opened it.
type principal [sha256.Size]byte

type principalKey struct{}

// sseOpen carries the principal of a GET /sse into mcp-go's session id
// generator, and the id back out so the session is forgotten when the
// stream ends.
type sseOpen struct {
	who principal
	id  string
}

type sseOpenKey struct{}

// HTTPServer builds the TCP transport; tokens checks every request's
// bearer token, log receives mcp-go's warnings (never a header).
func (s *Server) HTTPServer(tokens TokenVerifier, log zerolog.Logger) *HTTPServer {
	h := &HTTPServer{srv: s, tokens: tokens, log: log}
	identify := func(r *http.Request) (Caller, bool) { return CallerFrom(r.Context()) }
	h.streamable = s.streamable(identify, server.WithStreamableHTTPLogger(warnLogger(log)),
		// hostAllowed below replaces mcp-go's check, which knows no
		// allowed_hosts.
		server.WithDisableLocalhostProtection(true))
	h.sse = server.NewSSEServer(s.mcp,
		server.WithSSEDisableLocalhostProtection(true),
		server.WithSSEContextFunc(func(ctx context.Context, r *http.Request) context.Context {
			if c, ok := CallerFrom(r.Context()); ok {
				return WithCaller(ctx, c)
			}
			return ctx
		}),
		server.WithSessionIDGenerator(h.newSSESession),
	)
	h.http = &http.Server{}
	return h
}

// handler is the whole TCP handler for limits l.
func (h *HTTPServer) handler(l Limits) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(EndpointPath, h.streamable)
	mux.Handle(SSEPath, http.HandlerFunc(h.serveSSE))
	mux.Handle(MessagePath, http.HandlerFunc(h.serveMessage))
	return recoverPanics(h.guard(l.bodyDeadline(h.srv.capBody(mux))), h.srv.deps.Panics, h.log, "mcp http")
}

// Handler is the whole TCP handler (Host check, bearer, body cap, the
// three endpoints), for tests that serve it themselves.
func (h *HTTPServer) Handler() http.Handler { return h.handler(h.Limits.withDefaults()) }

// Serve answers connections on ln until Shutdown, within h.Limits.
func (h *HTTPServer) Serve(ln net.Listener) error {
	l := h.Limits.withDefaults()
	h.http.Handler = h.handler(l)
	l.apply(h.http)
	err := h.http.Serve(l.listener(ln, h.log, "mcp_http"))
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting, ends the SSE streams and MCP sessions (which
// would otherwise hold Shutdown open) and waits for calls in flight
// within ctx.
func (h *HTTPServer) Shutdown(ctx context.Context) error {
	h.sse.CloseSessions()
	h.streamable.CloseSessions(ctx)
	if err := h.http.Shutdown(ctx); err != nil {
		return fmt.Errorf("shut down MCP HTTP: %w", err)
	}
	return nil
}

// guard checks the Host header and the bearer token of every request and
// puts the token's caller and principal into the request context.
func (h *HTTPServer) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !h.hostAllowed(r) {
			forbidden(w, fmt.Sprintf("Forbidden: Host %q is not loopback and not in [mcp] allowed_hosts", r.Host))
			return
		}
		secret, given := bearer(r)
		if !given {
			unauthorized(w, `Bearer realm="aimx"`, "this server needs Authorization: Bearer <token>; the operator mints tokens with `aimx tokens create`"+h.devHint())
			return
		}
		c, ok := h.tokens.Verify(secret)
		if !ok {
			unauthorized(w, `Bearer realm="aimx", error="invalid_token"`, "the bearer token is unknown or revoked"+h.devHint())
			return
		}
		ctx := WithCaller(r.Context(), c)
		ctx = context.WithValue(ctx, principalKey{}, principal(sha256.Sum256([]byte(secret))))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// devHint ends a 401's text in dev mode: where the dev token is.
func (h *HTTPServer) devHint() string {
	if h.DevTokenFile == "" {
		return ""
	}
	return fmt.Sprintf(". This is a dev server (aimx serve --dev): its token is in %s; send Authorization: Bearer $(cat %s)", h.DevTokenFile, h.DevTokenFile)
}

// bearer returns the token of an `Authorization: Bearer` header.
func bearer(r *http.Request) (string, bool) {
	scheme, secret, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	secret = strings.TrimSpace(secret)
	return secret, secret != ""
}

// unauthorized answers 401 and closes the connection: a client without a
// valid token gets nothing more from it, and cannot park it as an idle
// keep-alive connection.
func unauthorized(w http.ResponseWriter, challenge, msg string) {
	w.Header().Set("WWW-Authenticate", challenge)
	w.Header().Set("Connection", "close")
	http.Error(w, msg, http.StatusUnauthorized)
}

// forbidden answers 403 and closes the connection.
func forbidden(w http.ResponseWriter, msg string) {
	w.Header().Set("Connection", "close")
	http.Error(w, msg, http.StatusForbidden)
}

// hostAllowed is the DNS-rebinding guard with `[mcp] allowed_hosts`:
// loopback names are always accepted; another Host is accepted when it is
// listed (with or without its port); with an empty list, any Host is
// accepted on a non-loopback listener (as mcp-go does), none on a
// loopback one.
func (h *HTTPServer) hostAllowed(r *http.Request) bool {
	if isLoopbackHost(r.Host) {
		return true
	}
	var allowed []string
	if cfg := h.srv.deps.Registry.Current(); cfg != nil {
		allowed = cfg.MCP.AllowedHosts
	}
	name := r.Host
	if hn, _, err := net.SplitHostPort(r.Host); err == nil {
		name = hn
	}
	name = strings.Trim(name, "[]")
	for _, a := range allowed {
		if strings.EqualFold(a, r.Host) || strings.EqualFold(strings.Trim(a, "[]"), name) {
			return true
		}
	}
	if len(allowed) > 0 {
		return false
	}
	local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	return !ok || local == nil || !isLoopbackHost(local.String())
}

// isLoopbackHost reports whether a Host header or address names loopback.
func isLoopbackHost(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = strings.Trim(addr, "[]")
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// serveSSE opens an SSE stream, recording which token opened it.
func (h *HTTPServer) serveSSE(w http.ResponseWriter, r *http.Request) {
	who, _ := r.Context().Value(principalKey{}).(principal)
	open := &sseOpen{who: who}
	defer func() {
		if open.id != "" {
			h.sessions.Delete(open.id)
		}
	}()
	h.sse.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sseOpenKey{}, open)))
}

// newSSESession is mcp-go's session id generator: a random id, bound to
// the token of the GET that opens it.
func (h *HTTPServer) newSSESession(ctx context.Context, _ *http.Request) (string, error) {
	open, ok := ctx.Value(sseOpenKey{}).(*sseOpen)
	if !ok {
		return "", errors.New("SSE session opened outside the bearer guard")
	}
	open.id = rand.Text()
	h.sessions.Store(open.id, open.who)
	return open.id, nil
}

// serveMessage accepts a POST to an SSE session only from the token that
// opened the session (book/mcp.md: the SSE principal must match on every
// POST). Unknown sessions are left to mcp-go, which refuses them.
func (h *HTTPServer) serveMessage(w http.ResponseWriter, r *http.Request) {
	if id := r.URL.Query().Get("sessionId"); id != "" {
		if owner, ok := h.sessions.Load(id); ok {
			who, _ := r.Context().Value(principalKey{}).(principal)
			want := owner.(principal)
			if subtle.ConstantTimeCompare(who[:], want[:]) != 1 {
				forbidden(w, "Forbidden: this SSE session was opened with another token")
				return
			}
		}
	}
	h.sse.ServeHTTP(w, r)
}
