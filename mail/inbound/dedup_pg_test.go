package inbound

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aimx-dev/aimx/internal/pgtest"
	"github.com/aimx-dev/aimx/pgstore"
	"github.com/aimx-dev/aimx/pgstore/pgmessages"
	"github.com/aimx-dev/aimx/storage"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// TestDedupAcrossNodesPostgres drives intake's dedup over the postgres
// backend as two nodes see it: two Deliverers, each with its own
// in-process index and its own connection pool, over one database. The
// same message delivered to both at once is stored once and fires once
// (book/scale-out.md, "Messages in PostgreSQL").
func TestDedupAcrossNodesPostgres(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	var fired atomic.Int64
	node := func(name string) *testEnv {
		db, err := pgstore.Open(ctx, dsn, pgstore.Options{Node: name})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(db.Close)
		st := pgmessages.New(db, pgmessages.Options{})
		return newDeliverEnv(t, envOpts{
			wrap:    func(storage.MessageStore) storage.MessageStore { return st },
			deliver: func(c *Config) { c.OnStored = func(StoredMessage) { fired.Add(1) } },
		})
	}
	a, b := node("a"), node("b")
	const n = 15
	var stored, dups atomic.Int64
	for i := range n {
		raw := simpleMessage(fmt.Sprintf("m%d@example.org", i), fmt.Sprintf("message %d", i), "body\r\n")
		var wg sync.WaitGroup
		for _, e := range []*testEnv{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				out, err := e.del.Deliver(ctx, Envelope{RemoteIP: netip.MustParseAddr("192.0.2.1"), Helo: "h.example.org",
					MailFrom: "a@example.org", Recipients: []string{"support@agent.example.com"}, ID: "d"}, raw)
				if err != nil {
					t.Error(err)
					return
				}
				for _, mo := range out.Mailboxes {
					switch {
					case mo.Err != nil:
						t.Errorf("message %d: %v", i, mo.Err)
					case mo.Duplicate:
						dups.Add(1)
					default:
						stored.Add(1)
					}
				}
			}()
		}
		wg.Wait()
	}
	if stored.Load() != n || dups.Load() != n {
		t.Fatalf("stored %d and absorbed %d of %d messages delivered twice: want each stored once", stored.Load(), dups.Load(), n)
	}
	res, err := a.store.List(ctx, storage.ListQuery{Mailbox: ref("support@agent.example.com"), Folder: storage.Inbox, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if res.Total != n || fired.Load() != n {
		t.Fatalf("the database holds %d messages and intake told %d stored, want %d each", res.Total, fired.Load(), n)
	}
}
