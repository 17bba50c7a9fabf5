// Package doctor checks a running aimx install the way a receiving mail
// server and an operator would see it (book/doctor.md): per domain, the
// DKIM key and its published record, MX, SPF, DMARC and a postmaster
// (RFC 5321 4.5.1); for the host, `[smtp] hostname`'s addresses, the
// reverse DNS of the sending IP and the TLS certificate; every mailbox's
// counts, owner and storage mode, and storage no mailbox claims; with the
// postgres backend, the shared database (reachable, migrated, the nodes'
// heartbeats, the standbys' lag); the daemon's status, queue and hook
// backlog over admin.sock.
//
// Every finding is OK, WARN or FAIL, and every FAIL says what to do.
// `aimx setup` reuses the DNS checks in its verify loop (book/install.md).
package doctor

import (
	"context"
	"io"
	"net"
	"sync"
	"time"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/domains/admin"
	"github.com/aimx-dev/aimx/domains/dkimkey"
	"github.com/aimx-dev/aimx/internal/netcheck"
	"github.com/aimx-dev/aimx/internal/progress"
	"github.com/aimx-dev/aimx/operations"
)

// Resolver is the DNS doctor asks: aimx's own resolver
// (internal/dnsresolver), so `[dns] servers` applies. Errors that mean
// "no such record" satisfy dnsresolver.IsNotFound.
type Resolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupIP(ctx context.Context, name string) ([]net.IP, error)
	LookupPTR(ctx context.Context, ip net.IP) ([]string, error)
}

// KeyLoader loads a domain's DKIM keys (*dkimkey.Store).
type KeyLoader interface {
	LoadSet(domain string) (*dkimkey.KeySet, error)
}

// Doctor holds what the checks read. Every field but Config, Paths,
// Resolver and Keys may be nil: the checks that need it are then reported
// as not made.
type Doctor struct {
	Config *domains.Config
	Paths  domains.Paths
	// Resolver looks the records up.
	Resolver Resolver
	// Keys are the DKIM key files.
	Keys KeyLoader
	// Counter counts mail (a read-only store); nil leaves counts at 0.
	Counter operations.Counter
	// Status asks the daemon for `GET /v1/status` (admin.Client's
	// DaemonStatus); an error wrapping admin.ErrDaemonDown means it is not
	// running.
	Status func(ctx context.Context) (admin.Status, error)
	// Network finds the public addresses and probes the SMTP listener.
	Network netcheck.Network
	// LookupOwner resolves a mailbox owner (domains.LookupOwner when nil).
	LookupOwner func(name string) (domains.Owner, error)
	// Version is this binary's version, compared with the daemon's.
	Version string
	// DaemonUID is the uid that owns the storage dirs: root in production,
	// the developer in dev mode (book/storage.md).
	DaemonUID int
	// Now is the clock certificates are checked against (time.Now when nil).
	Now func() time.Time
	// Progress receives the progress of the DNS checks (a bar on a
	// terminal, lines otherwise); nil shows none.
	Progress io.Writer
	// ProgressMode forces bar or lines (tests); Auto by default.
	ProgressMode progress.Mode
	// Postgres is set with `[storage] backend = "postgres"`
	// (book/scale-out.md): the shared database at DSN is checked. A files
	// install has no database checks.
	Postgres bool
	// DSN is the shared database's connection string; its password is
	// never printed.
	DSN string
	// DatabaseTimeout bounds the database checks (DatabaseTimeout when 0).
	DatabaseTimeout time.Duration
}

// maxParallel bounds the domains checked at once.
const maxParallel = 4

// Run makes every check and returns the report; it never fails as a
// whole: what cannot be checked is a finding too.
func (d *Doctor) Run(ctx context.Context) *Report {
	rep := &Report{Domains: []Domain{}, Mailboxes: []Mailbox{}, Storage: []Check{}}
	cfg := d.Config
	tr := d.tracker(len(cfg.Domains) + 1)
	ips := d.sendingIPs(ctx)
	rep.Server = d.ServerChecks(ctx, ips)
	tr.Add(1)

	rep.Domains = make([]Domain, len(cfg.Domains))
	sem := make(chan struct{}, maxParallel)
	var wg sync.WaitGroup
	for i, dom := range cfg.Domains {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			rep.Domains[i] = d.DomainChecks(ctx, dom, ips)
			tr.Add(1)
		})
	}
	wg.Wait()
	tr.Done("")

	rep.Mailboxes, rep.Storage = d.mailboxes(ctx)
	rep.Database = d.database(ctx)
	rep.Daemon = d.daemon(ctx)
	rep.finish()
	return rep
}

// tracker shows the DNS checks' progress.
func (d *Doctor) tracker(total int) *progress.Tracker {
	if d.Progress == nil {
		return nil
	}
	return progress.New(progress.Options{Label: "checking DNS", Unit: "names", Total: total, Out: d.Progress, Mode: d.ProgressMode})
}

// sendingIPs are the public addresses mail leaves from: IPv4, and IPv6
// when `[outbound] ipv6` is on. None are known behind NAT.
func (d *Doctor) sendingIPs(ctx context.Context) []net.IP {
	if d.Network == nil {
		return nil
	}
	all, err := d.Network.PublicIPs(ctx)
	if err != nil && len(all) == 0 {
		return nil
	}
	var out []net.IP
	for _, ip := range all {
		if ip.To4() != nil || d.Config.Outbound.IPv6 {
			out = append(out, ip)
		}
	}
	return out
}

func (d *Doctor) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func (d *Doctor) lookupOwner(name string) (domains.Owner, error) {
	if d.LookupOwner != nil {
		return d.LookupOwner(name)
	}
	return domains.LookupOwner(name)
}
