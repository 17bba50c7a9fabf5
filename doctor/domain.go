package doctor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"blitiri.com.ar/go/spf"

	"github.com/aimx-dev/aimx/domains/dkimkey"
	"github.com/aimx-dev/aimx/internal/dnsresolver"
)

// The names of the per-domain checks (book/doctor.md).
const (
	CheckDKIMKey    = "dkim_key"
	CheckDKIMRecord = "dkim_record"
	CheckMX         = "mx"
	CheckSPF        = "spf"
	CheckDMARC      = "dmarc"
	CheckPostmaster = "postmaster"
	// CheckHostname, CheckPTR and CheckTLS are the server checks:
	// `[smtp] hostname`'s A/AAAA, the sending IPs' reverse DNS, STARTTLS.
	CheckHostname = "hostname"
	CheckPTR      = "ptr"
	CheckTLS      = "tls"
)

// DomainChecks checks one served domain: its DKIM key and published
// record, MX, SPF (evaluated for ips when they are known), DMARC and
// postmaster. The records are the ones `aimx domains add` prints
// (operations.Records).
func (d *Doctor) DomainChecks(ctx context.Context, dom string, ips []net.IP) Domain {
	cfg := d.Config
	sel := cfg.EffectiveForDomain(dom).DKIMSelector
	b := Domain{Domain: dom, Default: dom == cfg.DefaultDomain(), Selector: sel}
	set, err := d.Keys.LoadSet(dom)
	switch {
	case errors.Is(err, dkimkey.ErrNoKey):
		b.Checks = append(b.Checks, fail(CheckDKIMKey, "no DKIM key for "+dom+": every send from it fails",
			"run aimx dkim-keygen --domain "+dom+" and publish the record it prints, then aimx reload"))
	case err != nil:
		b.Checks = append(b.Checks, fail(CheckDKIMKey, err.Error(),
			"make the key readable by root, or replace it with aimx dkim-keygen --domain "+dom+" --force (then publish the new record)"))
	default:
		detail := "RSA key " + set.RSA.PrivatePath
		if set.Ed25519 != nil {
			detail += " and Ed25519 key " + set.Ed25519.PrivatePath
		}
		b.Checks = append(b.Checks, ok(CheckDKIMKey, detail))
		b.Checks = append(b.Checks, d.dkimRecord(ctx, dom, sel, set.RSA))
		if set.Ed25519 != nil {
			b.Checks = append(b.Checks, d.dkimRecord(ctx, dom, sel, set.Ed25519))
		}
	}
	b.Checks = append(b.Checks, d.mxCheck(ctx, dom), d.spfCheck(ctx, dom, ips), d.dmarcCheck(ctx, dom), d.postmasterCheck(dom))
	return b
}

// dkimRecord compares the published key with the local one (RFC 6376
// 3.6.1), as the daemon does at start (book/multi-domain.md).
func (d *Doctor) dkimRecord(ctx context.Context, dom, sel string, key *dkimkey.Key) Check {
	name, _, err := dkimkey.TXTRecord(dom, sel, key.Public())
	if err != nil {
		return fail(CheckDKIMRecord, err.Error(), "replace the key with aimx dkim-keygen --domain "+dom+" --force")
	}
	state, detail := dkimkey.CheckPublished(ctx, d.Resolver.LookupTXT, dom, sel, key.Public())
	publish := "publish the TXT record aimx dkim-keygen --domain " + dom + " prints, at " + name + "."
	switch state {
	case dkimkey.PublishedMatch:
		return ok(CheckDKIMRecord, detail)
	case dkimkey.PublishedMissing:
		return fail(CheckDKIMRecord, detail+": receivers cannot verify mail from "+dom, publish)
	case dkimkey.PublishedMismatch:
		return fail(CheckDKIMRecord, detail+": receivers fail every signature", "replace it: "+publish)
	}
	return warn(CheckDKIMRecord, detail, retryFix)
}

// mxCheck: mail for the domain must reach `[smtp] hostname` (RFC 5321 5.1).
func (d *Doctor) mxCheck(ctx context.Context, dom string) Check {
	host := d.Config.Hostname()
	want := dom + ". MX 10 " + host + "."
	mxs, err := d.Resolver.LookupMX(ctx, dom)
	switch {
	case dnsresolver.IsNotFound(err):
		return fail(CheckMX, dom+" has no MX record: mail for it goes nowhere", "publish "+want)
	case err != nil:
		return warn(CheckMX, "looking up the MX of "+dom+": "+err.Error(), retryFix)
	}
	var hosts []string
	for _, mx := range mxs {
		hosts = append(hosts, fmt.Sprintf("%d %s", mx.Pref, mx.Host))
	}
	for _, mx := range mxs {
		if !sameName(mx.Host, host) {
			continue
		}
		if mx.Pref > mxs[0].Pref {
			return warn(CheckMX, "the MX of "+dom+" lists "+host+" but prefers "+mxs[0].Host+" ("+strings.Join(hosts, ", ")+")",
				"give "+host+" the lowest preference or remove the others, unless they relay to it")
		}
		return ok(CheckMX, dom+". MX "+strings.Join(hosts, ", "))
	}
	return fail(CheckMX, "the MX of "+dom+" points at "+strings.Join(hosts, ", ")+", not "+host+" ([smtp] hostname)",
		"replace the MX records of "+dom+" with: "+want)
}

// spfCheck: one SPF record (RFC 7208 4.5) that allows the sending IPs,
// evaluated as a receiver would (check_host, RFC 7208 4); without a known
// IP, or through a relay, only its presence is checked.
func (d *Doctor) spfCheck(ctx context.Context, dom string, ips []net.IP) Check {
	publish := "publish " + dom + `. TXT "v=spf1 mx -all"`
	txts, err := d.Resolver.LookupTXT(ctx, dom)
	if err != nil && !dnsresolver.IsNotFound(err) {
		return warn(CheckSPF, "looking up the SPF record of "+dom+": "+err.Error(), retryFix)
	}
	var recs []string
	for _, t := range txts {
		if isSPF(t) {
			recs = append(recs, t)
		}
	}
	switch {
	case len(recs) == 0:
		return fail(CheckSPF, dom+" has no SPF record: receivers cannot tell this host may send for it", publish)
	case len(recs) > 1:
		return fail(CheckSPF, fmt.Sprintf("%s has %d SPF records, which is an error for every receiver (RFC 7208 4.5)", dom, len(recs)),
			"keep one: merge them into a single v=spf1 record")
	}
	rec := recs[0]
	if d.Config.Outbound.Relay != "" || len(ips) == 0 {
		why := "mail leaves through [outbound] relay: make sure the record allows the relay"
		if d.Config.Outbound.Relay == "" {
			why = "this host's public address is unknown, so the record was not evaluated"
		}
		return ok(CheckSPF, fmt.Sprintf("%q (%s)", rec, why))
	}
	host := d.Config.Hostname()
	for _, ip := range ips {
		res, err := spf.CheckHostWithSender(ip, host, "postmaster@"+dom, spf.WithContext(ctx), spf.WithResolver(spfResolver{d.Resolver}))
		switch res {
		case spf.Pass:
			continue
		case spf.TempError:
			return warn(CheckSPF, fmt.Sprintf("evaluating %q for %s: %v", rec, ip, err), retryFix)
		case spf.PermError:
			return fail(CheckSPF, fmt.Sprintf("%q is invalid: %v", rec, err), "replace it with: "+publish)
		default:
			return fail(CheckSPF, fmt.Sprintf("%q gives %s for %s, which this host sends from", rec, res, ip),
				"allow it: use "+publish+", or add ip"+ipVersion(ip)+":"+ip.String()+" to the record")
		}
	}
	return ok(CheckSPF, fmt.Sprintf("%q allows %s", rec, strings.Join(ipStrings(ips), ", ")))
}

// isSPF recognises an SPF record: "v=spf1" alone or followed by a space
// (RFC 7208 4.5), case-insensitively.
func isSPF(txt string) bool {
	t := strings.ToLower(strings.TrimSpace(txt))
	return t == "v=spf1" || strings.HasPrefix(t, "v=spf1 ")
}

func ipVersion(ip net.IP) string {
	if ip.To4() != nil {
		return "4"
	}
	return "6"
}

// dmarcCheck: one DMARC record at _dmarc.<domain> with a valid policy
// (RFC 7489 6.3, 6.6.3). A missing one is a WARN: mail still flows, but
// Gmail and Yahoo require one of bulk senders.
func (d *Doctor) dmarcCheck(ctx context.Context, dom string) Check {
	name := "_dmarc." + dom
	publish := "publish " + name + `. TXT "v=DMARC1; p=none; rua=mailto:postmaster@` + dom + `"`
	txts, err := d.Resolver.LookupTXT(ctx, name)
	if err != nil && !dnsresolver.IsNotFound(err) {
		return warn(CheckDMARC, "looking up "+name+": "+err.Error(), retryFix)
	}
	var recs []string
	for _, t := range txts {
		if strings.HasPrefix(strings.TrimSpace(t), "v=DMARC1") {
			recs = append(recs, t)
		}
	}
	switch {
	case len(recs) == 0:
		return warn(CheckDMARC, name+" has no DMARC record", publish)
	case len(recs) > 1:
		return fail(CheckDMARC, fmt.Sprintf("%s has %d DMARC records, so receivers apply none (RFC 7489 6.6.3)", name, len(recs)),
			"keep one of them")
	}
	p := dmarcTag(recs[0], "p")
	switch p {
	case "none", "quarantine", "reject":
		return ok(CheckDMARC, fmt.Sprintf("%q (policy %s)", recs[0], p))
	}
	return fail(CheckDMARC, fmt.Sprintf("%q has no valid p= policy, so receivers ignore it (RFC 7489 6.3)", recs[0]), "replace it: "+publish)
}

// dmarcTag returns one tag's value of a DMARC record (RFC 7489 6.4).
func dmarcTag(rec, tag string) string {
	for _, part := range strings.Split(rec, ";") {
		k, v, found := strings.Cut(part, "=")
		if found && strings.TrimSpace(k) == tag {
			return strings.ToLower(strings.TrimSpace(v))
		}
	}
	return ""
}

// postmasterCheck: every domain must accept mail for postmaster (RFC 5321
// 4.5.1); it goes to a postmaster mailbox or the catchall
// (book/configuration.md).
func (d *Doctor) postmasterCheck(dom string) Check {
	addr := "postmaster@" + dom
	m, err := d.Config.ResolveRecipient(addr)
	if err != nil {
		return fail(CheckPostmaster, addr+" is refused: the domain has no postmaster mailbox and no catchall (RFC 5321 4.5.1 requires it)",
			"aimx mailboxes create "+addr+" --owner USER (or a catchall: aimx mailboxes create '*@"+dom+"' --owner USER)")
	}
	if m.Name == addr {
		return ok(CheckPostmaster, addr+" is a mailbox of "+m.Owner)
	}
	return ok(CheckPostmaster, addr+" reaches the catchall "+m.Name+" of "+m.Owner)
}

// spfResolver adapts Resolver to blitiri spf, which classifies errors by
// *net.DNSError.
type spfResolver struct{ r Resolver }

func (s spfResolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	txts, err := s.r.LookupTXT(ctx, strings.TrimSuffix(name, "."))
	return txts, netError(name, err)
}

func (s spfResolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	mxs, err := s.r.LookupMX(ctx, strings.TrimSuffix(name, "."))
	return mxs, netError(name, err)
}

func (s spfResolver) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	ips, err := s.r.LookupIP(ctx, strings.TrimSuffix(host, "."))
	if err != nil {
		return nil, netError(host, err)
	}
	out := make([]net.IPAddr, len(ips))
	for i, ip := range ips {
		out[i] = net.IPAddr{IP: ip}
	}
	return out, nil
}

func (s spfResolver) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	names, err := s.r.LookupPTR(ctx, net.ParseIP(addr))
	return names, netError(addr, err)
}

// netError is the *net.DNSError blitiri spf expects.
func netError(name string, err error) error {
	if err == nil {
		return nil
	}
	return &net.DNSError{Err: err.Error(), Name: name, IsNotFound: dnsresolver.IsNotFound(err), IsTemporary: !dnsresolver.IsNotFound(err)}
}
