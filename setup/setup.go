// Package setup is `aimx setup [domain]`: it takes a fresh Debian or Ubuntu
// VPS to a running aimx in one command (book/install.md). In order: port 25
// in and out, the domain and the DNS records to publish with a loop that
// checks them until they resolve or the operator skips, a TLS certificate,
// the trust policy, config.toml (0640), the catchall's system user, the
// data dirs, the systemd service installed, enabled and started, a wait
// until port 25 answers, and the hand-off to `aimx agents setup`.
//
// Run again with another domain, it adds that domain (through the same
// operation as `aimx domains add`: live over admin.sock when the daemon
// runs) and never replaces the domains already served.
//
// Every outside effect goes through an interface (the network, DNS, the
// system's users, systemd, the operator API), so tests run it end to end
// with fakes and an in-process DNS server.
package setup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/aimx-dev/aimx/doctor"
	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/domains/admin"
	"github.com/aimx-dev/aimx/domains/dkimkey"
	"github.com/aimx-dev/aimx/internal/netcheck"
	"github.com/aimx-dev/aimx/internal/progress"
	"github.com/aimx-dev/aimx/internal/safefs"
	"github.com/aimx-dev/aimx/internal/systemd"
)

// Options are the answers given up front (each has a flag of `aimx setup`);
// what is left empty is asked, or defaulted without a terminal.
type Options struct {
	// Paths are the install's directories.
	Paths domains.Paths
	// Domain is the mail domain to serve (the argument).
	Domain string
	// Hostname is `[smtp] hostname`, the name MX points at (--hostname;
	// default the domain). Kept as it is on a re-run.
	Hostname string
	// IPs are this host's public addresses (--ip); found when empty.
	IPs []net.IP
	// TLSCert and TLSKey are a certificate pair to use (--tls-cert,
	// --tls-key); neither makes a self-signed one.
	TLSCert, TLSKey string
	// Trust is "none" or "verified" (--trust); TrustedSenders its globs
	// (--trusted-sender).
	Trust          string
	TrustedSenders []string
	// Relay is `[outbound] relay` (--relay), for hosts whose port 25 out
	// is blocked.
	Relay string
	// CatchallUser owns the new domain's catchall (--catchall-user;
	// DefaultCatchallUser).
	CatchallUser string
	// SkipDNS prints the records without checking them (--skip-dns-check).
	SkipDNS bool
	// DNSTimeout bounds the verify loop (--dns-timeout). Zero waits until
	// the operator skips, or, without a terminal, checks once.
	DNSTimeout time.Duration
	// DNSInterval is the time between two checks (--dns-interval;
	// DefaultDNSInterval).
	DNSInterval time.Duration
	// NoService leaves systemd alone (--no-service).
	NoService bool
	// Unit is the systemd unit to install (deploy.SystemdUnit).
	Unit []byte
	// Interactive asks questions (a terminal, without AIMX_NONINTERACTIVE=1).
	Interactive bool
	// OutboundProbe is the domain whose mail server the port-25-out check
	// connects to (DefaultOutboundProbe).
	OutboundProbe string
	// WaitTimeout bounds the wait for port 25 (DefaultWaitTimeout);
	// WaitPoll is the time between two tries (half a second).
	WaitTimeout, WaitPoll time.Duration
}

// Defaults of Options.
const (
	DefaultDNSInterval   = 30 * time.Second
	DefaultWaitTimeout   = 2 * time.Minute
	DefaultOutboundProbe = "gmail.com"
)

// Setup runs `aimx setup`. Every field but Opts is an outside effect.
type Setup struct {
	Opts Options
	// In and Out are the operator's terminal (or the script's streams);
	// Progress gets the bars and progress lines (stderr).
	In           io.Reader
	Out          io.Writer
	Progress     io.Writer
	ProgressMode progress.Mode
	// Network probes port 25 and finds the public addresses.
	Network netcheck.Network
	// Resolver checks the records; it must not cache, or a record
	// published during the loop would not be seen.
	Resolver doctor.Resolver
	// Users creates the catchall's system user.
	Users Users
	// Service installs and starts the systemd unit.
	Service systemd.Manager
	// Status asks a running daemon for `GET /v1/status`; an error means
	// none runs.
	Status func(ctx context.Context) (admin.Status, error)
	// Admin opens the operator API: admin.sock when the daemon runs, else
	// the files (as `aimx domains add` does). close releases it.
	Admin func(ctx context.Context) (api admin.API, close func(), err error)
	// Now is the clock (time.Now when nil).
	Now func() time.Time

	prompt *prompter
	steps  int
}

// Run sets aimx up, or adds Opts.Domain to an existing install.
func (s *Setup) Run(ctx context.Context) error {
	s.prompt = &prompter{in: s.In, out: s.Out, interactive: s.Opts.Interactive}
	existing, err := s.loadExisting()
	if err != nil {
		return err
	}
	if err := s.preflight(ctx, existing); err != nil {
		return err
	}
	dom, host, err := s.identity(ctx, existing)
	if err != nil {
		return err
	}
	ips := s.publicIPs(ctx)
	var cfg *domains.Config
	if existing == nil {
		cfg, err = s.firstInstall(ctx, dom, host, ips)
	} else {
		cfg, err = s.addDomain(ctx, existing, dom, ips)
	}
	if err != nil {
		return err
	}
	if err := s.serviceStep(ctx); err != nil {
		return err
	}
	if err := s.waitStep(ctx, cfg, ips); err != nil {
		return err
	}
	s.handOff(cfg, dom)
	return nil
}

// loadExisting loads config.toml; nil when there is none (a first install).
func (s *Setup) loadExisting() (*domains.Config, error) {
	cfg, err := domains.Load(s.Opts.Paths.ConfigFile(), domains.LoadOptions{})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the existing config (fix it, then run aimx setup again): %w", err)
	}
	return cfg, nil
}

// identity settles the domain and `[smtp] hostname`.
func (s *Setup) identity(ctx context.Context, existing *domains.Config) (dom, host string, err error) {
	s.step("Domain")
	raw := s.Opts.Domain
	if raw == "" {
		if raw, err = s.prompt.ask(ctx, "Domain to receive mail for (e.g. example.com)", "", "the domain: aimx setup DOMAIN"); err != nil {
			return "", "", err
		}
	}
	if dom, err = domains.NormalizeDomain(strings.TrimSuffix(strings.TrimSpace(raw), ".")); err != nil {
		return "", "", fmt.Errorf("domain %q: %w", raw, err)
	}
	if existing != nil {
		host = existing.Hostname()
		if s.Opts.Hostname != "" && !strings.EqualFold(s.Opts.Hostname, host) {
			s.linef("warn", "[smtp] hostname stays %s (--hostname %s ignored: change it in config.toml)", host, s.Opts.Hostname)
		}
		s.linef("ok", "%s, served from %s with %s", dom, host, strings.Join(existing.Domains, ", "))
		return dom, host, nil
	}
	host = s.Opts.Hostname
	if host == "" {
		if host, err = s.prompt.ask(ctx, "Host name mail is delivered to (the MX target; it must resolve to this server)", dom, "--hostname"); err != nil {
			return "", "", err
		}
	}
	if host, err = domains.NormalizeDomain(strings.TrimSuffix(strings.TrimSpace(host), ".")); err != nil {
		return "", "", fmt.Errorf("hostname: %w", err)
	}
	s.linef("ok", "%s, served from %s", dom, host)
	return dom, host, nil
}

// publicIPs are the addresses given with --ip, else found.
func (s *Setup) publicIPs(ctx context.Context) []net.IP {
	if len(s.Opts.IPs) > 0 {
		return s.Opts.IPs
	}
	ips, err := s.Network.PublicIPs(ctx)
	if len(ips) == 0 {
		why := "none found"
		if err != nil {
			why = err.Error()
		}
		s.linef("warn", "could not tell this server's public address (%s): pass it with --ip", why)
	}
	return ips
}

// firstInstall makes the key, publishes and checks the records, then
// writes the config and makes the catchall with its user and the data
// dirs.
func (s *Setup) firstInstall(ctx context.Context, dom, host string, ips []net.IP) (*domains.Config, error) {
	if err := mkdir(s.Opts.Paths.ConfigDir); err != nil {
		return nil, err
	}
	keys := dkimkey.NewStore(s.Opts.Paths.ConfigDir)
	set, created, err := loadOrGenerate(keys, dom)
	if err != nil {
		return nil, err
	}
	cfg := domains.Default(dom)
	if host != dom {
		cfg.SMTP.Hostname = host
	}
	cfg.Outbound.Relay = s.Opts.Relay
	if s.Opts.Paths.DataDir != domains.DefaultDataDir {
		cfg.DataDir = s.Opts.Paths.DataDir
	}
	if s.Opts.Paths.RuntimeDir != domains.DefaultRuntimeDir {
		cfg.RuntimeDir = s.Opts.Paths.RuntimeDir
	}
	if err := s.dnsStep(ctx, cfg, dom, set, created, ips); err != nil {
		return nil, err
	}
	if cfg.SMTP.TLSCert, cfg.SMTP.TLSKey, err = s.tlsStep(ctx, host, "", ""); err != nil {
		return nil, err
	}
	if err := s.trustStep(ctx, cfg); err != nil {
		return nil, err
	}
	s.step("Configuration")
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("the new config: %w", err)
	}
	if err := (&domains.Store{Path: s.Opts.Paths.ConfigFile()}).Save(cfg); err != nil {
		return nil, err
	}
	s.linef("ok", "wrote %s (0640)", s.Opts.Paths.ConfigFile())
	if err := s.catchallStep(ctx, dom); err != nil {
		return nil, err
	}
	return domains.Load(s.Opts.Paths.ConfigFile(), domains.LoadOptions{})
}

// addDomain adds dom to an existing install through the operator API
// (key before config, then the catchall; live when the daemon runs), or,
// when it is served already, checks its records again.
func (s *Setup) addDomain(ctx context.Context, existing *domains.Config, dom string, ips []net.IP) (*domains.Config, error) {
	keys := dkimkey.NewStore(s.Opts.Paths.ConfigDir)
	created := false
	if slices.Contains(existing.Domains, dom) {
		s.linef("ok", "%s is served already: checking its records", dom)
		if _, err := existing.ResolveRecipient("postmaster@" + dom); err != nil {
			// A setup cut short after the config was written: the
			// catchall is still to make.
			if err := s.catchallStep(ctx, dom); err != nil {
				return nil, err
			}
		}
	} else {
		s.step("Adding " + dom)
		user, err := s.userStep(ctx)
		if err != nil {
			return nil, err
		}
		api, release, err := s.Admin(ctx)
		if err != nil {
			return nil, err
		}
		res, err := api.AddDomain(ctx, admin.NewDomain{Domain: dom, CatchallOwner: user})
		release()
		if err != nil {
			return nil, fmt.Errorf("add %s: %w", dom, err)
		}
		created = res.KeyCreated
		s.linef("ok", "added %s (selector %s) with its catchall %s, owned by %s; the other domains are kept", dom, res.Selector, res.Catchall, user)
	}
	cfg, err := domains.Load(s.Opts.Paths.ConfigFile(), domains.LoadOptions{})
	if err != nil {
		return nil, err
	}
	set, gen, err := loadOrGenerate(keys, dom)
	if err != nil {
		return nil, err
	}
	if err := s.dnsStep(ctx, cfg, dom, set, created || gen, ips); err != nil {
		return nil, err
	}
	return cfg, nil
}

// loadOrGenerate loads a domain's DKIM keys, making an RSA key when it has
// none; created says so.
func loadOrGenerate(keys *dkimkey.Store, dom string) (*dkimkey.KeySet, bool, error) {
	set, err := keys.LoadSet(dom)
	if errors.Is(err, dkimkey.ErrNoKey) {
		key, gerr := keys.Generate(dom, dkimkey.RSA, false)
		if gerr != nil {
			return nil, false, fmt.Errorf("DKIM key for %s: %w", dom, gerr)
		}
		return &dkimkey.KeySet{Domain: dom, RSA: key}, true, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("DKIM key for %s: %w", dom, err)
	}
	return set, false, nil
}

// trustStep sets the trust policy (book/configuration.md, "Trust").
func (s *Setup) trustStep(ctx context.Context, cfg *domains.Config) error {
	s.step("Trust")
	trust := s.Opts.Trust
	if trust == "" {
		if s.prompt.interactive {
			fmt.Fprintln(s.Out, "  none: every message is stored as trusted = \"none\"; only hooks with fire_on_untrusted run.\n"+
				"  verified: mail from trusted_senders that passes DMARC or aligned DKIM is trusted = \"true\".")
		}
		var err error
		if trust, err = s.prompt.choose(ctx, "Trust policy", []string{"none", "verified"}, "--trust"); err != nil {
			return err
		}
	}
	switch domains.Trust(trust) {
	case domains.TrustNone, domains.TrustVerified:
		cfg.Trust = domains.Trust(trust)
	default:
		return fmt.Errorf("trust %q: want none or verified", trust)
	}
	cfg.TrustedSenders = s.Opts.TrustedSenders
	if cfg.Trust == domains.TrustVerified && len(cfg.TrustedSenders) == 0 && s.prompt.interactive {
		ans, err := s.prompt.ask(ctx, "Trusted senders (globs, comma-separated, e.g. *@example.com; empty for none yet)", "-", "--trusted-sender")
		if err != nil {
			return err
		}
		for _, g := range strings.Split(ans, ",") {
			if g = strings.TrimSpace(g); g != "" && g != "-" {
				cfg.TrustedSenders = append(cfg.TrustedSenders, g)
			}
		}
	}
	detail := string(cfg.Trust)
	if len(cfg.TrustedSenders) > 0 {
		detail += ", trusting " + strings.Join(cfg.TrustedSenders, ", ")
	}
	s.linef("ok", "trust = %s", detail)
	return nil
}

// userStep makes sure the catchall's system user exists.
func (s *Setup) userStep(ctx context.Context) (string, error) {
	user := s.Opts.CatchallUser
	if user == "" {
		user = DefaultCatchallUser
	}
	ok, err := s.Users.Exists(user)
	if err != nil {
		return "", err
	}
	if ok {
		s.linef("ok", "system user %s exists", user)
		return user, nil
	}
	if err := s.Users.CreateSystem(ctx, user); err != nil {
		return "", err
	}
	s.linef("ok", "created the system user %s (no login, no home)", user)
	return user, nil
}

// catchallStep creates the catchall's user, then the catchall `*@dom` and
// with it the data dir and the mailbox's storage (book/storage.md).
func (s *Setup) catchallStep(ctx context.Context, dom string) error {
	s.step("Catchall and data")
	user, err := s.userStep(ctx)
	if err != nil {
		return err
	}
	api, release, err := s.Admin(ctx)
	if err != nil {
		return err
	}
	defer release()
	name := domains.CatchallLocal + "@" + dom
	if _, err := api.CreateMailbox(ctx, admin.NewMailbox{Name: name, Owner: user}); err != nil {
		return fmt.Errorf("create the catchall %s: %w", name, err)
	}
	s.linef("ok", "%s (postmaster@%s and every unknown address) is owned by %s; mail in %s", name, dom, user, s.Opts.Paths.DataDir)
	return nil
}

// mkdir makes a directory 0755 (and its parents) durably.
func mkdir(path string) error {
	d, err := safefs.MkdirAll(path, 0o755)
	if err != nil {
		return fmt.Errorf("make %s: %w", path, err)
	}
	d.Close()
	return nil
}

// step prints a numbered heading.
func (s *Setup) step(title string) {
	s.steps++
	fmt.Fprintf(s.Out, "\n[%d] %s\n", s.steps, title)
}

// linef prints one result line: "  OK    ...", "  WARN  ...", "        ...".
func (s *Setup) linef(status, format string, args ...any) {
	label := map[string]string{"ok": "OK", "warn": "WARN", "wait": "WAIT"}[status]
	fmt.Fprintf(s.Out, "  %-4s  %s\n", label, fmt.Sprintf(format, args...))
}

func (s *Setup) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}
