package mcp

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	mcpgo "github.com/mark3labs/mcp-go/mcp"
	"github.com/rs/zerolog"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/storage"
)

// benchSocket serves the 100k fixture (plus extra empty mailboxes) on a
// real aimx.sock, the peer as alice, and returns a streamable-HTTP client
// over the socket: the path `aimx mcp` and the owner CLI take.
func benchSocket(b *testing.B, extraMailboxes int, version string) (*client.Client, *storage.Store) {
	b.Helper()
	cfg := domains.Default(dom, dom2)
	cfg.Mailboxes = map[string]domains.Mailbox{support: {Name: support, Owner: "alice"}}
	for i := range extraMailboxes {
		n := fmt.Sprintf("box%d@%s", i, dom)
		cfg.Mailboxes[n] = domains.Mailbox{Name: n, Owner: "alice"}
	}
	st, err := storage.OpenReadOnly(benchData(b))
	if err != nil {
		b.Fatal(err)
	}
	srv := NewServer(Deps{Registry: domains.NewRegistry(cfg), Store: st})
	dir, err := os.MkdirTemp("", "axb")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	ss := srv.SocketServer(func(uint32) (Caller, bool) { return alice, true }, zerolog.Nop())
	ln, err := ss.Listen(SocketPath(dir))
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = ss.Serve(ln) }()
	b.Cleanup(func() { _ = ss.Shutdown(context.Background()) })
	cl, err := DialSocket(context.Background(), SocketPath(dir), version)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cl.Close() })
	return cl, st
}

var benchVersions = map[string]string{"v2025": mcpgo.ProtocolVersion20251125, "v2026": mcpgo.ProtocolVersion20260728}

// BenchmarkSocketEmailList100k: email_list pages of 50 over aimx.sock on
// a 100k inbox (index built before timing), with and without filters.
func BenchmarkSocketEmailList100k(b *testing.B) {
	cases := map[string]map[string]any{
		"page":         {},
		"unread":       {"unread": true},
		"from_subject": {"from": "sender 7", "subject": "number"},
	}
	for vn, v := range benchVersions {
		for name, extra := range cases {
			b.Run(vn+"/"+name, func(b *testing.B) {
				cl, st := benchSocket(b, 0, v)
				if _, err := st.Counts(context.Background(), domains.MailboxRef(support)); err != nil {
					b.Fatal(err)
				}
				timeCalls(b, cl, context.Background(), "email_list", func(int) map[string]any {
					args := map[string]any{"mailbox": "support", "limit": 50}
					for k, v := range extra {
						args[k] = v
					}
					return args
				})
			})
		}
	}
}

// BenchmarkSocketEmailRead100k: email_read over aimx.sock of spread-out
// messages of the 100k inbox.
func BenchmarkSocketEmailRead100k(b *testing.B) {
	for vn, v := range benchVersions {
		b.Run(vn, func(b *testing.B) {
			cl, _ := benchSocket(b, 0, v)
			timeCalls(b, cl, context.Background(), "email_read", func(i int) map[string]any {
				n := (i * 7919) % benchMessages
				at := t0.Add(time.Duration(n) * time.Minute)
				return map[string]any{"mailbox": "support", "id": storage.BaseStem(at, fmt.Sprintf("Message number %d", n))}
			})
		})
	}
}

// BenchmarkSocketMailboxList1000: mailbox_list over aimx.sock with 1,000
// mailboxes (one of them the 100k inbox), indexes built before timing.
func BenchmarkSocketMailboxList1000(b *testing.B) {
	for vn, v := range benchVersions {
		b.Run(vn, func(b *testing.B) {
			cl, _ := benchSocket(b, 999, v)
			req := mcpgo.CallToolRequest{}
			req.Params.Name = "mailbox_list"
			if _, err := cl.CallTool(context.Background(), req); err != nil {
				b.Fatal(err)
			}
			timeCalls(b, cl, context.Background(), "mailbox_list", func(int) map[string]any { return map[string]any{} })
		})
	}
}
