package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/domains/admin"
	"github.com/aimx-dev/aimx/operations"
	"github.com/aimx-dev/aimx/storage"
)

// mailboxSummary is one row of `aimx mailboxes list`: the row of the
// mailbox_list MCP tool (book/mcp.md) and of admin.sock.
type mailboxSummary = operations.MailboxRow

// hookSummary is a hook as `aimx mailboxes show` prints it.
type hookSummary struct {
	Name            string   `json:"name"`
	Event           string   `json:"event"`
	Cmd             []string `json:"cmd"`
	TimeoutSecs     int      `json:"timeout_secs"`
	FireOnUntrusted bool     `json:"fire_on_untrusted"`
}

// mailboxDetail is what `aimx mailboxes show` prints.
type mailboxDetail struct {
	mailboxSummary
	Catchall       bool          `json:"catchall"`
	Trust          string        `json:"trust"`
	TrustedSenders []string      `json:"trusted_senders"`
	Signature      string        `json:"signature"`
	DKIMSelector   string        `json:"dkim_selector"`
	Hooks          []hookSummary `json:"hooks"`
}

func (a *app) mailboxesCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "mailboxes",
		Aliases: []string{"mailbox"},
		Short:   "List, inspect, create and delete mailboxes",
		Long: "List, inspect, create and delete mailboxes. create and delete act as the current user over aimx.sock\n" +
			"(you own what you create); the operator creates catchalls and other owners' mailboxes (--owner)\n" +
			"through admin.sock. With the daemon down, the operator's changes edit config.toml directly.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List every mailbox with its owner and message counts",
		Args:  exactArgs(0),
		RunE:  func(*cobra.Command, []string) error { return a.mailboxesList() },
	}, &cobra.Command{
		Use:   "show NAME",
		Short: "Show one mailbox: owner, counts, effective trust settings and hooks",
		Long:  "Show one mailbox. NAME is its address (support@a.com, *@a.com) or a bare local part of the default domain.",
		Args:  exactArgs(1),
		RunE:  func(_ *cobra.Command, args []string) error { return a.mailboxesShow(args[0]) },
	})
	var owner string
	var forceCreate bool
	create := &cobra.Command{
		Use:   "create NAME [--owner USER] [--force]",
		Short: "Create a mailbox (NAME: local@domain, a bare local part, or *@domain for a catchall)",
		Long: "Create a mailbox. You own what you create. The operator creates catchalls (*@domain), role\n" +
			"addresses (postmaster, abuse, hostmaster, admin, ...: book/security.md) and other owners'\n" +
			"mailboxes (--owner) through admin.sock.\n\n" +
			"Storage left behind by a mailbox removed from config.toml by hand still holds that owner's mail;\n" +
			"creating the name again is refused until the operator passes --force, which deletes that mail.",
		Args: exactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error { return a.mailboxesCreate(args[0], owner, forceCreate) },
	}
	create.Flags().StringVar(&owner, "owner", "", "operator only: the Unix user who owns it (default: you)")
	create.Flags().BoolVar(&forceCreate, "force", false, "operator only: delete mail another owner left in this mailbox's storage, then create it")
	var force bool
	del := &cobra.Command{
		Use:   "delete NAME [--force]",
		Short: "Delete a mailbox; one holding mail needs --force, which deletes its mail too",
		Args:  exactArgs(1),
		RunE:  func(_ *cobra.Command, args []string) error { return a.mailboxesDelete(args[0], force) },
	}
	del.Flags().BoolVar(&force, "force", false, "delete the mailbox even if it holds mail, and the mail with it")
	cmd.AddCommand(create, del)
	return cmd
}

// openStoreReadOnly opens the message store for reading only: it never
// creates, migrates or writes anything (book/storage.md).
func (a *app) openStoreReadOnly(paths domains.Paths) (*storage.Store, error) {
	st, err := storage.OpenReadOnly(paths.DataDir)
	if err != nil {
		return nil, fmt.Errorf("open data dir %s: %w", paths.DataDir, err)
	}
	return st, nil
}

// openCountsReadOnly is openStoreReadOnly for the commands that only
// count: an unmigrated single-domain install is read as it is, from its
// legacy paths, until `aimx serve` migrates it (book/upgrade.md).
func (a *app) openCountsReadOnly(cfg *domains.Config, paths domains.Paths) (operations.Counter, error) {
	st, err := a.openStoreReadOnly(paths)
	if errors.Is(err, storage.ErrLegacyLayout) {
		lv, lerr := storage.OpenLegacyReadOnly(paths.DataDir, cfg.DefaultDomain())
		if lerr != nil {
			return nil, fmt.Errorf("open data dir %s: %w", paths.DataDir, lerr)
		}
		return lv, nil
	}
	if err != nil {
		return nil, err
	}
	return st, nil
}

func (a *app) summary(st operations.Counter, mb domains.Mailbox) (mailboxSummary, error) {
	c, err := st.Counts(a.ctx, domains.MailboxRef(mb.Name))
	if err != nil {
		return mailboxSummary{}, fmt.Errorf("count %s: %w", mb.Name, err)
	}
	return mailboxSummary{Name: mb.Name, Owner: mb.Owner, Total: c.Total, Unread: c.Unread, Sent: c.Sent}, nil
}

// directMailboxes reads every mailbox and its counts from the config and
// storage (book/admin.md: read-only commands read directly when they can).
func (a *app) directMailboxes() ([]mailboxSummary, error) {
	cfg, paths, err := a.loadConfig()
	if err != nil {
		return nil, err
	}
	if storageEnv(a.env, cfg).Storage.IsPostgres() {
		shared, st, done, err := a.sharedReadOnly(cfg, paths)
		if err != nil {
			return nil, err
		}
		defer done()
		return operations.Rows(a.ctx, st, shared, nil)
	}
	st, err := a.openCountsReadOnly(cfg, paths)
	if err != nil {
		return nil, err
	}
	return operations.Rows(a.ctx, st, cfg, nil)
}

// socketMailboxes asks the daemon for the mailboxes the current user may
// see (mailbox_list over aimx.sock), for a user who cannot read the files.
func (a *app) socketMailboxes(cause error) ([]mailboxSummary, error) {
	raw, _, err := a.callTool("mailbox_list", map[string]any{})
	if errors.Is(err, errDaemonDown) {
		return nil, fmt.Errorf("%w, and the daemon is not running to ask instead", cause)
	}
	if err != nil {
		return nil, err
	}
	var res struct {
		Mailboxes []mailboxSummary `json:"mailboxes"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		return nil, fmt.Errorf("mailbox_list result: %w", err)
	}
	return nonNilRows(res.Mailboxes), nil
}

func nonNilRows(r []mailboxSummary) []mailboxSummary {
	if r == nil {
		return []mailboxSummary{}
	}
	return r
}

func (a *app) mailboxesList() error {
	rows, err := a.directMailboxes()
	if permissionDenied(err) {
		rows, err = a.socketMailboxes(err)
	}
	if err != nil {
		return err
	}
	if a.json {
		return a.printJSON(map[string]any{"mailboxes": rows})
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tOWNER\tTOTAL\tUNREAD\tSENT")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\n", r.Name, r.Owner, r.Total, r.Unread, r.Sent)
	}
	return tw.Flush()
}

func (a *app) mailboxesShow(input string) error {
	cfg, paths, err := a.loadConfig()
	if permissionDenied(err) {
		return a.mailboxesShowSocket(input, err)
	}
	if err != nil {
		return err
	}
	var counter operations.Counter
	if storageEnv(a.env, cfg).Storage.IsPostgres() {
		shared, st, done, err := a.sharedReadOnly(cfg, paths)
		if err != nil {
			return err
		}
		defer done()
		cfg, counter = shared, st
	}
	name, err := cfg.ResolveName(input)
	if err != nil {
		return usageError{err}
	}
	mb, ok := cfg.Mailbox(name)
	if !ok {
		return fmt.Errorf("no mailbox %s: `aimx mailboxes list` shows the configured ones", name)
	}
	st := counter
	if st == nil {
		if st, err = a.openCountsReadOnly(cfg, paths); err != nil {
			return err
		}
	}
	sum, err := a.summary(st, mb)
	if permissionDenied(err) {
		return a.mailboxesShowSocket(name, err)
	}
	if err != nil {
		return err
	}
	eff, _ := cfg.EffectiveFor(name)
	d := mailboxDetail{mailboxSummary: sum, Catchall: domains.IsCatchall(name), Trust: string(eff.Trust),
		TrustedSenders: nonNil(eff.TrustedSenders), Signature: eff.Signature, DKIMSelector: eff.DKIMSelector, Hooks: []hookSummary{}}
	for _, h := range mb.Hooks {
		d.Hooks = append(d.Hooks, hookSummary{Name: h.EffectiveName(), Event: string(h.Event), Cmd: h.Cmd,
			TimeoutSecs: h.TimeoutSecs, FireOnUntrusted: h.FireOnUntrusted})
	}
	return a.printDetail(d)
}

// printDetail prints what `aimx mailboxes show` shows.
func (a *app) printDetail(d mailboxDetail) error {
	if a.json {
		return a.printJSON(d)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "name:\t%s\n", d.Name)
	fmt.Fprintf(tw, "owner:\t%s\n", d.Owner)
	fmt.Fprintf(tw, "catchall:\t%t\n", d.Catchall)
	fmt.Fprintf(tw, "messages:\t%d (%d unread), %d sent\n", d.Total, d.Unread, d.Sent)
	fmt.Fprintf(tw, "trust:\t%s\n", d.Trust)
	fmt.Fprintf(tw, "trusted_senders:\t%s\n", strings.Join(d.TrustedSenders, ", "))
	fmt.Fprintf(tw, "signature:\t%q\n", d.Signature)
	fmt.Fprintf(tw, "dkim_selector:\t%s\n", d.DKIMSelector)
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, h := range d.Hooks {
		extra := ""
		if h.FireOnUntrusted {
			extra = ", fires on untrusted mail"
		}
		fmt.Fprintf(a.stdout, "hook %s (%s, %ds%s): %s\n", h.Name, h.Event, h.TimeoutSecs, extra, shellQuote(h.Cmd))
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// mailboxesShowSocket is `show` for a user who cannot read the files: the
// daemon's mailbox_list and hook_list, as that user sees them. The
// effective trust settings live in the config the user cannot read and
// are left out.
func (a *app) mailboxesShowSocket(input string, cause error) error {
	rows, err := a.socketMailboxes(cause)
	if err != nil {
		return err
	}
	raw, _, err := a.callTool("hook_list", map[string]any{"mailbox": input})
	if err != nil {
		return err
	}
	var hl struct {
		Hooks []hookRow `json:"hooks"`
	}
	if err := json.Unmarshal(raw, &hl); err != nil {
		return fmt.Errorf("hook_list result: %w", err)
	}
	// hook_list resolved the name (and refused one the user may not see).
	name := input
	if !strings.Contains(name, "@") && len(hl.Hooks) > 0 {
		name = hl.Hooks[0].Mailbox
	}
	for _, r := range rows {
		if r.Name == name || (!strings.Contains(input, "@") && strings.HasPrefix(r.Name, input+"@")) {
			d := mailboxDetail{mailboxSummary: r, Catchall: strings.HasPrefix(r.Name, "*@"), TrustedSenders: []string{}, Hooks: []hookSummary{}}
			for _, h := range hl.Hooks {
				d.Hooks = append(d.Hooks, hookSummary{Name: h.Name, Event: h.Event, Cmd: h.Cmd, TimeoutSecs: h.TimeoutSecs, FireOnUntrusted: h.FireOnUntrusted})
			}
			return a.printDetail(d)
		}
	}
	return fmt.Errorf("no mailbox %s: `aimx mailboxes list` shows yours", input)
}

// isCatchallInput tells a catchall name before it is resolved (`*` is the
// default domain's).
func isCatchallInput(s string) bool { return s == "*" || strings.HasPrefix(s, "*@") }

// mailboxesCreate creates a mailbox: the current user's over aimx.sock; a
// catchall, a role address, another owner's, or a forced one through
// admin.sock (book/admin.md, book/cli.md; book/security.md).
func (a *app) mailboxesCreate(input, owner string, force bool) error {
	if isCatchallInput(input) || owner != "" || force || domains.IsRoleAddress(input) {
		if owner == "" {
			var err error
			if owner, err = currentUser(); err != nil {
				return err
			}
		}
		var res admin.MailboxCreated
		fellBack, err := a.asOperator("create catchalls, role addresses, other owners' mailboxes or forced ones", true, func(api admin.API) error {
			var err error
			res, err = api.CreateMailbox(a.ctx, admin.NewMailbox{Name: input, Owner: owner, Force: force})
			return err
		})
		if err != nil {
			return err
		}
		return a.printCreated(res, fellBack)
	}
	var raw json.RawMessage
	var text string
	var res admin.MailboxCreated
	fellBack, err := a.asUser("create mailboxes",
		func() error {
			var err error
			raw, text, err = a.callTool("mailbox_create", map[string]any{"name": input})
			return err
		},
		func(adm *admin.Admin) error {
			me, err := currentUser()
			if err != nil {
				return err
			}
			res, err = adm.CreateMailbox(a.ctx, admin.NewMailbox{Name: input, Owner: me})
			return err
		}, true)
	if err != nil {
		return err
	}
	if fellBack {
		return a.printCreated(res, true)
	}
	return a.printToolResult(raw, text)
}

func (a *app) printCreated(res admin.MailboxCreated, fellBack bool) error {
	if fellBack && res.Created {
		fmt.Fprintln(a.stderr, restartHint)
	}
	if a.json {
		return a.printJSON(res)
	}
	if !res.Created {
		_, err := fmt.Fprintf(a.stdout, "mailbox %s already exists (owner %s); nothing changed\n", res.Name, res.Owner)
		return err
	}
	_, err := fmt.Fprintf(a.stdout, "created mailbox %s (owner %s)\n", res.Name, res.Owner)
	return err
}

// printToolResult prints a tool's structured result with --json, else its
// text rendering.
func (a *app) printToolResult(raw json.RawMessage, text string) error {
	if a.json {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return fmt.Errorf("tool result: %w", err)
		}
		return a.printJSON(v)
	}
	_, err := fmt.Fprintln(a.stdout, strings.TrimSpace(text))
	return err
}

// mailboxesDelete deletes a mailbox: over aimx.sock as the current user;
// a catchall through admin.sock (book/admin.md, book/cli.md).
func (a *app) mailboxesDelete(input string, force bool) error {
	var res admin.MailboxDeleted
	if isCatchallInput(input) {
		fellBack, err := a.asOperator("delete catchalls", true, func(api admin.API) error {
			var err error
			res, err = api.DeleteMailbox(a.ctx, input, force)
			return err
		})
		if err != nil {
			return cliNonEmpty(err)
		}
		return a.printDeleted(res, fellBack)
	}
	var raw json.RawMessage
	var text string
	fellBack, err := a.asUser("delete mailboxes",
		func() error {
			var err error
			raw, text, err = a.callTool("mailbox_delete", map[string]any{"name": input, "force": force})
			return err
		},
		func(adm *admin.Admin) error {
			var err error
			res, err = adm.DeleteMailbox(a.ctx, input, force)
			return err
		}, true)
	if err != nil {
		return cliNonEmpty(err)
	}
	if fellBack {
		return a.printDeleted(res, true)
	}
	return a.printToolResult(raw, text)
}

// cliNonEmpty words the refusal to delete a mailbox holding mail for a
// person at the shell: the tool's sentence speaks to an agent.
func cliNonEmpty(err error) error {
	var e *admin.Error
	if errors.As(err, &e) && e.Code == admin.CodeNonEmpty {
		return fmt.Errorf("%s: nothing was deleted; add --force to delete it and its mail", strings.SplitN(e.Message, ";", 2)[0])
	}
	if msg := err.Error(); strings.Contains(msg, "call mailbox_delete again with force: true") {
		return fmt.Errorf("%s; add --force to delete it and its mail", strings.SplitN(msg, ". Confirm", 2)[0])
	}
	return err
}

func (a *app) printDeleted(res admin.MailboxDeleted, fellBack bool) error {
	if fellBack {
		fmt.Fprintln(a.stderr, restartHint)
	}
	if a.json {
		return a.printJSON(res)
	}
	_, err := fmt.Fprintf(a.stdout, "deleted mailbox %s (%d files)\n", res.Name, res.DeletedFiles)
	return err
}
