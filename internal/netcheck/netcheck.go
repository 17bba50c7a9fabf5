// Package netcheck is the network that `aimx setup` and `aimx doctor` probe:
// whether an SMTP server answers on an address, which public addresses this
// host has, and whether a port is free. The commands take it as an
// interface so tests inject every answer and never touch the network
// (book/install.md, book/doctor.md).
package netcheck

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// Network is what setup and doctor ask of the network.
type Network interface {
	// Greeting connects to addr ("host:port") over TCP and returns the SMTP
	// server's greeting line (RFC 5321 4.2, "220 ..."); a reply other than
	// 220 is an error carrying it.
	Greeting(ctx context.Context, addr string) (string, error)
	// PublicIPs returns this host's global addresses, IPv4 first: the
	// addresses it sends mail from, for A/AAAA records, SPF and PTR.
	PublicIPs(ctx context.Context) ([]net.IP, error)
	// Listenable reports whether addr can be bound now; an error wrapping
	// ErrInUse means another process listens there.
	Listenable(addr string) error
}

// ErrInUse reports an address another process already listens on.
var ErrInUse = errors.New("address already in use")

// DefaultTimeout bounds one Greeting.
const DefaultTimeout = 10 * time.Second

// System is the real network.
type System struct {
	// Timeout bounds one Greeting (DefaultTimeout when zero).
	Timeout time.Duration
}

var _ Network = System{}

// Greeting dials addr and reads the greeting, the continuation lines of a
// multi-line one included (RFC 5321 4.2.1).
func (s System) Greeting(ctx context.Context, addr string) (string, error) {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", fmt.Errorf("connect to %s: %w", addr, err)
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	r := bufio.NewReader(conn)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return "", fmt.Errorf("read the greeting of %s: %w", addr, err)
		}
		line = strings.TrimRight(line, "\r\n")
		if len(line) >= 4 && line[3] == '-' {
			continue
		}
		if !strings.HasPrefix(line, "220") {
			return line, fmt.Errorf("%s greeted with %q, not 220", addr, line)
		}
		_, _ = conn.Write([]byte("QUIT\r\n"))
		return line, nil
	}
}

// PublicIPs finds the source address the kernel would use for the default
// route of each family (a UDP "connect" sends nothing), then every global
// address of the interfaces; private, shared (RFC 6598) and link-local
// addresses are left out. Behind NAT it finds none: pass the address to
// setup with --ip.
func (System) PublicIPs(context.Context) ([]net.IP, error) {
	var out []net.IP
	seen := map[string]bool{}
	add := func(ip net.IP) {
		if IsPublic(ip) && !seen[ip.String()] {
			seen[ip.String()] = true
			out = append(out, ip)
		}
	}
	// Documentation addresses (RFC 5737, RFC 3849): only the route is
	// looked up.
	for _, probe := range []string{"192.0.2.1:53", "[2001:db8::1]:53"} {
		if c, err := net.Dial("udp", probe); err == nil {
			add(c.LocalAddr().(*net.UDPAddr).IP)
			_ = c.Close()
		}
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return sortV4First(out), fmt.Errorf("list interface addresses: %w", err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			add(n.IP)
		}
	}
	return sortV4First(out), nil
}

// Listenable binds addr over TCP and closes it at once.
func (System) Listenable(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if isInUse(err) {
			return fmt.Errorf("listen on %s: %w", addr, ErrInUse)
		}
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	return ln.Close()
}

func isInUse(err error) bool { return errors.Is(err, syscall.EADDRINUSE) }

// IsPublic reports whether ip is a global unicast address that is neither
// private (RFC 1918, RFC 4193), shared (RFC 6598) nor for documentation.
func IsPublic(ip net.IP) bool {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return false
	}
	a = a.Unmap()
	if !a.IsGlobalUnicast() || a.IsPrivate() {
		return false
	}
	for _, p := range nonPublic() {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// nonPublic are global-unicast ranges that are not reachable from the
// internet.
func nonPublic() []netip.Prefix {
	return []netip.Prefix{
		netip.MustParsePrefix("100.64.0.0/10"),   // RFC 6598 shared address space
		netip.MustParsePrefix("192.0.2.0/24"),    // RFC 5737
		netip.MustParsePrefix("198.51.100.0/24"), // RFC 5737
		netip.MustParsePrefix("203.0.113.0/24"),  // RFC 5737
		netip.MustParsePrefix("2001:db8::/32"),   // RFC 3849
	}
}

func sortV4First(ips []net.IP) []net.IP {
	out := make([]net.IP, 0, len(ips))
	for _, ip := range ips {
		if ip.To4() != nil {
			out = append(out, ip)
		}
	}
	for _, ip := range ips {
		if ip.To4() == nil {
			out = append(out, ip)
		}
	}
	return out
}
