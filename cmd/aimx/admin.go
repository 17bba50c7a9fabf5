package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	mcpgo "github.com/mark3labs/mcp-go/mcp"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/aimx-dev/aimx/daemon"
	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/domains/admin"
	"github.com/aimx-dev/aimx/domains/dkimkey"
	"github.com/aimx-dev/aimx/domains/tokens"
	"github.com/aimx-dev/aimx/hooks"
	"github.com/aimx-dev/aimx/internal/panics"
	"github.com/aimx-dev/aimx/mail/outbound"
	"github.com/aimx-dev/aimx/mcp"
	"github.com/aimx-dev/aimx/operations"
	"github.com/aimx-dev/aimx/storage"
)

// tokenStore is the token file of a config dir (book/configuration.md), shared by the TCP
// transport (verify), admin.sock and the CLI fallback (manage).
func tokenStore(paths domains.Paths) *tokens.Store {
	return &tokens.Store{Path: filepath.Join(paths.ConfigDir, tokens.FileName)}
}

// addAdminSocket serves the operator API on admin.sock (book/admin.md) in the
// daemon: any-owner mailbox and hook CRUD, tokens, reload and status.
func (a *app) addAdminSocket(d *daemon.Daemon, changer *domains.Changer, store storage.MessageStore, sched *hooks.Scheduler, out *outboundParts, toks tokens.Backend, paths domains.Paths, recovered *panics.Counter) {
	started := time.Now()
	version := buildVersion().Version
	queue := out.queue
	mailboxes := &operations.Mailboxes{Config: changer, Store: store, Log: a.log}
	adm := &admin.Admin{
		Config:    changer,
		Panics:    recovered,
		Mailboxes: mailboxes,
		Domains: &operations.Domains{Config: changer, Store: store, Keys: out.keyStore, Ring: out.keys, Queue: queue,
			Mailboxes: mailboxes, Log: a.log},
		Drafts: out.drafts,
		Hooks:  &operations.Hooks{Config: changer},
		Tokens: toks,
		Store:  store,
		Log:    a.log,
		Status: func() admin.Status {
			cfg := changer.Registry.Current()
			return admin.Status{Version: version, StartedAt: started.UTC().Truncate(time.Second),
				UptimeSecs: int64(time.Since(started).Seconds()), Listeners: d.Bound(),
				Domains: cfg.Domains, Mailboxes: len(cfg.Mailboxes), HookJobs: sched.Pending(), Queue: queue.Len()}
		},
	}
	h := admin.Handler(adm, admin.OperatorUID(os.Geteuid()), a.log)
	d.AddListenerFunc("admin", func() (net.Listener, error) { return admin.Listen(paths.RuntimeDir) }, admin.NewServer(h))
}

// errDaemonDown marks a socket nobody answers on, whichever socket.
var errDaemonDown = errors.New("aimx daemon is not running")

// clientPaths resolves the paths a client command uses. A config the
// caller cannot read (a non-operator on a 0640 root file) is no error
// here: the runtime dir then comes from the flags, the environment or the
// default (book/configuration.md), and the daemon answers the rest.
func (a *app) clientPaths() domains.Paths {
	given := a.flagPaths()
	paths := domains.ResolvePaths(given, domains.Paths{}, nil)
	cfg, err := domains.Load(paths.ConfigFile(), domains.LoadOptions{})
	if err != nil {
		// A config that does not load (a typo being fixed, say) still
		// says where its daemon's sockets are: `aimx reload` must reach
		// the daemon running on the previous, good config.
		if rt := peekRuntimeDir(paths.ConfigFile()); rt != "" && given.RuntimeDir == "" {
			paths.RuntimeDir = rt
		}
		return paths
	}
	return domains.ResolvePaths(given, domains.Paths{}, cfg)
}

// maxPeekBytes caps what peekRuntimeDir reads of a config file.
const maxPeekBytes = 1 << 20

// peekRuntimeDir finds a top-level `runtime_dir = "..."` line in a config
// file that does not load as a whole; "" when there is none or the file
// cannot be read. AIMX_RUNTIME_DIR, applied by the caller's flags, still
// wins.
func peekRuntimeDir(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxPeekBytes))
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") {
			return "" // past the top level
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(k) != "runtime_dir" {
			continue
		}
		v = strings.TrimSpace(v)
		if s, err := strconv.Unquote(v); err == nil && filepath.IsAbs(s) {
			return s
		}
		if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' && filepath.IsAbs(v[1:len(v)-1]) {
			return v[1 : len(v)-1]
		}
	}
	return ""
}

// isOperator reports whether this process is the operator for the CLI
// (book/configuration.md): euid 0 or the owner of config.toml.
func isOperator(paths domains.Paths) bool {
	if os.Geteuid() == 0 {
		return true
	}
	fi, err := os.Stat(paths.ConfigFile())
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Geteuid()
}

func currentUser() (string, error) {
	u, err := user.Current()
	if err != nil {
		return "", fmt.Errorf("who am I: %w", err)
	}
	return u.Username, nil
}

// localAdmin is the operator API over the files, for when the daemon is
// down: the same operations the daemon runs, on a config loaded from
// disk. withStore opens the message store too (mailbox commands only:
// opening a new data dir writes its layout marker).
func (a *app) localAdmin(withStore bool) (*admin.Admin, error) {
	cfg, paths, err := a.loadConfig()
	if err != nil {
		return nil, err
	}
	if cfg.Storage.IsPostgres() {
		// The shared config, mail and tokens are in the database; this
		// host's files are not the truth (book/scale-out.md).
		return nil, errors.New("daemon not running: with the postgres backend, start aimx serve on this node (or run the command on another node)")
	}
	changer := &domains.Changer{Store: &domains.Store{Path: paths.ConfigFile()}, Registry: domains.NewRegistry(cfg)}
	// No log: the command prints what it did.
	adm := &admin.Admin{Config: changer, Hooks: &operations.Hooks{Config: changer}, Tokens: tokenStore(paths), Log: zerolog.Nop()}
	if withStore {
		st, err := storage.Open(paths.DataDir, storage.Options{})
		if err != nil {
			return nil, fmt.Errorf("open data dir %s: %w", paths.DataDir, err)
		}
		adm.Store = st
		adm.Mailboxes = &operations.Mailboxes{Config: changer, Store: st}
		// The daemon is down: no signer to publish to, and the queue
		// files are ours to edit.
		q, err := outbound.OpenFileQueue(filepath.Join(paths.DataDir, ".spool", "outbound"), outbound.FileQueueOptions{})
		if err != nil {
			return nil, err
		}
		adm.Domains = &operations.Domains{Config: changer, Store: st, Keys: dkimkey.NewStore(paths.ConfigDir), Queue: q,
			Mailboxes: adm.Mailboxes, Log: zerolog.Nop()}
	}
	return adm, nil
}

// restartHint is what an operator's config change with the daemon down
// prints (book/admin.md).
const restartHint = "daemon not running: changed config.toml; start aimx serve to apply"

// asOperator runs op against admin.sock, or, when the daemon is down and
// this is the operator, against the files; fellBack says which. Anyone
// else with the daemon down gets "daemon must be running".
func (a *app) asOperator(what string, withStore bool, op func(admin.API) error) (fellBack bool, err error) {
	paths := a.clientPaths()
	c := admin.NewClient(paths.RuntimeDir)
	defer c.Close()
	err = op(c)
	switch {
	case errors.Is(err, admin.ErrDaemonDown):
		if !isOperator(paths) {
			return false, fmt.Errorf("daemon must be running to %s: start aimx serve (only the operator can do it with the daemon down)", what)
		}
		adm, lerr := a.localAdmin(withStore)
		if lerr != nil {
			return false, lerr
		}
		return true, op(adm)
	case errors.Is(err, admin.ErrNotOperator):
		return false, fmt.Errorf("only the operator (root or the daemon's user) can %s", what)
	}
	return false, err
}

// callTool calls one MCP tool over aimx.sock as the current user (book/admin.md,
// book/cli.md) and returns its structured result. A tool error comes back as
// an error carrying the tool's sentence; a daemon that is not running as
// errDaemonDown.
func (a *app) callTool(tool string, args map[string]any) (json.RawMessage, string, error) {
	paths := a.clientPaths()
	sock := mcp.SocketPath(paths.RuntimeDir)
	ctx, cancel := context.WithTimeout(a.ctx, 2*time.Minute)
	defer cancel()
	cl, err := mcp.DialSocket(ctx, sock, "")
	if err != nil {
		if socketDown(err) {
			return nil, "", fmt.Errorf("%w (nothing answers on %s)", errDaemonDown, sock)
		}
		return nil, "", err
	}
	defer cl.Close()
	req := mcpgo.CallToolRequest{}
	req.Params.Name = tool
	req.Params.Arguments = args
	res, err := cl.CallTool(ctx, req)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", tool, err)
	}
	text := toolText(res)
	if res.IsError {
		return nil, "", errors.New(cliWording(strings.TrimSpace(text)))
	}
	raw := res.RawStructuredContent
	if len(raw) == 0 && res.StructuredContent != nil {
		if raw, err = json.Marshal(res.StructuredContent); err != nil {
			return nil, "", fmt.Errorf("%s: encode result: %w", tool, err)
		}
	}
	return raw, text, nil
}

// cliWording rewrites the hints of a tool's refusal, written for an agent
// ("Call mailbox_list to see ..."), into the commands a person at the
// terminal runs.
func cliWording(msg string) string {
	return strings.NewReplacer(
		"Call mailbox_list to see the mailboxes you can use.", "Run aimx mailboxes list to see the mailboxes you can use.",
		"Call hook_list to see the hooks you can use.", "Run aimx hooks list to see the hooks you can use.",
		"Call email_list to see the ids.", "The ids are the file names (without .md) in the mailbox's folder.",
		"(mailbox_list)", "(aimx mailboxes list)",
		"Confirm with the user, then call mailbox_delete again with force: true to delete it and its email.",
		"Run aimx mailboxes delete again with --force to delete it and its email.",
	).Replace(msg)
}

// socketDown recognises a socket nobody answers on: missing, or left by a
// daemon that is gone.
func socketDown(err error) bool {
	return mcp.DaemonDown(err) || errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED)
}

func toolText(res *mcpgo.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if t, ok := c.(mcpgo.TextContent); ok {
			b.WriteString(t.Text)
		}
	}
	return b.String()
}

// asUser runs a change as the current user over aimx.sock; with the daemon
// down the operator's change runs on the files (fallback) and anyone
// else's is refused (book/admin.md).
func (a *app) asUser(what string, viaSocket func() error, fallback func(*admin.Admin) error, withStore bool) (fellBack bool, err error) {
	err = viaSocket()
	if !errors.Is(err, errDaemonDown) {
		return false, err
	}
	paths := a.clientPaths()
	if !isOperator(paths) {
		return false, fmt.Errorf("daemon must be running to %s: start aimx serve, or ask the operator", what)
	}
	adm, err := a.localAdmin(withStore)
	if err != nil {
		return false, err
	}
	return true, fallback(adm)
}

// permissionDenied reports whether a direct read failed for lack of
// rights, so a read-only command should ask the daemon instead.
func permissionDenied(err error) bool { return errors.Is(err, fs.ErrPermission) }

func (a *app) reloadCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "reload",
		Short: "Make the running daemon re-read config.toml",
		Long: "Make the running daemon re-read config.toml (as SIGHUP does) through admin.sock. A config that\n" +
			"does not load is refused and the running one kept. Operator only.",
		Args: exactArgs(0),
		RunE: func(*cobra.Command, []string) error {
			paths := a.clientPaths()
			c := admin.NewClient(paths.RuntimeDir)
			defer c.Close()
			r, err := c.Reload(a.ctx)
			switch {
			case errors.Is(err, admin.ErrDaemonDown):
				return fmt.Errorf("daemon not running (nothing answers on %s): nothing to reload; aimx serve reads config.toml when it starts", c.Socket)
			case errors.Is(err, admin.ErrNotOperator):
				return errors.New("only the operator (root or the daemon's user) can reload")
			case err != nil:
				return err
			}
			if a.json {
				return a.printJSON(r)
			}
			_, err = fmt.Fprintf(a.stdout, "reloaded: %d domains (%s), %d mailboxes live\n", len(r.Domains), strings.Join(r.Domains, ", "), r.Mailboxes)
			return err
		},
	}
}
