package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/aimx-dev/aimx/agents"
	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/domains/tokens"
	"github.com/aimx-dev/aimx/mcp"
)

// agentsFlags are the flags of `aimx agents setup` and `remove`.
type agentsFlags struct {
	mailboxes   []string
	httpURL     string
	tokenFile   string
	scope       string
	projectDir  string
	print       bool
	hookRecipes bool
	allowRoot   bool
}

// agentsCommand is `aimx agents setup|list|remove`, which wires an agent
// harness to aimx (book/agents.md).
func (a *app) agentsCommand() *cobra.Command {
	var names []string
	for _, h := range agents.Harnesses() {
		names = append(names, fmt.Sprintf("  %-12s %s", h.Name, h.Title))
	}
	cmd := &cobra.Command{
		Use:     "agents",
		Aliases: []string{"agent"},
		Short:   "Wire an agent harness (Claude Code, Codex, Gemini CLI, Goose, OpenCode) to aimx",
		Long: "Write an agent harness's own MCP configuration so that the agent reaches aimx (through `aimx mcp`,\n" +
			"or over HTTP with a token), and a short instructions file naming its addresses and tools.\n" +
			"Run it as the agent's Unix user, never as root. See book/agents.md.\n\nAgents:\n" + strings.Join(names, "\n"),
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	var sf, rf agentsFlags
	setup := &cobra.Command{
		Use:   "setup AGENT [--mailbox M]... [--http URL --token-file F] [--scope user|project] [--with-hook-recipes] [--print]",
		Short: "Add aimx to an agent harness's MCP config and write its instructions",
		Long: "Add an \"aimx\" MCP server to the harness's config (merged into the existing file, which is first\n" +
			"copied to <file>.aimx-bak once) and write the instructions that tell the agent its addresses and\n" +
			"tools. By default the harness runs this binary's `aimx mcp` as the agent's user; with --http it\n" +
			"reaches the daemon's MCP over HTTP with the token in --token-file (the token is never printed).",
		Args: exactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error { return a.agentsSetup(args[0], sf) },
	}
	fl := setup.Flags()
	fl.StringArrayVar(&sf.mailboxes, "mailbox", nil, "the agent's mailbox, named in its instructions (repeatable; default: the mailboxes you own)")
	fl.StringVar(&sf.httpURL, "http", "", "reach aimx over MCP HTTP at this URL (http://host:3025/mcp) instead of `aimx mcp`")
	fl.StringVar(&sf.tokenFile, "token-file", "", "file holding the bearer token for --http (aimx tokens create)")
	fl.BoolVar(&sf.hookRecipes, "with-hook-recipes", false, "add an example hook_create call that wakes the agent when mail arrives")
	setup.MarkFlagsRequiredTogether("http", "token-file")
	remove := &cobra.Command{
		Use:   "remove AGENT [--scope user|project] [--print]",
		Short: "Take aimx out of an agent harness's MCP config and instructions, keeping the rest",
		Args:  exactArgs(1),
		RunE:  func(_ *cobra.Command, args []string) error { return a.agentsRemove(args[0], rf) },
	}
	for _, c := range []struct {
		cmd *cobra.Command
		f   *agentsFlags
	}{{setup, &sf}, {remove, &rf}} {
		fl := c.cmd.Flags()
		fl.StringVar(&c.f.scope, "scope", string(agents.UserScope), "user (in $HOME, every project) or project (in --project-dir)")
		fl.StringVar(&c.f.projectDir, "project-dir", "", "the project for --scope project (default: the current directory)")
		fl.BoolVar(&c.f.print, "print", false, "show each file and its new content, and write nothing")
		fl.BoolVar(&c.f.allowRoot, "dangerously-allow-root", false, "run as root anyway (an agent running as root sees every mailbox)")
	}
	var listDir string
	list := &cobra.Command{
		Use:   "list",
		Short: "Show which agent harness configs of this user (and the current project) mention aimx",
		Args:  exactArgs(0),
		RunE:  func(*cobra.Command, []string) error { return a.agentsList(listDir) },
	}
	list.Flags().StringVar(&listDir, "project-dir", "", "the project to look in too (default: the current directory)")
	cmd.AddCommand(setup, list, remove)
	return cmd
}

func (a *app) agentsSetup(name string, f agentsFlags) error {
	h, sc, env, err := a.agentsTarget(name, f)
	if err != nil {
		return err
	}
	server, err := a.agentServer(f)
	if err != nil {
		return err
	}
	mailboxes, err := a.agentMailboxes(f.mailboxes, server.HTTP())
	if err != nil {
		return err
	}
	plan, err := agents.PlanSetup(h, env, agents.Request{Scope: sc, Server: server, Mailboxes: mailboxes, HookRecipes: f.hookRecipes})
	if err != nil {
		return fmt.Errorf("%s: %w", h.Title, err)
	}
	if f.print {
		return a.printPlan(plan)
	}
	if err := plan.Apply(); err != nil {
		return fmt.Errorf("%s: %w", h.Title, err)
	}
	a.reportPlan(plan)
	via := strings.Join(server.Command, " ")
	if server.HTTP() {
		via = server.URL + " with the token from " + f.tokenFile
	}
	addr := "no address given: the instructions say to call mailbox_list"
	if len(mailboxes) > 0 {
		addr = "addresses: " + strings.Join(mailboxes, ", ")
	}
	_, err = fmt.Fprintf(a.stdout, "The agent reaches aimx through %s (%s).\nRestart %s to load it; `%s` shows it.\n", via, addr, h.Title, h.Verify)
	return err
}

func (a *app) agentsRemove(name string, f agentsFlags) error {
	h, sc, env, err := a.agentsTarget(name, f)
	if err != nil {
		return err
	}
	plan, err := agents.PlanRemove(h, env, sc)
	if err != nil {
		return fmt.Errorf("%s: %w", h.Title, err)
	}
	if f.print {
		return a.printPlan(plan)
	}
	if err := plan.Apply(); err != nil {
		return fmt.Errorf("%s: %w", h.Title, err)
	}
	a.reportPlan(plan)
	return nil
}

// agentsTarget checks the user and resolves the harness, scope and
// directories of setup and remove.
func (a *app) agentsTarget(name string, f agentsFlags) (agents.Harness, agents.Scope, agents.Env, error) {
	if err := agents.CheckUser(os.Geteuid(), f.allowRoot); err != nil {
		return agents.Harness{}, "", agents.Env{}, err
	}
	h, err := agents.Lookup(name)
	if err != nil {
		return agents.Harness{}, "", agents.Env{}, usageError{err}
	}
	sc, err := agents.ParseScope(f.scope)
	if err != nil {
		return agents.Harness{}, "", agents.Env{}, usageError{err}
	}
	env, err := a.agentsEnv(f.projectDir)
	if err != nil {
		return agents.Harness{}, "", agents.Env{}, err
	}
	// `sudo -u alice` without -H keeps the caller's HOME: alice's agent
	// config would go to someone else's home.
	if fi, err := os.Stat(env.Home); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() && !f.allowRoot {
			return agents.Harness{}, "", agents.Env{}, fmt.Errorf("HOME (%s) belongs to another user: run as the agent's user with its own HOME (sudo -u USER -H ...)", env.Home)
		}
	}
	return h, sc, env, nil
}

// agentsEnv is where the harnesses' files are: $HOME and the variables
// harnesses honor come from the command's environment (book/agents.md).
func (a *app) agentsEnv(projectDir string) (agents.Env, error) {
	home := a.env["HOME"]
	if !filepath.IsAbs(home) {
		return agents.Env{}, errors.New("HOME must be set to the agent user's home directory: the harnesses keep their config there")
	}
	if projectDir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return agents.Env{}, fmt.Errorf("find the current directory: %w", err)
		}
		projectDir = wd
	}
	abs, err := filepath.Abs(projectDir)
	if err != nil {
		return agents.Env{}, fmt.Errorf("project dir: %w", err)
	}
	return agents.Env{Home: home, ProjectDir: abs, Getenv: func(k string) string { return a.env[k] }, LookPath: a.lookPath}, nil
}

// lookPath finds an executable on the command's PATH.
func (a *app) lookPath(name string) (string, error) {
	for _, dir := range filepath.SplitList(a.env["PATH"]) {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 && filepath.IsAbs(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: %w", name, fs.ErrNotExist)
}

// agentServer is how the harness reaches aimx: this binary's `aimx mcp`,
// with the config and runtime dirs this command was pointed at (a dev
// dir, book/dev-mode.md), or MCP over HTTP with a token from a file.
func (a *app) agentServer(f agentsFlags) (agents.Server, error) {
	if f.httpURL != "" {
		u, err := url.Parse(f.httpURL)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return agents.Server{}, usageError{fmt.Errorf("--http must be a URL such as http://mail.example.com:3025/mcp, not %q", f.httpURL)}
		}
		if u.Path == "" || u.Path == "/" {
			u.Path = mcp.EndpointPath
		}
		b, err := os.ReadFile(f.tokenFile)
		if err != nil {
			return agents.Server{}, fmt.Errorf("read the token: %w", err)
		}
		tok := strings.TrimSpace(string(b))
		if !strings.HasPrefix(tok, tokens.SecretPrefix) || strings.ContainsAny(tok, " \t\r\n") {
			return agents.Server{}, fmt.Errorf("%s does not hold one aimx token (%s...): make one with aimx tokens create (book/tokens.md)", f.tokenFile, tokens.SecretPrefix)
		}
		return agents.Server{URL: u.String(), Token: tok}, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return agents.Server{}, fmt.Errorf("find this aimx binary: %w", err)
	}
	if strings.Contains(exe, string(filepath.Separator)+"go-build") {
		fmt.Fprintf(a.stderr, "warning: %s is a temporary `go run` build; install aimx and run setup with the installed binary\n", exe)
	}
	argv := []string{exe}
	given := a.flagPaths()
	if given.ConfigDir != "" {
		dir, err := filepath.Abs(given.ConfigDir)
		if err != nil {
			return agents.Server{}, fmt.Errorf("config dir: %w", err)
		}
		if dir != domains.DefaultConfigDir {
			argv = append(argv, "--config-dir", dir)
		}
	}
	if given.RuntimeDir != "" {
		dir, err := filepath.Abs(given.RuntimeDir)
		if err != nil {
			return agents.Server{}, fmt.Errorf("runtime dir: %w", err)
		}
		argv = append(argv, "--runtime-dir", dir)
	}
	return agents.Server{Command: append(argv, "mcp")}, nil
}

// agentMailboxes are the addresses named in the instructions: the ones
// given (a bare local part is on the default domain), else the mailboxes
// this user owns, asked of the daemon (mailbox_list over aimx.sock) or
// read from a readable config. Catchalls are left out of that default.
// None found is no error: the instructions then say to call mailbox_list.
func (a *app) agentMailboxes(given []string, overHTTP bool) ([]string, error) {
	if len(given) > 0 {
		var cfg *domains.Config
		out := make([]string, 0, len(given))
		for _, g := range given {
			g = strings.ToLower(strings.TrimSpace(g))
			if !strings.Contains(g, "@") {
				if cfg == nil {
					c, _, err := a.loadConfig()
					if err != nil {
						return nil, usageError{fmt.Errorf("--mailbox %s: give the full address (the default domain is unknown: %w)", g, err)}
					}
					cfg = c
				}
				g += "@" + cfg.DefaultDomain()
			}
			name, _, _, err := domains.ParseMailboxName(g)
			if err != nil {
				return nil, usageError{fmt.Errorf("--mailbox: %w", err)}
			}
			out = append(out, name)
		}
		return out, nil
	}
	if overHTTP {
		return nil, nil
	}
	names, err := a.ownMailboxes()
	if err != nil {
		fmt.Fprintf(a.stderr, "note: could not list your mailboxes (%v); the instructions tell the agent to call mailbox_list. Name them with --mailbox.\n", err)
		return nil, nil
	}
	return names, nil
}

// ownMailboxes lists the non-catchall mailboxes this user owns.
func (a *app) ownMailboxes() ([]string, error) {
	raw, _, err := a.callTool("mailbox_list", map[string]any{})
	var rows []mailboxSummary
	if err == nil {
		var res struct {
			Mailboxes []mailboxSummary `json:"mailboxes"`
		}
		if err := json.Unmarshal(raw, &res); err != nil {
			return nil, fmt.Errorf("mailbox_list result: %w", err)
		}
		rows = res.Mailboxes
	} else {
		cfg, _, cerr := a.loadConfig()
		if cerr != nil {
			return nil, fmt.Errorf("%w; %w", err, cerr)
		}
		for _, mb := range cfg.Mailboxes {
			rows = append(rows, mailboxSummary{Name: mb.Name, Owner: mb.Owner})
		}
	}
	me, err := currentUser()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range rows {
		if r.Owner == me && !domains.IsCatchall(r.Name) {
			out = append(out, r.Name)
		}
	}
	slices.Sort(out)
	return out, nil
}

// printPlan is --print: the plan on stdout, and on stderr that nothing was
// written.
func (a *app) printPlan(p *agents.Plan) error {
	if err := p.Print(a.stdout); err != nil {
		return fmt.Errorf("print: %w", err)
	}
	fmt.Fprintln(a.stderr, "--print: nothing was written")
	return nil
}

// reportPlan says what was done to each file (never its content).
func (a *app) reportPlan(p *agents.Plan) {
	if len(p.Changes) == 0 {
		fmt.Fprintf(a.stdout, "%s (%s scope): aimx was not set up; nothing changed.\n", p.Harness.Title, p.Scope)
		return
	}
	fmt.Fprintf(a.stdout, "%s (%s scope):\n", p.Harness.Title, p.Scope)
	for _, c := range p.Changes {
		verb := "updated"
		switch {
		case c.Unchanged:
			verb = "unchanged"
		case c.Delete:
			verb = "deleted"
		case !c.Existed:
			verb = "created"
		}
		extra := ""
		if c.Backup {
			extra = "; the previous file is in " + c.Path + agents.BackupSuffix
		}
		fmt.Fprintf(a.stdout, "  %-9s %s (%s%s)\n", verb, c.Path, c.What, extra)
	}
}

func (a *app) agentsList(projectDir string) error {
	env, err := a.agentsEnv(projectDir)
	if err != nil {
		return err
	}
	rows := agents.List(env)
	if a.json {
		return a.printJSON(struct {
			Agents []agents.Status `json:"agents"`
		}{rows})
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AGENT\tSCOPE\tCONFIG\tAIMX\tINSTRUCTIONS")
	for _, s := range rows {
		state := "-"
		switch {
		case s.Error != "":
			state = "unreadable: " + s.Error
		case !s.ConfigExists:
			state = "(no config file)"
		case len(s.Servers) > 0:
			var parts []string
			for _, sv := range s.Servers {
				parts = append(parts, fmt.Sprintf("%s: %s %s", sv.Name, sv.Transport, sv.Target))
			}
			state = strings.Join(parts, "; ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Agent, s.Scope, s.Config, state, orDefault(s.Instructions, "-"))
	}
	return tw.Flush()
}
