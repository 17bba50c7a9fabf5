package mcp

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	mcpgo "github.com/mark3labs/mcp-go/mcp"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/storage"
)

const benchMessages = 100_000

// benchData returns a data dir whose support@agent.example.com inbox holds
// 100,000 messages (every other one read), written once without fsync and
// reused from the temp dir on later runs.
func benchData(b *testing.B) string {
	b.Helper()
	root := filepath.Join(os.TempDir(), "aimx-mcp-bench-100k")
	data := filepath.Join(root, "data")
	if _, err := os.Stat(filepath.Join(root, "complete")); err == nil {
		return data
	}
	if err := os.RemoveAll(root); err != nil {
		b.Fatal(err)
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		b.Fatal(err)
	}
	st, err := storage.Open(data, storage.Options{})
	if err != nil {
		b.Fatal(err)
	}
	ref := domains.MailboxRef(support)
	if err := st.EnsureMailbox(context.Background(), ref, nil); err != nil {
		b.Fatal(err)
	}
	dir := filepath.Join(data, dom, "inbox", "support")
	for i := range benchMessages {
		at := t0.Add(time.Duration(i) * time.Minute)
		fm := inbound(fmt.Sprintf("Message number %d", i), fmt.Sprintf("Sender %d <s%d@example.org>", i%100, i%100), []string{"true", "false"}[i%2])
		fm.ID, fm.ReceivedAt, fm.Mailbox, fm.Read = storage.BaseStem(at, fm.Subject), at, support, i%2 == 0
		if err := os.WriteFile(filepath.Join(dir, fm.ID+".md"), storage.EncodeMD(&fm, "Hello,\n\nA short body.\n"), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "complete"), nil, 0o600); err != nil {
		b.Fatal(err)
	}
	return data
}

// benchServer serves the 100k fixture with extra empty mailboxes, through
// an in-process client on the agent clients' protocol version.
func benchServer(b *testing.B, extraMailboxes int) (*client.Client, context.Context, *storage.Store) {
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
	cl, err := client.NewInProcessClientWithOptions(srv.MCP(), client.WithProtocolVersion(mcpgo.ProtocolVersion20251125))
	if err != nil {
		b.Fatal(err)
	}
	initClient(b, cl, mcpgo.ProtocolVersion20251125)
	return cl, WithCaller(context.Background(), alice), st
}

// timeCalls runs the call b.N times and reports p50 and p99.
func timeCalls(b *testing.B, cl *client.Client, ctx context.Context, tool string, args func(i int) map[string]any) {
	b.Helper()
	var d []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		req := mcpgo.CallToolRequest{}
		req.Params.Name, req.Params.Arguments = tool, args(i)
		start := time.Now()
		res, err := cl.CallTool(ctx, req)
		d = append(d, time.Since(start))
		if err != nil || res.IsError {
			b.Fatalf("%s: %v %+v", tool, err, res)
		}
	}
	slices.Sort(d)
	b.ReportMetric(float64(d[len(d)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(d[len(d)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkEmailList100k: email_list pages of 50 on a 100k inbox (index
// built before timing), with and without filters.
func BenchmarkEmailList100k(b *testing.B) {
	cases := map[string]map[string]any{
		"page":         {},
		"offset_page":  {"offset": 5000},
		"unread":       {"unread": true},
		"from_subject": {"from": "sender 7", "subject": "number"},
		"since":        {"since": t0.Add(90_000 * time.Minute).Format(time.RFC3339)},
	}
	for name, extra := range cases {
		b.Run(name, func(b *testing.B) {
			cl, ctx, st := benchServer(b, 0)
			if _, err := st.Counts(ctx, domains.MailboxRef(support)); err != nil {
				b.Fatal(err)
			}
			timeCalls(b, cl, ctx, "email_list", func(int) map[string]any {
				args := map[string]any{"mailbox": "support", "limit": 50}
				for k, v := range extra {
					args[k] = v
				}
				return args
			})
		})
	}
}

// BenchmarkEmailRead100k: email_read of spread-out messages of the 100k inbox.
func BenchmarkEmailRead100k(b *testing.B) {
	cl, ctx, _ := benchServer(b, 0)
	timeCalls(b, cl, ctx, "email_read", func(i int) map[string]any {
		n := (i * 7919) % benchMessages
		at := t0.Add(time.Duration(n) * time.Minute)
		return map[string]any{"mailbox": "support", "id": storage.BaseStem(at, fmt.Sprintf("Message number %d", n))}
	})
}

// BenchmarkMailboxList1000: mailbox_list with 1,000 mailboxes (plus the
// 100k one), indexes built before timing.
func BenchmarkMailboxList1000(b *testing.B) {
	cl, ctx, _ := benchServer(b, 999)
	req := mcpgo.CallToolRequest{}
	req.Params.Name = "mailbox_list"
	if _, err := cl.CallTool(ctx, req); err != nil {
		b.Fatal(err)
	}
	timeCalls(b, cl, ctx, "mailbox_list", func(int) map[string]any { return map[string]any{} })
}
