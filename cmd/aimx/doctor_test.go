package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aimx-dev/aimx/doctor"
	"github.com/aimx-dev/aimx/domains/dkimkey"
	"github.com/aimx-dev/aimx/internal/dnstest"
)

// doctorInstall is an install serving example.com from mail.example.com,
// with its DKIM key and a catchall, and a test DNS server.
func doctorInstall(t *testing.T) (cfgDir string, dns *dnstest.Server) {
	t.Helper()
	root := t.TempDir()
	cfgDir = filepath.Join(root, "etc")
	if err := os.MkdirAll(cfgDir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := `domains = ["example.com"]
data_dir = "` + filepath.Join(root, "data") + `"
runtime_dir = "` + filepath.Join(root, "run") + `"

[smtp]
hostname = "mail.example.com"

[mailboxes."*@example.com"]
address = "*@example.com"
owner = "root"
`
	if err := os.WriteFile(filepath.Join(cfgDir, "config.toml"), []byte(cfg), 0o640); err != nil {
		t.Fatal(err)
	}
	key, err := dkimkey.NewStore(cfgDir).Import("example.com", readFile(t, "../../doctor/testdata/rsa.key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	dns = dnstest.Start(t)
	_, txt, _ := dkimkey.TXTRecord("example.com", "aimx", key.Public())
	dns.SetTXT("aimx._domainkey.example.com", txt)
	dns.SetIP("mail.example.com", "192.0.2.7")
	if err := dns.AddRR("7.2.0.192.in-addr.arpa. IN PTR mail.example.com."); err != nil {
		t.Fatal(err)
	}
	dns.SetMX("example.com", dnstest.MX{Pref: 10, Host: "mail.example.com"})
	dns.SetTXT("example.com", "v=spf1 mx -all")
	dns.SetTXT("_dmarc.example.com", "v=DMARC1; p=reject")
	return cfgDir, dns
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDoctorCommand: with every record right and the daemon down, the
// one FAIL is the daemon's, the exit status is 1, and --json follows the
// pinned schema.
func TestDoctorCommand(t *testing.T) {
	t.Parallel()
	cfgDir, dns := doctorInstall(t)
	r := aimx(t, nil, "--config-dir", cfgDir, "doctor", "--dns", dns.Addr(), "--ip", "192.0.2.7")
	if r.code != 1 || !strings.Contains(r.stderr, "doctor found 1 problems to fix") {
		t.Fatalf("exit %d, stderr %s\n%s", r.code, r.stderr, r.stdout)
	}
	for _, want := range []string{
		"OK    ptr          192.0.2.7 points back at mail.example.com",
		`OK    spf          "v=spf1 mx -all" allows 192.0.2.7`,
		"OK    dkim_record  aimx._domainkey.example.com matches the local key",
		"WARN  tls          no TLS certificate",
		"FAIL  daemon       the daemon is not running",
		"-> start it: systemctl start aimx",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("doctor output lacks %q:\n%s", want, r.stdout)
		}
	}

	r = aimx(t, nil, "--config-dir", cfgDir, "--json", "doctor", "--dns", dns.Addr(), "--ip", "192.0.2.7")
	var rep doctor.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 1 {
		t.Fatalf("--json: %v exit %d\n%s", err, r.code, r.stdout)
	}
	if rep.Schema != doctor.SchemaVersion || rep.OK || rep.Summary.Fail != 1 || rep.Daemon.Running {
		t.Fatalf("report %+v", rep)
	}
	if strings.Contains(r.stderr, "checking DNS") {
		t.Errorf("progress with --json: %s", r.stderr)
	}
}

// TestDoctorBadIP: --ip takes addresses only.
func TestDoctorBadIP(t *testing.T) {
	t.Parallel()
	cfgDir, dns := doctorInstall(t)
	if r := aimx(t, nil, "--config-dir", cfgDir, "doctor", "--dns", dns.Addr(), "--ip", "mail"); r.code != 2 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
}
