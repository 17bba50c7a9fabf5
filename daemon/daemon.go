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
	"time"

	"github.com/rs/zerolog"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/storage"
)

// ShutdownTimeout bounds a graceful shutdown (DESIGN: finish transactions in
// flight within 30 s, then exit).
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
	// Stop ends it gracefully within ctx.
	Stop(ctx context.Context) error
}

// Daemon is one run of `aimx serve`.
type Daemon struct {
	log        zerolog.Logger
	runtimeDir string
	changer    *domains.Changer

	listeners  []*listener
	components []namedComponent
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
}

// New returns a daemon that has bound nothing yet.
func New(opts Options) *Daemon {
	return &Daemon{log: opts.Log, runtimeDir: opts.RuntimeDir, changer: opts.Changer}
}

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
	if err := os.MkdirAll(d.runtimeDir, 0o755); err != nil {
		return fmt.Errorf("create runtime dir %s: %w", d.runtimeDir, err)
	}
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
		stopCtx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
		defer cancel()
		for i := len(started) - 1; i >= 0; i-- {
			if serr := started[i].c.Stop(stopCtx); serr != nil {
				d.log.Error().Err(serr).Str("component", started[i].name).Msg("stop component")
			}
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
				if r := recover(); r != nil {
					serveErr <- fmt.Errorf("%s panicked: %v", l.name, r)
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

	stopCtx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	for _, l := range d.listeners {
		if err := l.svc.Shutdown(stopCtx); err != nil && !errors.Is(err, net.ErrClosed) {
			d.log.Error().Err(err).Str("listener", l.name).Msg("graceful shutdown")
		}
	}
	wg.Wait()
	return runErr
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

// writeListenFile records the bound addresses (SPEC §2 listen.json) so tests
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
