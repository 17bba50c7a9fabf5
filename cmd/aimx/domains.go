package main

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/domains/admin"
	"github.com/aimx-dev/aimx/domains/dkimkey"
	"github.com/aimx-dev/aimx/operations"
)

func (a *app) domainsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "domains",
		Aliases: []string{"domain"},
		Short:   "List, add and remove the domains this server receives and sends mail for (operator only)",
		Long: "List, add and remove the served domains (book/multi-domain.md). The first domain is the default:\n" +
			"bare mailbox names mean it. The operator's changes go through admin.sock and are live at once;\n" +
			"with the daemon down they edit config.toml and the key files directly.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List the domains: default, DKIM key and selector, mailboxes, unread mail, overrides",
		Args:  exactArgs(0),
		RunE:  func(*cobra.Command, []string) error { return a.domainsList() },
	})
	var selector, catchallOwner string
	add := &cobra.Command{
		Use:   "add DOMAIN [--selector S] [--catchall-owner USER]",
		Short: "Serve a new domain: DKIM key, config, optional catchall; prints the DNS records to publish",
		Args:  exactArgs(1),
		RunE:  func(_ *cobra.Command, args []string) error { return a.domainsAdd(args[0], selector, catchallOwner) },
	}
	add.Flags().StringVar(&selector, "selector", "", "DKIM selector for this domain (default: the global dkim_selector)")
	add.Flags().StringVar(&catchallOwner, "catchall-owner", "", "also create the domain's catchall (*@DOMAIN), owned by this user")
	var force bool
	remove := &cobra.Command{
		Use:   "remove DOMAIN [--force]",
		Short: "Stop serving a domain; with mailboxes on it (or for the default domain) it needs --force",
		Long: "Stop serving a domain. It is refused while mailboxes exist on the domain (they are listed) and for\n" +
			"the default domain; --force deletes those mailboxes with all their mail and drops their queued\n" +
			"outgoing mail. The last domain is never removed. The DKIM key files are kept.",
		Args: exactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error { return a.domainsRemove(args[0], force) },
	}
	remove.Flags().BoolVar(&force, "force", false, "delete the domain's mailboxes and their mail; allow removing the default domain")
	cmd.AddCommand(add, remove)
	return cmd
}

func (a *app) domainsList() error {
	var list admin.DomainList
	err := a.readAsOperator("list domains", func(api admin.API) error {
		var err error
		list, err = api.ListDomains(a.ctx)
		return err
	}, func() error {
		// The daemon is down: read config, keys and storage as they are,
		// writing nothing (book/cli.md).
		cfg, paths, err := a.loadConfig()
		if err != nil {
			return err
		}
		st, err := a.openStoreReadOnly(paths)
		if err != nil {
			return err
		}
		defer st.Close()
		ops := &operations.Domains{Config: &domains.Changer{Registry: domains.NewRegistry(cfg)}, Store: st, Keys: dkimkey.NewStore(paths.ConfigDir)}
		list.Domains, err = ops.List(a.ctx)
		return err
	})
	if err != nil {
		return err
	}
	if a.json {
		return a.printJSON(list)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DOMAIN\tDEFAULT\tDKIM\tSELECTOR\tMAILBOXES\tUNREAD\tOVERRIDES")
	for _, d := range list.Domains {
		def, key, ov := "", "missing", "-"
		if d.Default {
			def = "yes"
		}
		if d.DKIMLoaded {
			key = "loaded"
		}
		if len(d.Overrides) > 0 {
			ov = strings.Join(d.Overrides, ",")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\n", d.Domain, def, key, d.DKIMSelector, d.Mailboxes, d.Unread, ov)
	}
	return tw.Flush()
}

// readAsOperator runs a read-only operator request over admin.sock, or
// direct when the daemon is down and this is the operator.
func (a *app) readAsOperator(what string, viaSocket func(admin.API) error, direct func() error) error {
	paths := a.clientPaths()
	c := admin.NewClient(paths.RuntimeDir)
	defer c.Close()
	err := viaSocket(c)
	switch {
	case errors.Is(err, admin.ErrDaemonDown):
		if !isOperator(paths) {
			return fmt.Errorf("only the operator (root or the daemon's user) can %s", what)
		}
		return direct()
	case errors.Is(err, admin.ErrNotOperator):
		return fmt.Errorf("only the operator (root or the daemon's user) can %s", what)
	}
	return err
}

func (a *app) domainsAdd(domain, selector, catchallOwner string) error {
	var res admin.DomainAdded
	fellBack, err := a.asOperator("add domains", true, func(api admin.API) error {
		var err error
		res, err = api.AddDomain(a.ctx, admin.NewDomain{Domain: domain, Selector: selector, CatchallOwner: catchallOwner})
		return err
	})
	if err != nil {
		return err
	}
	if a.json {
		return a.printJSON(res)
	}
	key := "reused the DKIM key at " + res.KeyPath
	if res.KeyCreated {
		key = "created a DKIM key at " + res.KeyPath
	}
	fmt.Fprintf(a.stdout, "Added %s (selector %s; %s).\n", res.Domain, res.Selector, key)
	if res.Catchall != "" {
		fmt.Fprintf(a.stdout, "Created the catchall %s.\n", res.Catchall)
	}
	fmt.Fprintf(a.stdout, "\nPublish these DNS records for %s:\n\n", res.Domain)
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	for _, r := range res.Records {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", r.Name, r.Type, quoteTXT(r))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if fellBack {
		fmt.Fprintln(a.stderr, restartHint)
	}
	return nil
}

// quoteTXT writes a TXT value as a zone file would.
func quoteTXT(r operations.DNSRecord) string {
	if r.Type != "TXT" {
		return r.Value
	}
	return `"` + r.Value + `"`
}

func (a *app) domainsRemove(domain string, force bool) error {
	var res admin.DomainRemoved
	fellBack, err := a.asOperator("remove domains", true, func(api admin.API) error {
		var err error
		res, err = api.RemoveDomain(a.ctx, domain, force)
		return err
	})
	if err != nil {
		return err
	}
	if a.json {
		return a.printJSON(res)
	}
	fmt.Fprintf(a.stdout, "Removed %s", res.Domain)
	if len(res.Mailboxes) > 0 {
		fmt.Fprintf(a.stdout, " with its mailboxes %s (%d files deleted)", strings.Join(res.Mailboxes, ", "), res.DeletedFiles)
	}
	fmt.Fprintln(a.stdout, ".")
	if res.QueueDropped > 0 {
		fmt.Fprintf(a.stdout, "Dropped %d queued outgoing messages.\n", res.QueueDropped)
	}
	if res.NewDefault != "" {
		fmt.Fprintf(a.stdout, "%s is now the default domain.\n", res.NewDefault)
	}
	if res.KeysKept != "" {
		fmt.Fprintf(a.stdout, "Its DKIM keys are kept in %s.\n", res.KeysKept)
	}
	if fellBack {
		fmt.Fprintln(a.stderr, restartHint)
	}
	return nil
}
