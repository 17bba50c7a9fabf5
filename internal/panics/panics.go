// Package panics turns a recovered panic into one error log line with its
// stack and a count the daemon reports in /v1/status (book/security.md:
// "Panics"). A nil *Counter still logs, so components built without one in
// tests lose nothing.
package panics

import (
	"runtime/debug"
	"sync/atomic"

	"github.com/rs/zerolog"
)

// Counter counts recovered panics for one daemon. The zero value is ready
// to use and safe for concurrent use.
type Counter struct {
	n atomic.Int64
}

// Count returns how many panics were recovered so far.
func (c *Counter) Count() int64 {
	if c == nil {
		return 0
	}
	return c.n.Load()
}

// Recovered logs p (the value recover returned) with the stack of the
// panicking goroutine and where it was caught, and counts it. Call it
// from the deferred function that called recover, so the stack still
// shows the panic site.
func (c *Counter) Recovered(log zerolog.Logger, where string, p any) {
	if c != nil {
		c.n.Add(1)
	}
	log.Error().Str("where", where).Interface("panic", p).Bytes("stack", debug.Stack()).Msg("recovered from panic")
}
