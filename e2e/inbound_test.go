package e2e

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/smtp"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	gosmtp "github.com/emersion/go-smtp"

	"github.com/aimx-dev/aimx/internal/dnstest"
)

// verifiedConfig is a dev config with three mailboxes that trust mail from
// mail.example.net and from boss@corp.example, and no catchall.
const verifiedConfig = `domains = ["agent.example.com"]
data_dir = "$DIR/data"
runtime_dir = "$DIR/run"
trust = "verified"
trusted_senders = ["*@mail.example.net", "boss@corp.example"]

[smtp]
tls_cert = "$DIR/tls/cert.pem"
tls_key = "$DIR/tls/key.pem"
max_message_bytes = 200000
max_recipients = 3

[mailboxes."inbox@agent.example.com"]
address = "inbox@agent.example.com"
owner = "root"

[mailboxes."tampered@agent.example.com"]
address = "tampered@agent.example.com"
owner = "root"

[mailboxes."ceo@agent.example.com"]
address = "ceo@agent.example.com"
owner = "root"
`

// testOwner makes the config's owner the user running the tests.
func testOwner(t testing.TB, cfg string) string {
	t.Helper()
	name := os.Getenv("USER")
	if os.Geteuid() == 0 || name == "" {
		return cfg
	}
	return strings.ReplaceAll(cfg, `owner = "root"`, fmt.Sprintf("owner = %q", name))
}

// signedDNS serves the records that make the dkimpy fixtures verify, SPF
// and DMARC for mail.example.net, and an unrelated signer's key.
func signedDNS(t *testing.T) *dnstest.Server {
	dns := dnstest.Start(t)
	key := strings.TrimSpace(string(fixture(t, "dkim/rsa.txt")))
	dns.SetTXT("rsa2026._domainkey.mail.example.net", key)
	// SPF names only the sender's own submission host, so mail relayed to
	// us from loopback fails SPF and DMARC rests on the DKIM signature.
	dns.SetTXT("mail.example.net", "v=spf1 ip4:192.0.2.10 -all")
	dns.SetTXT("_dmarc.mail.example.net", "v=DMARC1; p=reject")
	dns.SetTXT("rsa2026._domainkey.attacker.example.org", key)
	dns.SetTXT("_dmarc.corp.example", "v=DMARC1; p=reject")
	return dns
}

// forgedBoss is a message claiming From: boss@corp.example, carrying a
// valid DKIM signature from the unrelated attacker.example.org.
func forgedBoss(t *testing.T) []byte {
	t.Helper()
	block, _ := pem.Decode(fixture(t, "dkim/rsa.key.pem"))
	key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	msg := "From: The Boss <boss@corp.example>\r\nTo: ceo@agent.example.com\r\nSubject: Wire the money\r\n" +
		"Date: Mon, 2 Nov 2026 10:00:00 +0000\r\nMessage-ID: <forged-1@corp.example>\r\n\r\nPay invoice 42 today.\r\n"
	var signed bytes.Buffer
	err = dkim.Sign(&signed, strings.NewReader(msg), &dkim.SignOptions{Domain: "attacker.example.org", Selector: "rsa2026",
		Signer: key, HeaderCanonicalization: dkim.CanonicalizationRelaxed, BodyCanonicalization: dkim.CanonicalizationRelaxed,
		HeaderKeys: []string{"From", "To", "Subject", "Date", "Message-ID"}})
	if err != nil {
		t.Fatal(err)
	}
	return signed.Bytes()
}

// TestVerdictsAndTrustOverSMTP is the inbound issue's acceptance test: the
// stored verdicts follow the test DNS, and only the aligned, allowlisted
// message is trusted.
func TestVerdictsAndTrustOverSMTP(t *testing.T) {
	t.Parallel()
	dns := signedDNS(t)
	d := StartDev(t, DaemonOptions{Config: testOwner(t, verifiedConfig), DNS: dns.Addr()})

	cases := []struct {
		local, from string
		data        []byte
		dkim, spf   string
		dmarc, tr   string
	}{
		{"inbox", "zoe@mail.example.net", fixture(t, "dkim/rsa-signed.eml"), "pass", "fail", "pass", "true"},
		{"tampered", "zoe@mail.example.net", fixture(t, "dkim/tampered-body.eml"), "fail", "fail", "fail", "false"},
		{"ceo", "boss@corp.example", forgedBoss(t), "pass", "none", "fail", "false"},
	}
	for _, c := range cases {
		if err := d.Deliver(c.from, []string{c.local + "@agent.example.com"}, c.data); err != nil {
			t.Fatalf("deliver to %s: %v", c.local, err)
		}
	}
	for _, c := range cases {
		msgs := readMessages(t, d.DataDir(), "agent.example.com", c.local)
		if len(msgs) != 1 {
			t.Fatalf("%s: %d messages stored, want 1", c.local, len(msgs))
		}
		fm := msgs[0].FM
		got := fmt.Sprintf("dkim=%v spf=%v dmarc=%v trusted=%v", fm["dkim"], fm["spf"], fm["dmarc"], fm["trusted"])
		want := fmt.Sprintf("dkim=%s spf=%s dmarc=%s trusted=%s", c.dkim, c.spf, c.dmarc, c.tr)
		if got != want {
			t.Errorf("%s: %s, want %s", c.local, got, want)
		}
		// The .eml is our trace headers followed by exactly what was sent.
		eml, err := os.ReadFile(msgs[0].EMLPath)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(eml, []byte("Received: ")) || !bytes.HasSuffix(eml, c.data) {
			t.Errorf("%s: .eml does not hold our Received header and the exact bytes sent", c.local)
		}
		if !bytes.Contains(eml[:len(eml)-len(c.data)], []byte("Authentication-Results: agent.example.com;")) {
			t.Errorf("%s: no Authentication-Results for our hostname", c.local)
		}
	}
	fm := readMessages(t, d.DataDir(), "agent.example.com", "inbox")[0].FM
	if fm["subject"] != "Quarterly report – Q3 Übersicht ✓" || fm["message_id"] != "20261102094105.48213@mail.example.net" {
		t.Errorf("decoded fields: subject %q message_id %q", fm["subject"], fm["message_id"])
	}
}

// TestDevModeStoresWithModes delivers a plain message in a fresh dev dir
// and checks what lands on disk, modes included.
func TestDevModeStoresWithModes(t *testing.T) {
	t.Parallel()
	d := StartDev(t, DaemonOptions{})
	// listen.json can appear just before the ready message is printed.
	waitFor(t, 10*time.Second, func() bool { return strings.Contains(d.Stdout(), "curl -sS smtp://"+d.SMTPAddr()) })
	msg := crlf([]byte("From: you@example.com\nTo: hello@agent.localhost\nSubject: Hello aimx\nMessage-ID: <m1@example.com>\n\nIt works.\n"))
	if err := d.Deliver("you@example.com", []string{"hello@agent.localhost"}, msg); err != nil {
		t.Fatal(err)
	}
	msgs := readMessages(t, d.DataDir(), "agent.localhost", "hello")
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	m := msgs[0]
	if m.FM["subject"] != "Hello aimx" || m.FM["read"] != false || m.FM["mailbox"] != "hello@agent.localhost" ||
		m.FM["trusted"] != "none" || strings.TrimSpace(m.Body) != "It works." {
		t.Errorf("stored %+v body %q", m.FM, m.Body)
	}
	if !strings.HasSuffix(filepath.Base(m.MDPath), "-hello-aimx.md") {
		t.Errorf("stem %s", m.MDPath)
	}
	for path, want := range map[string]os.FileMode{
		filepath.Dir(m.MDPath): 0o750, m.MDPath: 0o640, m.EMLPath: 0o640,
		filepath.Join(d.DataDir(), "agent.localhost"): 0o755, filepath.Join(d.Dir, "tls", "key.pem"): 0o600,
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s mode %o, want %o", path, fi.Mode().Perm(), want)
		}
	}
	// The CLI sees it through the dev dir.
	out, errOut, code := d.CLI("mailboxes", "list")
	if code != 0 || !strings.Contains(out, "hello@agent.localhost") {
		t.Errorf("mailboxes list: %d %q %q", code, out, errOut)
	}
	// A second daemon on the same dir refuses to start while this one runs.
	_, errOut, code = runCLI(t, "serve", "--dev", "--dir", d.Dir, "--smtp", "127.0.0.1:0")
	if code != 1 || !strings.Contains(errOut, "already running") {
		t.Errorf("second daemon: exit %d, %q", code, errOut)
	}
}

// TestRejectionsOverSMTP checks reply codes for what the server refuses.
func TestRejectionsOverSMTP(t *testing.T) {
	t.Parallel()
	d := StartDev(t, DaemonOptions{Config: testOwner(t, verifiedConfig)})
	c, err := smtp.Dial(d.SMTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.test"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("a@example.com"); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ rcpt, code string }{
		{"nobody@agent.example.com", "550 5.1.1"}, // no mailbox, no catchall
		{"inbox@elsewhere.example", "550 5.7.1"},  // not our domain
	}
	for _, cs := range cases {
		if err := c.Rcpt(cs.rcpt); err == nil || !hasReply(err, cs.code) {
			t.Errorf("RCPT %s: %v, want %s", cs.rcpt, err, cs.code)
		}
	}
	for _, r := range []string{"inbox@agent.example.com", "ceo@agent.example.com", "tampered@agent.example.com"} {
		if err := c.Rcpt(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Rcpt("inbox@agent.example.com"); err == nil || !hasReply(err, "452 4.5.3") {
		t.Errorf("fourth RCPT over max_recipients=3: %v", err)
	}
	_ = c.Reset()
	// Over max_message_bytes: 552.
	big := append([]byte("Subject: big\r\n\r\n"), bytes.Repeat([]byte("0123456789abcdef\r\n"), 12000)...)
	err = d.Deliver("a@example.com", []string{"inbox@agent.example.com"}, big)
	if err == nil || !hasReply(err, "552 5.3.4") {
		t.Errorf("oversized message: %v, want 552", err)
	}
	// Bare LF in DATA: 5xx, nothing stored.
	err = rawDATA(t, d.SMTPAddr(), "inbox@agent.example.com", "Subject: x\r\n\r\nbare\nLF\r\n")
	if err == nil || !strings.HasPrefix(err.Error(), "5") {
		t.Errorf("bare LF: %v, want 5xx", err)
	}
	if n := len(readMessages(t, d.DataDir(), "agent.example.com", "inbox")); n != 0 {
		t.Errorf("%d messages stored from refused transactions", n)
	}
}

// hasReply reports whether err is the SMTP reply with this code and
// enhanced code ("550 5.1.1"), however net/smtp quotes its text.
func hasReply(err error, codes string) bool {
	code, enh, _ := strings.Cut(codes, " ")
	msg := err.Error()
	return strings.HasPrefix(msg, code+" ") && strings.Contains(msg, enh)
}

// rawDATA runs one transaction writing body bytes verbatim and returns the
// final reply as an error (nil for 2xx).
func rawDATA(t *testing.T, addr, rcpt, body string) error {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	read := func() string {
		var last string
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("read reply: %v", err)
			}
			last = line
			if len(line) < 4 || line[3] != '-' {
				return strings.TrimSpace(last)
			}
		}
	}
	read()
	for _, cmd := range []string{"EHLO client.test", "MAIL FROM:<a@example.com>", "RCPT TO:<" + rcpt + ">", "DATA"} {
		fmt.Fprintf(conn, "%s\r\n", cmd)
		if reply := read(); reply[0] != '2' && reply[0] != '3' {
			return fmt.Errorf("%s", reply)
		}
	}
	fmt.Fprintf(conn, "%s.\r\n", body)
	if reply := read(); reply[0] != '2' {
		return fmt.Errorf("%s", reply)
	}
	return nil
}

// TestSTARTTLSWithDevCert delivers over STARTTLS with the dev dir's cert.
func TestSTARTTLSWithDevCert(t *testing.T) {
	t.Parallel()
	d := StartDev(t, DaemonOptions{})
	c, err := smtp.Dial(d.SMTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); !ok {
		t.Fatal("STARTTLS not offered")
	}
	pemCert, err := os.ReadFile(filepath.Join(d.Dir, "tls", "cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemCert)
	if err := c.StartTLS(&tls.Config{ServerName: "localhost", RootCAs: pool}); err != nil {
		t.Fatalf("STARTTLS with the dev certificate: %v", err)
	}
	if err := c.Mail("you@example.com"); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("hello@agent.localhost"); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(w, "Subject: over tls\r\n\r\nsecret\r\n")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	_ = c.Quit()
	msgs := readMessages(t, d.DataDir(), "agent.localhost", "hello")
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	eml, _ := os.ReadFile(msgs[0].EMLPath)
	if !bytes.Contains(eml, []byte("with ESMTPS")) {
		t.Errorf("Received header does not record TLS:\n%s", eml[:200])
	}
}

// TestRestartKeepsDedupAndReloadGoesLive: SIGTERM exits 0, a restarted
// daemon still recognises a re-delivery, and SIGHUP makes a new mailbox
// live without a restart.
func TestRestartKeepsDedupAndReloadGoesLive(t *testing.T) {
	t.Parallel()
	d := StartDev(t, DaemonOptions{Config: testOwner(t, verifiedConfig)})
	msg := crlf([]byte("From: a@example.com\nSubject: once\nMessage-ID: <once@example.com>\n\nonly once\n"))
	if err := d.Deliver("a@example.com", []string{"inbox@agent.example.com"}, msg); err != nil {
		t.Fatal(err)
	}
	d.Stop() // SIGTERM: exit 0 within the budget
	if !strings.Contains(d.Stderr(), "shutting down") {
		t.Errorf("no shutdown log line:\n%s", d.Stderr())
	}
	d.Restart()
	if err := d.Deliver("a@example.com", []string{"inbox@agent.example.com"}, msg); err != nil {
		t.Fatalf("re-delivery after restart: %v (want 250)", err)
	}
	if n := len(readMessages(t, d.DataDir(), "agent.example.com", "inbox")); n != 1 {
		t.Fatalf("%d copies after a re-delivery across a restart, want 1", n)
	}

	// SIGHUP: a mailbox appended to config.toml is live for the next message.
	if err := d.Deliver("a@example.com", []string{"new@agent.example.com"}, msg); err == nil {
		t.Fatal("unknown mailbox accepted")
	}
	appendFile(t, filepath.Join(d.Dir, "config.toml"), "\n[mailboxes.\"new@agent.example.com\"]\naddress = \"new@agent.example.com\"\nowner = \"root\"\n")
	d.Signal(syscall.SIGHUP)
	waitFor(t, 10*time.Second, func() bool {
		return d.Deliver("a@example.com", []string{"new@agent.example.com"}, msg) == nil
	})
	// A broken config on SIGHUP is logged and the running one kept.
	appendFile(t, filepath.Join(d.Dir, "config.toml"), "\nbogus_key = 1\n")
	d.Signal(syscall.SIGHUP)
	waitFor(t, 10*time.Second, func() bool { return strings.Contains(d.Stderr(), "keeping the running config") })
	if err := d.Deliver("b@example.com", []string{"inbox@agent.example.com"}, crlf([]byte("Subject: still up\n\nx\n"))); err != nil {
		t.Fatalf("delivery after a rejected reload: %v", err)
	}
}

func appendFile(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds or the backstop expires.
func waitFor(t *testing.T, backstop time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(backstop)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", backstop)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSIGTERMFinishesTransactionInDATA: a client in the middle of DATA when
// SIGTERM arrives still gets its 250, and the daemon then exits 0.
func TestSIGTERMFinishesTransactionInDATA(t *testing.T) {
	t.Parallel()
	d := StartDev(t, DaemonOptions{})
	conn, err := net.Dial("tcp", d.SMTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	read := func() string {
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("read reply: %v", err)
			}
			if len(line) < 4 || line[3] != '-' {
				return strings.TrimSpace(line)
			}
		}
	}
	read()
	for _, cmd := range []string{"EHLO client.test", "MAIL FROM:<a@example.com>", "RCPT TO:<hello@agent.localhost>", "DATA"} {
		fmt.Fprintf(conn, "%s\r\n", cmd)
		read()
	}
	fmt.Fprint(conn, "Subject: in flight\r\n\r\nfirst half\r\n")
	d.Signal(syscall.SIGTERM)
	waitFor(t, 10*time.Second, func() bool { return strings.Contains(d.Stderr(), "shutting down") })
	fmt.Fprint(conn, "second half\r\n.\r\n")
	if reply := read(); !strings.HasPrefix(reply, "250") {
		t.Fatalf("in-flight transaction got %q after SIGTERM, want 250", reply)
	}
	if code := d.Wait(35 * time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM", code)
	}
	msgs := readMessages(t, d.DataDir(), "agent.localhost", "hello")
	if len(msgs) != 1 || !strings.Contains(msgs[0].Body, "second half") {
		t.Fatalf("in-flight message not stored whole: %+v", msgs)
	}
}

// TestGoSMTPClientPlainAndStartTLS delivers with go-smtp's client, plain
// and over STARTTLS, several messages on one connection each.
func TestGoSMTPClientPlainAndStartTLS(t *testing.T) {
	t.Parallel()
	d := StartDev(t, DaemonOptions{})
	pemCert, err := os.ReadFile(filepath.Join(d.Dir, "tls", "cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemCert)
	plain, err := gosmtp.Dial(d.SMTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	secure, err := gosmtp.DialStartTLS(d.SMTPAddr(), &tls.Config{ServerName: "localhost", RootCAs: pool})
	if err != nil {
		t.Fatalf("DialStartTLS with the dev certificate: %v", err)
	}
	for name, c := range map[string]*gosmtp.Client{"plain": plain, "starttls": secure} {
		for i := 0; i < 2; i++ {
			msg := fmt.Sprintf("Subject: %s %d\r\nMessage-ID: <%s-%d@example.com>\r\n\r\nbody\r\n", name, i, name, i)
			if err := c.SendMail("you@example.com", []string{"hello@agent.localhost"}, strings.NewReader(msg)); err != nil {
				t.Fatalf("%s message %d: %v", name, i, err)
			}
		}
		if err := c.Quit(); err != nil {
			t.Errorf("%s quit: %v", name, err)
		}
	}
	msgs := readMessages(t, d.DataDir(), "agent.localhost", "hello")
	if len(msgs) != 4 {
		t.Fatalf("%d messages stored, want 4", len(msgs))
	}
	esmtps := 0
	for _, m := range msgs {
		eml, _ := os.ReadFile(m.EMLPath)
		if bytes.Contains(eml[:bytes.Index(eml, []byte("Subject:"))], []byte("with ESMTPS")) {
			esmtps++
		}
	}
	if esmtps != 2 {
		t.Errorf("%d messages recorded as received over TLS, want 2", esmtps)
	}
}
