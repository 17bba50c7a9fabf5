package operations

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/domains/dkimkey"
	"github.com/aimx-dev/aimx/mail/outbound"
	"github.com/aimx-dev/aimx/storage"
)

type domainEnv struct {
	ops   *Domains
	store *storage.Store
	queue *outbound.FileQueue
	ring  *dkimkey.Keyring
	keys  *dkimkey.Store
	ch    *domains.Changer
	data  string
}

func newDomainEnv(t *testing.T) *domainEnv {
	t.Helper()
	dir := t.TempDir()
	cfg := testConfig()
	cfg.Domains = append(cfg.Domains, "b.test")
	cfg.Mailboxes["zed@b.test"] = domains.Mailbox{Name: "zed@b.test", Owner: "tester"}
	cfg.Mailboxes["amy@b.test"] = domains.Mailbox{Name: "amy@b.test", Owner: "tester"}
	sel := "bsel"
	cfg.Overrides = map[string]domains.DomainOverride{"b.test": {DKIMSelector: &sel}}
	opts := domains.LoadOptions{LookupOwner: func(n string) (domains.Owner, error) {
		return domains.Owner{Name: n, UID: os.Getuid(), GID: os.Getgid()}, nil
	}}
	cs := &domains.Store{Path: filepath.Join(dir, "config.toml"), Options: opts}
	if err := cs.Save(cfg); err != nil {
		t.Fatal(err)
	}
	e := &domainEnv{data: filepath.Join(dir, "data"), keys: dkimkey.NewStore(dir), ring: dkimkey.NewKeyring()}
	e.ch = &domains.Changer{Store: cs, Registry: domains.NewRegistry(cfg)}
	var err error
	if e.store, err = storage.Open(e.data, storage.Options{}); err != nil {
		t.Fatal(err)
	}
	if e.queue, err = outbound.OpenFileQueue(filepath.Join(dir, "queue"), outbound.FileQueueOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.queue.Close() })
	for _, d := range []string{"a.test", "b.test"} {
		k, err := e.keys.Generate(d, dkimkey.RSA, false)
		if err != nil {
			t.Fatal(err)
		}
		e.ring.Publish(&dkimkey.KeySet{Domain: d, RSA: k})
	}
	mb := &Mailboxes{Config: e.ch, Store: e.store, LookupOwner: opts.LookupOwner}
	e.ops = &Domains{Config: e.ch, Store: e.store, Keys: e.keys, Ring: e.ring, Queue: e.queue, Mailboxes: mb}
	return e
}

func (e *domainEnv) put(t *testing.T, name string) {
	t.Helper()
	ref := domains.MailboxRef(name)
	if err := e.store.EnsureMailbox(context.Background(), ref, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Put(context.Background(), storage.PutRequest{Mailbox: ref, Folder: storage.Inbox,
		Frontmatter: storage.Frontmatter{MessageID: "m@" + name, To: []string{name}}, Body: "hi"}); err != nil {
		t.Fatal(err)
	}
}

func TestDomainsListAndAdd(t *testing.T) {
	t.Parallel()
	e := newDomainEnv(t)
	ctx := context.Background()
	e.put(t, "zed@b.test")
	rows, err := e.ops.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []DomainRow{
		{Domain: "a.test", Default: true, DKIMLoaded: true, DKIMSelector: "aimx", Mailboxes: 3, Overrides: []string{}},
		{Domain: "b.test", DKIMLoaded: true, DKIMSelector: "bsel", Mailboxes: 2, Unread: 1, Overrides: []string{"dkim_selector"}},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Fatalf("rows\n%+v\nwant\n%+v", rows, want)
	}

	for _, bad := range []string{"", "nodot", "-x.test", "a..test", "x_y.test"} {
		if _, err := e.ops.Add(ctx, AddDomain{Domain: bad}); !errors.Is(err, ErrInvalidDomain) {
			t.Errorf("add %q: %v", bad, err)
		}
	}
	if _, err := e.ops.Add(ctx, AddDomain{Domain: "B.Test."}); !errors.Is(err, ErrDomainExists) {
		t.Fatalf("existing: %v", err)
	}
	// The signer must have the key when the config naming the domain
	// goes live.
	e.ch.OnPublish = func(c *domains.Config) {
		if slices.Contains(c.Domains, "c.test") {
			if _, err := e.ring.KeySet("c.test"); err != nil {
				t.Errorf("config live before the key: %v", err)
			}
		}
	}
	res, err := e.ops.Add(ctx, AddDomain{Domain: "C.test", Selector: "csel", CatchallOwner: "tester"})
	if err != nil {
		t.Fatal(err)
	}
	if !res.KeyCreated || res.Selector != "csel" || res.Catchall != "*@c.test" || !strings.HasSuffix(res.KeyPath, "c.test/private.key") {
		t.Fatalf("added %+v", res)
	}
	var types []string
	for _, r := range res.Records {
		types = append(types, r.Name+" "+r.Type+" "+strings.SplitN(r.Value, ";", 2)[0])
	}
	if strings.Join(types, "|") != "c.test. MX 10 a.test.|c.test. TXT v=spf1 mx -all|csel._domainkey.c.test. TXT v=DKIM1|_dmarc.c.test. TXT v=DMARC1" {
		t.Fatalf("records %v", types)
	}
	cfg := e.ch.Registry.Current()
	if !slices.Contains(cfg.Domains, "c.test") || cfg.EffectiveForDomain("c.test").DKIMSelector != "csel" {
		t.Fatalf("config %v", cfg.Domains)
	}
	if _, ok := cfg.Mailboxes["*@c.test"]; !ok {
		t.Fatal("no catchall")
	}
	onDisk, err := domains.Load(e.ch.Store.Path, e.ch.Store.Options)
	if err != nil || !slices.Contains(onDisk.Domains, "c.test") {
		t.Fatalf("config.toml: %v %v", onDisk, err)
	}
}

func TestDomainsRemove(t *testing.T) {
	t.Parallel()
	e := newDomainEnv(t)
	ctx := context.Background()
	e.put(t, "zed@b.test")
	e.put(t, "support@a.test")
	// Queued mail of a b.test mailbox and of an a.test one.
	for _, mb := range []string{"zed@b.test", testMailbox} {
		if _, err := e.queue.Enqueue(ctx, outbound.Submission{From: mb, Mailbox: mb, Recipients: []string{"x@example.org"}, SentID: "s", Data: []byte("x")}, time.Now()); err != nil {
			t.Fatal(err)
		}
	}

	if _, err := e.ops.Remove(ctx, "nope.test", true); !errors.Is(err, ErrDomainNotServed) {
		t.Fatalf("unknown: %v", err)
	}
	var ne *DomainNotEmptyError
	if _, err := e.ops.Remove(ctx, "b.test", false); !errors.As(err, &ne) || !reflect.DeepEqual(ne.Mailboxes, []string{"amy@b.test", "zed@b.test"}) {
		t.Fatalf("not empty: %v", err)
	}
	res, err := e.ops.Remove(ctx, "b.test", true)
	if err != nil {
		t.Fatal(err)
	}
	if res.DeletedFiles < 1 || res.QueueDropped != 1 || !strings.HasSuffix(res.KeysKept, "b.test") || res.NewDefault != "" {
		t.Fatalf("removed %+v", res)
	}
	if _, err := os.Stat(filepath.Join(e.data, "b.test")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the domain's tree is still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(res.KeysKept, "private.key")); err != nil {
		t.Fatalf("the key was not kept: %v", err)
	}
	if _, err := e.ring.KeySet("b.test"); !errors.Is(err, dkimkey.ErrNoKey) {
		t.Fatal("the signer still has the removed domain's key")
	}
	cfg := e.ch.Registry.Current()
	if slices.Contains(cfg.Domains, "b.test") || cfg.Overrides["b.test"].DKIMSelector != nil || len(mailboxesOf(cfg, "b.test")) != 0 {
		t.Fatalf("config still names b.test: %+v", cfg)
	}
	if e.queue.Len() != 1 {
		t.Fatalf("the other mailbox's queued mail went too: %d left", e.queue.Len())
	}
	c, _ := e.store.Counts(ctx, domains.MailboxRef(testMailbox))
	if c.Total != 1 {
		t.Fatal("a surviving mailbox lost mail")
	}

	// The default domain and the last domain.
	if _, err := e.ops.Add(ctx, AddDomain{Domain: "c.test"}); err != nil {
		t.Fatal(err)
	}
	var de *DefaultDomainError
	if _, err := e.ops.Remove(ctx, "a.test", false); !errors.As(err, &ne) {
		t.Fatalf("default with mailboxes: %v", err)
	}
	e2 := newDomainEnv(t)
	if _, err := e2.ops.Remove(ctx, "b.test", true); err != nil {
		t.Fatal(err)
	}
	if _, err := e2.ops.Remove(ctx, "a.test", true); !errors.Is(err, ErrLastDomain) {
		t.Fatalf("last domain: %v", err)
	}
	// An empty default domain still needs force, and says what follows.
	e3 := newDomainEnv(t)
	if _, err := e3.ch.Update(func(c *domains.Config) error {
		for _, n := range []string{testMailbox, "bob@a.test", "*@a.test"} {
			delete(c.Mailboxes, n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := e3.ops.Remove(ctx, "a.test", false); !errors.As(err, &de) || de.NextDefault != "b.test" {
		t.Fatalf("default: %v", err)
	}
	res, err = e3.ops.Remove(ctx, "a.test", true)
	if err != nil || res.NewDefault != "b.test" || e3.ch.Registry.Current().DefaultDomain() != "b.test" {
		t.Fatalf("forced default removal: %+v %v", res, err)
	}
}

// failingStore fails RemoveDomain once.
type failingStore struct {
	*storage.Store
	fail bool
}

func (f *failingStore) RemoveDomain(ctx context.Context, d string) (int, error) {
	if f.fail {
		f.fail = false
		return 0, errors.New("disk on fire")
	}
	return f.Store.RemoveDomain(ctx, d)
}

func TestDomainsRemoveResumesAfterAFailure(t *testing.T) {
	t.Parallel()
	e := newDomainEnv(t)
	ctx := context.Background()
	e.put(t, "zed@b.test")
	fs := &failingStore{Store: e.store, fail: true}
	e.ops.Store = fs
	if _, err := e.ops.Remove(ctx, "b.test", true); err == nil {
		t.Fatal("the failure was not reported")
	}
	// The running view is the old one: the domain is still served.
	if !slices.Contains(e.ch.Registry.Current().Domains, "b.test") {
		t.Fatal("the config changed although the removal failed")
	}
	if _, err := e.ring.KeySet("b.test"); err != nil {
		t.Fatal("the signer lost the key although the removal failed")
	}
	if _, err := e.ops.Remove(ctx, "b.test", true); err != nil {
		t.Fatalf("the second run did not complete: %v", err)
	}
	if slices.Contains(e.ch.Registry.Current().Domains, "b.test") {
		t.Fatal("not removed")
	}
}
