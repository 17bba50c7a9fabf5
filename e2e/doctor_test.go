package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aimx-dev/aimx/internal/dnstest"
)

// TestDoctorAgainstADevDaemon runs `aimx doctor` against a running dev
// daemon with every record published in a test DNS server: all OK, exit 0,
// the daemon's status, SMTP greeting and mailbox counts in the report;
// then the MX goes away and doctor fails with what to do (book/doctor.md).
func TestDoctorAgainstADevDaemon(t *testing.T) {
	t.Parallel()
	dns := dnstest.Start(t)
	d := StartDev(t, DaemonOptions{DNS: dns.Addr()})
	const dom, ip = "agent.localhost", "192.0.2.7"
	dns.SetIP(dom, ip)
	if err := dns.AddRR("7.2.0.192.in-addr.arpa. IN PTR " + dom + "."); err != nil {
		t.Fatal(err)
	}
	dns.SetMX(dom, dnstest.MX{Pref: 10, Host: dom})
	dns.SetTXT(dom, "v=spf1 mx -all")
	dns.SetTXT("aimx._domainkey."+dom, dkimTXT(t, d, dom))
	dns.SetTXT("_dmarc."+dom, "v=DMARC1; p=quarantine")
	msg := "From: a@example.org\r\nTo: hello@" + dom + "\r\nSubject: hi\r\nMessage-ID: <doc1@example.org>\r\n\r\nhi\r\n"
	if err := d.Deliver("a@example.org", []string{"hello@" + dom}, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	doctor := func(extra ...string) (string, string, int) {
		return d.CLI(append(extra, "doctor", "--dns", dns.Addr(), "--ip", ip)...)
	}

	out, errOut, code := doctor()
	if code != 0 {
		t.Fatalf("doctor exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"OK    hostname     agent.localhost resolves to 192.0.2.7",
		"OK    ptr          192.0.2.7 points back at agent.localhost",
		"OK    tls          STARTTLS with a certificate for agent.localhost, self-signed",
		"OK    dkim_record  aimx._domainkey.agent.localhost matches the local key",
		"OK    postmaster   postmaster@agent.localhost reaches the catchall *@agent.localhost",
		"OK    daemon       running ",
		"OK    smtp         " + d.SMTPAddr() + " answers 220 ",
		"0 FAIL",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor output lacks %q:\n%s", want, out)
		}
	}

	out, _, _ = doctor("--json")
	var rep struct {
		OK        bool `json:"ok"`
		Mailboxes []struct {
			Name  string `json:"name"`
			Total int    `json:"total"`
			Mode  string `json:"mode"`
		} `json:"mailboxes"`
		Daemon struct {
			Running bool `json:"running"`
			Queue   int  `json:"queue"`
		} `json:"daemon"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || !rep.OK || !rep.Daemon.Running {
		t.Fatalf("--json: %v\n%s", err, out)
	}
	found := false
	for _, m := range rep.Mailboxes {
		if m.Name == "hello@"+dom {
			found = m.Total == 1 && m.Mode == "0750"
		}
	}
	if !found {
		t.Errorf("hello@ row: %s", out)
	}

	dns.Remove(dom)
	dns.SetIP(dom, ip)
	out, errOut, code = doctor()
	if code != 1 || !strings.Contains(out, "FAIL  mx           agent.localhost has no MX record: mail for it goes nowhere -> publish agent.localhost. MX 10 agent.localhost.") ||
		!strings.Contains(errOut, "doctor found") {
		t.Fatalf("without MX: exit %d\n%s\n%s", code, out, errOut)
	}
}
