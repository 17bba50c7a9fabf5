package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/aimx-dev/aimx/deploy"
	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/domains/admin"
	"github.com/aimx-dev/aimx/internal/dnsresolver"
	"github.com/aimx-dev/aimx/internal/netcheck"
	"github.com/aimx-dev/aimx/internal/progress"
	"github.com/aimx-dev/aimx/internal/systemd"
	"github.com/aimx-dev/aimx/setup"
)

// setupFlags are the flags of `aimx setup`: one for every question.
type setupFlags struct {
	opts    setup.Options
	ips     []string
	dns     string
	noInter bool
}

func (a *app) setupCommand() *cobra.Command {
	var f setupFlags
	cmd := &cobra.Command{
		Use:   "setup [DOMAIN]",
		Short: "Set aimx up on this server, or add a domain to it (root; asks what flags do not say)",
		Long: "Set aimx up on a fresh server (book/install.md): port 25 in and out, the DNS records to publish and a\n" +
			"check that waits until they resolve (Enter skips), a TLS certificate (given, or self-signed), the trust\n" +
			"policy, config.toml, the catchall's system user, the data dirs, the systemd service, and a wait until\n" +
			"port 25 answers. Run again with another domain, it adds that domain and keeps the others.\n\n" +
			"Without a terminal, or with AIMX_NONINTERACTIVE=1, nothing is asked: each question takes its flag or\n" +
			"its default, and the DNS records are checked once (or until --dns-timeout).",
		Args: cobra.MaximumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if len(args) == 1 {
				f.opts.Domain = args[0]
			}
			return a.setup(f)
		},
	}
	fl := cmd.Flags()
	o := &f.opts
	fl.StringVar(&o.Hostname, "hostname", "", "[smtp] hostname: the name MX points at, resolving to this server (default: the domain)")
	fl.StringArrayVar(&f.ips, "ip", nil, "this server's public address for the A/AAAA records (repeatable; default: found)")
	fl.StringVar(&o.TLSCert, "tls-cert", "", "certificate (PEM) for STARTTLS; with --tls-key (default: a self-signed one)")
	fl.StringVar(&o.TLSKey, "tls-key", "", "the certificate's private key (PEM)")
	fl.StringVar(&o.Trust, "trust", "", "trust policy: none or verified (book/configuration.md)")
	fl.StringArrayVar(&o.TrustedSenders, "trusted-sender", nil, "a trusted_senders glob, e.g. '*@example.com' (repeatable)")
	fl.StringVar(&o.Relay, "relay", "", "send through this smarthost, smtp://USER:PASS@HOST:PORT, when port 25 out is blocked")
	fl.StringVar(&o.CatchallUser, "catchall-user", setup.DefaultCatchallUser, "system user that owns the domain's catchall (made when missing)")
	fl.BoolVar(&o.SkipDNS, "skip-dns-check", false, "print the DNS records without checking them")
	fl.DurationVar(&o.DNSTimeout, "dns-timeout", 0, "stop checking the DNS records after this long (default: until Enter; once without a terminal)")
	fl.DurationVar(&o.DNSInterval, "dns-interval", setup.DefaultDNSInterval, "time between two checks of the DNS records")
	fl.StringVar(&f.dns, "dns", "", "send the DNS checks to this host:port (default: the system resolver)")
	fl.BoolVar(&o.NoService, "no-service", false, "leave systemd alone; start aimx serve yourself")
	fl.BoolVar(&f.noInter, "non-interactive", false, "ask nothing (as AIMX_NONINTERACTIVE=1)")
	return cmd
}

func (a *app) setup(f setupFlags) error {
	if os.Geteuid() != 0 {
		return errors.New("aimx setup must run as root: sudo aimx setup")
	}
	opts := f.opts
	opts.Paths = domains.ResolvePaths(a.flagPaths(), domains.Paths{}, nil)
	def := domains.Paths{ConfigDir: domains.DefaultConfigDir, DataDir: domains.DefaultDataDir, RuntimeDir: domains.DefaultRuntimeDir}
	if !opts.NoService && opts.Paths != def {
		return usageError{fmt.Errorf("the systemd service runs aimx with %s, %s and %s (ProtectSystem=strict allows no other): "+
			"drop --config-dir, --data-dir and --runtime-dir (and the AIMX_*_DIR variables), or pass --no-service", def.ConfigDir, def.DataDir, def.RuntimeDir)}
	}
	for _, s := range f.ips {
		ip := net.ParseIP(s)
		if ip == nil {
			return usageError{fmt.Errorf("--ip %q is not an IP address", s)}
		}
		opts.IPs = append(opts.IPs, ip)
	}
	opts.Interactive = !f.noInter && a.env["AIMX_NONINTERACTIVE"] != "1" && isTerminal(a.stdout) && isReader(a.stdin)
	unit, err := serviceUnit()
	if err != nil {
		return err
	}
	opts.Unit = unit
	var servers []string
	if f.dns != "" {
		servers = []string{f.dns}
	}
	// No caching: a record published while the loop waits must be seen
	// at the next check.
	res, err := dnsresolver.New(dnsresolver.Config{Servers: servers, MaxTTL: time.Nanosecond, MaxNegativeTTL: time.Nanosecond, SystemTTL: time.Nanosecond})
	if err != nil {
		return usageError{fmt.Errorf("--dns: %w", err)}
	}
	client := admin.NewClient(opts.Paths.RuntimeDir)
	defer client.Close()
	s := &setup.Setup{
		Opts: opts, In: a.stdin, Out: a.stdout, Progress: a.stderr, ProgressMode: progress.Auto,
		Network: netcheck.System{}, Resolver: res, Users: setup.SystemUsers{}, Service: &systemd.Systemctl{},
		Status: client.DaemonStatus,
		Admin: func(ctx context.Context) (admin.API, func(), error) {
			if _, err := client.DaemonStatus(ctx); err == nil {
				return client, func() {}, nil
			}
			adm, err := a.localAdmin(true)
			if err != nil {
				return nil, nil, err
			}
			return adm, func() {
				if c, ok := adm.Store.(interface{ Close() error }); ok {
					_ = c.Close()
				}
			}, nil
		},
	}
	return s.Run(a.ctx)
}

// serviceUnit is the shipped unit, running this binary when it is not at
// deploy.DefaultBinary.
func serviceUnit() ([]byte, error) {
	exe, err := os.Executable()
	if err != nil {
		return deploy.SystemdUnit(), nil
	}
	if real, err := filepath.EvalSymlinks(exe); err == nil {
		exe = real
	}
	if exe == deploy.DefaultBinary {
		return deploy.SystemdUnit(), nil
	}
	unit, err := deploy.SystemdUnitFor(exe)
	if err != nil {
		return nil, fmt.Errorf("the systemd unit for %s: %w; install aimx as %s", exe, err, deploy.DefaultBinary)
	}
	return unit, nil
}

// isReader reports whether r is a terminal (questions can be answered).
func isReader(r any) bool {
	f, ok := r.(*os.File)
	return ok && progress.IsTerminal(f)
}
