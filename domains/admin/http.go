package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/rs/zerolog"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/internal/peercred"
)

// SocketName is the operator socket's name in the runtime dir (book/configuration.md).
const SocketName = "admin.sock"

// SocketMode is the operator socket's permission (book/configuration.md): only the
// daemon's user can connect; the handler checks the peer too.
const SocketMode os.FileMode = 0o600

// maxBody bounds a request body: the API's requests are a few hundred
// bytes.
const maxBody = 1 << 20

// Listen creates admin.sock in the runtime dir (stale socket replaced,
// live one refused, long paths refused: see peercred.Listen).
func Listen(runtimeDir string) (net.Listener, error) {
	ln, err := peercred.Listen(filepath.Join(runtimeDir, SocketName), SocketMode)
	if err != nil {
		return nil, fmt.Errorf("operator socket: %w", err)
	}
	return ln, nil
}

// OperatorUID is the peer check of admin.sock: domains.IsOperatorUID for
// a daemon of this euid.
func OperatorUID(daemonEUID int) func(uid uint32) bool {
	return func(uid uint32) bool { return domains.IsOperatorUID(uid, daemonEUID) }
}

// Handler serves the operator API of book/admin.md for a. isOperator decides
// from the peer's uid (read from SO_PEERCRED by the listener) whether a
// request is allowed; a request without peer credentials is refused.
func Handler(a *Admin, isOperator func(uid uint32) bool, log zerolog.Logger) http.Handler {
	h := &handler{a: a, log: log}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/drafts", h.wrap(func(r *http.Request) (int, any, error) {
		v, err := a.ListDrafts(r.Context())
		return http.StatusOK, v, err
	}))
	mux.HandleFunc("POST /v1/drafts/{id}/approve", h.wrap(func(r *http.Request) (int, any, error) {
		v, err := a.ApproveDraft(r.Context(), r.PathValue("id"))
		return http.StatusOK, v, err
	}))
	mux.HandleFunc("POST /v1/drafts/{id}/reject", h.wrap(func(r *http.Request) (int, any, error) {
		v, err := a.RejectDraft(r.Context(), r.PathValue("id"))
		return http.StatusOK, v, err
	}))
	mux.HandleFunc("GET /v1/domains", h.wrap(func(r *http.Request) (int, any, error) {
		v, err := a.ListDomains(r.Context())
		return http.StatusOK, v, err
	}))
	mux.HandleFunc("POST /v1/domains", h.wrap(func(r *http.Request) (int, any, error) {
		var req NewDomain
		if err := decode(r, &req); err != nil {
			return 0, nil, err
		}
		v, err := a.AddDomain(r.Context(), req)
		return http.StatusCreated, v, err
	}))
	mux.HandleFunc("DELETE /v1/domains/{domain}", h.wrap(func(r *http.Request) (int, any, error) {
		force, err := boolParam(r, "force")
		if err != nil {
			return 0, nil, err
		}
		v, err := a.RemoveDomain(r.Context(), r.PathValue("domain"), force)
		return http.StatusOK, v, err
	}))
	mux.HandleFunc("GET /v1/mailboxes", h.wrap(func(r *http.Request) (int, any, error) {
		v, err := a.ListMailboxes(r.Context())
		return http.StatusOK, v, err
	}))
	mux.HandleFunc("POST /v1/mailboxes", h.wrap(func(r *http.Request) (int, any, error) {
		var req NewMailbox
		if err := decode(r, &req); err != nil {
			return 0, nil, err
		}
		v, err := a.CreateMailbox(r.Context(), req)
		if v.Created {
			return http.StatusCreated, v, err
		}
		return http.StatusOK, v, err
	}))
	mux.HandleFunc("DELETE /v1/mailboxes/{name}", h.wrap(func(r *http.Request) (int, any, error) {
		force, err := boolParam(r, "force")
		if err != nil {
			return 0, nil, err
		}
		v, err := a.DeleteMailbox(r.Context(), r.PathValue("name"), force)
		return http.StatusOK, v, err
	}))
	mux.HandleFunc("GET /v1/hooks", h.wrap(func(r *http.Request) (int, any, error) {
		v, err := a.ListHooks(r.Context(), r.URL.Query().Get("mailbox"))
		return http.StatusOK, v, err
	}))
	mux.HandleFunc("POST /v1/hooks", h.wrap(func(r *http.Request) (int, any, error) {
		var req HookInfo
		if err := decode(r, &req); err != nil {
			return 0, nil, err
		}
		v, err := a.CreateHook(r.Context(), req)
		return http.StatusCreated, v, err
	}))
	mux.HandleFunc("DELETE /v1/hooks/{name}", h.wrap(func(r *http.Request) (int, any, error) {
		v, err := a.DeleteHook(r.Context(), r.PathValue("name"))
		return http.StatusOK, v, err
	}))
	mux.HandleFunc("GET /v1/tokens", h.wrap(func(r *http.Request) (int, any, error) {
		v, err := a.ListTokens(r.Context())
		return http.StatusOK, v, err
	}))
	mux.HandleFunc("POST /v1/tokens", h.wrap(func(r *http.Request) (int, any, error) {
		var req NewToken
		if err := decode(r, &req); err != nil {
			return 0, nil, err
		}
		v, err := a.CreateToken(r.Context(), req)
		return http.StatusCreated, v, err
	}))
	mux.HandleFunc("DELETE /v1/tokens/{id}", h.wrap(func(r *http.Request) (int, any, error) {
		v, err := a.RevokeToken(r.Context(), r.PathValue("id"))
		return http.StatusOK, v, err
	}))
	mux.HandleFunc("POST /v1/reload", h.wrap(func(r *http.Request) (int, any, error) {
		v, err := a.Reload(r.Context())
		return http.StatusOK, v, err
	}))
	mux.HandleFunc("GET /v1/status", h.wrap(func(r *http.Request) (int, any, error) {
		v, err := a.DaemonStatus(r.Context())
		return http.StatusOK, v, err
	}))
	mux.HandleFunc("/", h.wrap(func(r *http.Request) (int, any, error) {
		return 0, nil, apiErr(CodeNotFound, "no endpoint %s %s (see book/admin.md)", r.Method, r.URL.Path)
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer h.recover(w, r)
		cred, ok := peercred.FromContext(r.Context())
		if !ok || !isOperator(cred.UID) {
			uid := "unknown"
			if ok {
				uid = strconv.FormatUint(uint64(cred.UID), 10)
			}
			log.Warn().Str("peer_uid", uid).Str("path", r.URL.Path).Msg("admin: refused a non-operator peer")
			writeError(w, apiErr(CodeForbidden, "uid %s is not the operator: admin.sock serves root and the daemon's user only", uid))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		mux.ServeHTTP(w, r)
	})
}

type handler struct {
	a   *Admin
	log zerolog.Logger
}

// recover turns a panic in a request into a logged, counted internal
// error for that request, so the daemon and the other requests carry on.
// http.ErrAbortHandler is net/http's own way to end a request and is
// passed on.
func (h *handler) recover(w http.ResponseWriter, r *http.Request) {
	p := recover()
	if p == nil {
		return
	}
	if p == http.ErrAbortHandler {
		panic(p)
	}
	h.a.Panics.Recovered(h.log, "admin "+r.Method+" "+r.URL.Path, p)
	writeError(w, apiErr(CodeInternal, "internal error (a bug: the aimx log has the detail)"))
}

// wrap turns an operation into a handler: JSON out, errors as *Error.
// Internal errors are logged with their detail.
func (h *handler) wrap(op func(*http.Request) (int, any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		status, v, err := op(r)
		if err != nil {
			e := asAPIError(err)
			if e.Code == CodeInternal {
				h.log.Error().Err(err).Str("path", r.URL.Path).Msg("admin: request failed")
			}
			writeError(w, e)
			return
		}
		writeJSON(w, status, v)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the peer hung up; nothing to tell it
}

func writeError(w http.ResponseWriter, e *Error) {
	writeJSON(w, e.Status, e)
}

// decode reads a JSON request body strictly: unknown fields are an error,
// so a misspelt field is not silently ignored.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return apiErr(CodeValidation, "request body over %d bytes", mbe.Limit)
		}
		return apiErr(CodeValidation, "request body is not the expected JSON: %v", err)
	}
	return nil
}

func boolParam(r *http.Request, name string) (bool, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, apiErr(CodeValidation, "%s=%q: want true or false", name, s)
	}
	return b, nil
}

// Server is the operator API as a daemon service on admin.sock.
type Server struct {
	srv *http.Server
}

// NewServer serves h; each request's context carries the peer's
// credentials (peercred.ConnContext).
func NewServer(h http.Handler) *Server {
	return &Server{srv: &http.Server{
		Handler:           h,
		ConnContext:       peercred.ConnContext,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       time.Minute,
	}}
}

// Serve answers requests on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("operator API: %w", err)
	}
	return nil
}

// Shutdown stops accepting and lets requests in flight finish within ctx.
func (s *Server) Shutdown(ctx context.Context) error {
	if err := s.srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("operator API shutdown: %w", err)
	}
	return nil
}
