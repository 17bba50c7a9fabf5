package inbound

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/textproto"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"crypto/tls"

	"github.com/rs/zerolog"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/internal/dnsresolver"
	"github.com/aimx-dev/aimx/internal/dnstest"
	"github.com/aimx-dev/aimx/storage"
)

// fixtures is the test data kept in the repo (testdata/fixtures/README.md).
const fixtures = "../../testdata/fixtures"

const testHostname = "mx.agent.example.com"

func readFixture(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, rel))
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	return b
}

// crlf converts LF line endings to CRLF, leaving CRLF alone.
func crlf(b []byte) []byte {
	return bytes.ReplaceAll(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r\n"))
}

// testOwner is a user name that resolves on this machine.
func testOwner(t testing.TB) string {
	t.Helper()
	u, err := user.Current()
	if err != nil {
		t.Fatalf("current user: %v", err)
	}
	return u.Username
}

// baseConfig: agent.example.com with support@ and a catchall,
// aimx.example.com with agent@ only, and other.example.com with one
// mailbox and no catchall.
func baseConfig(t testing.TB) *domains.Config {
	t.Helper()
	owner := testOwner(t)
	c := domains.Default("agent.example.com", "aimx.example.com", "other.example.com")
	c.SMTP.Hostname = testHostname
	for _, n := range []string{"support@agent.example.com", "*@agent.example.com", "agent@aimx.example.com", "info@other.example.com"} {
		c.Mailboxes[n] = domains.Mailbox{Name: n, Owner: owner}
	}
	return c
}

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type envOpts struct {
	mutate  func(*domains.Config)
	wrap    func(storage.MessageStore) storage.MessageStore
	tls     *tls.Config
	now     func() time.Time
	dataDir string // reuse a data dir (restart); "" = fresh
	dns     *dnstest.Server
	// deliver and server adjust the Deliverer's and the Server's config.
	deliver func(*Config)
	server  func(*ServerConfig)
}

// testEnv is a real store, a real resolver on an in-process DNS server, a
// Deliverer and (unless skipped) a Server on 127.0.0.1:0.
type testEnv struct {
	t        *testing.T
	dataDir  string
	store    storage.MessageStore
	files    *storage.Store // the file store under store, for tests that touch the files
	dns      *dnstest.Server
	reg      *domains.Registry
	del      *Deliverer
	srv      *Server
	addr     string
	log      *syncBuffer
	served   chan error
	spoolDir string
}

func newDeliverEnv(t *testing.T, o envOpts) *testEnv {
	t.Helper()
	cfg := baseConfig(t)
	if o.mutate != nil {
		o.mutate(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	e := &testEnv{t: t, dataDir: o.dataDir, dns: o.dns, reg: domains.NewRegistry(cfg), log: &syncBuffer{}}
	if e.dataDir == "" {
		e.dataDir = t.TempDir()
	}
	if e.dns == nil {
		e.dns = dnstest.Start(t)
	}
	st, err := storage.Open(e.dataDir, storage.Options{Now: o.now})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	e.store, e.files = st, st
	if o.wrap != nil {
		e.store = o.wrap(st)
	}
	res, err := dnsresolver.New(dnsresolver.Config{Servers: []string{e.dns.Addr()}, Now: o.now})
	if err != nil {
		t.Fatalf("resolver: %v", err)
	}
	dcfg := Config{
		Registry:   e.reg,
		Store:      e.store,
		Resolver:   res,
		Now:        o.now,
		VerifyIntn: func(int) int { return 0 },
		SpoolDir:   filepath.Join(t.TempDir(), "spool"),
		Log:        zerolog.New(e.log),
	}
	if o.deliver != nil {
		o.deliver(&dcfg)
	}
	e.spoolDir = dcfg.SpoolDir
	e.del, err = New(dcfg)
	if err != nil {
		t.Fatalf("deliverer: %v", err)
	}
	return e
}

func newEnv(t *testing.T, o envOpts) *testEnv {
	t.Helper()
	e := newDeliverEnv(t, o)
	scfg := ServerConfig{
		Registry:  e.reg,
		Deliverer: e.del,
		TLSConfig: o.tls,
		Log:       zerolog.New(e.log),
	}
	if o.server != nil {
		o.server(&scfg)
	}
	srv, err := NewServer(scfg)
	if err != nil {
		t.Fatalf("server: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	e.srv, e.addr, e.served = srv, ln.Addr().String(), make(chan error, 1)
	go func() { e.served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-e.served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return e
}

// ref names a mailbox's storage.
func ref(name string) storage.MailboxRef {
	_, d := domains.SplitName(name)
	return storage.MailboxRef{Domain: d, Local: domains.StorageDir(name)}
}

// inbox lists a mailbox's inbox, newest first.
func (e *testEnv) inbox(name string) []storage.Summary {
	e.t.Helper()
	res, err := e.store.List(context.Background(), storage.ListQuery{Mailbox: ref(name), Limit: 1000})
	if err != nil {
		e.t.Fatalf("list %s: %v", name, err)
	}
	return res.Messages
}

// only returns the one message of a mailbox, read back whole.
func (e *testEnv) only(name string) *storage.Message {
	e.t.Helper()
	msgs := e.inbox(name)
	if len(msgs) != 1 {
		e.t.Fatalf("%s holds %d messages, want 1", name, len(msgs))
	}
	m, err := e.store.Read(context.Background(), ref(name), storage.Inbox, msgs[0].ID)
	if err != nil {
		e.t.Fatalf("read: %v", err)
	}
	return m
}

// eml reads a stored message's raw bytes through the store.
func (e *testEnv) eml(m *storage.Message) []byte {
	e.t.Helper()
	f, err := e.store.OpenRaw(context.Background(), ref(m.Frontmatter.Mailbox), m.Folder, m.ID)
	if err != nil {
		e.t.Fatalf("open eml: %v", err)
	}
	defer f.Close()
	b, err := io.ReadAll(f.Reader())
	if err != nil {
		e.t.Fatalf("read eml: %v", err)
	}
	return b
}

// paths is where the file store keeps a stored inbound message.
func (e *testEnv) paths(name, id string) storage.MessagePaths {
	e.t.Helper()
	p, err := e.files.Paths(ref(name), storage.Inbox, id)
	if err != nil {
		e.t.Fatalf("paths of %s: %v", id, err)
	}
	return p
}

// rawConn is a byte-exact SMTP client.
type rawConn struct {
	t *testing.T
	c net.Conn
	r *textproto.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	rc := &rawConn{t: t, c: c, r: textproto.NewReader(bufio.NewReader(c))}
	return rc
}

func (rc *rawConn) send(s string) {
	rc.t.Helper()
	if _, err := rc.c.Write([]byte(s)); err != nil {
		rc.t.Fatalf("write: %v", err)
	}
}

// reply reads one (possibly multi-line) reply.
func (rc *rawConn) reply() (int, string) {
	rc.t.Helper()
	code, msg, err := rc.r.ReadResponse(0)
	if err != nil && code == 0 {
		rc.t.Fatalf("read reply: %v", err)
	}
	return code, msg
}

// expect reads a reply and checks its code and, when given, a substring.
func (rc *rawConn) expect(code int, sub string) string {
	rc.t.Helper()
	got, msg := rc.reply()
	if got != code || !strings.Contains(msg, sub) {
		rc.t.Fatalf("reply %d %q, want %d containing %q", got, msg, code, sub)
	}
	return msg
}

// cmd sends one command line and checks the reply.
func (rc *rawConn) cmd(line string, code int, sub string) string {
	rc.t.Helper()
	rc.send(line + "\r\n")
	return rc.expect(code, sub)
}

// greet reads the banner and says EHLO.
func (rc *rawConn) greet() string {
	rc.t.Helper()
	rc.expect(220, "")
	return rc.cmd("EHLO client.example.org", 250, "")
}

// simpleMessage is a small valid CRLF message.
func simpleMessage(msgID, subject, body string) []byte {
	var b strings.Builder
	b.WriteString("From: Sender <sender@example.org>\r\n")
	b.WriteString("To: support@agent.example.com\r\n")
	b.WriteString("Subject: " + subject + "\r\n")
	b.WriteString("Date: Mon, 02 Nov 2026 10:00:00 +0000\r\n")
	if msgID != "" {
		b.WriteString("Message-ID: <" + msgID + ">\r\n")
	}
	b.WriteString("\r\n")
	b.WriteString(body)
	return []byte(b.String())
}

// sendRaw runs one whole transaction on rc and returns the DATA reply.
func (rc *rawConn) sendRaw(from string, to []string, data []byte) (int, string) {
	rc.t.Helper()
	rc.cmd("MAIL FROM:<"+from+">", 250, "")
	for _, r := range to {
		rc.cmd("RCPT TO:<"+r+">", 250, "")
	}
	rc.cmd("DATA", 354, "")
	rc.send(string(data) + ".\r\n")
	return rc.reply()
}

// unfold joins folded header lines (RFC 5322 2.2.3).
func unfold(s string) string {
	s = strings.ReplaceAll(s, "\r\n ", " ")
	return strings.ReplaceAll(s, "\r\n\t", "\t")
}
