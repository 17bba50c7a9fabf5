package setup

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/domains/admin"
	"github.com/aimx-dev/aimx/domains/dkimkey"
	"github.com/aimx-dev/aimx/internal/dnsresolver"
	"github.com/aimx-dev/aimx/internal/dnstest"
	"github.com/aimx-dev/aimx/internal/netcheck"
	"github.com/aimx-dev/aimx/internal/progress"
	"github.com/aimx-dev/aimx/internal/systemd"
	"github.com/aimx-dev/aimx/operations"
	"github.com/aimx-dev/aimx/storage"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// host is a fresh "VPS" under a temp dir: a DNS server, a network, users
// and systemd, all fakes.
type host struct {
	t       *testing.T
	dir     string
	paths   domains.Paths
	dns     *dnstest.Server
	net     *netcheck.Fake
	users   *fakeUsers
	systemd *systemd.Fake
	running bool // a daemon answers on admin.sock
	out     bytes.Buffer
	prog    bytes.Buffer
}

func newHost(t *testing.T) *host {
	t.Helper()
	dir := t.TempDir()
	h := &host{t: t, dir: dir, dns: dnstest.Start(t), users: &fakeUsers{have: map[string]bool{}}, systemd: &systemd.Fake{},
		paths: domains.Paths{ConfigDir: filepath.Join(dir, "etc", "aimx"), DataDir: filepath.Join(dir, "var", "lib", "aimx"), RuntimeDir: filepath.Join(dir, "run", "aimx")},
		net: &netcheck.Fake{IPs: []net.IP{net.ParseIP("203.0.113.5")}, Greetings: map[string]string{
			"mx.probe.test:25":    "220 mx.probe.test ESMTP ready",
			"127.0.0.1:25":        "220 mail.example.com ESMTP aimx",
			"203.0.113.5:25":      "220 mail.example.com ESMTP aimx",
			"mail.example.com:25": "220 unused",
		}},
	}
	h.dns.SetMX("probe.test", dnstest.MX{Pref: 5, Host: "mx.probe.test"})
	// The DKIM keys exist already, so the records (and the goldens) are
	// the same on every run: setup reuses a key it finds.
	pemKey, err := os.ReadFile("testdata/rsa.key.pem")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"example.com", "example.org"} {
		if _, err := dkimkey.NewStore(h.paths.ConfigDir).Import(d, pemKey); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// publish publishes every record a domain served from mail.example.com
// needs, and the host's A and PTR.
func (h *host) publish(doms ...string) {
	h.dns.SetIP("mail.example.com", "203.0.113.5")
	if err := h.dns.AddRR("5.113.0.203.in-addr.arpa. 60 IN PTR mail.example.com."); err != nil {
		h.t.Fatal(err)
	}
	for _, d := range doms {
		k, err := dkimkey.NewStore(h.paths.ConfigDir).Load(d, dkimkey.RSA)
		if err != nil {
			h.t.Fatal(err)
		}
		_, txt, _ := dkimkey.TXTRecord(d, "aimx", k.Public())
		h.dns.SetMX(d, dnstest.MX{Pref: 10, Host: "mail.example.com"})
		h.dns.SetTXT(d, "v=spf1 mx -all")
		h.dns.SetTXT("aimx._domainkey."+d, txt)
		h.dns.SetTXT("_dmarc."+d, "v=DMARC1; p=none; rua=mailto:postmaster@"+d)
	}
}

// setup builds a Setup on the host with opts (the fields it leaves empty
// filled with fast test values).
func (h *host) setup(opts Options, in string) *Setup {
	r, err := dnsresolver.New(dnsresolver.Config{Servers: []string{h.dns.Addr()}, Timeout: 2 * time.Second,
		MaxTTL: time.Nanosecond, MaxNegativeTTL: time.Nanosecond})
	if err != nil {
		h.t.Fatal(err)
	}
	opts.Paths = h.paths
	if opts.Unit == nil {
		opts.Unit = []byte("[Unit]\n")
	}
	if opts.OutboundProbe == "" {
		opts.OutboundProbe = "probe.test"
	}
	if opts.DNSInterval == 0 {
		opts.DNSInterval = 20 * time.Millisecond
	}
	if opts.WaitPoll == 0 {
		opts.WaitPoll = 5 * time.Millisecond
	}
	h.out.Reset()
	h.prog.Reset()
	return &Setup{
		Opts: opts, In: strings.NewReader(in), Out: &h.out, Progress: &h.prog, ProgressMode: progress.Lines,
		Network: h.net, Resolver: r, Users: h.users, Service: h.systemd,
		Status: func(context.Context) (admin.Status, error) {
			if h.running {
				return admin.Status{Version: "v1"}, nil
			}
			return admin.Status{}, admin.ErrDaemonDown
		},
		Admin: h.admin,
		Now:   time.Now,
	}
}

// lookup resolves the fake system users.
func (h *host) lookup(name string) (domains.Owner, error) {
	if name == "root" || h.users.exists(name) {
		return domains.Owner{Name: name, UID: os.Geteuid(), GID: os.Getegid()}, nil
	}
	return domains.Owner{}, user.UnknownUserError(name)
}

// admin is the operator API over the files, as the CLI builds it with
// the daemon down.
func (h *host) admin(context.Context) (admin.API, func(), error) {
	opts := domains.LoadOptions{LookupOwner: h.lookup}
	cfg, err := domains.Load(h.paths.ConfigFile(), opts)
	if err != nil {
		return nil, nil, err
	}
	changer := &domains.Changer{Store: &domains.Store{Path: h.paths.ConfigFile(), Options: opts}, Registry: domains.NewRegistry(cfg)}
	st, err := storage.Open(h.paths.DataDir, storage.Options{})
	if err != nil {
		return nil, nil, err
	}
	mbs := &operations.Mailboxes{Config: changer, Store: st, LookupOwner: h.lookup}
	adm := &admin.Admin{Config: changer, Mailboxes: mbs, Store: st, LookupOwner: h.lookup,
		Domains: &operations.Domains{Config: changer, Store: st, Keys: dkimkey.NewStore(h.paths.ConfigDir), Mailboxes: mbs}}
	return adm, func() { st.Close() }, nil
}

// scrub replaces the temp dir with $DIR.
func (h *host) scrub(s string) string { return strings.ReplaceAll(s, h.dir, "$DIR") }

// fakeUsers is Users in memory.
type fakeUsers struct {
	mu      sync.Mutex
	have    map[string]bool
	created []string
	fail    error
}

func (u *fakeUsers) exists(name string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.have[name]
}

func (u *fakeUsers) Exists(name string) (bool, error) { return u.exists(name), nil }

func (u *fakeUsers) CreateSystem(_ context.Context, name string) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.fail != nil {
		return u.fail
	}
	if u.have[name] {
		return errors.New("useradd: user exists")
	}
	u.have[name] = true
	u.created = append(u.created, name)
	return nil
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
