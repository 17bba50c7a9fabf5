package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/internal/dnstest"
)

// TestSetupCommand: a non-interactive setup with --no-service in temp
// dirs writes a config serving the domain with its catchall, and a second
// run adds a domain. It needs root (setup refuses anyone else) and a free
// port 25.
func TestSetupCommand(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: aimx setup runs as root only")
	}
	root := t.TempDir()
	dirs := []string{"--config-dir", filepath.Join(root, "etc"), "--data-dir", filepath.Join(root, "data"), "--runtime-dir", filepath.Join(root, "run")}
	dns := dnstest.Start(t)
	env := []string{"AIMX_NONINTERACTIVE=1"}
	args := func(dom string) []string {
		return append(append([]string(nil), dirs...), "setup", dom, "--no-service", "--relay", "smtp://relay.test:587", "--dns", dns.Addr(),
			"--ip", "192.0.2.7", "--trust", "none", "--catchall-user", "root")
	}
	r := aimx(t, env, args("example.com")...)
	if r.code != 0 {
		if strings.Contains(r.stderr, "port 25") {
			t.Skipf("port 25 is not free here: %s", r.stderr)
		}
		t.Fatalf("exit %d: %s\n%s", r.code, r.stderr, r.stdout)
	}
	for _, want := range []string{"example.com.                  MX   10 example.com.", "WAIT  MX", "systemd left alone (--no-service)"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	if r := aimx(t, env, args("example.org")...); r.code != 0 {
		t.Fatalf("second domain: %d %s", r.code, r.stderr)
	}
	cfg, err := domains.Load(filepath.Join(root, "etc", "config.toml"), domains.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(cfg.Domains, ",") != "example.com,example.org" || cfg.Outbound.Relay == "" || cfg.DataDir != filepath.Join(root, "data") {
		t.Fatalf("config: %v relay %q data %q", cfg.Domains, cfg.Outbound.Relay, cfg.DataDir)
	}
	for _, d := range cfg.Domains {
		if m, ok := cfg.Catchall(d); !ok || m.Owner != "root" {
			t.Errorf("catchall of %s: %+v", d, m)
		}
	}
}

// TestSetupRefusesCustomPathsWithTheService: the unit runs the default
// paths only.
func TestSetupRefusesCustomPathsWithTheService(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root: aimx setup runs as root only")
	}
	r := aimx(t, []string{"AIMX_NONINTERACTIVE=1"}, "--config-dir", t.TempDir(), "setup", "example.com")
	if r.code != 2 || !strings.Contains(r.stderr, "--no-service") {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
}
