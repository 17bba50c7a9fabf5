package doctor

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/aimx-dev/aimx/internal/dnsresolver"
)

// certWarnDays is how close to its expiry a certificate gets a WARN.
const certWarnDays = 14

// retryFix is the advice for a lookup that failed for now.
const retryFix = "run aimx doctor again in a minute; if it keeps failing, check the [dns] servers in config.toml or your DNS provider"

// ServerChecks checks what every domain shares: `[smtp] hostname`'s
// addresses, the reverse DNS of the sending IPs and the TLS certificate.
// ips are the host's public addresses (none when unknown).
func (d *Doctor) ServerChecks(ctx context.Context, ips []net.IP) Server {
	cfg := d.Config
	s := Server{Hostname: cfg.Hostname(), SendingIPs: []string{}, Relay: cfg.Outbound.Relay != ""}
	for _, ip := range ips {
		s.SendingIPs = append(s.SendingIPs, ip.String())
	}
	s.Checks = append(s.Checks, d.HostnameCheck(ctx, ips))
	s.Checks = append(s.Checks, d.PTRChecks(ctx, ips)...)
	s.Checks = append(s.Checks, d.tlsCheck())
	return s
}

// HostRecords are the A/AAAA records `[smtp] hostname` needs for ips.
func HostRecords(host string, ips []net.IP) []string {
	var out []string
	for _, ip := range ips {
		typ := "A"
		if ip.To4() == nil {
			typ = "AAAA"
		}
		out = append(out, fmt.Sprintf("%s. %s %s", host, typ, ip))
	}
	return out
}

// HostnameCheck checks that `[smtp] hostname`, the name MX points at,
// resolves to this host (to ips, when they are known).
func (d *Doctor) HostnameCheck(ctx context.Context, ips []net.IP) Check {
	host := d.Config.Hostname()
	publish := "publish " + strings.Join(HostRecords(host, ips), " and ")
	if len(ips) == 0 {
		publish = "publish " + host + ". A <this server's public IPv4 address>"
	}
	addrs, err := d.Resolver.LookupIP(ctx, host)
	switch {
	case dnsresolver.IsNotFound(err):
		return fail(CheckHostname, host+" ([smtp] hostname) has no A or AAAA record: no one can deliver to it", publish)
	case err != nil:
		return warn(CheckHostname, "looking up "+host+": "+err.Error(), retryFix)
	}
	got := ipStrings(addrs)
	if len(ips) == 0 {
		return ok(CheckHostname, host+" resolves to "+strings.Join(got, ", "))
	}
	var missing []net.IP
	for _, ip := range ips {
		if !slices.Contains(got, ip.String()) {
			missing = append(missing, ip)
		}
	}
	switch {
	case len(missing) == len(ips):
		return fail(CheckHostname, fmt.Sprintf("%s resolves to %s, not to this host (%s)", host, strings.Join(got, ", "), strings.Join(ipStrings(ips), ", ")),
			"point it here: "+strings.Join(HostRecords(host, ips), " and "))
	case len(missing) > 0:
		return warn(CheckHostname, fmt.Sprintf("%s resolves to %s but not to %s, which this host sends from", host, strings.Join(got, ", "), strings.Join(ipStrings(missing), ", ")),
			"publish "+strings.Join(HostRecords(host, missing), " and ")+", or turn [outbound] ipv6 off")
	}
	return ok(CheckHostname, host+" resolves to "+strings.Join(got, ", "))
}

// PTRChecks checks the reverse DNS of each sending IP: receivers want it
// to name the host that says EHLO, and the name to resolve back
// (forward-confirmed reverse DNS, RFC 8499 "FCrDNS"; Gmail's and
// Microsoft's sender rules).
func (d *Doctor) PTRChecks(ctx context.Context, ips []net.IP) []Check {
	host := d.Config.Hostname()
	if d.Config.Outbound.Relay != "" {
		return []Check{ok(CheckPTR, "mail leaves through [outbound] relay: the relay's reverse DNS counts, not this host's")}
	}
	if len(ips) == 0 {
		return []Check{warn(CheckPTR, "could not tell this host's public address, so its reverse DNS was not checked",
			"check it yourself: dig -x <your public IP> must answer "+host+".")}
	}
	var out []Check
	fix := func(ip net.IP) string {
		return "ask your hosting provider to set the reverse DNS (PTR) of " + ip.String() + " to " + host +
			" (in its control panel); Gmail and Outlook refuse or junk mail without it"
	}
	for _, ip := range ips {
		names, err := d.Resolver.LookupPTR(ctx, ip)
		switch {
		case dnsresolver.IsNotFound(err):
			out = append(out, fail(CheckPTR, ip.String()+" has no reverse DNS (PTR)", fix(ip)))
		case err != nil:
			out = append(out, warn(CheckPTR, "reverse lookup of "+ip.String()+": "+err.Error(), retryFix))
		case !slices.ContainsFunc(names, func(n string) bool { return sameName(n, host) }):
			out = append(out, fail(CheckPTR, "the reverse DNS of "+ip.String()+" is "+strings.Join(names, ", ")+", not "+host, fix(ip)))
		default:
			out = append(out, ok(CheckPTR, ip.String()+" points back at "+host))
		}
	}
	return out
}

// tlsCheck: STARTTLS needs a certificate (RFC 3207); receivers accept a
// self-signed one for opportunistic TLS (RFC 7435), senders with MTA-STS
// (RFC 8461) need one a CA signed for the hostname.
func (d *Doctor) tlsCheck() Check {
	smtp := d.Config.SMTP
	host := d.Config.Hostname()
	if smtp.TLSCert == "" {
		return warn(CheckTLS, "no TLS certificate: STARTTLS is not offered and mail reaches this host in the clear",
			"set [smtp] tls_cert and tls_key (aimx setup makes a self-signed pair, or give it a CA-signed one)")
	}
	pair, err := tls.LoadX509KeyPair(smtp.TLSCert, smtp.TLSKey)
	if err != nil {
		return fail(CheckTLS, "the TLS pair does not load: "+err.Error(),
			"fix or replace "+smtp.TLSCert+" and "+smtp.TLSKey+", then restart aimx (systemctl restart aimx)")
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return fail(CheckTLS, "the certificate does not parse: "+err.Error(), "replace "+smtp.TLSCert+", then restart aimx")
	}
	now := d.now()
	switch {
	case now.After(leaf.NotAfter):
		return fail(CheckTLS, fmt.Sprintf("the certificate %s expired on %s", smtp.TLSCert, leaf.NotAfter.UTC().Format(time.DateOnly)),
			"renew it (or delete both files and run aimx setup again for a self-signed one), then restart aimx")
	case leaf.NotAfter.Sub(now) < certWarnDays*24*time.Hour:
		return warn(CheckTLS, fmt.Sprintf("the certificate %s expires on %s", smtp.TLSCert, leaf.NotAfter.UTC().Format(time.DateOnly)),
			"renew it, then restart aimx")
	}
	if err := leaf.VerifyHostname(host); err != nil {
		return warn(CheckTLS, "the certificate does not name "+host+" (it names "+strings.Join(leaf.DNSNames, ", ")+")",
			"get a certificate for "+host+"; senders that require a valid one (MTA-STS) will not deliver")
	}
	kind := "signed by " + leaf.Issuer.CommonName
	if leaf.Issuer.String() == leaf.Subject.String() {
		kind = "self-signed"
	}
	return ok(CheckTLS, fmt.Sprintf("STARTTLS with a certificate for %s, %s, valid until %s", host, kind, leaf.NotAfter.UTC().Format(time.DateOnly)))
}

// sameName compares DNS names case-insensitively, trailing dot or not.
func sameName(a, b string) bool {
	return strings.EqualFold(strings.TrimSuffix(a, "."), strings.TrimSuffix(b, "."))
}

func ipStrings(ips []net.IP) []string {
	out := make([]string, len(ips))
	for i, ip := range ips {
		out[i] = ip.String()
	}
	return out
}
