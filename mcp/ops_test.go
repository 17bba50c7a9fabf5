package mcp

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/operations"
	"github.com/aimx-dev/aimx/storage"
)

// claimStore records who claims storage. With rendezvous set, each
// EnsureMailbox waits (up to a backstop) for a second one to arrive: on
// code that claims before deciding, two racing creates both get here. Refs
// in foreign hold another owner's mail until RemoveMailbox.
type claimStore struct {
	storage.MessageStore
	mu         sync.Mutex
	claims     []int // uids, in order
	removed    []storage.MailboxRef
	foreign    map[storage.MailboxRef]bool
	rendezvous chan struct{}
}

func (s *claimStore) EnsureMailbox(_ context.Context, ref storage.MailboxRef, owner *storage.Owner) error {
	s.mu.Lock()
	foreign := s.foreign[ref]
	s.mu.Unlock()
	if foreign {
		return fmt.Errorf("ensure mailbox %s: %w", ref, storage.ErrForeignMail)
	}
	if s.rendezvous != nil {
		select {
		case s.rendezvous <- struct{}{}:
		case <-s.rendezvous:
		case <-time.After(300 * time.Millisecond): // alone: the other create waits for our lock
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.claims = append(s.claims, owner.UID)
	return nil
}

func (s *claimStore) RemoveMailbox(_ context.Context, ref storage.MailboxRef) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.removed = append(s.removed, ref)
	delete(s.foreign, ref)
	return 3, nil
}

// uidOwners gives alice and bob distinct uids (nothing is chowned: the
// store is a fake).
func uidOwners(name string) (domains.Owner, error) {
	switch name {
	case "alice":
		return domains.Owner{Name: name, UID: 1001, GID: 1001}, nil
	case "bob":
		return domains.Owner{Name: name, UID: 1002, GID: 1002}, nil
	case "root":
		return domains.Owner{Name: name}, nil
	}
	return domains.Owner{}, fmt.Errorf("user %s: unknown user", name)
}

// Two owners creating one name at once: one wins, and only the winner
// touches storage, so the storage owner and the config owner agree.
func TestL2_ConcurrentCreateOneClaim(t *testing.T) {
	t.Parallel()
	for i := range 5 {
		e := newEnv(t)
		st := &claimStore{MessageStore: e.store, rendezvous: make(chan struct{})}
		ops := &operations.Mailboxes{Config: e.ops.Config, Store: st, LookupOwner: uidOwners}
		name := fmt.Sprintf("race%d@%s", i, dom)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for j, who := range []string{"alice", "bob"} {
			wg.Go(func() {
				_, errs[j] = ops.Create(context.Background(), operations.NewMailbox{Name: name, Owner: who, Door: operations.OperatorDoor})
			})
		}
		wg.Wait()
		winner := e.reg.Current().Mailboxes[name].Owner
		if winner == "" {
			t.Fatalf("nobody won: %v", errs)
		}
		taken := 0
		for _, err := range errs {
			switch {
			case errors.Is(err, operations.ErrMailboxTaken):
				taken++
			case err != nil:
				t.Fatal(err)
			}
		}
		if taken != 1 {
			t.Fatalf("want one winner and one loser told the name is taken: %v", errs)
		}
		want, _ := uidOwners(winner)
		if len(st.claims) != 1 || st.claims[0] != want.UID {
			t.Fatalf("storage claimed by uids %v; the config owner is %s (uid %d)", st.claims, winner, want.UID)
		}
	}
}

// Storage that still holds another owner's mail is never handed over: the
// MCP create is refused without naming that owner and leaves no config
// entry.
func TestM6_ForeignMailRefusedOverMCP(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := "old@" + dom
	st := &claimStore{MessageStore: e.store, foreign: map[storage.MailboxRef]bool{domains.MailboxRef(name): true}}
	e.ops = &operations.Mailboxes{Config: e.ops.Config, Store: st, LookupOwner: testOwners}
	e.srv = NewServer(Deps{Registry: e.reg, Store: e.store, Mailboxes: e.ops})
	cl := e.client(protocolVersions[0])
	for _, who := range []Caller{alice, operator} {
		args := map[string]any{"name": "old"}
		if who.Operator {
			args["owner"] = "bob"
		}
		r := e.callAs(cl, who, "mailbox_create", args).fails(t, "storage for "+name+" already holds mail of another owner")
		if !strings.Contains(r.text, "--force") || strings.Contains(r.text, e.data) {
			t.Errorf("refusal: %q", r.text)
		}
		if _, ok := e.reg.Current().Mailboxes[name]; ok {
			t.Fatal("a refused create left a config entry")
		}
		cfg, err := domains.Load(e.cfgPath, domains.LoadOptions{LookupOwner: testOwners})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := cfg.Mailboxes[name]; ok {
			t.Fatal("a refused create left an entry in config.toml")
		}
	}
	if len(st.removed) != 0 {
		t.Fatalf("MCP wiped storage: %v", st.removed)
	}
}

// The operator's door may force: the old mail is deleted, then the
// storage claimed for the new owner.
func TestM6_ForceWipesForeignMail(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	name := "old@" + dom
	st := &claimStore{MessageStore: e.store, foreign: map[storage.MailboxRef]bool{domains.MailboxRef(name): true}}
	ops := &operations.Mailboxes{Config: e.ops.Config, Store: st, LookupOwner: uidOwners}
	if _, err := ops.Create(context.Background(), operations.NewMailbox{Name: name, Owner: "alice", Door: operations.OperatorDoor}); !errors.Is(err, storage.ErrForeignMail) {
		t.Fatalf("unforced create: %v", err)
	}
	res, err := ops.Create(context.Background(), operations.NewMailbox{Name: name, Owner: "alice", Force: true, Door: operations.OperatorDoor})
	if err != nil || !res.Created {
		t.Fatalf("forced create: %+v %v", res, err)
	}
	if len(st.removed) != 1 || st.removed[0] != domains.MailboxRef(name) || len(st.claims) != 1 || st.claims[0] != 1001 {
		t.Fatalf("removed %v, claims %v", st.removed, st.claims)
	}
	if e.reg.Current().Mailboxes[name].Owner != "alice" {
		t.Fatal("forced create not in the config")
	}
}

// Role addresses (postmaster@, abuse@, ...) are refused through MCP to
// every caller, the operator's agent included; nothing changes.
func TestM8_RoleAddressRefusedOverMCP(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cl := e.client(protocolVersions[0])
	before := len(e.reg.Current().Mailboxes)
	for _, name := range []string{"postmaster", "abuse@" + dom2, "hostmaster@" + dom, "admin", "administrator", "webmaster", "security", "root", "mailer-daemon", "noc"} {
		for _, who := range []Caller{alice, operator} {
			args := map[string]any{"name": name}
			if who.Operator {
				args["owner"] = "alice"
			}
			e.callAs(cl, who, "mailbox_create", args).fails(t, "is a role address")
		}
	}
	if n := len(e.reg.Current().Mailboxes); n != before {
		t.Fatalf("%d mailboxes now, %d before", n, before)
	}
	e.callAs(cl, alice, "mailbox_create", map[string]any{"name": "postmaster+alice"}).ok(t)
}
