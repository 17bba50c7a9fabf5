package inbound

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/internal/dnstest"
	"github.com/aimx-dev/aimx/mail/auth"
	"github.com/aimx-dev/aimx/mail/outcome"
	"github.com/aimx-dev/aimx/storage"
)

func TestFixturesOverSMTP(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	rc := dialRaw(t, e.addr)
	rc.greet()
	for _, tc := range []struct {
		file, rcpt, mailbox string
		subject, date, body string
		dkim                string
		attachments         []string
	}{
		{"plain.eml", "catchall@agent.example.com", "*@agent.example.com", "Plain text test", "2025-01-01T12:00:00Z", "This is a plain text email for testing.", "none", nil},
		{"html_only.eml", "catchall@agent.example.com", "*@agent.example.com", "HTML only test", "2025-01-01T13:00:00Z", "# Hello from HTML", "none", nil},
		{"multipart.eml", "catchall@agent.example.com", "*@agent.example.com", "Multipart test", "2025-01-01T14:00:00Z", "This is the plain text version.", "none", nil},
		{"with_attachment.eml", "catchall@agent.example.com", "*@agent.example.com", "Email with attachment", "2025-01-01T15:00:00Z", "Please see the attached file.", "none", []string{"readme.txt"}},
		{"gmail_dkim_signed.eml", "agent@aimx.example.com", "agent@aimx.example.com", "", "", "", "fail", nil},
	} {
		raw := crlf(readFixture(t, "mail/"+tc.file))
		code, text := rc.sendRaw("sender@example.com", []string{tc.rcpt}, raw)
		if code != 250 {
			t.Fatalf("%s: %d %s", tc.file, code, text)
		}
		var got *storage.Message
		for _, s := range e.inbox(tc.mailbox) {
			m, err := e.store.Read(context.Background(), ref(tc.mailbox), storage.Inbox, s.ID)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.HasSuffix(e.eml(m), raw) {
				got = m
			}
		}
		if got == nil {
			t.Fatalf("%s: no stored .eml ends with the bytes sent", tc.file)
		}
		fm := got.Frontmatter
		check := func(field, have, want string) {
			t.Helper()
			if want != "" && have != want {
				t.Errorf("%s: %s = %q, want %q", tc.file, field, have, want)
			}
		}
		check("subject", fm.Subject, tc.subject)
		check("date", fm.Date, tc.date)
		check("delivered_to", fm.DeliveredTo, tc.rcpt)
		check("mailbox", fm.Mailbox, tc.mailbox)
		check("dkim", fm.DKIM, tc.dkim)
		check("trusted", fm.Trusted, "none")
		check("received_from_ip", fm.ReceivedFromIP, "127.0.0.1")
		if fm.MessageID == "" || fm.ThreadID == "" || fm.From == "" || len(fm.To) == 0 || fm.Read {
			t.Errorf("%s: incomplete frontmatter %+v", tc.file, fm)
		}
		if fm.SizeBytes != int64(len(raw)) {
			t.Errorf("%s: size_bytes %d, want %d", tc.file, fm.SizeBytes, len(raw))
		}
		if fm.ReceivedAt.IsZero() {
			t.Errorf("%s: no received_at", tc.file)
		}
		if tc.body != "" && !strings.Contains(got.Body, tc.body) {
			t.Errorf("%s: body %q lacks %q", tc.file, got.Body, tc.body)
		}
		var names []string
		for _, a := range fm.Attachments {
			names = append(names, a.Filename)
		}
		if fmt.Sprint(names) != fmt.Sprint(tc.attachments) && len(names)+len(tc.attachments) > 0 {
			t.Errorf("%s: attachments %v, want %v", tc.file, names, tc.attachments)
		}
		if len(tc.attachments) > 0 && e.paths(tc.mailbox, got.ID).Bundle == "" {
			t.Errorf("%s: not stored as a bundle", tc.file)
		}
	}
}

// verifyEnv serves the dkim fixtures' records and configures
// v1@, v2@ and v3@agent.example.com with trust = "verified" (three, because
// rsa-signed and tampered-body share a Message-Id and would dedup).
func verifyEnv(t *testing.T) *testEnv {
	t.Helper()
	return verifyEnvOpts(t, envOpts{})
}

// verifyEnvOpts is verifyEnv with more options (its dns and mutate are set
// here).
func verifyEnvOpts(t *testing.T, o envOpts) *testEnv {
	t.Helper()
	dns := dnstest.Start(t)
	dns.SetTXT("rsa2026._domainkey.mail.example.net", strings.TrimSpace(string(readFixture(t, "dkim/rsa.txt"))))
	dns.SetTXT("mail.example.net", "v=spf1 ip4:127.0.0.1 -all")
	dns.SetTXT("_dmarc.mail.example.net", "v=DMARC1; p=reject")
	dns.SetTXT("_dmarc.corp.example", "v=DMARC1; p=reject")
	dns.SetTXT("relay.example.org", "v=spf1 -all")
	o.dns = dns
	o.mutate = func(c *domains.Config) {
		for _, n := range []string{"v1@agent.example.com", "v2@agent.example.com", "v3@agent.example.com"} {
			c.Mailboxes[n] = domains.Mailbox{
				Name:           n,
				Owner:          testOwner(t),
				Trust:          domains.Ptr(domains.TrustVerified),
				TrustedSenders: []string{"*@corp.example", "*@mail.example.net"},
			}
		}
	}
	return newEnv(t, o)
}

// forged is a From: boss@corp.example message with a valid DKIM
// signature of the unrelated mail.example.net, made with the fixture key.
func forged(t *testing.T) []byte {
	t.Helper()
	block, _ := pem.Decode(readFixture(t, "dkim/rsa.key.pem"))
	if block == nil {
		t.Fatal("no PEM in rsa.key.pem")
	}
	key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	msg := "From: The Boss <boss@corp.example>\r\nTo: verified@agent.example.com\r\nSubject: wire the money\r\n" +
		"Date: Mon, 02 Nov 2026 10:00:00 +0000\r\nMessage-ID: <forged-1@corp.example>\r\n\r\nNow please.\r\n"
	var b bytes.Buffer
	err = dkim.Sign(&b, strings.NewReader(msg), &dkim.SignOptions{
		Domain: "mail.example.net", Selector: "rsa2026", Signer: key,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed, BodyCanonicalization: dkim.CanonicalizationRelaxed,
		HeaderKeys: []string{"From", "To", "Subject", "Date", "Message-ID"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestVerificationAndTrust(t *testing.T) {
	t.Parallel()
	e := verifyEnv(t)
	rc := dialRaw(t, e.addr)
	rc.greet()
	for _, tc := range []struct {
		name, mailFrom, rcpt   string
		raw                    []byte
		dkim, spf, dmarc, trst string
	}{
		// Aligned and allowlisted: the only trusted one.
		{"rsa-signed", "zoe@mail.example.net", "v1@agent.example.com", readFixture(t, "dkim/rsa-signed.eml"), "pass", "pass", "pass", "true"},
		{"tampered-body", "bounce@relay.example.org", "v2@agent.example.com", readFixture(t, "dkim/tampered-body.eml"), "fail", "fail", "fail", "false"},
		// A valid signature of an unrelated domain never trusts a forged From.
		{"forged", "bounce@mail.example.net", "v3@agent.example.com", forged(t), "pass", "pass", "fail", "false"},
	} {
		code, text := rc.sendRaw(tc.mailFrom, []string{tc.rcpt}, tc.raw)
		if code != 250 {
			t.Fatalf("%s: %d %s", tc.name, code, text)
		}
		m := e.only(tc.rcpt)
		fm, eml := m.Frontmatter, e.eml(m)
		if !bytes.HasSuffix(eml, tc.raw) {
			t.Fatalf("%s: the stored .eml does not end with the bytes sent", tc.name)
		}
		if fm.DKIM != tc.dkim || fm.SPF != tc.spf || fm.DMARC != tc.dmarc || fm.Trusted != tc.trst {
			t.Errorf("%s: dkim=%s spf=%s dmarc=%s trusted=%s, want %s %s %s %s",
				tc.name, fm.DKIM, fm.SPF, fm.DMARC, fm.Trusted, tc.dkim, tc.spf, tc.dmarc, tc.trst)
		}
		ar := unfold(string(eml))
		want := "Authentication-Results: " + testHostname + "; dkim=" + tc.dkim
		if !strings.Contains(ar, want) || !strings.Contains(ar, "spf="+tc.spf) || !strings.Contains(ar, "dmarc="+tc.dmarc) {
			t.Errorf("%s: Authentication-Results does not carry the verdicts:\n%s", tc.name, ar[:400])
		}
	}
	// The same three verdicts reach the log line.
	if !strings.Contains(e.log.String(), `"dkim":"pass","spf":"pass","dmarc":"pass"`) {
		t.Errorf("log lacks verdicts:\n%s", e.log.String())
	}
}

func TestVerifyTimeoutStillStores(t *testing.T) {
	t.Parallel()
	dns := dnstest.Start(t)
	dns.SetBehavior("slow.example.org", dnstest.Silent)
	dns.SetBehavior("_dmarc.slow.example.org", dnstest.Silent)
	e := newDeliverEnv(t, envOpts{dns: dns, mutate: func(c *domains.Config) {
		c.SMTP.VerifyTimeout = domains.Duration(200 * time.Millisecond)
	}})
	raw := []byte("From: a@slow.example.org\r\nSubject: slow\r\nMessage-ID: <slow@x>\r\n\r\nhi\r\n")
	out, err := e.del.Deliver(context.Background(), Envelope{
		RemoteIP: netip.MustParseAddr("192.0.2.1"), Helo: "slow.example.org", MailFrom: "a@slow.example.org",
		Recipients: []string{"support@agent.example.com"}, ID: "t1",
	}, raw)
	if err != nil {
		t.Fatalf("deliver: %v", err)
	}
	if out.Auth.SPF != auth.TempError || out.Auth.DMARC != auth.TempError {
		t.Errorf("verdicts spf=%s dmarc=%s, want temperror", out.Auth.SPF, out.Auth.DMARC)
	}
	fm := e.only("support@agent.example.com").Frontmatter
	if fm.SPF != auth.TempError || fm.DMARC != auth.TempError || fm.DKIM != auth.None {
		t.Errorf("stored dkim=%s spf=%s dmarc=%s", fm.DKIM, fm.SPF, fm.DMARC)
	}
}

func TestOneCopyPerMailbox(t *testing.T) {
	t.Parallel()
	e := newDeliverEnv(t, envOpts{})
	out, err := e.del.Deliver(context.Background(), Envelope{
		RemoteIP: netip.MustParseAddr("::ffff:192.0.2.7"), Helo: "h.example.org", MailFrom: "a@example.org",
		Recipients: []string{"first@agent.example.com", "support@agent.example.com", "second@agent.example.com", "info@other.example.com", "SUPPORT@agent.example.com"},
		ID:         "t2",
	}, simpleMessage("copies@example.org", "copies", "body\r\n"))
	if err != nil {
		t.Fatalf("deliver: %v", err)
	}
	if len(out.Mailboxes) != 3 {
		t.Fatalf("%d mailboxes, want 3: %+v", len(out.Mailboxes), out.Mailboxes)
	}
	for name, deliveredTo := range map[string]string{
		"*@agent.example.com":       "first@agent.example.com",
		"support@agent.example.com": "support@agent.example.com",
		"info@other.example.com":    "info@other.example.com",
	} {
		m := e.only(name)
		if m.Frontmatter.DeliveredTo != deliveredTo {
			t.Errorf("%s: delivered_to %q, want %q", name, m.Frontmatter.DeliveredTo, deliveredTo)
		}
		if m.Frontmatter.ReceivedFromIP != "192.0.2.7" {
			t.Errorf("%s: received_from_ip %q", name, m.Frontmatter.ReceivedFromIP)
		}
		if first := unfold(strings.SplitN(string(e.eml(m)), "\r\nAuthentication-Results:", 2)[0]); !strings.Contains(first, "for <"+deliveredTo+">") {
			t.Errorf("%s: Received does not name its recipient: %s", name, first)
		}
	}
}

func TestRefusedMessages(t *testing.T) {
	t.Parallel()
	e := newDeliverEnv(t, envOpts{mutate: func(c *domains.Config) { c.SMTP.MaxMessageBytes = 200 }})
	env := Envelope{Recipients: []string{"support@agent.example.com"}, ID: "t3"}
	for _, tc := range []struct {
		name  string
		env   Envelope
		raw   string
		code  int
		enh   [3]int
		fault outcome.Fault
	}{
		{"no header", env, "\r\njust a body\r\n", 550, [3]int{5, 6, 0}, outcome.FaultUser},
		{"empty", env, "", 550, [3]int{5, 6, 0}, outcome.FaultUser},
		{"bare LF", env, "Subject: x\n\nbody\n", 550, [3]int{5, 6, 0}, outcome.FaultUser},
		{"too big", env, "Subject: x\r\n\r\n" + strings.Repeat("y", 200) + "\r\n", 552, [3]int{5, 3, 4}, outcome.FaultUser},
		{"relay", Envelope{Recipients: []string{"a@elsewhere.example.net"}}, "Subject: x\r\n\r\nb\r\n", 550, [3]int{5, 7, 1}, outcome.FaultUser},
		{"unknown", Envelope{Recipients: []string{"a@other.example.com"}}, "Subject: x\r\n\r\nb\r\n", 550, [3]int{5, 1, 1}, outcome.FaultUser},
	} {
		out, err := e.del.Deliver(context.Background(), tc.env, []byte(tc.raw))
		oe, ok := outcome.As(err)
		if !ok {
			t.Errorf("%s: error %v is not an outcome", tc.name, err)
			continue
		}
		if oe.Code != tc.code || oe.Enhanced != tc.enh || oe.Fault != tc.fault || !oe.Permanent() {
			t.Errorf("%s: %s (fault %s), want %d %v", tc.name, oe.Reply(), oe.Fault, tc.code, tc.enh)
		}
		if out.Code != oe.Code || out.Text != oe.Text {
			t.Errorf("%s: outcome %d %q differs from error %s", tc.name, out.Code, out.Text, oe.Reply())
		}
	}
	if n := len(e.inbox("support@agent.example.com")); n != 0 {
		t.Errorf("stored %d refused messages", n)
	}
}

func TestStoredEML(t *testing.T) {
	t.Parallel()
	e := newDeliverEnv(t, envOpts{})
	body := "From: x@example.org\r\n" +
		"Authentication-Results: " + strings.ToUpper(testHostname) + "; dkim=pass\r\n\theader.d=example.org\r\n" +
		"Authentication-Results: other.example.net; spf=pass smtp.mailfrom=x@example.org\r\n" +
		"Subject: forged verdicts\r\n" +
		"Message-ID: <ar@example.org>\r\n\r\n" +
		"Authentication-Results: " + testHostname + "; dkim=pass (in the body: kept)\r\n"
	if _, err := e.del.Deliver(context.Background(), Envelope{
		RemoteIP: netip.MustParseAddr("192.0.2.9"), Helo: "h.example.org", ESMTP: true,
		Recipients: []string{"support@agent.example.com"}, ID: "t4",
	}, []byte(body)); err != nil {
		t.Fatal(err)
	}
	eml := string(e.eml(e.only("support@agent.example.com")))
	lines := strings.SplitN(unfold(eml), "\r\n", 3)
	if !strings.HasPrefix(lines[0], "Received: from h.example.org ([192.0.2.9]) by "+testHostname+" with ESMTP id t4 for <support@agent.example.com>; ") {
		t.Errorf("first field: %q", lines[0])
	}
	if !strings.HasPrefix(lines[1], "Authentication-Results: "+testHostname+"; dkim=none") {
		t.Errorf("second field: %q", lines[1])
	}
	// Everything after our two fields is what was sent, minus only the forged one.
	want := strings.Replace(body, "Authentication-Results: "+strings.ToUpper(testHostname)+"; dkim=pass\r\n\theader.d=example.org\r\n", "", 1)
	if lines[2] != want {
		t.Errorf("stored after trace fields:\n%q\nwant\n%q", lines[2], want)
	}
	if strings.Count(eml, "Authentication-Results: other.example.net;") != 1 {
		t.Error("another server's Authentication-Results was removed")
	}
}

// failingStore fails Put for one mailbox a set number of times.
type failingStore struct {
	storage.MessageStore
	mu      sync.Mutex
	mailbox storage.MailboxRef
	fails   int
}

func (f *failingStore) Put(ctx context.Context, req storage.PutRequest) (*storage.Stored, error) {
	f.mu.Lock()
	fail := req.Mailbox == f.mailbox && f.fails > 0
	if fail {
		f.fails--
	}
	f.mu.Unlock()
	if fail {
		return nil, errors.New("disk on fire")
	}
	return f.MessageStore.Put(ctx, req)
}

func TestPartialFailureRetry(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{wrap: func(s storage.MessageStore) storage.MessageStore {
		return &failingStore{MessageStore: s, mailbox: ref("support@agent.example.com"), fails: 1}
	}})
	rcpts := []string{"support@agent.example.com", "someone@agent.example.com", "info@other.example.com"}
	msg := simpleMessage("partial@example.org", "partial", "body\r\n")
	rc := dialRaw(t, e.addr)
	rc.greet()
	code, text := rc.sendRaw("a@example.org", rcpts, msg)
	if code != 451 || !strings.HasPrefix(text, "4.3.0") || strings.Contains(text, "fire") {
		t.Fatalf("first attempt: %d %s, want a generic 451 4.3.0", code, text)
	}
	if !strings.Contains(e.log.String(), "disk on fire") {
		t.Errorf("the cause is not in the log:\n%s", e.log.String())
	}
	if n := len(e.inbox("support@agent.example.com")); n != 0 {
		t.Fatalf("failed mailbox holds %d", n)
	}
	// The sender retries the whole transaction.
	if code, text := rc.sendRaw("a@example.org", rcpts, msg); code != 250 {
		t.Fatalf("retry: %d %s", code, text)
	}
	for _, name := range []string{"support@agent.example.com", "*@agent.example.com", "info@other.example.com"} {
		if n := len(e.inbox(name)); n != 1 {
			t.Errorf("%s holds %d copies, want 1", name, n)
		}
	}
	if !strings.Contains(e.log.String(), `"*@agent.example.com":"duplicate"`) {
		t.Errorf("the retry's log line does not show the duplicates:\n%s", e.log.String())
	}
}

func TestOwnerThatDoesNotResolve(t *testing.T) {
	t.Parallel()
	e := newDeliverEnv(t, envOpts{})
	e.del.lookupOwners = true // as when running as root
	e.del.cfg.LookupOwner = func(name string) (domains.Owner, error) {
		return domains.Owner{}, fmt.Errorf("user %q: unknown user", name)
	}
	if _, err := e.del.Deliver(context.Background(), Envelope{Recipients: []string{"support@agent.example.com"}},
		simpleMessage("owner@example.org", "owner", "x\r\n")); err != nil {
		t.Fatalf("deliver: %v", err)
	}
	e.only("support@agent.example.com")
	if !strings.Contains(e.log.String(), "mailbox owner does not resolve") {
		t.Errorf("no warning:\n%s", e.log.String())
	}
}

func TestHooksDueRecorded(t *testing.T) {
	t.Parallel()
	e := newDeliverEnv(t, envOpts{})
	e.del.cfg.HooksDue = func(mb domains.Mailbox, trusted string) []string {
		return []string{"hook-for-" + domains.StorageDir(mb.Name) + "-" + trusted}
	}
	if _, err := e.del.Deliver(context.Background(), Envelope{Recipients: []string{"support@agent.example.com"}},
		simpleMessage("hooks@example.org", "hooks", "x\r\n")); err != nil {
		t.Fatal(err)
	}
	if got := e.only("support@agent.example.com").Frontmatter.HooksDue; fmt.Sprint(got) != "[hook-for-support-none]" {
		t.Errorf("hooks_due %v", got)
	}
}

// TestOnStoredOncePerStoredCopy: the hook scheduler hears about a newly
// stored message once, with its hooks_due, and never about a re-delivery
// absorbed by dedup (book/smtp.md, book/hooks.md).
func TestOnStoredOncePerStoredCopy(t *testing.T) {
	t.Parallel()
	e := newDeliverEnv(t, envOpts{})
	e.del.cfg.HooksDue = func(domains.Mailbox, string) []string { return []string{"h1"} }
	var mu sync.Mutex
	var got []StoredMessage
	e.del.cfg.OnStored = func(m StoredMessage) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, m)
	}
	msg := simpleMessage("once@example.org", "once", "x\r\n")
	for range 2 {
		if _, err := e.del.Deliver(context.Background(), Envelope{Recipients: []string{"support@agent.example.com"}}, msg); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 {
		t.Fatalf("OnStored called %d times, want 1 (the re-delivery must not be reported)", len(got))
	}
	stored := e.only("support@agent.example.com")
	m := got[0]
	if m.ID != stored.ID || m.Mailbox.Name != "support@agent.example.com" || fmt.Sprint(m.HooksDue) != "[h1]" ||
		m.Ref.Local != "support" || m.ReceivedAt.IsZero() || m.Trusted != "none" {
		t.Errorf("OnStored got %+v, stored id %s", m, stored.ID)
	}
}

// TestMailboxRemovedDuringTransaction: a mailbox removal holds the
// mailbox's lock; a delivery resolved before it waits, then finds the
// mailbox gone, answers 451 and stores nothing (book/admin.md).
func TestMailboxRemovedDuringTransaction(t *testing.T) {
	t.Parallel()
	e := newDeliverEnv(t, envOpts{})
	var locks domains.MailboxLocks
	e.del.cfg.Locks = &locks
	snapshot := e.reg.Current() // the config the transaction resolved RCPT with
	const name = "support@agent.example.com"

	unlock := locks.Lock(name) // the removal starts
	done := make(chan error, 1)
	go func() {
		_, err := e.del.Deliver(context.Background(), Envelope{Config: snapshot, Recipients: []string{name}},
			simpleMessage("gone@example.org", "during removal", "x\r\n"))
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("delivery finished while the removal held the mailbox: %v", err)
	case <-time.After(50 * time.Millisecond): // backstop only
	}
	next := snapshot.Clone()
	delete(next.Mailboxes, name)
	e.reg.Swap(next)
	unlock() // the removal is done

	err := <-done
	oe, ok := outcome.As(err)
	if !ok || oe.Code != 451 || !oe.Temporary() {
		t.Fatalf("Deliver = %v, want a temporary 451", err)
	}
	if n := len(e.inbox(name)); n != 0 {
		t.Fatalf("%d messages stored into a removed mailbox", n)
	}
}
