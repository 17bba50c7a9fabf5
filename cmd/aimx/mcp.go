package main

import (
	"fmt"
	"log"
	"net"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/aimx-dev/aimx/daemon"
	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/domains/tokens"
	"github.com/aimx-dev/aimx/hooks"
	"github.com/aimx-dev/aimx/internal/mailbus"
	"github.com/aimx-dev/aimx/internal/panics"
	"github.com/aimx-dev/aimx/mcp"
	"github.com/aimx-dev/aimx/operations"
	"github.com/aimx-dev/aimx/search"
	"github.com/aimx-dev/aimx/storage"
)

// Listener names of the MCP transports in listen.json (book/configuration.md).
const (
	listenMCPUnix = "mcp_unix"
	listenMCPHTTP = "mcp_http"
)

// mcpCommand is `aimx mcp`, the stdio bridge an agent harness spawns as
// the agent's user (book/mcp.md).
func (a *app) mcpCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "mcp",
		Short: "Serve MCP on stdin/stdout for an agent harness (forwards to the aimx daemon)",
		Long: "Serve MCP on stdin and stdout, for an agent harness to spawn as the agent's user\n" +
			"(for example `claude mcp add aimx -- aimx mcp`). Every tool call is forwarded to the daemon\n" +
			"over aimx.sock, which acts as the user running this command. The tools are listed even when\n" +
			"the daemon is down; calls then answer that the daemon is not running. Exits 0 when stdin ends.\n\n" +
			"The socket is found from --runtime-dir, AIMX_RUNTIME_DIR, runtime_dir in config.toml (when\n" +
			"readable), else /run/aimx. With none of the path flags or variables given, a dev daemon started\n" +
			"from the current directory (./.aimx-dev/run/aimx.sock, yours and answering) is used first.",
		Args: exactArgs(0),
		RunE: func(*cobra.Command, []string) error {
			sock, hint := a.agentSocket()
			b := mcp.NewBridge(mcp.BridgeOptions{
				SocketPath:  sock,
				ErrorLog:    log.New(a.stderr, "aimx mcp: ", 0),
				PrepareCall: mcp.ReadAttachments(0),
				DownHint:    hint,
			})
			return b.Serve(a.ctx, a.stdin, a.stdout)
		},
	}
}

// agentSocketPath finds aimx.sock as book/configuration.md says: the runtime dir from
// the flag or AIMX_RUNTIME_DIR, else runtime_dir in config.toml if this
// user can read it, else /run/aimx. Nothing is printed: stdout is the
// bridge's protocol stream.
func (a *app) agentSocketPath() string {
	return mcp.SocketPath(a.clientPaths().RuntimeDir)
}

// mcpWiring is what the daemon's MCP transports are built from.
type mcpWiring struct {
	cfg      *domains.Config
	registry *domains.Registry
	store    storage.MessageStore
	changer  *domains.Changer
	paths    domains.Paths
	// tokens checks the bearer tokens of the TCP transport.
	tokens tokens.Backend
	// panics counts the panics the transports and tools recover.
	panics *panics.Counter
	// sender sends mail for the send tools.
	sender *operations.Sender
	// drafts lists the sends held for approval.
	drafts *operations.Drafts
	// search answers email_search (nil: search is off).
	search search.Searcher
	// metrics counts tool calls and connections (nil: off).
	metrics *serveMetrics
	// newMail is the new-mail broadcast email_wait listens to.
	newMail *mailbus.Bus
	// hookSched tells hook_list how each hook last ran (nil: not shown).
	hookSched *hooks.Scheduler
	// dev is the dev dir in dev mode (nil otherwise): a 401 names its
	// token file.
	dev *daemon.DevDir
}

// addMCP builds the tool surface and hands the daemon its transports:
// aimx.sock always, TCP when `[mcp] http_listen` is set (book/admin.md, book/mcp.md).
func (a *app) addMCP(d *daemon.Daemon, w mcpWiring) {
	srv := mcp.NewServer(mcp.Deps{
		Registry:     w.registry,
		Store:        w.store,
		Mailboxes:    &operations.Mailboxes{Config: w.changer, Store: w.store, Log: a.log},
		Hooks:        &operations.Hooks{Config: w.changer},
		Sender:       w.sender,
		Drafts:       w.drafts,
		Search:       w.search,
		Log:          a.log,
		PrivatePaths: []string{w.paths.ConfigDir, w.paths.DataDir, w.paths.RuntimeDir},
		Panics:       w.panics,
		Metrics:      w.metrics.tools(),
		NewMail:      w.newMail,
		HookRuns:     lastHookRuns(w.hookSched),
	})
	peers := mcp.PeerCallers{DaemonUID: os.Geteuid()}
	sock := srv.SocketServer(peers.Caller, a.log)
	path := mcp.SocketPath(w.paths.RuntimeDir)
	d.AddListenerFunc(listenMCPUnix, func() (net.Listener, error) { return sock.Listen(path) }, w.metrics.service(listenMCPUnix, sock))
	if w.cfg.MCP.HTTPListen != "" {
		hs := srv.HTTPServer(mcp.TokenCallers{Store: w.tokens}, a.log)
		if w.dev != nil {
			hs.DevTokenFile = w.dev.MCPTokenFile()
		}
		d.AddListener(listenMCPHTTP, "tcp", w.cfg.MCP.HTTPListen, w.metrics.service(listenMCPHTTP, hs))
	}
}

// lastHookRuns adapts the hook scheduler's LastRun to hook_list's
// last_run (book/mcp.md); the doors do not import package hooks.
func lastHookRuns(s *hooks.Scheduler) mcp.HookRuns {
	if s == nil {
		return nil
	}
	return func(hook string) *operations.HookLastRun {
		lr, ok := s.LastRun(hook)
		if !ok {
			return nil
		}
		return &operations.HookLastRun{At: lr.At.UTC().Format(time.RFC3339), Started: lr.Started, ExitCode: lr.ExitCode,
			DurationMS: lr.Duration.Milliseconds(), TimedOut: lr.TimedOut}
	}
}

// mcpReadyLines are the MCP lines of the ready message: where agents
// connect.
func mcpReadyLines(bound map[string]string) string {
	s := ""
	if p := bound[listenMCPUnix]; p != "" {
		s += fmt.Sprintf("Agents on this host: `aimx mcp` (stdio) reaches %s\n", p)
	}
	if h := bound[listenMCPHTTP]; h != "" {
		s += fmt.Sprintf("MCP over HTTP: http://%s%s (streamable) and http://%s%s (SSE), with Authorization: Bearer <token>\n",
			h, mcp.EndpointPath, h, mcp.SSEPath)
	}
	return s
}
