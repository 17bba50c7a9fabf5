package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/aimx-dev/aimx/doctor"
	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/domains/admin"
	"github.com/aimx-dev/aimx/domains/dkimkey"
	"github.com/aimx-dev/aimx/internal/dnsresolver"
	"github.com/aimx-dev/aimx/internal/netcheck"
	"github.com/aimx-dev/aimx/operations"
	"github.com/aimx-dev/aimx/storage"
)

// doctorFlags are the flags of `aimx doctor`.
type doctorFlags struct {
	dns string
	ips []string
}

func (a *app) doctorCommand() *cobra.Command {
	var f doctorFlags
	cmd := &cobra.Command{
		Use:   "doctor [--dns HOST:PORT] [--ip ADDR]...",
		Short: "Check DNS, TLS, mailboxes, storage and the daemon; every FAIL says what to do (operator)",
		Long: "Check the install as a receiving mail server and the operator see it (book/doctor.md): per domain\n" +
			"the DKIM key and its published record, MX, SPF, DMARC and postmaster; the hostname, the reverse DNS\n" +
			"of the sending IP and the TLS certificate; every mailbox's counts, owner and mode, storage no\n" +
			"mailbox claims; with the postgres backend, the shared database (reachable, migrated, the nodes,\n" +
			"the standbys' lag); the daemon's status, SMTP greeting, queue and hook backlog. Each line is OK, WARN\n" +
			"or FAIL; a FAIL ends with what to do, and any FAIL makes the exit status 1. --json prints the\n" +
			"report in the schema of book/doctor.md. Nothing is changed.",
		Args: exactArgs(0),
		RunE: func(*cobra.Command, []string) error { return a.doctor(f) },
	}
	cmd.Flags().StringVar(&f.dns, "dns", "", "send every DNS lookup to this host:port (default: [dns] servers, else the system resolver)")
	cmd.Flags().StringArrayVar(&f.ips, "ip", nil, "this host's public address (repeatable; default: found from the routes and interfaces)")
	return cmd
}

func (a *app) doctor(f doctorFlags) error {
	cfg, paths, err := a.loadConfig()
	if errors.Is(err, os.ErrPermission) {
		return fmt.Errorf("%w: run aimx doctor as root (sudo aimx doctor)", err)
	}
	if err != nil {
		return err
	}
	d, closeStore, err := a.newDoctor(cfg, paths, f)
	if err != nil {
		return err
	}
	defer closeStore()
	if !a.json {
		d.Progress = a.stderr
	}
	rep := d.Run(a.ctx)
	if a.json {
		err = a.printJSON(rep)
	} else {
		err = doctor.WriteText(a.stdout, rep)
	}
	if err != nil {
		return err
	}
	if !rep.OK {
		return fmt.Errorf("doctor found %d problems to fix (the FAIL lines say how)", rep.Summary.Fail)
	}
	return nil
}

// newDoctor wires the checks to this install: its resolver, key files,
// mail store (read-only), admin.sock and the network.
func (a *app) newDoctor(cfg *domains.Config, paths domains.Paths, f doctorFlags) (*doctor.Doctor, func(), error) {
	servers := cfg.DNS.Servers
	if f.dns != "" {
		servers = []string{f.dns}
	}
	res, err := dnsresolver.New(dnsresolver.Config{Servers: servers})
	if err != nil {
		return nil, nil, fmt.Errorf("doctor: %w", err)
	}
	var network netcheck.Network = netcheck.System{}
	if len(f.ips) > 0 {
		fixed := fixedIPs{Network: network}
		for _, s := range f.ips {
			ip := net.ParseIP(s)
			if ip == nil {
				return nil, nil, usageError{fmt.Errorf("--ip %q is not an IP address", s)}
			}
			fixed.ips = append(fixed.ips, ip)
		}
		network = fixed
	}
	client := admin.NewClient(paths.RuntimeDir)
	d := &doctor.Doctor{
		Config: cfg, Paths: paths, Resolver: res, Keys: dkimkey.NewStore(paths.ConfigDir), Network: network,
		Status: func(ctx context.Context) (admin.Status, error) {
			defer client.Close()
			return client.DaemonStatus(ctx)
		},
		Version: buildVersion().Version, DaemonUID: daemonUID(paths),
	}
	if st := storageEnv(a.env, cfg).Storage; st.IsPostgres() {
		d.Postgres, d.DSN = true, st.DSN
	}
	closeStore := func() {}
	var counter operations.Counter
	if d.Postgres {
		var shared *domains.Config
		var done func()
		// The mailboxes and counts of the shared database, not this
		// host's files (book/scale-out.md).
		if shared, counter, done, err = a.sharedReadOnly(cfg, paths); err == nil {
			d.Config, closeStore = shared, done
		}
	} else {
		counter, err = a.openCountsReadOnly(cfg, paths)
	}
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		d.Counter = failingCounter{err}
	default:
		d.Counter = counter
		if c, ok := counter.(interface{ Close() error }); ok {
			closeStore = func() { _ = c.Close() }
		}
	}
	return d, closeStore, nil
}

// daemonUID is the uid the daemon runs as: the owner of config.toml (root
// in production, the developer in dev mode; book/configuration.md).
func daemonUID(paths domains.Paths) int {
	fi, err := os.Stat(paths.ConfigFile())
	if err != nil {
		return 0
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return 0
}

// fixedIPs is the network with the public addresses given by --ip.
type fixedIPs struct {
	netcheck.Network
	ips []net.IP
}

func (f fixedIPs) PublicIPs(context.Context) ([]net.IP, error) { return f.ips, nil }

// failingCounter reports why the mail could not be counted, per mailbox.
type failingCounter struct{ err error }

func (c failingCounter) Counts(context.Context, storage.MailboxRef) (storage.Counts, error) {
	return storage.Counts{}, c.err
}
