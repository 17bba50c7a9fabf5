package setup

import (
	"context"
	"fmt"
	"net"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aimx-dev/aimx/doctor"
	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/domains/dkimkey"
	"github.com/aimx-dev/aimx/internal/progress"
	"github.com/aimx-dev/aimx/operations"
)

// record is one row of the DNS table and the doctor check that says
// whether it resolves.
type record struct {
	operations.DNSRecord
	check string // a doctor check name
	nth   int    // which check of that name (the second DKIM key)
}

// label names the row's kind: A, AAAA, MX, SPF, DKIM, DMARC.
func (r record) label() string {
	switch r.check {
	case doctor.CheckSPF:
		return "SPF"
	case doctor.CheckDKIMRecord:
		return "DKIM"
	case doctor.CheckDMARC:
		return "DMARC"
	}
	return r.Type
}

// records are the rows to publish: the host's A/AAAA, then what
// `aimx domains add` prints (operations.Records: MX, SPF, DKIM, DMARC).
func records(cfg *domains.Config, dom string, set *dkimkey.KeySet, ips []net.IP) ([]record, error) {
	host := cfg.Hostname()
	var out []record
	for _, ip := range ips {
		typ := "A"
		if ip.To4() == nil {
			typ = "AAAA"
		}
		out = append(out, record{DNSRecord: operations.DNSRecord{Name: host + ".", Type: typ, Value: ip.String()}, check: doctor.CheckHostname})
	}
	if len(ips) == 0 {
		out = append(out, record{DNSRecord: operations.DNSRecord{Name: host + ".", Type: "A", Value: "<this server's public IPv4 address>"}, check: doctor.CheckHostname})
	}
	recs, err := operations.Records(cfg, dom, set)
	if err != nil {
		return nil, err
	}
	dkim := 0
	for _, r := range recs {
		row := record{DNSRecord: r}
		switch {
		case r.Type == "MX":
			row.check = doctor.CheckMX
		case strings.HasPrefix(r.Value, "v=spf1"):
			row.check = doctor.CheckSPF
		case strings.HasPrefix(r.Value, "v=DKIM1"):
			row.check, row.nth = doctor.CheckDKIMRecord, dkim
			dkim++
		case strings.HasPrefix(r.Value, "v=DMARC1"):
			row.check = doctor.CheckDMARC
		}
		out = append(out, row)
	}
	return out, nil
}

// dnsStep prints the records to publish, then checks them until they all
// resolve, the operator presses Enter, or the time is up; a progress bar
// (lines without a terminal) shows how many resolve.
func (s *Setup) dnsStep(ctx context.Context, cfg *domains.Config, dom string, set *dkimkey.KeySet, keyCreated bool, ips []net.IP) error {
	s.step("DNS records")
	if keyCreated {
		s.linef("ok", "made a DKIM key for %s: %s", dom, set.RSA.PrivatePath)
	} else {
		s.linef("ok", "using the DKIM key of %s: %s", dom, set.RSA.PrivatePath)
	}
	rows, err := records(cfg, dom, set, ips)
	if err != nil {
		return err
	}
	fmt.Fprintf(s.Out, "\nPublish these records at your DNS provider:\n\n")
	tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", r.Name, r.Type, quoteTXT(r.DNSRecord))
	}
	_ = tw.Flush() // errors of Out surface at the next write
	host := cfg.Hostname()
	addr := "this server's address"
	if len(ips) > 0 {
		addr = ips[0].String()
	}
	fmt.Fprintf(s.Out, "\nAnd ask your hosting provider to set the reverse DNS (PTR) of %s to %s.\n", addr, host)
	if s.Opts.SkipDNS {
		s.linef("warn", "not checked (--skip-dns-check): aimx doctor checks them once they are published")
		return nil
	}
	d := &doctor.Doctor{Config: cfg, Resolver: s.Resolver, Keys: staticKeys{set}}
	results, err := s.verifyLoop(ctx, d, dom, rows, ips)
	if err != nil {
		return err
	}
	missing := 0
	fmt.Fprintln(s.Out)
	for i, r := range rows {
		c := results[i]
		if c.Status == doctor.OK {
			s.linef("ok", "%-5s  %s", r.label(), r.Name)
			continue
		}
		missing++
		s.linef("wait", "%-5s  %s: %s", r.label(), r.Name, c.Detail)
	}
	if missing > 0 {
		s.linef("warn", "%d of %d records are not right yet: mail may bounce or be junked until they are; aimx doctor checks them again", missing, len(rows))
	}
	for _, c := range d.PTRChecks(ctx, ips) {
		if c.Status == doctor.OK {
			s.linef("ok", "%s", c.Detail)
		} else {
			s.linef("warn", "%s -> %s", c.Detail, c.Fix)
		}
	}
	return nil
}

// verifyLoop checks the rows until all resolve, the operator skips, the
// timeout passes, or (without a terminal and a timeout) once.
func (s *Setup) verifyLoop(ctx context.Context, d *doctor.Doctor, dom string, rows []record, ips []net.IP) ([]doctor.Check, error) {
	interval := s.Opts.DNSInterval
	if interval <= 0 {
		interval = DefaultDNSInterval
	}
	once := s.Opts.DNSTimeout <= 0 && !s.prompt.interactive
	var deadline time.Time
	if s.Opts.DNSTimeout > 0 {
		deadline = s.now().Add(s.Opts.DNSTimeout)
	}
	if !once {
		fmt.Fprintf(s.Out, "\nChecking them every %s until they resolve", interval)
		if s.prompt.interactive {
			fmt.Fprint(s.Out, "; press Enter to go on without them")
		}
		fmt.Fprintln(s.Out, ".")
	}
	tr := progress.New(progress.Options{Label: "checking DNS", Unit: "records resolve", Total: len(rows),
		Out: s.Progress, Mode: s.ProgressMode, Interval: interval})
	defer tr.Done("")
	stop := make(chan struct{})
	defer close(stop)
	skip := s.prompt.skipped(stop)
	for {
		results := s.checkRows(ctx, d, dom, rows, ips)
		ok := 0
		var waiting []string
		for i, c := range results {
			if c.Status == doctor.OK {
				ok++
			} else {
				waiting = append(waiting, rows[i].label())
			}
		}
		tr.Set(ok, "")
		if ok == len(rows) || once || (!deadline.IsZero() && !s.now().Before(deadline)) {
			return results, nil
		}
		next := s.now().Add(interval)
		if !deadline.IsZero() && deadline.Before(next) {
			next = deadline
		}
		tick := time.NewTicker(min(time.Second, interval))
		for wait := true; wait; {
			left := next.Sub(s.now()).Round(time.Second)
			tr.Note(fmt.Sprintf("waiting for %s, next check in %s", strings.Join(dedup(waiting), ", "), max(left, 0)))
			select {
			case <-ctx.Done():
				tick.Stop()
				return nil, fmt.Errorf("checking DNS: %w", ctx.Err())
			case <-skip:
				tick.Stop()
				return results, nil
			case <-tick.C:
				wait = s.now().Before(next)
			}
		}
		tick.Stop()
	}
}

// checkRows runs the doctor checks behind each row.
func (s *Setup) checkRows(ctx context.Context, d *doctor.Doctor, dom string, rows []record, ips []net.IP) []doctor.Check {
	host := d.HostnameCheck(ctx, ips)
	byName := map[string][]doctor.Check{doctor.CheckHostname: {host}}
	for _, c := range d.DomainChecks(ctx, dom, ips).Checks {
		byName[c.Check] = append(byName[c.Check], c)
	}
	out := make([]doctor.Check, len(rows))
	for i, r := range rows {
		cs := byName[r.check]
		idx := r.nth
		if r.check == doctor.CheckHostname {
			idx = 0
		}
		if idx < len(cs) {
			out[i] = cs[idx]
		} else {
			out[i] = doctor.Check{Check: r.check, Status: doctor.Fail, Detail: "not checked"}
		}
	}
	return out
}

// staticKeys serves one key set to the doctor checks.
type staticKeys struct{ set *dkimkey.KeySet }

func (k staticKeys) LoadSet(string) (*dkimkey.KeySet, error) { return k.set, nil }

// quoteTXT writes a TXT value as a zone file would.
func quoteTXT(r operations.DNSRecord) string {
	if r.Type != "TXT" {
		return r.Value
	}
	return `"` + r.Value + `"`
}

func dedup(in []string) []string {
	var out []string
	for _, s := range in {
		if len(out) == 0 || out[len(out)-1] != s {
			out = append(out, s)
		}
	}
	return out
}
