package systemd

import (
	"context"
	"sync"
)

// Fake is a Manager for tests of the commands that drive the service
// (setup, uninstall): it keeps the unit and the service's state in
// memory and records every call in order. Set an entry of Fail to make
// that method fail with the given error.
type Fake struct {
	mu sync.Mutex
	// NotBooted makes Booted report a host without systemd.
	NotBooted bool
	// Unit is the installed unit file; nil means none.
	Unit []byte
	// Enabled and Active are the service's state.
	Enabled, Active bool
	// Calls lists the methods called, in order ("install", "enable",
	// "start", "stop", "disable", "remove", "restart", "is-active").
	Calls []string
	// Fail maps a method name (as in Calls) to the error it returns.
	Fail map[string]error
}

var _ Manager = (*Fake)(nil)

// call records name and returns its configured failure.
func (f *Fake) call(name string) error {
	f.Calls = append(f.Calls, name)
	return f.Fail[name]
}

// Booted reports !NotBooted.
func (f *Fake) Booted() bool { return !f.NotBooted }

// Install keeps a copy of unit.
func (f *Fake) Install(_ context.Context, unit []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("install"); err != nil {
		return err
	}
	f.Unit = append([]byte(nil), unit...)
	return nil
}

// Installed reports whether a unit is kept.
func (f *Fake) Installed() (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.Unit != nil, nil
}

// Enable marks the service enabled.
func (f *Fake) Enable(context.Context) error { return f.set("enable", &f.Enabled, true) }

// Disable marks it disabled.
func (f *Fake) Disable(context.Context) error { return f.set("disable", &f.Enabled, false) }

// Start marks it active.
func (f *Fake) Start(context.Context) error { return f.set("start", &f.Active, true) }

// Stop marks it inactive.
func (f *Fake) Stop(context.Context) error { return f.set("stop", &f.Active, false) }

// Restart marks it active.
func (f *Fake) Restart(context.Context) error { return f.set("restart", &f.Active, true) }

// IsActive reports Active.
func (f *Fake) IsActive(context.Context) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("is-active"); err != nil {
		return false, err
	}
	return f.Active, nil
}

// Remove drops the unit.
func (f *Fake) Remove(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("remove"); err != nil {
		return err
	}
	f.Unit = nil
	return nil
}

func (f *Fake) set(name string, field *bool, v bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call(name); err != nil {
		return err
	}
	*field = v
	return nil
}
