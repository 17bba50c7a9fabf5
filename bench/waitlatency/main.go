// Command waitlatency measures how soon a waiting email_wait call returns
// after the SMTP `250` of the message it waits for (book/mcp.md, "Waiting for
// mail"; the target of issue 14: p99 under 50 ms). It runs `aimx serve
// --dev` with -n mailboxes, connects one agent per mailbox over aimx.sock
// (mcp-go's streamable HTTP client, as `aimx mcp` does), and for each of
// -rounds rounds parks every agent in email_wait (with the cursor of its
// previous answer), delivers one message to every mailbox at once over SMTP,
// and records per message the time from reading the `250` to the call's
// return. Intake publishes before it answers `250`, so a figure can be
// below zero.
//
//	go build -o /tmp/aimx ./cmd/aimx
//	go run ./bench/waitlatency -aimx /tmp/aimx -n 1 -rounds 200
//	go run ./bench/waitlatency -aimx /tmp/aimx -n 100 -rounds 5 -one-by-one
//	go run ./bench/waitlatency -aimx /tmp/aimx -n 100 -rounds 5
//
// It only talks to 127.0.0.1 and stops by itself.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/client"
	mcpgo "github.com/mark3labs/mcp-go/mcp"

	"github.com/aimx-dev/aimx/bench/hookstart"
	"github.com/aimx-dev/aimx/mcp"
)

const domain = "agent.localhost"

func main() {
	bin := flag.String("aimx", "", "path to the aimx binary (required)")
	n := flag.Int("n", 1, "mailboxes, one waiting agent each")
	rounds := flag.Int("rounds", 200, "deliveries per mailbox")
	park := flag.Duration("park", 30*time.Millisecond, "pause between starting the waits and delivering")
	oneByOne := flag.Bool("one-by-one", false, "deliver a round's messages one after another instead of all at once")
	flag.Parse()
	if *bin == "" {
		fmt.Fprintln(os.Stderr, "usage: waitlatency -aimx PATH [-n 1] [-rounds 200]")
		os.Exit(2)
	}
	if err := run(*bin, *n, *rounds, *park, *oneByOne); err != nil {
		fmt.Fprintln(os.Stderr, "waitlatency:", err)
		os.Exit(1)
	}
}

func run(bin string, n, rounds int, park time.Duration, oneByOne bool) error {
	dir, err := os.MkdirTemp("", "axw")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	u, err := user.Current()
	if err != nil {
		return err
	}
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "domains = [%q]\ndata_dir = \"%s/data\"\nruntime_dir = \"%s/run\"\n\n[smtp]\nmax_connections_per_ip = 1000\n", domain, dir, dir)
	for i := range n {
		name := fmt.Sprintf("w%d@%s", i, domain)
		fmt.Fprintf(&cfg, "\n[mailboxes.%q]\naddress = %q\nowner = %q\n", name, name, u.Username)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(cfg.String()), 0o600); err != nil {
		return err
	}
	cmd := exec.Command(bin, "serve", "--dev", "--dir", dir, "--smtp", "127.0.0.1:0", "--mcp-http", "127.0.0.1:0")
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	listen, err := waitListen(filepath.Join(dir, "run", "listen.json"))
	if err != nil {
		return err
	}
	ctx := context.Background()
	agents := make([]*agent, n)
	for i := range agents {
		cl, err := mcp.DialSocket(ctx, listen["mcp_unix"], mcpgo.ProtocolVersion20251125)
		if err != nil {
			return err
		}
		defer cl.Close()
		a := &agent{cl: cl, mailbox: fmt.Sprintf("w%d@%s", i, domain)}
		if _, err := a.wait(ctx, 0); err != nil { // the first cursor
			return err
		}
		agents[i] = a
	}
	var lat []time.Duration
	for r := range rounds {
		type ret struct {
			at  time.Time
			err error
		}
		rets := make([]chan ret, n)
		for i, a := range agents {
			rets[i] = make(chan ret, 1)
			go func() {
				got, err := a.wait(ctx, 30)
				if err == nil && got != 1 {
					err = fmt.Errorf("%s: %d emails, want 1", a.mailbox, got)
				}
				rets[i] <- ret{time.Now(), err}
			}()
		}
		time.Sleep(park)
		acked := make([]time.Time, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i, a := range agents {
			wg.Add(1)
			deliver := func() {
				defer wg.Done()
				acked[i], errs[i] = hookstart.Deliver(listen["smtp"], a.mailbox, fmt.Sprintf("wait-%d-%d@example.test", r, i))
			}
			if oneByOne {
				deliver()
			} else {
				go deliver()
			}
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return fmt.Errorf("deliver: %w", err)
		}
		for i := range agents {
			got := <-rets[i]
			if got.err != nil {
				return got.err
			}
			lat = append(lat, got.at.Sub(acked[i]))
		}
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }
	how := "all at once"
	if oneByOne {
		how = "one after another"
	}
	fmt.Printf("%d waiting agents, %d rounds of one message each, %s (%d messages): 250 → email_wait returned p50 %s, p99 %s, max %s (min %s)\n",
		n, rounds, how, len(lat), ms(pct(0.50)), ms(pct(0.99)), ms(lat[len(lat)-1]), ms(lat[0]))
	return nil
}

// agent is one MCP client waiting on one mailbox.
type agent struct {
	cl      *client.Client
	mailbox string
	cursor  string
}

// wait calls email_wait with the agent's cursor and keeps the next one; it
// returns how many emails came.
func (a *agent) wait(ctx context.Context, timeout int) (int, error) {
	req := mcpgo.CallToolRequest{}
	req.Params.Name = "email_wait"
	args := map[string]any{"mailbox": a.mailbox, "timeout_secs": timeout}
	if a.cursor != "" {
		args["since_cursor"] = a.cursor
	}
	req.Params.Arguments = args
	res, err := a.cl.CallTool(ctx, req)
	if err != nil {
		return 0, err
	}
	if res.IsError {
		return 0, fmt.Errorf("email_wait: %+v", res.Content)
	}
	raw, err := json.Marshal(res.StructuredContent)
	if err != nil {
		return 0, err
	}
	var out struct {
		Emails []json.RawMessage `json:"emails"`
		Cursor string            `json:"cursor"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return 0, err
	}
	a.cursor = out.Cursor
	return len(out.Emails), nil
}

func waitListen(path string) (map[string]string, error) {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		var m map[string]string
		if data, err := os.ReadFile(path); err == nil && json.Unmarshal(data, &m) == nil && m["smtp"] != "" && m["mcp_unix"] != "" {
			return m, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil, errors.New("aimx serve not ready after 60 s")
}
