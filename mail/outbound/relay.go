package outbound

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Default relay ports: 25 for smtp:// (RFC 5321 4.5.4) and 465 for
// smtps://, submission over implicit TLS (RFC 8314 7.3).
const (
	DefaultRelayPort    = 25
	DefaultRelayTLSPort = 465
)

// Relay is a parsed `[outbound] relay` URL: smtp://[user:pass@]host:port
// (STARTTLS required unless the host is a loopback address or
// `localhost`) or smtps://[user:pass@]host:port (implicit TLS). Every
// recipient that is not on one of our own domains goes through it, without
// an MX lookup (book/sending.md, "Delivery connections").
type Relay struct {
	// Host is the relay's host name or IP address (no brackets), also the
	// name its certificate is checked against.
	Host string
	// Port is the TCP port (DefaultRelayPort or DefaultRelayTLSPort when
	// the URL has none).
	Port int
	// ImplicitTLS is smtps://: TLS starts before the greeting.
	ImplicitTLS bool
	// Auth is the login from the URL's user information (nil: none),
	// sent as AUTH PLAIN.
	Auth *Auth
	// RequireTLS fails a connection without TLS: true for smtps:// and for
	// every host that is not loopback.
	RequireTLS bool
	// RequireVerified fails a connection whose certificate does not
	// verify: true when a login would be sent to a host that is not
	// loopback, so a password never goes to whoever answers with a
	// self-signed certificate.
	RequireVerified bool
}

// ErrBadRelay marks a relay URL ParseRelay refuses. The error never quotes
// the URL: it may hold a password.
var ErrBadRelay = errors.New("bad relay URL")

// ParseRelay parses a relay URL. The error says what is wrong without
// quoting the URL or any part of its user information.
func ParseRelay(raw string) (*Relay, error) {
	bad := func(why string) (*Relay, error) {
		return nil, fmt.Errorf("outbound relay: %w: %s (want smtp://[user:pass@]host:port or smtps://...)", ErrBadRelay, why)
	}
	if strings.TrimSpace(raw) == "" {
		return bad("empty")
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error quotes the whole URL, password included: not wrapped.
		return bad("not a valid URL")
	}
	r := &Relay{}
	switch strings.ToLower(u.Scheme) {
	case "smtp":
		r.Port = DefaultRelayPort
	case "smtps":
		r.Port, r.ImplicitTLS = DefaultRelayTLSPort, true
	default:
		return bad("the scheme must be smtp or smtps")
	}
	if u.Opaque != "" {
		return bad("no // after the scheme")
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return bad("a path, query or fragment is not allowed")
	}
	r.Host = strings.TrimSuffix(u.Hostname(), ".")
	if r.Host == "" {
		return bad("no host")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil || n == 0 {
			return bad("the port must be a number from 1 to 65535")
		}
		r.Port = int(n)
	} else if strings.HasSuffix(u.Host, ":") {
		return bad("empty port")
	}
	if u.User != nil {
		pass, ok := u.User.Password()
		user := u.User.Username()
		switch {
		case user == "":
			return bad("a login needs a user name")
		case !ok || pass == "":
			return bad("a login needs a password (user:pass@)")
		}
		r.Auth = &Auth{Username: user, Password: pass}
	}
	r.RequireTLS = r.ImplicitTLS || !isLoopbackHost(r.Host)
	r.RequireVerified = r.Auth != nil && !isLoopbackHost(r.Host)
	return r, nil
}

// String is the relay URL with the password replaced by "xxxxx", safe to
// log.
func (r *Relay) String() string {
	if r == nil {
		return ""
	}
	u := url.URL{Scheme: "smtp", Host: net.JoinHostPort(r.Host, strconv.Itoa(r.Port))}
	if r.ImplicitTLS {
		u.Scheme = "smtps"
	}
	if r.Auth != nil {
		u.User = url.UserPassword(r.Auth.Username, "xxxxx")
	}
	return u.String()
}

// addr is the relay's host:port.
func (r *Relay) addr() string { return net.JoinHostPort(r.Host, strconv.Itoa(r.Port)) }

// isLoopbackHost reports a host that can only be this machine: `localhost`
// (RFC 6761 6.3) or a loopback IP address.
func isLoopbackHost(host string) bool {
	host = strings.TrimSuffix(host, ".")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
