package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/aimx-dev/aimx/daemon"
	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/internal/mailbus"
	"github.com/aimx-dev/aimx/internal/panics"
	"github.com/aimx-dev/aimx/internal/sdnotify"
	"github.com/aimx-dev/aimx/pgstore/pgconfig"
	"github.com/aimx-dev/aimx/upgrade"
)

// Dev-mode listener defaults (book/dev-mode.md).
const (
	devSMTPListen    = "127.0.0.1:2525"
	devMCPHTTPListen = "127.0.0.1:3025"
)

// serveFlags are the flags of `aimx serve`; the dev ones apply to this run
// only and are never written to config.toml.
type serveFlags struct {
	dev     bool
	dir     string
	domains []string
	smtp    string
	mcpHTTP string
	relay   string
	dns     string
}

func (a *app) serveCommand() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the aimx daemon (SMTP intake, storage, sending, hooks, MCP)",
		Long: "Run the aimx daemon in the foreground. SIGTERM or SIGINT stops it gracefully; SIGHUP reloads config.toml.\n\n" +
			"With --dev it runs as the current user with no root and no port 25, from a self-contained\n" +
			"directory (--dir, default ./.aimx-dev) that is seeded on first use.",
		Args: exactArgs(0),
		RunE: func(*cobra.Command, []string) error { return a.serve(f) },
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.dev, "dev", false, "dev mode: no root, no port 25, everything under --dir")
	fl.StringVar(&f.dir, "dir", ".aimx-dev", "dev mode: the directory holding config, keys, data and sockets")
	fl.StringArrayVar(&f.domains, "domain", nil, "dev mode: domain to seed a new --dir with (repeatable; default agent.localhost)")
	fl.StringVar(&f.smtp, "smtp", "", "SMTP listen address for this run (dev default "+devSMTPListen+"; port 0 picks one)")
	fl.StringVar(&f.mcpHTTP, "mcp-http", "", "dev mode: MCP HTTP listen address for this run (default "+devMCPHTTPListen+"; port 0 picks one)")
	fl.StringVar(&f.relay, "relay", "", "dev mode: [outbound] relay for this run: smtp://[user:pass@]host:port or smtps://...")
	fl.StringVar(&f.dns, "dns", "", "dev mode: send every DNS lookup to this host:port for this run")
	return cmd
}

func (a *app) serve(f serveFlags) error {
	if !f.dev {
		devOnly := []struct {
			name string
			set  bool
		}{{"--dir", f.dir != ".aimx-dev"}, {"--domain", len(f.domains) > 0}, {"--relay", f.relay != ""},
			{"--dns", f.dns != ""}, {"--mcp-http", f.mcpHTTP != ""}}
		for _, o := range devOnly {
			if o.set {
				return usageError{fmt.Errorf("%s needs --dev (outside dev mode, set it in config.toml)", o.name)}
			}
		}
	}
	var dev *daemon.DevDir
	if f.dev {
		u, err := user.Current()
		if err != nil {
			return fmt.Errorf("dev mode: who am I: %w", err)
		}
		if dev, err = daemon.SeedDevDir(f.dir, f.domains, u.Username); err != nil {
			return err
		}
		// Other commands reach a dev daemon with --config-dir DIR.
		a.v.Set("config_dir", dev.Dir)
	}
	// overrides layers this run's flags over a config read from the file;
	// every config the daemon publishes (reloads and changes included)
	// goes through it, so they stay in force.
	overrides := func(cfg *domains.Config) *domains.Config {
		if !f.dev && f.smtp == "" {
			return cfg
		}
		cfg = cfg.Clone()
		if f.dev {
			if f.relay != "" {
				cfg.Outbound.Relay = f.relay
			}
			if f.dns != "" {
				cfg.DNS.Servers = []string{f.dns}
			}
			cfg.SMTP.Listen = orDefault(f.smtp, devSMTPListen)
			cfg.MCP.HTTPListen = orDefault(f.mcpHTTP, devMCPHTTPListen)
		} else {
			cfg.SMTP.Listen = f.smtp
		}
		return cfg
	}
	devOverrides := overrides
	// AIMX_STORAGE_DSN and AIMX_NODE beat [storage] (book/scale-out.md).
	overrides = func(cfg *domains.Config) *domains.Config { return storageEnv(a.env, devOverrides(cfg)) }
	fileCfg, paths, err := a.loadConfig()
	if err != nil {
		return err
	}
	cfg := overrides(fileCfg)
	a.panics = &panics.Counter{} // one count for every component, in /v1/status
	// A single-domain install is migrated before the store opens and any
	// listener binds (book/upgrade.md); the repair below runs after it.
	up := upgrade.Options{Paths: paths, Log: a.log}
	if dev != nil {
		up.DevSeeded = dev.Seeded
	}
	if _, err := upgrade.Run(up); err != nil {
		return err
	}
	be, err := a.openBackend(a.ctx, cfg, paths)
	if err != nil {
		return err
	}
	defer be.close()
	store := be.store
	// With the postgres backend the shared config is the database's
	// (book/scale-out.md, "Configuration across nodes").
	sharedCfg, err := a.sharedConfig(be, paths, overrides)
	if err != nil {
		return err
	}
	if sharedCfg != nil {
		cfg = sharedCfg.cfg
	}
	registry := domains.NewRegistry(cfg)
	changer := &domains.Changer{Store: &domains.Store{Path: paths.ConfigFile()}, Registry: registry, Prepare: overrides}
	if sharedCfg != nil {
		changer.Backend = sharedCfg.store
	}
	d := daemon.New(daemon.Options{Log: a.log, RuntimeDir: paths.RuntimeDir, Changer: changer, Panics: a.panics})
	sm := newServeMetrics(a, cfg) // nil without [metrics] listen (book/operations.md)
	hookSched, err := newHookScheduler(a, cfg, registry, store, paths, sm.hookExecutor, be.hookState())
	if err != nil {
		return err
	}
	d.AddComponent("hooks", hookSched)
	if be.files != nil {
		d.AddComponent("index-warmer", &daemon.IndexWarmer{Registry: registry, Store: store, Log: a.log, Panics: a.panics})
	}
	if be.db != nil {
		d.AddComponent("node", &nodeBeat{a: a, db: be.db, owners: hookSched.Owners})
	}
	// The search index (book/search.md): fed by intake's OnStored, and by
	// the send path and the doors through the store srch.watch wraps.
	srch := newSearch(a, paths, store, registry, be.searchIndex())
	srch.add(d)
	d.AddComponent("trash", &daemon.TrashJanitor{Registry: registry, Store: store, Log: a.log, Panics: a.panics,
		Retention: func(c *domains.Config) time.Duration { return c.Storage.TrashRetention.D() }})
	// Intake tells hooks and the bounce handling about stored mail; the
	// outbound parts are built after intake (local recipients go through
	// it) and before anything is served.
	var out *outboundParts
	// The new-mail broadcast (book/mcp.md, "Waiting for mail"): intake
	// publishes, email_wait and the resource subscriptions listen. It is
	// closed as soon as a shutdown begins, so no wait holds the MCP
	// listeners open until the shutdown deadline.
	newMail := mailbus.New(mailbus.Options{})
	context.AfterFunc(a.ctx, newMail.Close)
	be.mailBridge(d, a, newMail, store, registry)
	smtpSvc, intake, err := newSMTPService(a, cfg, changer, sm.timeStore(store), hookSched, reportWatcher(a, &out, newMailNotify(newMail, srch.onStored(hookEnqueue(hookSched)))), sm.inbound())
	if err != nil {
		return err
	}
	if out, err = newOutbound(a, cfg, changer, srch.watch(store), paths, intake, hookSched, be); err != nil {
		return err
	}
	d.AddComponent("outbound", be.sendWorker(a, out.worker, out.queue))
	if sharedCfg != nil {
		d.AddComponent("config-watch", &pgconfig.Watcher{DB: be.db, Store: sharedCfg.store, Changer: changer,
			Keys: out.keyStore, Ring: out.keys, Log: a.log})
	}
	out.observeRound = sm.round
	sm.gauges(out.queue, hookSched)
	be.sharedMetrics(sm)
	d.AddListener("smtp", "tcp", cfg.SMTP.Listen, sm.service("smtp", smtpSvc))
	toks := be.tokens(paths)
	a.addMCP(d, mcpWiring{cfg: cfg, registry: registry, store: srch.watch(store), search: srch.searcher(), changer: changer, paths: paths, tokens: toks, panics: a.panics,
		sender: out.sender, drafts: out.drafts, metrics: sm, newMail: newMail, hookSched: hookSched, dev: dev})
	a.addAdminSocket(d, changer, srch.watch(store), hookSched, out, toks, paths, a.panics)
	sm.addListener(d, cfg)

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	// systemd learns the daemon is ready only once every listener is
	// bound (Type=notify, book/operations.md), and that it is stopping as
	// soon as a shutdown begins.
	notify := sdnotify.FromEnv(a.env)
	stopWatch := watchStop(a, notify, sm)
	defer stopWatch()
	err = d.Run(a.ctx, hup, func(bound map[string]string) {
		a.printReady(dev, cfg, paths, bound)
		a.announceReady(notify, sm, cfg.Domains, bound)
	})
	if err != nil {
		return err
	}
	// Every listener and component finished in time: nothing was left in
	// flight, so the next start skips the leftover scan (book/storage.md).
	if d.CleanStop() && be.files != nil {
		if err := be.files.MarkCleanStop(); err != nil {
			a.log.Warn().Err(err).Msg("clean stop not recorded; the next start scans for leftovers")
		}
	}
	return nil
}

// printReady tells the person at the terminal what is listening and, in dev
// mode, how to send a first message.
func (a *app) printReady(dev *daemon.DevDir, cfg *domains.Config, paths domains.Paths, bound map[string]string) {
	names := make([]string, 0, len(bound))
	for n := range bound {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	fmt.Fprintf(&b, "aimx is running (domains: %s)\n", strings.Join(cfg.Domains, ", "))
	for _, n := range names {
		fmt.Fprintf(&b, "  %-8s %s\n", n, bound[n])
	}
	fmt.Fprintf(&b, "  data     %s\n  run      %s (listen.json)\n", paths.DataDir, paths.RuntimeDir)
	if dev != nil && len(dev.Seeded) > 0 {
		fmt.Fprintf(&b, "Seeded %s: %s\n", dev.Dir, strings.Join(dev.Seeded, ", "))
	}
	b.WriteString(mcpReadyLines(bound))
	if dev != nil {
		// Commands that work from the checkout without an installed aimx
		// (book/dev-mode.md, "What it prints").
		exe, _ := os.Executable()
		wd, _ := os.Getwd()
		self := selfCommand(exe, wd)
		b.WriteString(devAgentLines(self, dev, bound[listenMCPHTTP]))
		rcpt := "hello@" + cfg.DefaultDomain()
		fmt.Fprintf(&b, "\nSend it a first message:\n\n"+
			"  printf 'From: you@example.com\\r\\nTo: %s\\r\\nSubject: Hello aimx\\r\\n\\r\\nIt works.\\r\\n' | \\\n"+
			"    curl -sS smtp://%s --mail-from you@example.com --mail-rcpt %s --upload-file -\n\n"+
			"and find it under %s\n"+
			"Other commands reach this daemon with --config-dir: %s mailboxes list\n",
			rcpt, bound["smtp"], rcpt, filepath.Join(paths.DataDir, cfg.DefaultDomain(), "inbox", "hello"),
			cmdLine(self, "--config-dir", dev.Dir))
	}
	fmt.Fprint(a.stdout, b.String())
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
