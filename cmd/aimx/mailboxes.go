package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/storage"
)

// mailboxSummary is one row of `aimx mailboxes list` (the shape of the
// mailbox_list MCP tool, SPEC §10).
type mailboxSummary struct {
	Name   string `json:"name"`
	Owner  string `json:"owner"`
	Total  int    `json:"total"`
	Unread int    `json:"unread"`
	Sent   int    `json:"sent"`
}

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
		Short:   "List and inspect mailboxes",
		Args:    exactArgs(0),
		RunE:    func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
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
	return cmd
}

// openStoreReadOnly opens the message store for reading only: it never
// creates, migrates or writes anything (SPEC §4).
func (a *app) openStoreReadOnly(paths domains.Paths) (*storage.Store, error) {
	st, err := storage.OpenReadOnly(paths.DataDir)
	if err != nil {
		return nil, fmt.Errorf("open data dir %s: %w", paths.DataDir, err)
	}
	return st, nil
}

func storageRef(name string) storage.MailboxRef {
	_, domain := domains.SplitName(name)
	return storage.MailboxRef{Domain: domain, Local: domains.StorageDir(name)}
}

func (a *app) summary(st *storage.Store, mb domains.Mailbox) (mailboxSummary, error) {
	c, err := st.Counts(a.ctx, storageRef(mb.Name))
	if err != nil {
		return mailboxSummary{}, fmt.Errorf("count %s: %w", mb.Name, err)
	}
	return mailboxSummary{Name: mb.Name, Owner: mb.Owner, Total: c.Total, Unread: c.Unread, Sent: c.Sent}, nil
}

func (a *app) mailboxesList() error {
	cfg, paths, err := a.loadConfig()
	if err != nil {
		return err
	}
	st, err := a.openStoreReadOnly(paths)
	if err != nil {
		return err
	}
	rows := []mailboxSummary{}
	for _, name := range cfg.MailboxNames() {
		mb, _ := cfg.Mailbox(name)
		row, err := a.summary(st, mb)
		if err != nil {
			return err
		}
		rows = append(rows, row)
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
	if err != nil {
		return err
	}
	name, err := cfg.ResolveName(input)
	if err != nil {
		return usageError{err}
	}
	mb, ok := cfg.Mailbox(name)
	if !ok {
		return fmt.Errorf("no mailbox %s: `aimx mailboxes list` shows the configured ones", name)
	}
	st, err := a.openStoreReadOnly(paths)
	if err != nil {
		return err
	}
	sum, err := a.summary(st, mb)
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
		fmt.Fprintf(a.stdout, "hook %s (%s, %ds%s): %s\n", h.Name, h.Event, h.TimeoutSecs, extra, strings.Join(h.Cmd, " "))
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
