package inbound

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/aimx-dev/aimx/domains"
)

// Owners are looked up once per config generation, not once per message on
// the way to 250; a new generation looks them up again.
func TestOwnerLookedUpOncePerGeneration(t *testing.T) {
	t.Parallel()
	e := newDeliverEnv(t, envOpts{})
	e.del.lookupOwners = true // as when running as root
	var lookups atomic.Int32
	e.del.cfg.LookupOwner = func(name string) (domains.Owner, error) {
		lookups.Add(1)
		return domains.Owner{Name: name, UID: -1, GID: -1}, nil
	}
	sent := 0
	deliver := func() {
		t.Helper()
		sent++ // a new Message-ID each time: dedup would absorb a re-delivery
		if _, err := e.del.Deliver(context.Background(), Envelope{Recipients: []string{"support@agent.example.com"}},
			simpleMessage(fmt.Sprintf("owner%d@example.org", sent), "owner", "x\r\n")); err != nil {
			t.Fatalf("deliver: %v", err)
		}
	}
	for range 3 {
		deliver()
	}
	if n := lookups.Load(); n != 1 {
		t.Fatalf("%d owner lookups for 3 messages in one generation, want 1", n)
	}
	next := *e.reg.Current()
	e.reg.Swap(&next)
	deliver()
	if n := lookups.Load(); n != 2 {
		t.Fatalf("%d owner lookups after a new generation, want 2", n)
	}
}
