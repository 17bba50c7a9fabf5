package domains

import "sync/atomic"

// Registry holds the live configuration of a running daemon. Readers call
// Current once per unit of work (an SMTP transaction, a tool call) and use
// that snapshot throughout; a config change builds a new *Config and Swaps
// it in, so the next unit of work sees it (book/admin.md). A *Config is immutable
// once published: nobody may modify what Current returns.
type Registry struct {
	cur atomic.Pointer[Config]
}

// NewRegistry returns a Registry publishing c.
func NewRegistry(c *Config) *Registry {
	r := &Registry{}
	r.cur.Store(c)
	return r
}

// Current returns the live configuration (nil before the first Swap of a
// zero Registry).
func (r *Registry) Current() *Config { return r.cur.Load() }

// Swap publishes c and returns the configuration it replaced.
func (r *Registry) Swap(c *Config) *Config { return r.cur.Swap(c) }
