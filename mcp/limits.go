package mcp

import (
	"errors"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/aimx-dev/aimx/internal/connlimit"
	"github.com/aimx-dev/aimx/internal/panics"
)

// Limits bound what one client can hold of an MCP transport (book/mcp.md,
// "Limits"): connections, and how long a connection may sit without
// sending a complete request. Zero fields take the defaults of
// DefaultLimits; a negative field turns that limit off (tests).
type Limits struct {
	// MaxConns caps connections open at once. Over it a connection is
	// accepted, answered 503 and closed at once: a client learns to come
	// back later instead of hanging in the kernel's backlog, and the
	// daemon keeps file descriptors for its hooks and mail.
	MaxConns int
	// MaxConnsPerIP caps connections from one address (TCP only).
	MaxConnsPerIP int
	// ReadHeaderTimeout drops a connection that has not sent a request's
	// headers in time (slow-header clients).
	ReadHeaderTimeout time.Duration
	// IdleTimeout closes a keep-alive connection with no request in
	// flight. It never ends a response in progress, so SSE and streamable
	// GET streams live as long as the client keeps them.
	IdleTimeout time.Duration
	// BodyTimeout bounds reading one request body (bodies are capped at
	// 2 × max_message_bytes). The deadline is lifted once the body is
	// read, so a slow tool call or a stream is never cut by it. There is
	// no write timeout for the same reason.
	BodyTimeout time.Duration
}

// DefaultLimits are the limits of the daemon's transports.
func DefaultLimits() Limits {
	return Limits{
		MaxConns:          512,
		MaxConnsPerIP:     64,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       time.Minute,
		BodyTimeout:       5 * time.Minute,
	}
}

// withDefaults fills zero fields from DefaultLimits.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	pick := func(v, def int) int {
		if v == 0 {
			return def
		}
		return max(v, 0)
	}
	pickD := func(v, def time.Duration) time.Duration {
		if v == 0 {
			return def
		}
		return max(v, 0)
	}
	return Limits{
		MaxConns:          pick(l.MaxConns, d.MaxConns),
		MaxConnsPerIP:     pick(l.MaxConnsPerIP, d.MaxConnsPerIP),
		ReadHeaderTimeout: pickD(l.ReadHeaderTimeout, d.ReadHeaderTimeout),
		IdleTimeout:       pickD(l.IdleTimeout, d.IdleTimeout),
		BodyTimeout:       pickD(l.BodyTimeout, d.BodyTimeout),
	}
}

// busy is the whole answer to a connection over the cap (RFC 9110 15.6.4:
// 503 with Retry-After for a temporary overload).
const busy = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n" +
	"Retry-After: 5\r\nConnection: close\r\nContent-Length: 37\r\n\r\ntoo many connections, try again later"

// apply sets the timeouts of l on srv. No ReadTimeout and no
// WriteTimeout: net/http cancels a request's context when ReadTimeout
// passes, which would end every SSE stream; bodies get BodyTimeout
// instead (bodyDeadline).
func (l Limits) apply(srv *http.Server) {
	srv.ReadHeaderTimeout = l.ReadHeaderTimeout
	srv.IdleTimeout = l.IdleTimeout
}

// listener wraps ln with the connection caps of l; OnReject logs refused
// connections at Warn.
func (l Limits) listener(ln net.Listener, log zerolog.Logger, what string) net.Listener {
	if l.MaxConns == 0 && l.MaxConnsPerIP == 0 {
		return ln
	}
	return connlimit.New(ln, connlimit.Config{
		MaxTotal: l.MaxConns,
		MaxPerIP: l.MaxConnsPerIP,
		Refusal:  busy,
		OnReject: func(remote net.Addr, limit string) {
			log.Warn().Str("listener", what).Str("remote_ip", remote.String()).Str("limit", limit).
				Msg("MCP connection refused: too many connections")
		},
	})
}

// bodyDeadline gives each request body l.BodyTimeout to arrive, and lifts
// the deadline once it has, so the rest of the request (a tool call, a
// stream) is not bounded by it.
func (l Limits) bodyDeadline(next http.Handler) http.Handler {
	if l.BodyTimeout <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			rc := http.NewResponseController(w)
			if rc.SetReadDeadline(time.Now().Add(l.BodyTimeout)) == nil {
				r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// deadlineBody lifts the connection's read deadline at the end of the body.
type deadlineBody struct {
	io.ReadCloser
	rc     *http.ResponseController
	lifted bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && !b.lifted {
		b.lifted = true
		_ = b.rc.SetReadDeadline(time.Time{}) // the connection may be gone; nothing to lift then
	}
	return n, err // as it is: io.EOF must reach the caller unwrapped
}

// recoverPanics turns a panic while serving a request into a logged,
// counted 500 for that request (mcp-go's handlers run on the request's
// goroutine), so one bad request never takes the daemon or other
// connections down. http.ErrAbortHandler is net/http's own signal and is
// passed on.
func recoverPanics(next http.Handler, counter *panics.Counter, log zerolog.Logger, what string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			if err, ok := p.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(p)
			}
			counter.Recovered(log, what+" "+r.Method+" "+r.URL.Path, p)
			http.Error(w, "internal error", http.StatusInternalServerError)
		}()
		next.ServeHTTP(w, r)
	})
}
