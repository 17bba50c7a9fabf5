package mcp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"sync"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	mcpgo "github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// Manifest is the compiled-in tool list: names, schemas, descriptions and
// annotations, the same on every transport. The stdio bridge serves it
// without a daemon.
func Manifest() []mcpgo.Tool { return NewServer(Deps{}).Tools() }

// BridgeOptions configure the stdio bridge.
type BridgeOptions struct {
	// SocketPath is aimx.sock (found as book/configuration.md says by the caller).
	SocketPath string
	// ProtocolVersion the bridge speaks to the daemon; "" lets mcp-go
	// negotiate (2026-07-28, stateless, so a daemon restart costs no
	// session).
	ProtocolVersion string
	// PrepareCall, when set, may rewrite a call before it is forwarded.
	// It is the seam for the outbound issue's `paths` argument of the send
	// tools: files the agent names are read here, as the agent's user, and
	// turned into `attachments` before the daemon sees the call. nil
	// forwards every call verbatim. An error is answered as the tool's
	// error text.
	PrepareCall func(ctx context.Context, req *mcpgo.CallToolRequest) error
	// ErrorLog receives mcp-go's stdio errors (never stdout); nil discards.
	ErrorLog *log.Logger
	// DownHint, when set, ends the answer given while the daemon is not
	// running: `aimx mcp` says there how to reach a dev daemon when no
	// path was given (book/mcp.md).
	DownHint string
}

// Bridge is `aimx mcp` (book/mcp.md): a stdio MCP server with the
// compiled-in tool list that forwards each tools/call to aimx.sock and
// returns the daemon's result verbatim. The daemon sees the bridge's uid,
// so the agent acts as the user the harness runs it as.
type Bridge struct {
	opts BridgeOptions
	mcp  *server.MCPServer

	// base, set by Serve, bounds forwarded calls instead of the stdio
	// request context, which mcp-go cancels at stdin EOF: a call read
	// before EOF is still answered.
	base context.Context

	mu sync.Mutex
	cl *client.Client // connected lazily, dropped on a transport error
}

// NewBridge builds the bridge; it connects to the daemon on the first
// call, not before, so tools/list answers with the daemon down.
func NewBridge(opts BridgeOptions) *Bridge {
	b := &Bridge{opts: opts}
	tools := Manifest()
	names := make([]string, len(tools))
	for i, t := range tools {
		names[i] = t.Name
	}
	b.mcp = server.NewMCPServer(ServerName, ServerVersion,
		server.WithToolCapabilities(false),
		server.WithRecovery(),
		server.WithInstructions(instructions),
		// The daemon's order, mailbox_list first (caller_fit.go).
		server.WithToolFilter(manifestOrder(names)),
	)
	for _, t := range tools {
		b.mcp.AddTool(t, b.forward)
	}
	return b
}

// MCP returns the bridge's mcp-go server (tests drive it in process).
func (b *Bridge) MCP() *server.MCPServer { return b.mcp }

// Serve speaks MCP on stdin and stdout until stdin ends (nil: exit 0) or
// ctx is cancelled. Only protocol goes to stdout. It installs no signal
// handler (mcp-go's ServeStdio would).
func (b *Bridge) Serve(ctx context.Context, stdin io.Reader, stdout io.Writer) error {
	defer b.Close()
	b.base = ctx
	st := server.NewStdioServer(b.mcp)
	errLog := b.opts.ErrorLog
	if errLog == nil {
		errLog = log.New(io.Discard, "", 0)
	}
	st.SetErrorLogger(errLog)
	if err := st.Listen(ctx, stdin, stdout); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("stdio: %w", err)
	}
	return nil
}

// Close drops the connection to the daemon.
func (b *Bridge) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cl == nil {
		return nil
	}
	err := b.cl.Close()
	b.cl = nil
	if err != nil {
		return fmt.Errorf("close daemon connection: %w", err)
	}
	return nil
}

// DaemonNotRunning is the error text of every call made while nothing
// answers on aimx.sock (book/mcp.md).
func DaemonNotRunning(path string) string {
	return "aimx daemon is not running (nothing answers on " + path + "). " +
		"Ask the operator to start it (`aimx serve`, or `systemctl start aimx`), then call the tool again."
}

// daemonNotRunning is DaemonNotRunning with the bridge's DownHint.
func (b *Bridge) daemonNotRunning() string {
	msg := DaemonNotRunning(b.opts.SocketPath)
	if b.opts.DownHint != "" {
		msg += " " + b.opts.DownHint
	}
	return msg
}

// forward is every tool's handler in the bridge.
func (b *Bridge) forward(ctx context.Context, req mcpgo.CallToolRequest) (*mcpgo.CallToolResult, error) {
	if b.base != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(context.WithoutCancel(ctx))
		defer cancel()
		defer context.AfterFunc(b.base, cancel)()
	}
	if b.opts.PrepareCall != nil {
		if err := b.opts.PrepareCall(ctx, &req); err != nil {
			return mcpgo.NewToolResultError(err.Error()), nil
		}
	}
	// The daemon gets exactly the tool's name and arguments; the bridge's
	// own request metadata (progress tokens, ...) stays here.
	out := mcpgo.CallToolRequest{}
	out.Params.Name = req.Params.Name
	out.Params.Arguments = req.Params.Arguments
	for attempt := 0; ; attempt++ {
		cl, err := b.client(ctx)
		if err != nil {
			if DaemonDown(err) {
				return mcpgo.NewToolResultError(b.daemonNotRunning()), nil
			}
			return mcpgo.NewToolResultError(fmt.Sprintf("aimx could not reach its daemon: %v. Try again; if it persists, ask the operator to check the aimx log.", err)), nil
		}
		res, err := cl.CallTool(ctx, out)
		if err == nil {
			// The tool's answer byte for byte (structuredContent keeps its
			// wire bytes); the result's protocol fields (_meta, the
			// 2026-07-28 resultType) belong to the bridge's own session
			// with the agent.
			return &mcpgo.CallToolResult{Content: res.Content, StructuredContent: res.StructuredContent,
				RawStructuredContent: res.RawStructuredContent, IsError: res.IsError}, nil
		}
		var trErr *transport.Error
		if !errors.As(err, &trErr) || ctx.Err() != nil {
			// The daemon answered (or the agent gave up): not a
			// connection problem.
			return mcpgo.NewToolResultError(fmt.Sprintf("aimx daemon refused %s: %v", req.Params.Name, err)), nil
		}
		b.drop(cl)
		// A daemon restarted since the last call fails the first attempt
		// before the call is sent; one reconnect answers it.
		if attempt == 0 {
			continue
		}
		if DaemonDown(err) {
			return mcpgo.NewToolResultError(b.daemonNotRunning()), nil
		}
		return mcpgo.NewToolResultError(fmt.Sprintf("aimx daemon did not answer %s: %v. It may not have run; check with a read-only tool before retrying.", req.Params.Name, err)), nil
	}
}

// client returns the connection to the daemon, connecting if needed.
func (b *Bridge) client(ctx context.Context) (*client.Client, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cl != nil {
		return b.cl, nil
	}
	cl, err := DialSocket(ctx, b.opts.SocketPath, b.opts.ProtocolVersion)
	if err != nil {
		return nil, err
	}
	b.cl = cl
	return cl, nil
}

// drop forgets a connection that failed, if it is still the current one.
func (b *Bridge) drop(cl *client.Client) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cl == cl {
		_ = cl.Close() // the call's error is what we report
		b.cl = nil
	}
}
