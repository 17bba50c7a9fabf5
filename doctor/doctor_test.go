package doctor

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aimx-dev/aimx/internal/dnstest"
	"github.com/aimx-dev/aimx/internal/progress"
)

// render runs the doctor and returns its text and JSON, scrubbed.
func render(t *testing.T, f *fixture, d *Doctor) (*Report, string, string) {
	t.Helper()
	rep := d.Run(context.Background())
	var text bytes.Buffer
	if err := WriteText(&text, rep); err != nil {
		t.Fatal(err)
	}
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	validate(t, js)
	return rep, f.scrub(text.String()), f.scrub(string(js)) + "\n"
}

// TestDoctorPassing: every record published, the daemon up: all OK but an
// orphan mailbox dir, and the exit status is success.
func TestDoctorPassing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, map[string]string{"support@example.com": "alice", "*@example.com": "aimx-catchall", "*@example.org": "aimx-catchall"})
	f.publishAll()
	orphan := filepath.Join(f.paths.DataDir, "example.com", "inbox", "old")
	if err := os.MkdirAll(filepath.Join(orphan, "2026-01-01-000000-x"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(orphan, "2026-01-02-000000-y.md"), []byte("---\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	rep, text, js := render(t, f, f.doctor())
	if !rep.OK || rep.Summary.Fail != 0 || rep.Summary.Warn != 1 {
		t.Errorf("summary %+v:\n%s", rep.Summary, text)
	}
	golden(t, "passing.txt", text)
	golden(t, "passing.json", js)
}

// TestDoctorFailing: nothing right: every FAIL says what to do, the report
// is not OK.
func TestDoctorFailing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, map[string]string{"support@example.com": "ghost"})
	// example.com: MX elsewhere, two SPF records, a foreign DKIM key,
	// DMARC without a policy. example.org: nothing published, no key.
	f.dns.SetIP("mail.example.com", "198.51.100.9")
	f.dns.SetMX("example.com", dnstest.MX{Pref: 10, Host: "mx.elsewhere.net"})
	f.dns.SetTXT("example.com", "v=spf1 mx -all", "v=spf1 include:_spf.elsewhere.net ~all")
	f.dns.SetTXT("aimx._domainkey.example.com", "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBOTHER")
	f.dns.SetTXT("_dmarc.example.com", "v=DMARC1; rua=mailto:x@example.com")
	if err := os.RemoveAll(filepath.Join(f.paths.ConfigDir, "dkim", "example.org")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(f.paths.DataDir, "example.com", "inbox", "support"), 0o700); err != nil {
		t.Fatal(err)
	}
	f.status.Queue, f.status.HookJobs, f.status.Panics, f.status.Version = 150, 3, 2, "v1.2.2"
	f.net.Greetings = nil
	writeCert(t, f.cfg.SMTP.TLSCert, f.cfg.SMTP.TLSKey, "mail.example.com", testNow.AddDate(0, 0, -1))
	rep, text, js := render(t, f, f.doctor())
	if rep.OK || rep.Summary.Fail == 0 {
		t.Errorf("failing install reported OK:\n%s", text)
	}
	golden(t, "failing.txt", text)
	golden(t, "failing.json", js)

	f.down = true
	_, text, js = render(t, f, f.doctor())
	golden(t, "daemon-down.txt", text)
	golden(t, "daemon-down.json", js)
}

// TestEveryFailSaysWhatToDo: in the failing report, every FAIL has a fix
// and its text line carries it.
func TestEveryFailSaysWhatToDo(t *testing.T) {
	t.Parallel()
	f := newFixture(t, map[string]string{"support@example.com": "ghost"})
	f.down = true
	rep, text, _ := render(t, f, f.doctor())
	fails := 0
	for _, c := range rep.All() {
		if c.Status == Fail {
			fails++
			if c.Fix == "" {
				t.Errorf("FAIL without a fix: %+v", c)
			}
		}
	}
	lines := 0
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "FAIL  ") {
			lines++
			if !strings.Contains(l, " -> ") {
				t.Errorf("FAIL line without what to do: %s", l)
			}
		}
	}
	if fails < 5 || lines != fails {
		t.Errorf("%d fails, %d FAIL lines:\n%s", fails, lines, text)
	}
}

// TestDoctorShowsProgress: the DNS loop reports progress (as lines here,
// with a zero interval so every step shows).
func TestDoctorShowsProgress(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	f.publishAll()
	d := f.doctor()
	var out bytes.Buffer
	d.Progress, d.ProgressMode = &out, progress.Bar
	d.Run(context.Background())
	if !strings.Contains(out.String(), "checking DNS [") || !strings.Contains(out.String(), "3/3 names") {
		t.Errorf("progress: %q", out.String())
	}
}

// TestSPFEvaluatedForTheSendingIP: a record that does not allow this
// host's address fails, with what to add.
func TestSPFEvaluatedForTheSendingIP(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	f.publishAll()
	f.dns.SetTXT("example.org", "v=spf1 ip4:192.0.2.1 -all")
	d := f.doctor()
	c := d.spfCheck(context.Background(), "example.org", d.sendingIPs(context.Background()))
	if c.Status != Fail || !strings.Contains(c.Fix, "ip4:203.0.113.5") {
		t.Fatalf("%+v", c)
	}
	f.cfg.Outbound.Relay = "smtp://relay.example.net:587"
	if c := d.spfCheck(context.Background(), "example.org", nil); c.Status != OK || !strings.Contains(c.Detail, "relay") {
		t.Fatalf("through a relay: %+v", c)
	}
}
