// Package daemon runs aimx's long-lived process: it owns the pid file, binds
// every listener in one place, records the bound addresses, reloads the
// config on SIGHUP and shuts every service down gracefully. The services
// themselves (SMTP intake now; MCP, outbound, hooks and admin later) are
// handed in by `aimx serve`, so adding one never changes this package.
package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/internal/panics"
	"github.com/aimx-dev/aimx/internal/safefs"
	"github.com/aimx-dev/aimx/storage"
)

// ShutdownTimeout bounds a graceful shutdown (book/security.md, "Shutdown":
// finish transactions in flight within 30 s, then exit). It is one deadline for the whole
// shutdown: every listener and every component is stopped within it.
const ShutdownTimeout = 30 * time.Second

// Service is something that serves connections on a listener the daemon
// binds for it (the SMTP server, later the MCP HTTP server).
type Service interface {
	// Serve handles connections on ln until Shutdown; it returns nil (or
	// net.ErrClosed) after a graceful stop.
	Serve(ln net.Listener) error
	// Shutdown stops accepting, lets work in flight finish within ctx, and
	// then closes what is left.
	Shutdown(ctx context.Context) error
}

// Component is a background part of the daemon with no listener of its own
// (the hook worker pool, the outbound queue).
type Component interface {
	// Start launches the component; it must return promptly.
	Start(ctx context.Context) error
	// Stop ends it gracefully within ctx, returning when ctx ends at the
	// latest (work left then is the next start's to recover).
	Stop(ctx context.Context) error
}

// Daemon is one run of `aimx serve`.
type Daemon struct {
	log        zerolog.Logger
	runtimeDir string
	changer    *domains.Changer
	panics     *panics.Counter
	shutdown   time.Duration

	listeners  []*listener
	components []namedComponent
	cleanStop  atomic.Bool
}

type listener struct {
	name, network, addr string
	// listen, when set, creates the listener instead of net.Listen (a
	// Unix socket with peer credentials).
	listen func() (net.Listener, error)
	svc    Service
	ln     net.Listener
}

type namedComponent struct {
	name string
	c    Component
}

// Options are what a Daemon is built from.
type Options struct {
	Log        zerolog.Logger
	RuntimeDir string
	// Changer makes every config change, a SIGHUP reload included, in order.
	Changer *domains.Changer
	// Panics counts every panic the daemon's goroutines recover; nil
	// means a counter of the daemon's own. Hand the same counter to the
	// components (Panics) so the count covers them.
	Panics *panics.Counter
	// ShutdownTimeout is the one deadline of a shutdown; zero means
	// ShutdownTimeout (tests shorten it).
	ShutdownTimeout time.Duration
}

// New returns a daemon that has bound nothing yet.
func New(opts Options) *Daemon {
	d := &Daemon{log: opts.Log, runtimeDir: opts.RuntimeDir, changer: opts.Changer, panics: opts.Panics, shutdown: opts.ShutdownTimeout}
	if d.panics == nil {
		d.panics = &panics.Counter{}
	}
	if d.shutdown <= 0 {
		d.shutdown = ShutdownTimeout
	}
	return d
}

// Panics is the daemon's count of recovered panics, for status output.
func (d *Daemon) Panics() *panics.Counter { return d.panics }

// AddListener registers a service to be served on addr under name; the
// bound address appears under name in listen.json.
func (d *Daemon) AddListener(name, network, addr string, svc Service) {
	d.listeners = append(d.listeners, &listener{name: name, network: network, addr: addr, svc: svc})
}

// AddListenerFunc registers a service on a listener that listen creates,
// for listeners net.Listen cannot make (aimx.sock: a Unix socket whose
// connections carry the peer's credentials). The daemon still calls listen
// where it binds every listener, after the pid file is taken, and records
// the bound address under name in listen.json.
func (d *Daemon) AddListenerFunc(name string, listen func() (net.Listener, error), svc Service) {
	d.listeners = append(d.listeners, &listener{name: name, listen: listen, svc: svc})
}

// AddComponent registers a background component, started before the
// listeners and stopped after them.
func (d *Daemon) AddComponent(name string, c Component) {
	d.components = append(d.components, namedComponent{name, c})
}

// Bound returns the address each listener is bound to, by name.
func (d *Daemon) Bound() map[string]string {
	m := make(map[string]string, len(d.listeners))
	for _, l := range d.listeners {
		if l.ln != nil {
			m[l.name] = l.ln.Addr().String()
		}
	}
	return m
}

// Run takes the pid file, binds every listener, serves until ctx is
// cancelled (SIGTERM, SIGINT), reloading on each value from hup, and then
// shuts down gracefully. ready, when non-nil, is called once everything is
// bound and listen.json is written.
func (d *Daemon) Run(ctx context.Context, hup <-chan os.Signal, ready func(bound map[string]string)) (err error) {
	rt, err := safefs.MkdirAll(d.runtimeDir, 0o755) // durably (book/security.md)
	if err != nil {
		return fmt.Errorf("create runtime dir %s: %w", d.runtimeDir, err)
	}
	rt.Close()
	pid, err := acquirePIDFile(filepath.Join(d.runtimeDir, "aimx.pid"))
	if err != nil {
		return err
	}
	defer pid.release()
	listenPath := filepath.Join(d.runtimeDir, "listen.json")
	defer os.Remove(listenPath)

	for _, l := range d.listeners {
		ln, err := l.bind()
		if err != nil {
			d.closeListeners()
			return err
		}
		l.ln = ln
	}
	started := make([]namedComponent, 0, len(d.components))
	defer func() {
		// Only a failed start gets here with components running: the
		// shutdown below stops them and empties started.
		if len(started) > 0 {
			stopCtx, cancel := context.WithTimeout(context.Background(), d.shutdown)
			defer cancel()
			d.stopComponents(stopCtx, started)
		}
	}()
	for _, c := range d.components {
		if err := c.c.Start(ctx); err != nil {
			d.closeListeners()
			return fmt.Errorf("start %s: %w", c.name, err)
		}
		started = append(started, c)
	}
	bound := d.Bound()
	if err := writeListenFile(listenPath, bound); err != nil {
		d.closeListeners()
		return err
	}

	serveErr := make(chan error, len(d.listeners))
	var wg sync.WaitGroup
	for _, l := range d.listeners {
		wg.Add(1)
		go func(l *listener) {
			defer wg.Done()
			defer func() {
				if p := recover(); p != nil {
					d.panics.Recovered(d.log.With().Str("listener", l.name).Logger(), "serve "+l.name, p)
					serveErr <- fmt.Errorf("%s panicked: %v", l.name, p)
				}
			}()
			if err := l.svc.Serve(l.ln); err != nil && !errors.Is(err, net.ErrClosed) {
				serveErr <- fmt.Errorf("serve %s: %w", l.name, err)
			}
		}(l)
		d.log.Info().Str("listener", l.name).Str("addr", l.ln.Addr().String()).Msg("listening")
	}
	if ready != nil {
		ready(bound)
	}

	var runErr error
loop:
	for {
		select {
		case <-ctx.Done():
			d.log.Info().Msg("shutting down")
			break loop
		case err := <-serveErr:
			runErr = err
			d.log.Error().Err(err).Msg("listener failed; shutting down")
			break loop
		case <-hup:
			d.Reload()
		}
	}

	// One deadline for everything: listeners first (no new work, work in
	// flight finishes), then the components in reverse start order.
	stopCtx, cancel := context.WithTimeout(context.Background(), d.shutdown)
	defer cancel()
	listenersDone := d.stopListeners(stopCtx, &wg)
	componentsDone := d.stopComponents(stopCtx, started)
	d.cleanStop.Store(listenersDone && componentsDone)
	started = nil
	return runErr
}

// CleanStop reports whether the last Run stopped every listener and every
// component within the shutdown deadline: no transaction, hook run or
// write was left behind, so the next start may skip the crash-leftover
// scan (book/storage.md, "Start-up repair").
func (d *Daemon) CleanStop() bool { return d.cleanStop.Load() }

// stopListeners shuts every listener down at once and waits for their
// Serve loops, until ctx ends at the latest.
func (d *Daemon) stopListeners(ctx context.Context, serving *sync.WaitGroup) bool {
	var shut sync.WaitGroup
	for _, l := range d.listeners {
		shut.Add(1)
		go func(l *listener) {
			defer shut.Done()
			defer func() {
				if p := recover(); p != nil {
					d.panics.Recovered(d.log.With().Str("listener", l.name).Logger(), "shutdown "+l.name, p)
				}
			}()
			if err := l.svc.Shutdown(ctx); err != nil && !errors.Is(err, net.ErrClosed) {
				d.log.Error().Err(err).Str("listener", l.name).Msg("graceful shutdown")
			}
		}(l)
	}
	if !waitUntil(ctx, &shut) || !waitUntil(ctx, serving) {
		d.log.Error().Err(ctx.Err()).Msg("listeners still busy at the shutdown deadline; exiting anyway")
		return false
	}
	return true
}

// stopComponents stops the started components in reverse order, each
// within what is left of ctx; one stuck past the deadline is left behind.
func (d *Daemon) stopComponents(ctx context.Context, started []namedComponent) bool {
	clean := true
	for i := len(started) - 1; i >= 0; i-- {
		c := started[i]
		errc := make(chan error, 1)
		go func() {
			defer func() {
				if p := recover(); p != nil {
					d.panics.Recovered(d.log.With().Str("component", c.name).Logger(), "stop "+c.name, p)
					errc <- fmt.Errorf("stop %s panicked", c.name)
				}
			}()
			errc <- c.c.Stop(ctx)
		}()
		var err error
		select {
		case err = <-errc:
		case <-ctx.Done():
			select {
			case err = <-errc: // stopped just as the deadline passed
			default:
				err = fmt.Errorf("%s did not stop by the shutdown deadline: %w", c.name, ctx.Err())
			}
		}
		if err != nil {
			clean = false
			d.log.Error().Err(err).Str("component", c.name).Msg("stop component")
		}
	}
	return clean
}

// waitUntil waits for wg until ctx ends; false means ctx ended first.
func waitUntil(ctx context.Context, wg *sync.WaitGroup) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}

// Reload re-reads the config and publishes it. A config that fails to load
// is logged and the running one kept (SIGHUP semantics).
func (d *Daemon) Reload() {
	cfg, err := d.changer.Reload()
	if err != nil {
		d.log.Error().Err(err).Msg("reload: config rejected, keeping the running config")
		return
	}
	d.log.Info().Strs("domains", cfg.Domains).Int("mailboxes", len(cfg.Mailboxes)).Msg("reload: config is live")
}

// bind creates the listener's socket.
func (l *listener) bind() (net.Listener, error) {
	if l.listen != nil {
		ln, err := l.listen()
		if err != nil {
			return nil, fmt.Errorf("listen %s: %w", l.name, err)
		}
		return ln, nil
	}
	ln, err := net.Listen(l.network, l.addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s on %s: %w", l.name, l.addr, err)
	}
	return ln, nil
}

func (d *Daemon) closeListeners() {
	for _, l := range d.listeners {
		if l.ln != nil {
			_ = l.ln.Close() // startup failed; the bind error is what we report
		}
	}
}

// writeListenFile records the bound addresses (book/configuration.md listen.json) so tests
// and clients that asked for port 0 can find them.
func writeListenFile(path string, bound map[string]string) error {
	keys := make([]string, 0, len(bound))
	for k := range bound {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	data, err := json.MarshalIndent(bound, "", "  ")
	if err != nil {
		return fmt.Errorf("encode listen.json: %w", err)
	}
	var w storage.Writer
	if err := w.WriteFile(path, append(data, '\n'), storage.WriteOptions{Mode: 0o644}); err != nil {
		return fmt.Errorf("write listen.json: %w", err)
	}
	return nil
}
