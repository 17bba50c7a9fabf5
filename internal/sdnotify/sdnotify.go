// Package sdnotify tells systemd about the daemon's state over the
// notification socket of sd_notify(3): READY=1 once every listener is
// bound, STOPPING=1 when a shutdown begins, and a STATUS= line for
// `systemctl status` (book/operations.md, "The systemd unit").
//
// It is written here rather than taken from a library: the protocol is one
// datagram of newline-separated KEY=VALUE assignments to the AF_UNIX
// socket named in $NOTIFY_SOCKET, which net.DialUnix does in a few lines,
// and the libraries that wrap it (coreos/go-systemd among them) read the
// process environment themselves, where aimx passes its environment in so
// tests can point it at their own socket.
package sdnotify

import (
	"errors"
	"fmt"
	"net"
	"strings"
)

// EnvSocket is the environment variable systemd sets for a service with
// Type=notify (systemd.exec(5), "$NOTIFY_SOCKET").
const EnvSocket = "NOTIFY_SOCKET"

// States the daemon sends (sd_notify(3), "Well-known assignments").
const (
	// Ready says start-up is finished: every listener is bound.
	Ready = "READY=1"
	// Stopping says a shutdown has begun.
	Stopping = "STOPPING=1"
	// Reloading says a configuration reload has begun. With Type=notify
	// (not notify-reload) systemd only records it; Ready must follow.
	Reloading = "RELOADING=1"
)

// ErrUnsupported reports a $NOTIFY_SOCKET address this package cannot
// reach (an AF_VSOCK "vsock:" address, used by VMs).
var ErrUnsupported = errors.New("unsupported notify socket address")

// Notifier sends state changes to one notification socket. The zero value
// (no socket: the daemon does not run under systemd) sends nothing.
type Notifier struct {
	// Socket is the value of $NOTIFY_SOCKET: a filesystem path or, with a
	// leading '@', an abstract socket name.
	Socket string
}

// FromEnv returns the Notifier for the environment env (a map such as
// `aimx serve` keeps), sending nothing when $NOTIFY_SOCKET is unset.
func FromEnv(env map[string]string) Notifier { return Notifier{Socket: env[EnvSocket]} }

// Enabled reports whether there is a socket to notify.
func (n Notifier) Enabled() bool { return n.Socket != "" }

// Notify sends the given assignments ("READY=1", "STATUS=...") as one
// datagram. It does nothing and returns nil when n has no socket. A
// STATUS value must be one line: newlines in any assignment are replaced
// by spaces so they cannot forge another assignment.
func (n Notifier) Notify(states ...string) error {
	if n.Socket == "" {
		return nil
	}
	addr := n.Socket
	switch {
	case strings.HasPrefix(addr, "@"):
		// An abstract socket: Go maps the leading '@' to the NUL byte
		// (unix(7), "Abstract sockets").
	case strings.HasPrefix(addr, "/"):
	default:
		return fmt.Errorf("sd_notify to %q: %w", addr, ErrUnsupported)
	}
	lines := make([]string, len(states))
	for i, s := range states {
		lines[i] = strings.NewReplacer("\n", " ", "\r", " ").Replace(s)
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sd_notify: connect %s: %w", addr, err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(strings.Join(lines, "\n") + "\n")); err != nil {
		return fmt.Errorf("sd_notify: send to %s: %w", addr, err)
	}
	return nil
}

// Status is a STATUS= assignment: one line `systemctl status` shows.
func Status(text string) string { return "STATUS=" + text }
