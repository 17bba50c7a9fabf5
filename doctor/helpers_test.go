package doctor

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/domains/admin"
	"github.com/aimx-dev/aimx/domains/dkimkey"
	"github.com/aimx-dev/aimx/internal/dnsresolver"
	"github.com/aimx-dev/aimx/internal/dnstest"
	"github.com/aimx-dev/aimx/internal/netcheck"
	"github.com/aimx-dev/aimx/storage"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// testNow is the clock certificates are checked against.
var testNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// fixture is an install under a temp dir with a test DNS server.
type fixture struct {
	t       *testing.T
	dir     string
	paths   domains.Paths
	cfg     *domains.Config
	dns     *dnstest.Server
	keys    *dkimkey.Store
	net     *netcheck.Fake
	status  admin.Status
	down    bool
	owners  map[string]domains.Owner
	dkimTXT map[string]string // domain -> the record value of its key
}

// newFixture makes an install serving example.com (default) and
// example.org from mail.example.com, with the given mailboxes (name ->
// owner), DKIM keys for both domains and a TLS pair valid until 2031.
func newFixture(t *testing.T, mailboxes map[string]string) *fixture {
	t.Helper()
	dir := t.TempDir()
	f := &fixture{t: t, dir: dir, dns: dnstest.Start(t), dkimTXT: map[string]string{},
		paths: domains.Paths{ConfigDir: filepath.Join(dir, "etc"), DataDir: filepath.Join(dir, "data"), RuntimeDir: filepath.Join(dir, "run")},
		net: &netcheck.Fake{IPs: []net.IP{net.ParseIP("203.0.113.5")},
			Greetings: map[string]string{"127.0.0.1:25": "220 mail.example.com ESMTP aimx"}},
		status: admin.Status{Version: "v1.2.3", UptimeSecs: 3723, Domains: []string{"example.com", "example.org"}, Mailboxes: len(mailboxes),
			Listeners: map[string]string{"smtp": "[::]:25", "admin": "/run/aimx/admin.sock"}},
	}
	me := os.Geteuid()
	f.owners = map[string]domains.Owner{}
	for _, name := range []string{"alice", "aimx-catchall"} {
		f.owners[name] = domains.Owner{Name: name, UID: me, GID: os.Getegid()}
	}
	cfg := domains.Default("example.com", "example.org")
	cfg.SMTP.Hostname = "mail.example.com"
	cert, key := filepath.Join(f.paths.ConfigDir, "tls", "cert.pem"), filepath.Join(f.paths.ConfigDir, "tls", "key.pem")
	writeCert(t, cert, key, "mail.example.com", time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC))
	cfg.SMTP.TLSCert, cfg.SMTP.TLSKey = cert, key
	for name, owner := range mailboxes {
		cfg.Mailboxes[name] = domains.Mailbox{Name: name, Owner: owner}
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	f.cfg = cfg
	f.keys = dkimkey.NewStore(f.paths.ConfigDir)
	pemKey, err := os.ReadFile("testdata/rsa.key.pem")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range cfg.Domains {
		k, err := f.keys.Import(d, pemKey)
		if err != nil {
			t.Fatal(err)
		}
		_, f.dkimTXT[d], _ = dkimkey.TXTRecord(d, "aimx", k.Public())
	}
	st, err := storage.Open(f.paths.DataDir, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for name := range mailboxes {
		if err := st.EnsureMailbox(context.Background(), domains.MailboxRef(name), &storage.Owner{UID: me, GID: os.Getegid()}); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// publishAll publishes every record the install needs.
func (f *fixture) publishAll() {
	f.dns.SetIP("mail.example.com", "203.0.113.5")
	if err := f.dns.AddRR("5.113.0.203.in-addr.arpa. 300 IN PTR mail.example.com."); err != nil {
		f.t.Fatal(err)
	}
	for _, d := range f.cfg.Domains {
		f.dns.SetMX(d, dnstest.MX{Pref: 10, Host: "mail.example.com"})
		f.dns.SetTXT(d, "v=spf1 mx -all", "google-site-verification=abc")
		f.dns.SetTXT("aimx._domainkey."+d, f.dkimTXT[d])
		f.dns.SetTXT("_dmarc."+d, "v=DMARC1; p=none; rua=mailto:postmaster@"+d)
	}
}

// doctor builds the Doctor of the fixture.
func (f *fixture) doctor() *Doctor {
	r, err := dnsresolver.New(dnsresolver.Config{Servers: []string{f.dns.Addr()}, Timeout: 2 * time.Second})
	if err != nil {
		f.t.Fatal(err)
	}
	st, err := storage.OpenReadOnly(f.paths.DataDir)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { st.Close() })
	return &Doctor{
		Config: f.cfg, Paths: f.paths, Resolver: r, Keys: f.keys, Counter: st, Network: f.net,
		Version: "v1.2.3", DaemonUID: os.Geteuid(), Now: func() time.Time { return testNow },
		LookupOwner: func(name string) (domains.Owner, error) {
			if o, ok := f.owners[name]; ok {
				return o, nil
			}
			return domains.Owner{}, user.UnknownUserError(name)
		},
		Status: func(context.Context) (admin.Status, error) {
			if f.down {
				return admin.Status{}, fmt.Errorf("%w (no answer on %s)", admin.ErrDaemonDown, filepath.Join(f.paths.RuntimeDir, admin.SocketName))
			}
			return f.status, nil
		},
	}
}

// writeCert writes a self-signed ECDSA pair for host.
func writeCert(t *testing.T, certPath, keyPath, host string, notAfter time.Time) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: host},
		NotBefore: notAfter.AddDate(-5, 0, 0), NotAfter: notAfter, DNSNames: []string{host}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(certPath), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// scrub replaces the fixture's temp paths, uid and gid with placeholders
// so goldens hold on every machine.
func (f *fixture) scrub(s string) string {
	return strings.NewReplacer(f.dir, "$DIR").Replace(s)
}

// golden compares got with testdata/name, rewriting it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run with -update to accept):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// validate checks a JSON report against schema.json.
func validate(t *testing.T, report []byte) {
	t.Helper()
	var schema any
	if err := json.Unmarshal(Schema(), &schema); err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("doctor.json", schema); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("doctor.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(report))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(doc); err != nil {
		t.Fatalf("report does not follow schema.json: %v\n%s", err, report)
	}
}
