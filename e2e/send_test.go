package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	gosmtp "github.com/emersion/go-smtp"

	"github.com/aimx-dev/aimx/internal/dnstest"
)

// Sending end to end (book/sending.md): the daemon signs and queues mail
// and delivers it through intake (our own domains) or a relay; the relay is
// a real go-smtp server in the test ("the sink") that records what it gets.

// sendConfig is a dev config with one sending mailbox, quick retries and
// a send_wait long enough that email_send always sees the first round.
const sendConfig = `domains = ["agent.localhost"]
data_dir = "$DIR/data"
runtime_dir = "$DIR/run"

[smtp]
tls_cert = "$DIR/tls/cert.pem"
tls_key = "$DIR/tls/key.pem"

[outbound]
retry_base = "1s"
send_wait = "30s"

[mailboxes."hello@agent.localhost"]
address = "hello@agent.localhost"
owner = "root"
`

const (
	hello = "hello@agent.localhost"
	// sinkOK is the text of the sink's reply to the final dot, so a test
	// can recognise it in a recipient's detail.
	sinkOK = "queued as sink-7f3a9c"
)

// sinkMsg is one message the sink accepted.
type sinkMsg struct {
	From string
	To   []string
	Data []byte
}

// sink is the remote server: a go-smtp server on loopback without TLS
// (a loopback relay needs none). rcpt decides each RCPT: n counts every
// RCPT the sink has seen, from 1; a nil result accepts.
type sink struct {
	addr string
	rcpt func(n int, to string) *gosmtp.SMTPError

	mu    sync.Mutex
	msgs  []sinkMsg
	rcpts int
}

func startSink(t *testing.T, rcpt func(n int, to string) *gosmtp.SMTPError) *sink {
	t.Helper()
	s := &sink{rcpt: rcpt}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = l.Addr().String()
	srv := gosmtp.NewServer(gosmtp.BackendFunc(func(*gosmtp.Conn) (gosmtp.Session, error) {
		return &sinkSession{s: s}, nil
	}))
	srv.Domain = "sink.example.org"
	srv.ReadTimeout, srv.WriteTimeout = time.Minute, time.Minute
	go func() { _ = srv.Serve(l) }()
	// Closing l too: srv.Close before Serve registered it would leave it open.
	t.Cleanup(func() { _ = srv.Close(); _ = l.Close() })
	return s
}

// relay is the --relay URL of the sink.
func (s *sink) relay() string { return "smtp://" + s.addr }

func (s *sink) messages() []sinkMsg {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sinkMsg(nil), s.msgs...)
}

func (s *sink) rcptCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rcpts
}

// waitMessages waits until the sink holds n messages and returns them.
func (s *sink) waitMessages(t *testing.T, n int) []sinkMsg {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		msgs := s.messages()
		if len(msgs) == n {
			return msgs
		}
		if len(msgs) > n || time.Now().After(deadline) {
			t.Fatalf("the sink holds %d messages, want %d", len(msgs), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type sinkSession struct {
	s    *sink
	from string
	to   []string
}

func (ss *sinkSession) Reset()        { ss.from, ss.to = "", nil }
func (ss *sinkSession) Logout() error { return nil }

func (ss *sinkSession) Mail(from string, _ *gosmtp.MailOptions) error {
	ss.from = from
	return nil
}

func (ss *sinkSession) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	ss.s.mu.Lock()
	ss.s.rcpts++
	n := ss.s.rcpts
	ss.s.mu.Unlock()
	if ss.s.rcpt != nil {
		if e := ss.s.rcpt(n, to); e != nil {
			return e
		}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, sinkMsg{From: ss.from, To: append([]string(nil), ss.to...), Data: b})
	ss.s.mu.Unlock()
	return &gosmtp.SMTPError{Code: 250, EnhancedCode: gosmtp.EnhancedCode{2, 0, 0}, Message: sinkOK}
}

// smtpErr is a sink reply refusing a recipient.
func smtpErr(code int, enh [3]int, text string) *gosmtp.SMTPError {
	return &gosmtp.SMTPError{Code: code, EnhancedCode: gosmtp.EnhancedCode(enh), Message: text}
}

// startSender starts a dev daemon with sendConfig, through relay when one
// is given and with --dns when dns is set, and connects over aimx.sock.
func startSender(t *testing.T, relay *sink, dns *dnstest.Server) (*Daemon, *mcpSession) {
	t.Helper()
	o := DaemonOptions{Config: testOwner(t, sendConfig)}
	if relay != nil {
		o.Extra = []string{"--relay", relay.relay()}
	}
	if dns != nil {
		o.DNS = dns.Addr()
	}
	d := StartDev(t, o)
	return d, d.devConnect(t, viaUnix, protocolVersions[0])
}

// dkimTXT is the TXT value publishing the dev dir's DKIM key for domain,
// built from dkim/<domain>/public.key as `aimx dkim-keygen` prints it.
func dkimTXT(t *testing.T, d *Daemon, domain string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(d.Dir, "dkim", domain, "public.key"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PUBLIC KEY" {
		t.Fatalf("dkim/%s/public.key is not a PEM public key", domain)
	}
	return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(block.Bytes)
}

// verifyDKIM checks the captured bytes with go-msgauth against the dev
// key and requires a valid signature by domain and no invalid one.
func verifyDKIM(t *testing.T, d *Daemon, data []byte, domain string) {
	t.Helper()
	txt := dkimTXT(t, d, domain)
	lookup := func(name string) ([]string, error) {
		if name == "aimx._domainkey."+domain {
			return []string{txt}, nil
		}
		return nil, fmt.Errorf("no TXT record for %s", name)
	}
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(data), &dkim.VerifyOptions{LookupTXT: lookup})
	if err != nil {
		t.Fatalf("dkim verify: %v", err)
	}
	good := false
	for _, v := range vs {
		if v.Err != nil {
			t.Errorf("DKIM-Signature d=%s does not verify: %v", v.Domain, v.Err)
		} else if v.Domain == domain {
			good = true
		}
	}
	if !good {
		t.Fatalf("no valid DKIM-Signature with d=%s among %d signatures:\n%s", domain, len(vs), headerOf(data))
	}
}

// headerOf is the header block of a message, for failure output.
func headerOf(data []byte) []byte {
	if i := bytes.Index(data, []byte("\r\n\r\n")); i >= 0 {
		return data[:i]
	}
	return data
}

// parseMsg parses captured bytes as an RFC 5322 message.
func parseMsg(t *testing.T, data []byte) *mail.Message {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("captured message does not parse: %v", err)
	}
	return m
}

// rcptState is one recipient's entry in a send result.
func rcptState(t *testing.T, res map[string]any, addr string) map[string]any {
	t.Helper()
	list, _ := res["recipients"].([]any)
	for _, r := range list {
		if m, _ := r.(map[string]any); m != nil && strings.EqualFold(fmt.Sprint(m["address"]), addr) {
			return m
		}
	}
	t.Fatalf("no recipient %s in %v", addr, res)
	return nil
}

// waitStatus polls email_status until cond holds and returns that result.
func waitStatus(t *testing.T, s *mcpSession, id string, timeout time.Duration, cond func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		res := s.call("email_status", map[string]any{"mailbox": "hello", "id": id}).ok(t).s
		if cond(res) {
			return res
		}
		if time.Now().After(deadline) {
			t.Fatalf("email_status after %s: %v", timeout, res)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// delivered is a waitStatus condition: the whole message delivered.
func delivered(res map[string]any) bool { return res["delivery_status"] == "delivered" }

// findEmail polls email_list until an email whose subject contains subject
// is in folder, and returns its summary.
func findEmail(t *testing.T, s *mcpSession, folder, subject string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		res := s.call("email_list", map[string]any{"mailbox": "hello", "folder": folder, "subject": subject}).ok(t).s
		if list, _ := res["emails"].([]any); len(list) == 1 {
			return list[0].(map[string]any)
		} else if len(list) > 1 {
			t.Fatalf("%d emails with subject %q in %s: %v", len(list), subject, folder, list)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no email with subject %q in %s after 30 s", subject, folder)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// queueLen reads the outbound queue count from /v1/status.
func queueLen(t *testing.T, d *Daemon) int {
	t.Helper()
	code, body := adminGet(t, d, "/v1/status")
	var st struct {
		Queue *int `json:"queue"`
	}
	if code != 200 || json.Unmarshal(body, &st) != nil || st.Queue == nil {
		t.Fatalf("/v1/status: %d %s", code, body)
	}
	return *st.Queue
}

// TestSendLocalDKIMPass: email_send to a mailbox of our own domain goes
// through intake, which verifies our own signature against the key the
// test DNS publishes: dkim = "pass", and email_status says delivered.
func TestSendLocalDKIMPass(t *testing.T) {
	t.Parallel()
	dns := dnstest.Start(t)
	d, s := startSender(t, nil, dns)
	// The dev dir's key exists once the daemon has seeded it; publish it
	// before anything is sent (no lookup happens earlier).
	dns.SetTXT("aimx._domainkey.agent.localhost", dkimTXT(t, d, "agent.localhost"))

	res := s.call("email_send", map[string]any{"from_mailbox": "hello", "to": hello, "subject": "Note to self",
		"body": "Remember the **milk**."}).ok(t).s
	id, mid := res["id"].(string), res["message_id"].(string)
	if id == "" || mid == "" {
		t.Fatalf("email_send: %v", res)
	}
	st := waitStatus(t, s, id, 30*time.Second, delivered)
	if r := rcptState(t, st, hello); r["status"] != "delivered" {
		t.Errorf("recipient state %v", r)
	}
	msgs := readMessages(t, d.DataDir(), "agent.localhost", "hello")
	if len(msgs) != 1 {
		t.Fatalf("%d messages in hello's inbox, want 1", len(msgs))
	}
	fm := msgs[0].FM
	if fm["message_id"] != mid || fm["subject"] != "Note to self" {
		t.Errorf("inbox copy: message_id %v subject %v, want %s", fm["message_id"], fm["subject"], mid)
	}
	if fm["dkim"] != "pass" {
		t.Errorf("inbox copy: dkim = %v, want pass (our own signature, key in DNS)", fm["dkim"])
	}
	if dns.Queries("aimx._domainkey.agent.localhost", 16) == 0 {
		t.Errorf("intake never looked up our DKIM key")
	}
}

// TestSendRelayDKIMAndBcc: through --relay, the sink gets the message
// once, signed d=agent.localhost (go-msgauth verifies it), Bcc in the
// envelope only; email_status reports the sink's 250.
func TestSendRelayDKIMAndBcc(t *testing.T) {
	t.Parallel()
	sk := startSink(t, nil)
	d, s := startSender(t, sk, nil)

	res := s.call("email_send", map[string]any{"from_mailbox": "hello", "to": "Alice <alice@example.org>",
		"cc": "carol@example.net", "bcc": "bob@example.com", "subject": "Quarterly numbers",
		"body": "Hi Alice,\n\nThe numbers are *in*."}).ok(t).s
	id := res["id"].(string)
	st := waitStatus(t, s, id, 30*time.Second, delivered)
	for _, a := range []string{"alice@example.org", "carol@example.net", "bob@example.com"} {
		r := rcptState(t, st, a)
		if r["status"] != "delivered" || !strings.Contains(fmt.Sprint(r["detail"]), "250") ||
			!strings.Contains(fmt.Sprint(r["detail"]), sinkOK) {
			t.Errorf("%s: %v, want delivered with the sink's 250 %q", a, r, sinkOK)
		}
	}
	msgs := sk.waitMessages(t, 1)
	m := msgs[0]
	if m.From != hello {
		t.Errorf("MAIL FROM %q, want %s", m.From, hello)
	}
	if got := strings.Join(m.To, ","); got != "alice@example.org,carol@example.net,bob@example.com" {
		t.Errorf("envelope recipients %q, want To, Cc, Bcc in order", got)
	}
	head := headerOf(m.Data)
	if bytes.Contains(bytes.ToLower(head), []byte("bob@example.com")) || bytes.Contains(bytes.ToLower(head), []byte("\nbcc:")) {
		t.Errorf("the Bcc recipient shows in the header:\n%s", head)
	}
	pm := parseMsg(t, m.Data)
	if got := pm.Header.Get("Message-Id"); got != "<"+res["message_id"].(string)+">" {
		t.Errorf("Message-ID %q, want <%s>", got, res["message_id"])
	}
	if !strings.Contains(pm.Header.Get("Dkim-Signature"), "d=agent.localhost") {
		t.Errorf("first DKIM-Signature %q lacks d=agent.localhost", pm.Header.Get("Dkim-Signature"))
	}
	verifyDKIM(t, d, m.Data, "agent.localhost")
	if n := len(sk.messages()); n != 1 {
		t.Errorf("the sink got %d messages, want 1", n)
	}
}

// TestReplyThreadsThroughRelay: email_reply to a message delivered over
// SMTP threads the reply (In-Reply-To, References, "Re: ") and the sent
// copy shares the original's thread_id.
func TestReplyThreadsThroughRelay(t *testing.T) {
	t.Parallel()
	sk := startSink(t, nil)
	d, s := startSender(t, sk, nil)

	orig := crlf([]byte("From: Carol <carol@example.org>\nTo: hello@agent.localhost\nSubject: Quarterly plan\n" +
		"Date: Mon, 2 Nov 2026 10:00:00 +0000\nMessage-ID: <orig-3@example.org>\n" +
		"In-Reply-To: <mid-3@example.org>\nReferences: <root-3@example.org> <mid-3@example.org>\n\nShall we meet?\n"))
	if err := d.Deliver("carol@example.org", []string{hello}, orig); err != nil {
		t.Fatal(err)
	}
	in := findEmail(t, s, "inbox", "Quarterly plan")
	origRead := s.call("email_read", map[string]any{"mailbox": "hello", "id": in["id"]}).ok(t).s

	res := s.call("email_reply", map[string]any{"mailbox": "hello", "id": in["id"], "body": "Yes, Tuesday."}).ok(t).s
	st := waitStatus(t, s, res["id"].(string), 30*time.Second, delivered)
	rcptState(t, st, "carol@example.org")

	m := sk.waitMessages(t, 1)[0]
	if strings.Join(m.To, ",") != "carol@example.org" {
		t.Errorf("reply envelope recipients %v, want carol@example.org", m.To)
	}
	pm := parseMsg(t, m.Data)
	if got := pm.Header.Get("In-Reply-To"); got != "<orig-3@example.org>" {
		t.Errorf("In-Reply-To %q", got)
	}
	refs := strings.Fields(pm.Header.Get("References"))
	if len(refs) != 3 || refs[0] != "<root-3@example.org>" || refs[2] != "<orig-3@example.org>" {
		t.Errorf("References %v, want the original's chain then <orig-3@example.org>", refs)
	}
	if got := pm.Header.Get("Subject"); got != "Re: Quarterly plan" {
		t.Errorf("Subject %q", got)
	}
	verifyDKIM(t, d, m.Data, "agent.localhost")

	sent := s.call("email_read", map[string]any{"mailbox": "hello", "folder": "sent", "id": res["id"]}).ok(t).s
	if sent["thread_id"] == nil || sent["thread_id"] == "" || sent["thread_id"] != origRead["thread_id"] {
		t.Errorf("sent copy thread_id %v, original's %v", sent["thread_id"], origRead["thread_id"])
	}
	if sent["in_reply_to"] != "orig-3@example.org" {
		t.Errorf("sent copy in_reply_to %v", sent["in_reply_to"])
	}
}

// TestSendDeferredThenDelivered: a 451 to the first RCPT defers the
// recipient; the retry (retry_base 1s) delivers it.
func TestSendDeferredThenDelivered(t *testing.T) {
	t.Parallel()
	sk := startSink(t, func(n int, _ string) *gosmtp.SMTPError {
		if n == 1 {
			return smtpErr(451, [3]int{4, 3, 0}, "greylisted, try again later")
		}
		return nil
	})
	_, s := startSender(t, sk, nil)

	res := s.call("email_send", map[string]any{"from_mailbox": "hello", "to": "alice@example.org",
		"subject": "Try again", "body": "Second time lucky."}).ok(t).s
	// email_send waits for the first round (send_wait 30s): it saw the 451.
	r := rcptState(t, res, "alice@example.org")
	if res["delivery_status"] != "deferred" || r["status"] != "deferred" || !strings.Contains(fmt.Sprint(r["detail"]), "451") ||
		!strings.Contains(fmt.Sprint(r["detail"]), "greylisted") {
		t.Fatalf("after the first round: %v, want deferred with the 451", res)
	}
	st := waitStatus(t, s, res["id"].(string), 30*time.Second, delivered)
	r = rcptState(t, st, "alice@example.org")
	if r["status"] != "delivered" || r["attempts"] != 2.0 || !strings.Contains(fmt.Sprint(r["detail"]), sinkOK) {
		t.Errorf("after the retry: %v, want delivered on attempt 2", r)
	}
	sk.waitMessages(t, 1)
	if n := sk.rcptCount(); n != 2 {
		t.Errorf("the sink saw %d RCPTs, want 2", n)
	}
}

// TestSendPermanentFailureBounce: a 550 5.1.1 fails the recipient with the
// reply as detail, and the sending mailbox gets a DSN threaded to it.
func TestSendPermanentFailureBounce(t *testing.T) {
	t.Parallel()
	sk := startSink(t, func(int, string) *gosmtp.SMTPError {
		return smtpErr(550, [3]int{5, 1, 1}, "no such user here")
	})
	_, s := startSender(t, sk, nil)

	res := s.call("email_send", map[string]any{"from_mailbox": "hello", "to": "nobody@example.org",
		"subject": "Lost letter", "body": "Anyone there?"}).ok(t).s
	st := waitStatus(t, s, res["id"].(string), 30*time.Second, func(r map[string]any) bool { return r["delivery_status"] == "failed" })
	r := rcptState(t, st, "nobody@example.org")
	if d := fmt.Sprint(r["detail"]); r["status"] != "failed" || !strings.Contains(d, "550") || !strings.Contains(d, "5.1.1") ||
		!strings.Contains(d, "no such user here") {
		t.Errorf("recipient %v, want failed with the 550 5.1.1 reply", r)
	}

	dsn := findEmail(t, s, "inbox", "Undelivered mail: Lost letter")
	read := s.call("email_read", map[string]any{"mailbox": "hello", "id": dsn["id"]}).ok(t).s
	if read["in_reply_to"] != res["message_id"] {
		t.Errorf("DSN in_reply_to %v, want the sent Message-ID %v", read["in_reply_to"], res["message_id"])
	}
	if !strings.Contains(fmt.Sprint(read["body"]), "nobody@example.org") {
		t.Errorf("DSN body does not name the recipient:\n%v", read["body"])
	}
	if n := len(sk.messages()); n != 0 {
		t.Errorf("the sink accepted %d messages", n)
	}
}

// TestRemoteDSNMarksFailed: a delivery status notification from the remote
// side, naming a message we sent, turns its recipient to failed.
func TestRemoteDSNMarksFailed(t *testing.T) {
	t.Parallel()
	sk := startSink(t, nil)
	d, s := startSender(t, sk, nil)

	res := s.call("email_send", map[string]any{"from_mailbox": "hello", "to": "alice@example.org",
		"subject": "Invoice 6", "body": "Please find the invoice below."}).ok(t).s
	id, mid := res["id"].(string), res["message_id"].(string)
	waitStatus(t, s, id, 30*time.Second, delivered)
	sk.waitMessages(t, 1)

	report := crlf([]byte(`From: Mail Delivery Subsystem <MAILER-DAEMON@example.org>
To: hello@agent.localhost
Subject: Delivery Status Notification (Failure)
Date: Mon, 2 Nov 2026 10:05:00 +0000
Message-ID: <dsn-6.1@mx.example.org>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="=_b6"

--=_b6
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.example.org.

Your message could not be delivered to one or more recipients.

<alice@example.org>: host mx.example.org said: 550 5.1.1 <alice@example.org>:
    Recipient address rejected: User unknown in virtual mailbox table

--=_b6
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org
X-Postfix-Queue-ID: 4QxyZ12abc
Arrival-Date: Mon, 2 Nov 2026 10:04:58 +0000

Final-Recipient: rfc822; alice@example.org
Original-Recipient: rfc822;alice@example.org
Action: failed
Status: 5.1.1
Remote-MTA: dns; mailstore.example.org
Diagnostic-Code: smtp; 550 5.1.1 <alice@example.org>: Recipient address
    rejected: User unknown in virtual mailbox table

--=_b6
Content-Type: text/rfc822-headers

From: hello@agent.localhost
To: alice@example.org
Subject: Invoice 6
Date: Mon, 2 Nov 2026 10:04:57 +0000
Message-ID: <` + mid + `>

--=_b6--
`))
	if err := d.Deliver("", []string{hello}, report); err != nil {
		t.Fatalf("deliver the DSN with a null sender: %v", err)
	}
	st := waitStatus(t, s, id, 30*time.Second, func(r map[string]any) bool {
		return rcptState(t, r, "alice@example.org")["status"] == "failed"
	})
	r := rcptState(t, st, "alice@example.org")
	if dt := fmt.Sprint(r["detail"]); !strings.HasPrefix(dt, "bounced:") || !strings.Contains(dt, "5.1.1") {
		t.Errorf("recipient %v, want detail \"bounced: ...\" with the remote diagnostic", r)
	}
	if st["delivery_status"] != "failed" {
		t.Errorf("delivery_status %v, want failed", st["delivery_status"])
	}
	findEmail(t, s, "inbox", "Delivery Status Notification")
}

// TestSendQueueSurvivesRestart: a message deferred by a relay that always
// says 451 is in the queue (/v1/status), survives SIGTERM, and is
// delivered exactly once by the restarted daemon through a relay that
// accepts.
func TestSendQueueSurvivesRestart(t *testing.T) {
	t.Parallel()
	busy := startSink(t, func(int, string) *gosmtp.SMTPError {
		return smtpErr(451, [3]int{4, 7, 1}, "busy, come back later")
	})
	d, s := startSender(t, busy, nil)

	res := s.call("email_send", map[string]any{"from_mailbox": "hello", "to": "alice@example.org",
		"subject": "Survives a restart", "body": "Still here."}).ok(t).s
	id, mid := res["id"].(string), res["message_id"].(string)
	if res["delivery_status"] != "deferred" {
		t.Fatalf("after the first round: %v, want deferred", res)
	}
	if n := queueLen(t, d); n < 1 {
		t.Errorf("/v1/status queue = %d while a message is deferred, want > 0", n)
	}
	d.Stop()
	if n := len(busy.messages()); n != 0 || busy.rcptCount() == 0 {
		t.Fatalf("busy relay: %d messages, %d RCPTs; want none accepted after at least one try", n, busy.rcptCount())
	}

	ok := startSink(t, nil)
	for i, a := range d.Args {
		if a == "--relay" {
			d.Args[i+1] = ok.relay()
		}
	}
	d.Restart()
	s = d.devConnect(t, viaUnix, protocolVersions[0])
	st := waitStatus(t, s, id, 30*time.Second, delivered)
	if r := rcptState(t, st, "alice@example.org"); !strings.Contains(fmt.Sprint(r["detail"]), sinkOK) {
		t.Errorf("recipient %v, want delivered by the second relay", r)
	}
	deadline := time.Now().Add(30 * time.Second)
	for queueLen(t, d) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the queue is not empty after delivery")
		}
		time.Sleep(50 * time.Millisecond)
	}
	msgs := ok.waitMessages(t, 1)
	if got := parseMsg(t, msgs[0].Data).Header.Get("Message-Id"); got != "<"+mid+">" {
		t.Errorf("delivered Message-ID %q, want <%s>", got, mid)
	}
	if n := len(busy.messages()); n != 0 {
		t.Errorf("the busy relay accepted %d messages", n)
	}
}

// TestSendCLIAttachmentAndHTTPPaths: over MCP HTTP, paths is refused
// (only the stdio bridge reads files) and nothing is queued; `aimx send
// --attachment --json` reads the file as the caller and sends it.
func TestSendCLIAttachmentAndHTTPPaths(t *testing.T) {
	t.Parallel()
	sk := startSink(t, nil)
	d, s := startSender(t, sk, nil)

	h := d.devConnect(t, viaHTTP, protocolVersions[0])
	h.call("email_send", map[string]any{"from_mailbox": "hello", "to": "alice@example.org", "subject": "Secrets",
		"body": "see attached", "paths": []any{"/etc/shadow"}}).fails(t, "stdio bridge")
	if sent := s.call("email_list", map[string]any{"mailbox": "hello", "folder": "sent"}).ok(t).s; sent["total"] != 0.0 {
		t.Errorf("a refused send left a sent copy: %v", sent)
	}
	if n := queueLen(t, d); n != 0 {
		t.Errorf("a refused send queued %d messages", n)
	}

	content := []byte("line one\nline two, with ünïcode\n\x00\x01 binary tail")
	file := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(file, content, 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := d.CLI("send", "--from", "hello", "--to", "alice@example.org", "--subject", "Meeting notes",
		"--body", "Notes attached.", "--attachment", file, "--json")
	if code != 0 {
		t.Fatalf("aimx send: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	var res struct {
		MessageID      string `json:"message_id"`
		ID             string `json:"id"`
		DeliveryStatus string `json:"delivery_status"`
		Recipients     []struct{ Address, Status string }
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.MessageID == "" || res.ID == "" ||
		len(res.Recipients) != 1 || res.Recipients[0].Address != "alice@example.org" {
		t.Fatalf("aimx send --json printed %q (%v)", out, err)
	}

	m := sk.waitMessages(t, 1)[0]
	pm := parseMsg(t, m.Data)
	if got := pm.Header.Get("Message-Id"); got != "<"+res.MessageID+">" {
		t.Errorf("Message-ID %q, want <%s>", got, res.MessageID)
	}
	mt, params, err := mime.ParseMediaType(pm.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/mixed" {
		t.Fatalf("Content-Type %q (%v), want multipart/mixed", pm.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(pm.Body, params["boundary"])
	found := false
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if p.FileName() != "notes.txt" {
			continue
		}
		found = true
		if enc := p.Header.Get("Content-Transfer-Encoding"); !strings.EqualFold(enc, "base64") {
			t.Errorf("attachment encoding %q, want base64", enc)
		}
		raw, err := io.ReadAll(p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(raw)), ""))
		if err != nil || !bytes.Equal(got, content) {
			t.Errorf("attachment content %q (%v), want %q", got, err, content)
		}
	}
	if !found {
		t.Errorf("no notes.txt part in:\n%s", m.Data)
	}
	verifyDKIM(t, d, m.Data, "agent.localhost")
	st := waitStatus(t, s, res.ID, 30*time.Second, delivered)
	rcptState(t, st, "alice@example.org")
}
