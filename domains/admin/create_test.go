package admin

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/operations"
	"github.com/aimx-dev/aimx/storage"
)

// The operator's door creates role addresses (MCP refuses them: see
// mcp.TestM8_RoleAddressRefusedOverMCP).
func TestM8_OperatorCreatesRoleAddresses(t *testing.T) {
	t.Parallel()
	f := newFixture(t, everyone)
	ctx := context.Background()
	for _, name := range []string{"postmaster", "abuse@" + dom, "hostmaster"} {
		got, err := f.client.CreateMailbox(ctx, NewMailbox{Name: name, Owner: "alice"})
		if err != nil || !got.Created {
			t.Fatalf("operator create %s: %+v %v", name, got, err)
		}
		if !domains.IsRoleAddress(got.Name) || f.admin.Config.Registry.Current().Mailboxes[got.Name].Owner != "alice" {
			t.Fatalf("%s: %+v", name, got)
		}
	}
}

// foreignStore holds another owner's mail for every mailbox until it is
// removed.
type foreignStore struct {
	storage.MessageStore
	mu      sync.Mutex
	wiped   map[storage.MailboxRef]bool
	removed int
}

func (s *foreignStore) EnsureMailbox(ctx context.Context, ref storage.MailboxRef, owner *storage.Owner) error {
	s.mu.Lock()
	wiped := s.wiped[ref]
	s.mu.Unlock()
	if !wiped {
		return fmt.Errorf("ensure mailbox %s: %w", ref, storage.ErrForeignMail)
	}
	return s.MessageStore.EnsureMailbox(ctx, ref, owner)
}

func (s *foreignStore) RemoveMailbox(ctx context.Context, ref storage.MailboxRef) (int, error) {
	s.mu.Lock()
	s.wiped[ref] = true
	s.removed++
	s.mu.Unlock()
	return s.MessageStore.RemoveMailbox(ctx, ref)
}

// Storage holding another owner's mail: refused as a conflict that says
// how to force, leaving no config entry; force=true wipes and creates.
func TestM6_OperatorForce(t *testing.T) {
	t.Parallel()
	f := newFixture(t, everyone)
	st := &foreignStore{MessageStore: f.store, wiped: map[storage.MailboxRef]bool{}}
	f.admin.Mailboxes = &operations.Mailboxes{Config: f.admin.Config, Store: st, LookupOwner: testOwners}
	ctx := context.Background()
	_, err := f.client.CreateMailbox(ctx, NewMailbox{Name: "old", Owner: "bob"})
	wantCode(t, "create over foreign mail", err, CodeConflict, 409)
	if err == nil || !strings.Contains(err.Error(), "already holds mail of another owner") || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("refusal: %v", err)
	}
	if _, ok := f.admin.Config.Registry.Current().Mailboxes["old@"+dom]; ok || st.removed != 0 {
		t.Fatalf("refused create changed something (removed %d)", st.removed)
	}
	got, err := f.client.CreateMailbox(ctx, NewMailbox{Name: "old", Owner: "bob", Force: true})
	if err != nil || !got.Created || st.removed != 1 {
		t.Fatalf("forced create: %+v %v (removed %d)", got, err, st.removed)
	}
	if f.admin.Config.Registry.Current().Mailboxes["old@"+dom].Owner != "bob" {
		t.Fatal("forced create not live")
	}
}
