package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	mcpgo "github.com/mark3labs/mcp-go/mcp"
)

// mcpConn is one initialized mcp-go client over the daemon's TCP
// streamable HTTP transport with the dev token (book/mcp.md), speaking
// 2025-11-25, the version most agent clients speak.
type mcpConn struct {
	cl *client.Client
}

// dialMCP connects and initializes (MCP: initialize).
func dialMCP(ctx context.Context, addr, token string) (*mcpConn, error) {
	tr, err := transport.NewStreamableHTTP("http://"+addr+"/mcp",
		transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + token}))
	if err != nil {
		return nil, fmt.Errorf("mcp: %w", err)
	}
	cl := client.NewClient(tr, client.WithProtocolVersion(mcpgo.ProtocolVersion20251125))
	if err := cl.Start(ctx); err != nil {
		return nil, fmt.Errorf("mcp start: %w", err)
	}
	init := mcpgo.InitializeRequest{}
	init.Params.ClientInfo = mcpgo.Implementation{Name: "aimx-bench", Version: "1"}
	init.Params.ProtocolVersion = mcpgo.ProtocolVersion20251125
	if _, err := cl.Initialize(ctx, init); err != nil {
		_ = cl.Close()
		return nil, fmt.Errorf("mcp initialize: %w", err)
	}
	return &mcpConn{cl: cl}, nil
}

func (c *mcpConn) close() { _ = c.cl.Close() }

// call runs one tool (MCP: tools/call) and decodes its structured result
// into out (when not nil). A tool error is an error.
func (c *mcpConn) call(ctx context.Context, tool string, args map[string]any, out any) error {
	req := mcpgo.CallToolRequest{}
	req.Params.Name = tool
	req.Params.Arguments = args
	res, err := c.cl.CallTool(ctx, req)
	if err != nil {
		return fmt.Errorf("%s: %w", tool, err)
	}
	if res.IsError {
		msg := "tool error"
		if len(res.Content) > 0 {
			if t, ok := res.Content[0].(mcpgo.TextContent); ok {
				msg = t.Text
			}
		}
		return fmt.Errorf("%s: %s", tool, msg)
	}
	if out == nil {
		return nil
	}
	if res.StructuredContent == nil {
		return fmt.Errorf("%s: no structured result", tool)
	}
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		return fmt.Errorf("%s: %w", tool, err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s: %w", tool, err)
	}
	return nil
}

// listResult is the part of email_list's result the benchmark reads.
type listResult struct {
	Emails []struct {
		ID string `json:"id"`
	} `json:"emails"`
	Total int `json:"total"`
}

// timeCalls runs fn n times and returns each call's duration.
func timeCalls(n int, fn func(i int) error) (latencies, error) {
	out := make(latencies, 0, n)
	for i := range n {
		t := time.Now()
		if err := fn(i); err != nil {
			return nil, err
		}
		out = append(out, time.Since(t))
	}
	return out, nil
}

// readiness is when, after the daemon's start, each first answer came.
type readiness struct {
	Listen      time.Duration // listen.json written
	EmailList   time.Duration // first email_list page of the largest mailbox
	MailboxList time.Duration // first mailbox_list (counts every mailbox)
}

// waitReady measures a fresh start: listen.json, then an initialized MCP
// session, then the first email_list of mailbox, then mailbox_list.
// A call that fails because the daemon is not up yet is retried.
func waitReady(ctx context.Context, d *daemonProc, mailbox string, want int) (readiness, *mcpConn, error) {
	var r readiness
	var err error
	if r.Listen, err = d.waitListen(60 * time.Second); err != nil {
		return r, nil, err
	}
	tok, err := d.token()
	if err != nil {
		return r, nil, err
	}
	var c *mcpConn
	for c == nil {
		if c, err = dialMCP(ctx, d.Listen["mcp_http"], tok); err != nil {
			if time.Since(d.started) > 30*time.Second {
				return r, nil, err
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	var lr listResult
	if err := c.call(ctx, "email_list", map[string]any{"mailbox": mailbox, "limit": 50}, &lr); err != nil {
		c.close()
		return r, nil, err
	}
	r.EmailList = time.Since(d.started)
	if lr.Total != want || len(lr.Emails) != min(50, want) {
		c.close()
		return r, nil, fmt.Errorf("email_list %s: total %d, %d emails; want %d", mailbox, lr.Total, len(lr.Emails), want)
	}
	if err := c.call(ctx, "mailbox_list", map[string]any{}, nil); err != nil {
		c.close()
		return r, nil, err
	}
	r.MailboxList = time.Since(d.started)
	return r, c, nil
}

var errNoIDs = errors.New("email_list returned no ids")
