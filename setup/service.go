package setup

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/internal/netcheck"
	"github.com/aimx-dev/aimx/internal/progress"
)

// defaultWaitPoll is the time between two tries of port 25.
const defaultWaitPoll = 500 * time.Millisecond

// preflight checks port 25 both ways before anything is written: nothing
// else may listen on it (an MTA the distribution installed), and this
// host must reach other mail servers on it, which many VPS providers block
// (book/install.md, "Port 25").
func (s *Setup) preflight(ctx context.Context, existing *domains.Config) error {
	s.step("Port 25")
	listen := domains.DefaultSMTPListen
	relay := s.Opts.Relay
	if existing != nil {
		listen, relay = existing.SMTP.Listen, existing.Outbound.Relay
	}
	err := s.Network.Listenable(listen)
	switch {
	case err == nil:
		s.linef("ok", "nothing else listens on %s", listen)
	case errors.Is(err, netcheck.ErrInUse) && s.daemonRunning(ctx):
		s.linef("ok", "aimx already listens on %s", listen)
	case errors.Is(err, netcheck.ErrInUse):
		return fmt.Errorf("port 25 (%s) is taken by another program, most likely Postfix or Exim: stop it and keep it from starting "+
			"(systemctl disable --now postfix, or exim4), then run aimx setup again", listen)
	default:
		return fmt.Errorf("cannot listen on %s (aimx setup must run as root: sudo aimx setup): %w", listen, err)
	}
	if relay != "" {
		s.linef("ok", "outgoing mail goes through [outbound] relay, not port 25")
		return nil
	}
	probe := s.Opts.OutboundProbe
	if probe == "" {
		probe = DefaultOutboundProbe
	}
	target := probe
	if mxs, err := s.Resolver.LookupMX(ctx, probe); err == nil && len(mxs) > 0 {
		target = mxs[0].Host
	}
	addr := net.JoinHostPort(trimDot(target), "25")
	g, err := s.Network.Greeting(ctx, addr)
	if err != nil {
		s.linef("warn", "cannot reach %s (%v): your provider probably blocks outgoing port 25 (AWS, Google Cloud, Azure and new "+
			"DigitalOcean accounts do). Ask it to open port 25, or run aimx setup again with --relay smtp://USER:PASS@HOST:587", addr, err)
		return nil
	}
	s.linef("ok", "reached %s on port 25: %s", trimDot(target), g)
	return nil
}

// daemonRunning reports whether an aimx daemon answers on admin.sock.
func (s *Setup) daemonRunning(ctx context.Context) bool {
	if s.Status == nil {
		return false
	}
	_, err := s.Status(ctx)
	return err == nil
}

// serviceStep installs the unit, enables it and starts it. A service
// already running keeps running: a domain added to it is live already.
func (s *Setup) serviceStep(ctx context.Context) error {
	s.step("Service")
	if s.Opts.NoService {
		s.linef("warn", "systemd left alone (--no-service): start aimx yourself (aimx serve)")
		return nil
	}
	m := s.Service
	if !m.Booted() {
		return errors.New("this host does not run systemd: run aimx setup again with --no-service and start aimx serve yourself")
	}
	if err := m.Install(ctx, s.Opts.Unit); err != nil {
		return fmt.Errorf("install the aimx service: %w", err)
	}
	s.linef("ok", "installed the aimx service (systemctl status aimx)")
	if err := m.Enable(ctx); err != nil {
		return fmt.Errorf("enable the aimx service: %w", err)
	}
	s.linef("ok", "enabled: it starts at boot")
	active, err := m.IsActive(ctx)
	if err != nil {
		return fmt.Errorf("ask systemd about the aimx service: %w", err)
	}
	if active {
		s.linef("ok", "running already")
		return nil
	}
	if err := m.Start(ctx); err != nil {
		return fmt.Errorf("start the aimx service (journalctl -u aimx says why): %w", err)
	}
	s.linef("ok", "started")
	return nil
}

// waitStep waits until aimx greets on port 25 locally, then tries the
// public address from here (a firewall in front of the host is the usual
// reason it does not answer; only a check from outside is sure).
func (s *Setup) waitStep(ctx context.Context, cfg *domains.Config, ips []net.IP) error {
	if s.Opts.NoService {
		return nil
	}
	s.step("Port 25 answers")
	timeout, poll := s.Opts.WaitTimeout, s.Opts.WaitPoll
	if timeout <= 0 {
		timeout = DefaultWaitTimeout
	}
	if poll <= 0 {
		poll = defaultWaitPoll
	}
	addr := loopback(cfg.SMTP.Listen)
	tr := progress.New(progress.Options{Label: "waiting for aimx on " + addr, Out: s.Progress, Mode: s.ProgressMode})
	start := s.now()
	for {
		g, err := s.Network.Greeting(ctx, addr)
		if err == nil {
			tr.Done("")
			s.linef("ok", "%s answers: %s", addr, g)
			break
		}
		if s.now().Sub(start) >= timeout {
			tr.Done("")
			return fmt.Errorf("aimx did not answer on %s within %s (%v): see why with journalctl -u aimx", addr, timeout, err)
		}
		tr.Note(fmt.Sprintf("%s so far", s.now().Sub(start).Round(time.Second)))
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for port 25: %w", ctx.Err())
		case <-time.After(poll):
		}
	}
	_, port, err := net.SplitHostPort(cfg.SMTP.Listen)
	if err != nil || len(ips) == 0 {
		return nil
	}
	pub := net.JoinHostPort(ips[0].String(), port)
	if g, err := s.Network.Greeting(ctx, pub); err == nil {
		s.linef("ok", "%s answers too: %s", pub, g)
	} else {
		s.linef("warn", "%s does not answer from this host (%v): if your provider has a firewall (a security group), allow "+
			"inbound TCP %s; check from another machine with: nc -v %s %s", pub, err, port, ips[0], port)
	}
	return nil
}

// handOff says what is next: agents get their mailboxes with
// `aimx agents setup` (book/install.md).
func (s *Setup) handOff(cfg *domains.Config, dom string) {
	fmt.Fprintf(s.Out, "\naimx receives mail for %s (all domains: %s).\n\n", dom, strings.Join(cfg.Domains, ", "))
	fmt.Fprintf(s.Out, "Check the install any time:   sudo aimx doctor\n")
	fmt.Fprintf(s.Out, "Add another domain:           sudo aimx setup other.example\n")
	fmt.Fprintf(s.Out, "Give an agent its mailbox, as the Unix user the agent runs as (not root):\n\n")
	fmt.Fprintf(s.Out, "  aimx mailboxes create agent@%s\n", dom)
	fmt.Fprintf(s.Out, "  aimx agents setup claude-code --mailbox agent@%s    (or codex, gemini, goose, opencode)\n", dom)
}

// loopback is the address to reach a listen address from this host.
func loopback(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

func trimDot(s string) string {
	if len(s) > 0 && s[len(s)-1] == '.' {
		return s[:len(s)-1]
	}
	return s
}
