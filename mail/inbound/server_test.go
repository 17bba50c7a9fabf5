package inbound

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/aimx-dev/aimx/domains"
)

func TestRcpt(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{mutate: func(c *domains.Config) { c.SMTP.MaxRecipients = 3 }})
	rc := dialRaw(t, e.addr)
	rc.greet()
	rc.cmd("MAIL FROM:<s@example.org>", 250, "")
	for _, tc := range []struct {
		rcpt string
		code int
		want string
	}{
		{"support@agent.example.com", 250, ""},
		{"Support@Agent.Example.COM", 250, ""}, // case-folded
		{"nobody@evil.example.net", 550, "5.7.1 relay not permitted"},
		{"nobody@other.example.com", 550, "5.1.1 user unknown"},
		{"postmaster@other.example.com", 550, "5.1.1 user unknown"}, // no catchall there
		{"postmaster@aimx.example.com", 550, "5.1.1"},
		{"someone@agent.example.com", 250, ""}, // catchall; the third accepted
		{"x@agent.example.com", 452, "4.5.3"},  // a fourth would exceed 3
		{"info@other.example.com", 452, "4.5.3"},
	} {
		rc.cmd("RCPT TO:<"+tc.rcpt+">", tc.code, tc.want)
	}
	rc.cmd("RSET", 250, "")
	// postmaster → catchall. (go-smtp v0.25.1 answers 501 to the
	// domain-less <Postmaster> of RFC 5321 4.5.1 before we see it.)
	rc.cmd("MAIL FROM:<>", 250, "")
	rc.cmd("RCPT TO:<postmaster@agent.example.com>", 250, "")
	rc.cmd("RCPT TO:<Postmaster>", 501, "")
	rc.cmd("DATA", 354, "")
	rc.send(string(simpleMessage("pm@example.org", "to postmaster", "hi\r\n")) + ".\r\n")
	rc.expect(250, "2.0.0")
	m := e.only("*@agent.example.com")
	if m.Frontmatter.DeliveredTo != "postmaster@agent.example.com" {
		t.Errorf("delivered_to %q", m.Frontmatter.DeliveredTo)
	}
	if !strings.Contains(e.log.String(), `"rejected":["nobody@evil.example.net: 550 5.7.1 relay not permitted"`) {
		t.Errorf("log lacks the rejected recipients:\n%s", e.log.String())
	}
}

func TestEHLOAdvertises(t *testing.T) {
	t.Parallel()
	for _, withTLS := range []bool{false, true} {
		var cfg *tls.Config
		if withTLS {
			cfg, _ = testTLS(t)
		}
		e := newEnv(t, envOpts{tls: cfg})
		rc := dialRaw(t, e.addr)
		rc.expect(220, testHostname)
		ehlo := rc.cmd("EHLO client.example.org", 250, "")
		for _, ext := range []string{"SIZE 26214400", "8BITMIME", "PIPELINING", "SMTPUTF8", "ENHANCEDSTATUSCODES"} {
			if !strings.Contains(ehlo, ext) {
				t.Errorf("EHLO lacks %s:\n%s", ext, ehlo)
			}
		}
		if got := strings.Contains(ehlo, "STARTTLS"); got != withTLS {
			t.Errorf("STARTTLS advertised = %v with tls = %v", got, withTLS)
		}
	}
}

func TestSizeLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{mutate: func(c *domains.Config) { c.SMTP.MaxMessageBytes = 1000 }})
	rc := dialRaw(t, e.addr)
	rc.greet()
	// Declared at MAIL (RFC 1870).
	rc.cmd("MAIL FROM:<s@example.org> SIZE=1001", 552, "5.3.4")
	rc.cmd("MAIL FROM:<s@example.org> SIZE=1000", 250, "")
	rc.cmd("RCPT TO:<support@agent.example.com>", 250, "")
	rc.cmd("DATA", 354, "")
	big := simpleMessage("big@example.org", "big", strings.Repeat("0123456789abcdef\r\n", 80))
	rc.send(string(big) + ".\r\n")
	rc.expect(552, "5.3.4")
	// One byte under the limit is fine, and the connection goes on. (At
	// exactly the limit go-smtp v0.25.1 refuses too: its reader runs out
	// of budget before it reads the terminating dot. See book/smtp.md.)
	msg := simpleMessage("fits@example.org", "fits", "")
	msg = append(msg, strings.Repeat("x", 999-len(msg)-2)+"\r\n"...)
	if len(msg) != 999 {
		t.Fatalf("test message is %d bytes", len(msg))
	}
	if code, text := rc.sendRaw("s@example.org", []string{"support@agent.example.com"}, msg); code != 250 {
		t.Fatalf("at the limit: %d %s", code, text)
	}
	if n := len(e.inbox("support@agent.example.com")); n != 1 {
		t.Errorf("stored %d messages, want 1", n)
	}
}

func TestDataShapesRejected(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	rc := dialRaw(t, e.addr)
	rc.greet()
	head := "From: a@example.org\r\nSubject: shape\r\n\r\n"
	for name, body := range map[string]string{
		"bare LF":  "one\ntwo\r\n",
		"bare CR":  "one\rtwo\r\n",
		"NUL":      "one\x00two\r\n",
		`\n.\n`:    "one\n.\ntwo\r\n",
		`\n.\r\n`:  "one\n.\r\ntwo\r\n",
		`\r.\r\n`:  "one\r.\r\ntwo\r\n",
		"LF first": "one\r\n.\ntwo\r\n",
	} {
		code, text := rc.sendRaw("a@example.org", []string{"support@agent.example.com"}, []byte(head+body))
		if code != 550 || !strings.HasPrefix(text, "5.6.0") {
			t.Errorf("%s: %d %s, want 550 5.6.0", name, code, text)
		}
	}
	if n := len(e.inbox("support@agent.example.com")); n != 0 {
		t.Fatalf("stored %d messages after rejected data", n)
	}
	// The connection is still usable.
	if code, text := rc.sendRaw("a@example.org", []string{"support@agent.example.com"}, []byte(head+"fine\r\n")); code != 250 {
		t.Fatalf("clean message after rejections: %d %s", code, text)
	}
}

func TestPipeliningAndManyTransactions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	rc := dialRaw(t, e.addr)
	rc.expect(220, "")
	// RFC 2920: the whole envelope in one write; replies come in order.
	rc.send("EHLO client.example.org\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<support@agent.example.com>\r\n" +
		"RCPT TO:<x@evil.example.net>\r\nRCPT TO:<info@other.example.com>\r\nDATA\r\n")
	rc.expect(250, "PIPELINING")
	rc.expect(250, "")
	rc.expect(250, "")
	rc.expect(550, "5.7.1")
	rc.expect(250, "")
	rc.expect(354, "")
	rc.send(string(simpleMessage("p1@example.org", "first", "one\r\n")) + ".\r\n" +
		"MAIL FROM:<b@example.org>\r\nRCPT TO:<support@agent.example.com>\r\nDATA\r\n")
	rc.expect(250, "2.0.0")
	rc.expect(250, "")
	rc.expect(250, "")
	rc.expect(354, "")
	rc.send(string(simpleMessage("p2@example.org", "second", "two\r\n")) + ".\r\n")
	rc.expect(250, "2.0.0")
	// A third after RSET in the middle of one.
	rc.cmd("MAIL FROM:<c@example.org>", 250, "")
	rc.cmd("RCPT TO:<support@agent.example.com>", 250, "")
	rc.cmd("RSET", 250, "")
	rc.cmd("DATA", 502, "") // RSET dropped the envelope
	if code, text := rc.sendRaw("d@example.org", []string{"support@agent.example.com"}, simpleMessage("p3@example.org", "third", "3\r\n")); code != 250 {
		t.Fatalf("third: %d %s", code, text)
	}
	rc.cmd("QUIT", 221, "")
	if n := len(e.inbox("support@agent.example.com")); n != 3 {
		t.Errorf("support holds %d, want 3", n)
	}
	if n := len(e.inbox("info@other.example.com")); n != 1 {
		t.Errorf("info holds %d, want 1", n)
	}
	log := e.log.String()
	if got := strings.Count(log, `"message":"smtp transaction"`); got != 4 {
		t.Errorf("%d transaction lines, want 4 (3 delivered, 1 aborted):\n%s", got, log)
	}
	if !strings.Contains(log, `"outcome":"aborted"`) {
		t.Errorf("no aborted transaction logged:\n%s", log)
	}
}

func TestHELOOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	rc := dialRaw(t, e.addr)
	rc.expect(220, "")
	rc.cmd("HELO old.example.org", 250, "")
	if code, text := rc.sendRaw("a@example.org", []string{"support@agent.example.com"}, simpleMessage("helo@example.org", "helo", "x\r\n")); code != 250 {
		t.Fatalf("%d %s", code, text)
	}
	eml := unfold(string(e.eml(e.only("support@agent.example.com"))))
	if !strings.HasPrefix(eml, "Received: from old.example.org ([127.0.0.1]) by "+testHostname+" with SMTP id ") {
		t.Errorf("Received after HELO:\n%s", eml[:200])
	}
}

func TestConfigSwapIsLive(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	rc := dialRaw(t, e.addr)
	rc.greet()
	rc.cmd("MAIL FROM:<a@example.org>", 250, "")
	// The transaction keeps the config it started with...
	next := e.reg.Current().Clone()
	delete(next.Mailboxes, "support@agent.example.com")
	delete(next.Mailboxes, "*@agent.example.com")
	e.reg.Swap(next)
	rc.cmd("RCPT TO:<support@agent.example.com>", 250, "")
	rc.cmd("RSET", 250, "")
	// ...and the next one sees the swap.
	rc.cmd("MAIL FROM:<a@example.org>", 250, "")
	rc.cmd("RCPT TO:<support@agent.example.com>", 550, "5.1.1")
}

// testTLS makes a fresh ECDSA certificate for testHostname and returns
// the server config and a client config that trusts it.
func testTLS(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: testHostname},
		DNSNames:     []string{testHostname},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}
	client = &tls.Config{RootCAs: pool, ServerName: testHostname, MinVersion: tls.VersionTLS12}
	return server, client
}

func TestSTARTTLS(t *testing.T) {
	t.Parallel()
	srvTLS, cliTLS := testTLS(t)
	e := newEnv(t, envOpts{tls: srvTLS})
	c, err := smtp.DialStartTLS(e.addr, cliTLS)
	if err != nil {
		t.Fatalf("dial starttls: %v", err)
	}
	defer func() { _ = c.Close() }()
	if _, ok := c.TLSConnectionState(); !ok {
		t.Fatal("no TLS after STARTTLS")
	}
	msg := simpleMessage("tls@example.org", "over tls", "secret\r\n")
	if err := c.SendMail("a@example.org", []string{"support@agent.example.com"}, strings.NewReader(string(msg))); err != nil {
		t.Fatalf("send: %v", err)
	}
	if err := c.Quit(); err != nil {
		t.Fatalf("quit: %v", err)
	}
	eml := string(e.eml(e.only("support@agent.example.com")))
	if !strings.Contains(strings.SplitN(unfold(eml), "\r\n", 2)[0], " with ESMTPS id ") {
		t.Errorf("Received over TLS:\n%s", eml[:200])
	}
	if !strings.HasSuffix(eml, string(msg)) {
		t.Errorf("stored bytes do not end with the message sent")
	}
}

func TestLoadTLSConfig(t *testing.T) {
	t.Parallel()
	if c, err := LoadTLSConfig("", ""); c != nil || err != nil {
		t.Errorf("unset: %v %v", c, err)
	}
	if _, err := LoadTLSConfig("/nonexistent/cert.pem", "/nonexistent/key.pem"); err == nil {
		t.Error("missing files loaded")
	}
}

func TestConnectionLimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{mutate: func(c *domains.Config) { c.SMTP.MaxConnectionsPerIP = 1 }})
	first := dialRaw(t, e.addr)
	first.expect(220, "")
	second := dialRaw(t, e.addr)
	second.expect(421, "4.7.0")
	if _, err := second.r.ReadLine(); !errors.Is(err, io.EOF) {
		t.Errorf("over-limit connection not closed: %v", err)
	}
	// The first one still works, and once it is gone another may connect.
	first.cmd("EHLO a.example.org", 250, "")
	first.cmd("QUIT", 221, "")
	if _, err := first.r.ReadLine(); !errors.Is(err, io.EOF) {
		t.Fatalf("quit did not close: %v", err)
	}
	// The server may count the first until its Close runs: retry a few times.
	for i := 0; ; i++ {
		third := dialRaw(t, e.addr)
		code, _ := third.reply()
		if code == 220 {
			break
		}
		if i == 50 {
			t.Fatalf("never accepted again, last reply %d", code)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	idle := dialRaw(t, e.addr)
	idle.greet()
	busy := dialRaw(t, e.addr)
	busy.greet()
	busy.cmd("MAIL FROM:<a@example.org>", 250, "")
	busy.cmd("RCPT TO:<support@agent.example.com>", 250, "")
	busy.cmd("DATA", 354, "")
	msg := simpleMessage("shutdown@example.org", "in flight", "part one\r\npart two\r\n")
	busy.send(string(msg[:40]))

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		done <- e.srv.Shutdown(ctx)
	}()
	// The idle connection is closed first: once it is, the shutdown is
	// under way while the busy one is still in DATA.
	if _, err := idle.r.ReadLine(); err == nil {
		t.Fatal("idle connection still open")
	}
	select {
	case err := <-done:
		t.Fatalf("shutdown returned (%v) with a transaction in DATA", err)
	default:
	}
	busy.send(string(msg[40:]) + ".\r\n")
	busy.expect(250, "2.0.0")
	if _, err := busy.r.ReadLine(); err == nil {
		t.Error("connection stayed open after its transaction at shutdown")
	}
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if len(e.inbox("support@agent.example.com")) != 1 {
		t.Error("the in-flight message was not stored")
	}
	if c, err := net.DialTimeout("tcp", e.addr, time.Second); err == nil {
		_ = c.Close()
		t.Error("still accepting after shutdown")
	}
}
