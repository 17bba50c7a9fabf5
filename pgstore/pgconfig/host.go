package pgconfig

import (
	"slices"

	"github.com/aimx-dev/aimx/domains"
)

// The per-host settings (book/scale-out.md, "Configuration across nodes")
// are those that describe one machine rather than the service: where its
// files and sockets are, what it listens on and under which name, how it
// reaches the outside (DNS, a relay, IPv6, the outbound port), how many hook
// workers it runs, and how it reaches the database. Everything else
// (domains, mailboxes, hooks, webhooks, trust, send policy, signatures,
// overrides, limits, retry policy, retention) is shared.

// Merge returns shared with the per-host settings of local: the config a
// node runs. Neither argument is modified; the result shares nothing with
// them. Its Source is shared's.
func Merge(shared, local *domains.Config) *domains.Config {
	c := shared.Clone()
	copyHost(c, local)
	return c
}

// Shared returns c with every per-host setting at its built-in default:
// the part of the config all nodes share, as it is stored in the database.
// c is not modified.
func Shared(c *domains.Config) *domains.Config {
	s := c.Clone()
	copyHost(s, domains.Default())
	return s
}

// copyHost sets dst's per-host settings to src's.
func copyHost(dst, src *domains.Config) {
	dst.DataDir = src.DataDir
	dst.RuntimeDir = src.RuntimeDir
	dst.SMTP.Listen = src.SMTP.Listen
	dst.SMTP.Hostname = src.SMTP.Hostname
	dst.SMTP.TLSCert = src.SMTP.TLSCert
	dst.SMTP.TLSKey = src.SMTP.TLSKey
	dst.Hooks.Workers = src.Hooks.Workers
	dst.Outbound.Relay = src.Outbound.Relay
	dst.Outbound.Port = src.Outbound.Port
	dst.Outbound.IPv6 = src.Outbound.IPv6
	dst.DNS.Servers = slices.Clone(src.DNS.Servers)
	dst.MCP.HTTPListen = src.MCP.HTTPListen
	dst.MCP.AllowedHosts = slices.Clone(src.MCP.AllowedHosts)
	dst.Metrics.Listen = src.Metrics.Listen
	dst.Storage.Backend = src.Storage.Backend
	dst.Storage.DSN = src.Storage.DSN
	dst.Storage.Node = src.Storage.Node
}
