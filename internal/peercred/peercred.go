// Package peercred serves Unix sockets whose callers are identified by the
// kernel: every accepted connection carries the peer's uid, gid and pid,
// read with SO_PEERCRED at accept time (book/admin.md). It also creates the
// socket file safely: a stale socket left by a crash is replaced, a live
// one is never stolen, and paths too long for sun_path are refused.
package peercred

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// MaxPathLen is the longest socket path Linux accepts (sun_path is 108
// bytes including the terminating NUL).
const MaxPathLen = 107

// ErrInUse reports that a live server already answers on the socket path.
var ErrInUse = errors.New("socket in use by a running server")

// Cred is who is on the other end of a Unix connection.
type Cred struct {
	UID, GID uint32
	PID      int32
}

// Conn is an accepted connection with its peer's credentials.
type Conn struct {
	net.Conn
	Cred Cred
}

// Listener accepts Conns; it is a net.Listener.
type Listener struct {
	*net.UnixListener
	path string
}

// Listen creates the socket at path with the given mode. A socket file
// nobody accepts on (left by a crash) is removed first; one a live server
// answers on is left alone and ErrInUse returned.
func Listen(path string, mode os.FileMode) (*Listener, error) {
	if len(path) > MaxPathLen {
		return nil, fmt.Errorf("socket path %s is %d bytes, over the %d-byte limit of Unix sockets: use a shorter runtime dir", path, len(path), MaxPathLen)
	}
	if err := clearStale(path); err != nil {
		return nil, err
	}
	// Bind with a umask-proof mode: create, then chmod before anyone can
	// depend on it (the dir's own mode guards the gap).
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	ln.SetUnlinkOnClose(true)
	if err := os.Chmod(path, mode); err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("chmod %s: %w", path, err)
	}
	return &Listener{UnixListener: ln, path: path}, nil
}

// clearStale removes a socket file that no server answers on.
func clearStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("%s exists and is not a socket: remove it or choose another runtime dir", path)
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		_ = c.Close()
		return fmt.Errorf("%s: %w", path, ErrInUse)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove stale socket %s: %w", path, err)
	}
	return nil
}

// Accept waits for a connection and reads its peer's credentials.
func (l *Listener) Accept() (net.Conn, error) {
	c, err := l.AcceptUnix()
	if err != nil {
		return nil, err
	}
	cred, err := Of(c)
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	return &Conn{Conn: c, Cred: cred}, nil
}

// Of reads the peer credentials of a Unix connection.
func Of(c *net.UnixConn) (Cred, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return Cred{}, fmt.Errorf("peer credentials: %w", err)
	}
	var uc *unix.Ucred
	var serr error
	if err := raw.Control(func(fd uintptr) {
		uc, serr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return Cred{}, fmt.Errorf("peer credentials: %w", err)
	}
	if serr != nil {
		return Cred{}, fmt.Errorf("peer credentials: %w", serr)
	}
	return Cred{UID: uc.Uid, GID: uc.Gid, PID: uc.Pid}, nil
}

type ctxKey struct{}

// ConnContext is an http.Server ConnContext that puts the peer's
// credentials of a Conn into every request's context.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	if pc, ok := c.(*Conn); ok {
		return context.WithValue(ctx, ctxKey{}, pc.Cred)
	}
	return ctx
}

// FromContext returns the credentials ConnContext stored.
func FromContext(ctx context.Context) (Cred, bool) {
	c, ok := ctx.Value(ctxKey{}).(Cred)
	return c, ok
}
