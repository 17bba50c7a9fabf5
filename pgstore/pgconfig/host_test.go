package pgconfig_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/pgstore/pgconfig"
)

// TestMergeAndShared: Shared keeps every shared setting and resets every
// per-host one; Merge puts a node's per-host settings over a shared config
// and takes nothing else from the node.
func TestMergeAndShared(t *testing.T) {
	t.Parallel()
	full := domains.Default("a.test", "b.test")
	full.Mailboxes["x@a.test"] = domains.Mailbox{Name: "x@a.test", Owner: "u"}
	full.Signature = "shared sig"
	full.SMTP.MaxMessageBytes = 1 << 20
	full.Outbound.RetryAttempts = 3
	full.Hooks.WebhookHTTPHosts = []string{"hooks.internal"}
	full.Storage.TrashRetention = domains.Duration(3600e9)

	node := domains.Default("other.test")
	node.Mailboxes["y@other.test"] = domains.Mailbox{Name: "y@other.test", Owner: "u"}
	node.Signature = "node sig"
	host := []struct {
		name string
		set  func(c *domains.Config, n int)
		get  func(*domains.Config) any
	}{
		{"data_dir", func(c *domains.Config, n int) { c.DataDir = fmt.Sprintf("/srv/%d", n) }, func(c *domains.Config) any { return c.DataDir }},
		{"runtime_dir", func(c *domains.Config, n int) { c.RuntimeDir = fmt.Sprintf("/run/%d", n) }, func(c *domains.Config) any { return c.RuntimeDir }},
		{"smtp listen", func(c *domains.Config, n int) { c.SMTP.Listen = fmt.Sprintf("10.0.0.%d:25", n) }, func(c *domains.Config) any { return c.SMTP.Listen }},
		{"smtp hostname", func(c *domains.Config, n int) { c.SMTP.Hostname = fmt.Sprintf("mx%d.a.test", n) }, func(c *domains.Config) any { return c.SMTP.Hostname }},
		{"tls", func(c *domains.Config, n int) {
			c.SMTP.TLSCert, c.SMTP.TLSKey = fmt.Sprintf("/c%d.pem", n), fmt.Sprintf("/k%d.pem", n)
		},
			func(c *domains.Config) any { return c.SMTP.TLSCert + c.SMTP.TLSKey }},
		{"hook workers", func(c *domains.Config, n int) { c.Hooks.Workers = 10 + n }, func(c *domains.Config) any { return c.Hooks.Workers }},
		{"relay", func(c *domains.Config, n int) { c.Outbound.Relay = fmt.Sprintf("smtp://u:p@relay%d:587", n) }, func(c *domains.Config) any { return c.Outbound.Relay }},
		{"outbound port", func(c *domains.Config, n int) { c.Outbound.Port = 2500 + n }, func(c *domains.Config) any { return c.Outbound.Port }},
		{"ipv6", func(c *domains.Config, n int) { c.Outbound.IPv6 = n == 1 }, func(c *domains.Config) any { return c.Outbound.IPv6 }},
		{"dns", func(c *domains.Config, n int) { c.DNS.Servers = []string{fmt.Sprintf("10.0.0.%d:53", n)} }, func(c *domains.Config) any { return strings.Join(c.DNS.Servers, ",") }},
		{"mcp", func(c *domains.Config, n int) {
			c.MCP.HTTPListen, c.MCP.AllowedHosts = fmt.Sprintf(":%d", 3000+n), []string{fmt.Sprintf("h%d", n)}
		},
			func(c *domains.Config) any { return c.MCP.HTTPListen + strings.Join(c.MCP.AllowedHosts, ",") }},
		{"metrics", func(c *domains.Config, n int) { c.Metrics.Listen = fmt.Sprintf(":%d", 9100+n) }, func(c *domains.Config) any { return c.Metrics.Listen }},
		{"storage", func(c *domains.Config, n int) {
			c.Storage.Backend, c.Storage.DSN, c.Storage.Node = "postgres", fmt.Sprintf("postgres://x%d", n), fmt.Sprintf("n%d", n)
		}, func(c *domains.Config) any { return c.Storage.Backend + c.Storage.DSN + c.Storage.Node }},
	}
	for _, h := range host {
		h.set(full, 1)
		h.set(node, 2)
	}
	shared := pgconfig.Shared(full)
	def := domains.Default()
	for _, h := range host {
		if h.get(shared) != h.get(def) {
			t.Errorf("Shared kept the per-host %s", h.name)
		}
	}
	if shared.Signature != "shared sig" || shared.SMTP.MaxMessageBytes != 1<<20 || shared.Outbound.RetryAttempts != 3 ||
		len(shared.Hooks.WebhookHTTPHosts) != 1 || shared.Storage.TrashRetention != full.Storage.TrashRetention || len(shared.Mailboxes) != 1 {
		t.Errorf("Shared dropped a shared setting: %+v", shared)
	}
	if err := shared.Validate(); err != nil {
		t.Errorf("the shared part does not validate: %v", err)
	}
	// Merging the node's host part over the shared part gives back the full config.
	if !domains.Equal(pgconfig.Merge(shared, full), full) {
		t.Error("Merge(Shared(c), c) is not c")
	}
	merged := pgconfig.Merge(shared, node)
	for _, h := range host {
		if h.get(merged) != h.get(node) {
			t.Errorf("Merge did not take the node's %s", h.name)
		}
	}
	if merged.Signature != "shared sig" || len(merged.Domains) != 2 || len(merged.Mailboxes) != 1 {
		t.Errorf("Merge took the node's shared settings: %v %v", merged.Domains, merged.MailboxNames())
	}
	// Neither input is changed, and the result shares no list with them.
	merged.DNS.Servers[0] = "changed"
	if node.DNS.Servers[0] == "changed" || full.Signature != "shared sig" || len(full.Mailboxes) != 1 {
		t.Error("Merge shares state with its inputs")
	}
}
