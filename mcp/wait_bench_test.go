package mcp

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/internal/mailbus"
	"github.com/aimx-dev/aimx/storage"
)

// BenchmarkEmailWaitWake measures, in process, the time from the new-mail
// broadcast (which intake sends just before its `250`) to the return of
// the email_wait calls waiting for that mail: waiters agents each wait on
// the inbox with a subject of their own, one stored message each is
// published at once, and p50/p99 are reported over every message
// (bench/README.md, "Waiting for mail").
//
//	go test ./mcp/ -run '^$' -bench EmailWaitWake -benchtime 200x
func BenchmarkEmailWaitWake(b *testing.B) {
	for _, waiters := range []int{1, 100} {
		b.Run(fmt.Sprintf("waiters=%d", waiters), func(b *testing.B) {
			cfg := domains.Default(dom)
			cfg.Mailboxes = map[string]domains.Mailbox{support: {Name: support, Owner: "alice"}}
			store, err := storage.Open(b.TempDir(), storage.Options{})
			if err != nil {
				b.Fatal(err)
			}
			bus := mailbus.New(mailbus.Options{})
			srv := NewServer(Deps{Registry: domains.NewRegistry(cfg), Store: store, NewMail: bus})
			cl, err := client.NewInProcessClientWithOptions(srv.MCP(), client.WithProtocolVersion(protocolVersions[0]))
			if err != nil {
				b.Fatal(err)
			}
			initClient(b, cl, protocolVersions[0])
			// Every message is stored before the clock starts: intake
			// stores (and fsyncs) before it publishes.
			ids := make([][]string, b.N)
			for i := range b.N {
				for w := range waiters {
					fm := inbound(fmt.Sprintf("<%d-%d>", i, w), "a@example.org", "true")
					fm.ReceivedAt = time.Now().UTC().Truncate(time.Second)
					st, err := store.Put(context.Background(), storage.PutRequest{Mailbox: domains.MailboxRef(support),
						Folder: storage.Inbox, At: fm.ReceivedAt, Frontmatter: fm, Body: "x"})
					if err != nil {
						b.Fatal(err)
					}
					ids[i] = append(ids[i], st.ID)
				}
			}
			var lat []time.Duration
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				returned := make([]time.Time, waiters)
				var wg sync.WaitGroup
				for w := range waiters {
					wg.Add(1)
					go func() {
						defer wg.Done()
						res, err := rawCall(context.Background(), cl, alice, "email_wait",
							map[string]any{"mailbox": support, "subject": fmt.Sprintf("<%d-%d>", i, w), "timeout_secs": 30})
						if err != nil || res.IsError {
							panic(fmt.Sprint("email_wait: ", err, res))
						}
						returned[w] = time.Now()
					}()
				}
				for bus.Subscribers() < waiters {
					time.Sleep(100 * time.Microsecond)
				}
				b.StartTimer()
				published := make([]time.Time, waiters)
				for w := range waiters {
					published[w] = time.Now()
					bus.Publish(support, ids[i][w], time.Now())
				}
				wg.Wait()
				for w := range waiters {
					lat = append(lat, returned[w].Sub(published[w]))
				}
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[min(len(lat)-1, len(lat)*99/100)].Microseconds())/1000, "p99-ms")
		})
	}
}
