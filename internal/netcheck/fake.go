package netcheck

import (
	"context"
	"fmt"
	"net"
	"sync"
)

// Fake is a Network for tests: every answer is set by the test, and the
// addresses asked are recorded.
type Fake struct {
	// IPs are the public addresses PublicIPs returns.
	IPs []net.IP
	// Greetings maps an address to its greeting; an address without one
	// gets GreetingErr, or "connection refused".
	Greetings map[string]string
	// GreetingErr, when set, is the error for addresses without a greeting.
	GreetingErr error
	// InUse lists the addresses Listenable reports in use.
	InUse map[string]bool

	mu     sync.Mutex
	dialed []string
}

var _ Network = (*Fake)(nil)

// Greeting answers from Greetings.
func (f *Fake) Greeting(_ context.Context, addr string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dialed = append(f.dialed, addr)
	if g, ok := f.Greetings[addr]; ok {
		return g, nil
	}
	if f.GreetingErr != nil {
		return "", fmt.Errorf("connect to %s: %w", addr, f.GreetingErr)
	}
	return "", fmt.Errorf("connect to %s: connection refused", addr)
}

// SetGreeting makes addr answer with greeting from now on.
func (f *Fake) SetGreeting(addr, greeting string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Greetings == nil {
		f.Greetings = map[string]string{}
	}
	f.Greetings[addr] = greeting
}

// Dialed lists the addresses Greeting was asked for, in order.
func (f *Fake) Dialed() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.dialed...)
}

// PublicIPs returns IPs.
func (f *Fake) PublicIPs(context.Context) ([]net.IP, error) { return f.IPs, nil }

// Listenable reports the addresses in InUse as in use.
func (f *Fake) Listenable(addr string) error {
	if f.InUse[addr] {
		return fmt.Errorf("listen on %s: %w", addr, ErrInUse)
	}
	return nil
}
