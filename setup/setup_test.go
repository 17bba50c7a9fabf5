package setup

import (
	"context"
	"crypto/tls"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/internal/netcheck"
)

// TestFirstInstallPassing: on a host whose records are published, a
// non-interactive setup writes the config 0640, the catchall with its
// user and storage, a self-signed pair, and installs, enables and starts
// the service, then waits for port 25.
func TestFirstInstallPassing(t *testing.T) {
	t.Parallel()
	h := newHost(t)
	h.publish("example.com")
	s := h.setup(Options{Domain: "Example.com", Hostname: "mail.example.com", Trust: "verified", TrustedSenders: []string{"*@example.com"}}, "")
	if err := s.Run(context.Background()); err != nil {
		t.Fatalf("%v\n%s", err, h.out.String())
	}
	golden(t, "first-install.txt", h.scrub(h.out.String()))

	fi, err := os.Stat(h.paths.ConfigFile())
	if err != nil || fi.Mode().Perm() != 0o640 {
		t.Fatalf("config: %v %v", fi.Mode(), err)
	}
	cfgText, err := os.ReadFile(h.paths.ConfigFile())
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "first-install.toml", h.scrub(string(cfgText)))
	if want := []string{"install", "enable", "is-active", "start"}; !reflect.DeepEqual(h.systemd.Calls, want) || !h.systemd.Enabled || !h.systemd.Active {
		t.Errorf("systemd calls %v, want %v", h.systemd.Calls, want)
	}
	if !reflect.DeepEqual(h.users.created, []string{DefaultCatchallUser}) {
		t.Errorf("users created: %v", h.users.created)
	}
	if fi, err := os.Stat(filepath.Join(h.paths.DataDir, "example.com", "inbox", "catchall")); err != nil || fi.Mode().Perm() != 0o750 {
		t.Errorf("catchall storage: %v", err)
	}
	cert, key := filepath.Join(h.paths.ConfigDir, "tls", "cert.pem"), filepath.Join(h.paths.ConfigDir, "tls", "key.pem")
	if _, err := tls.LoadX509KeyPair(cert, key); err != nil {
		t.Errorf("self-signed pair: %v", err)
	}
	if fi, err := os.Stat(key); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("TLS key mode: %v", err)
	}
	if !strings.Contains(h.net.Dialed()[0], "mx.probe.test:25") {
		t.Errorf("outbound probe: %v", h.net.Dialed())
	}
}

// TestFirstInstallFailingStates: nothing published, port 25 out blocked
// and the public address unreachable: setup still completes, saying what
// is not right yet and what to do, after one check (no terminal, no
// --dns-timeout).
func TestFirstInstallFailingStates(t *testing.T) {
	t.Parallel()
	h := newHost(t)
	delete(h.net.Greetings, "mx.probe.test:25")
	delete(h.net.Greetings, "203.0.113.5:25")
	s := h.setup(Options{Domain: "example.com", Trust: "none"}, "")
	if err := s.Run(context.Background()); err != nil {
		t.Fatalf("%v\n%s", err, h.out.String())
	}
	golden(t, "first-install-failing.txt", h.scrub(h.out.String()))
}

// TestVerifyLoopWaitsForRecords: the loop checks again until the records
// appear, with progress lines off a terminal.
func TestVerifyLoopWaitsForRecords(t *testing.T) {
	t.Parallel()
	h := newHost(t)
	s := h.setup(Options{Domain: "example.com", Hostname: "mail.example.com", Trust: "none", DNSTimeout: 30 * time.Second}, "")
	go func() {
		for h.dns.Queries("_dmarc.example.com", 16) == 0 { // TXT: the first round asked
			time.Sleep(5 * time.Millisecond)
		}
		h.publish("example.com")
	}()
	if err := s.Run(context.Background()); err != nil {
		t.Fatalf("%v\n%s", err, h.out.String())
	}
	out := h.scrub(h.out.String())
	if strings.Contains(out, "WAIT") || !strings.Contains(out, "Checking them every 20ms until they resolve.") {
		t.Errorf("output:\n%s", out)
	}
	for _, want := range []string{"  OK    DKIM   aimx._domainkey.example.com.", "  OK    203.0.113.5 points back at mail.example.com"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if h.dns.Queries("example.com", 15) < 2 { // MX asked again
		t.Errorf("MX asked %d times", h.dns.Queries("example.com", 15))
	}
}

// TestVerifyLoopTimesOut: records that never appear end the loop at
// --dns-timeout, and setup goes on.
func TestVerifyLoopTimesOut(t *testing.T) {
	t.Parallel()
	h := newHost(t)
	s := h.setup(Options{Domain: "example.com", Trust: "none", DNSTimeout: 150 * time.Millisecond}, "")
	start := time.Now()
	if err := s.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < 150*time.Millisecond || !strings.Contains(h.out.String(), "5 of 5 records are not right yet") {
		t.Errorf("after %s:\n%s", time.Since(start), h.out.String())
	}
	if !strings.Contains(h.prog.String(), "checking DNS: 0/5 records resolve") && h.prog.Len() != 0 {
		t.Errorf("progress: %q", h.prog.String())
	}
}

// TestInteractive: questions answered on the terminal, Enter skips the
// DNS wait, a given certificate pair is used.
func TestInteractive(t *testing.T) {
	t.Parallel()
	h := newHost(t)
	cert, key := filepath.Join(h.dir, "c.pem"), filepath.Join(h.dir, "k.pem")
	if err := WriteSelfSigned(cert, key, "mail.example.com", time.Now()); err != nil {
		t.Fatal(err)
	}
	in := "example.com\nmail.example.com\n\n" + cert + "\n" + key + "\nmaybe\nverified\n*@example.com, ops@example.net\n"
	s := h.setup(Options{Interactive: true}, in)
	if err := s.Run(context.Background()); err != nil {
		t.Fatalf("%v\n%s", err, h.out.String())
	}
	out := h.scrub(h.out.String())
	for _, want := range []string{
		"Domain to receive mail for (e.g. example.com): ",
		"Host name mail is delivered to (the MX target; it must resolve to this server) [example.com]: ",
		"press Enter to go on without them",
		"answer one of: none, verified",
		"trust = verified, trusting *@example.com, ops@example.net",
		"using $DIR/c.pem",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	cfg, err := domains.Load(h.paths.ConfigFile(), domains.LoadOptions{LookupOwner: h.lookup})
	if err != nil || cfg.SMTP.TLSCert != cert || cfg.Hostname() != "mail.example.com" || cfg.Trust != domains.TrustVerified {
		t.Fatalf("config %+v %v", cfg, err)
	}
}

// TestNonInteractiveNeedsTheDomain: without a terminal a missing answer
// names its flag.
func TestNonInteractiveNeedsTheDomain(t *testing.T) {
	t.Parallel()
	h := newHost(t)
	err := h.setup(Options{}, "").Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "aimx setup DOMAIN") {
		t.Fatalf("err %v", err)
	}
}

// TestRerunAddsADomain: a second run with another domain adds it (its
// catchall too) and keeps the first; a third with the same domain changes
// nothing.
func TestRerunAddsADomain(t *testing.T) {
	t.Parallel()
	h := newHost(t)
	h.publish("example.com", "example.org")
	if err := h.setup(Options{Domain: "example.com", Hostname: "mail.example.com", Trust: "none"}, "").Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.net.InUse = map[string]bool{":25": true}
	h.running = true
	h.systemd.Calls = nil
	if err := h.setup(Options{Domain: "example.org", Hostname: "mx.example.org"}, "").Run(context.Background()); err != nil {
		t.Fatalf("%v\n%s", err, h.out.String())
	}
	golden(t, "add-domain.txt", h.scrub(h.out.String()))
	cfg, err := domains.Load(h.paths.ConfigFile(), domains.LoadOptions{LookupOwner: h.lookup})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg.Domains, []string{"example.com", "example.org"}) || cfg.Hostname() != "mail.example.com" {
		t.Fatalf("domains %v host %s", cfg.Domains, cfg.Hostname())
	}
	if _, ok := cfg.Catchall("example.org"); !ok {
		t.Fatal("no catchall on the added domain")
	}
	if want := []string{"install", "enable", "is-active"}; !reflect.DeepEqual(h.systemd.Calls, want) {
		t.Errorf("a running service restarted: %v", h.systemd.Calls)
	}
	before, _ := os.ReadFile(h.paths.ConfigFile())
	if err := h.setup(Options{Domain: "example.org"}, "").Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(h.paths.ConfigFile())
	if string(before) != string(after) || !strings.Contains(h.out.String(), "example.org is served already") {
		t.Errorf("same domain again changed the config or said:\n%s", h.out.String())
	}
}

// TestRefusals: port 25 held by another program, a host without systemd,
// a daemon that never answers: each stops with what to do.
func TestRefusals(t *testing.T) {
	t.Parallel()
	h := newHost(t)
	h.net.InUse = map[string]bool{":25": true}
	err := h.setup(Options{Domain: "example.com", Trust: "none"}, "").Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "systemctl disable --now postfix") {
		t.Fatalf("port taken: %v", err)
	}
	if _, serr := os.Stat(h.paths.ConfigFile()); !errors.Is(serr, os.ErrNotExist) {
		t.Fatalf("config written before the refusal: %v", serr)
	}

	h = newHost(t)
	h.systemd.NotBooted = true
	err = h.setup(Options{Domain: "example.com", Trust: "none"}, "").Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "--no-service") {
		t.Fatalf("no systemd: %v", err)
	}

	h = newHost(t)
	h.net.Greetings = map[string]string{}
	h.net.GreetingErr = netcheck.ErrInUse
	err = h.setup(Options{Domain: "example.com", Trust: "none", WaitTimeout: 50 * time.Millisecond}, "").Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "journalctl -u aimx") {
		t.Fatalf("never answers: %v", err)
	}
}

// TestNoService: --no-service leaves systemd alone and does not wait.
func TestNoService(t *testing.T) {
	t.Parallel()
	h := newHost(t)
	if err := h.setup(Options{Domain: "example.com", Trust: "none", NoService: true}, "").Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(h.systemd.Calls) != 0 || !strings.Contains(h.out.String(), "start aimx yourself (aimx serve)") {
		t.Errorf("calls %v\n%s", h.systemd.Calls, h.out.String())
	}
}

// TestResumesACutShortSetup: a config written without its catchall (a
// setup stopped there) gets the catchall when setup runs again.
func TestResumesACutShortSetup(t *testing.T) {
	t.Parallel()
	h := newHost(t)
	cfg := domains.Default("example.com")
	if err := os.MkdirAll(h.paths.ConfigDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := (&domains.Store{Path: h.paths.ConfigFile()}).Save(cfg); err != nil {
		t.Fatal(err)
	}
	if err := h.setup(Options{Domain: "example.com"}, "").Run(context.Background()); err != nil {
		t.Fatalf("%v\n%s", err, h.out.String())
	}
	got, err := domains.Load(h.paths.ConfigFile(), domains.LoadOptions{LookupOwner: h.lookup})
	if err != nil {
		t.Fatal(err)
	}
	if m, ok := got.Catchall("example.com"); !ok || m.Owner != DefaultCatchallUser {
		t.Fatalf("catchall %+v\n%s", m, h.out.String())
	}
}
