package main

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/aimx-dev/aimx/domains/admin"
)

func (a *app) draftsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "drafts",
		Aliases: []string{"draft"},
		Short:   "List, approve and reject sends held for approval (operator only)",
		Long: "A mailbox whose send policy has send_approval = \"required\" holds every send as a draft until the\n" +
			"operator approves it (book/sending.md). Agents see their drafts (draft_list) but cannot approve them.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List the held sends",
		Args:  exactArgs(0),
		RunE:  func(*cobra.Command, []string) error { return a.draftsList("") },
	}, &cobra.Command{
		Use:   "show ID",
		Short: "Show one held send",
		Args:  exactArgs(1),
		RunE:  func(_ *cobra.Command, args []string) error { return a.draftsList(args[0]) },
	}, &cobra.Command{
		Use:   "approve ID",
		Short: "Approve a held send: it is delivered from now on",
		Args:  exactArgs(1),
		RunE:  func(_ *cobra.Command, args []string) error { return a.draftsDecide(args[0], true) },
	}, &cobra.Command{
		Use:   "reject ID",
		Short: "Reject a held send: it is never delivered, and its sent copy says so",
		Args:  exactArgs(1),
		RunE:  func(_ *cobra.Command, args []string) error { return a.draftsDecide(args[0], false) },
	})
	return cmd
}

// draftsList lists the drafts, or shows one when id is set.
func (a *app) draftsList(id string) error {
	c := admin.NewClient(a.clientPaths().RuntimeDir)
	defer c.Close()
	list, err := c.ListDrafts(a.ctx)
	if err != nil {
		return a.operatorErr("list drafts", err)
	}
	if id != "" {
		var found []admin.Draft
		for _, d := range list.Drafts {
			if d.ID == id {
				found = append(found, d)
			}
		}
		if len(found) == 0 {
			return fmt.Errorf("no draft %q is waiting; aimx drafts list shows them", id)
		}
		list.Drafts = found
	}
	if a.json {
		if id != "" {
			return a.printJSON(list.Drafts[0])
		}
		return a.printJSON(list)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tMAILBOX\tRECIPIENTS\tSUBJECT\tHELD SINCE\tSENT COPY")
	for _, d := range list.Drafts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%q\t%s\t%s\n", d.ID, d.Mailbox, strings.Join(d.Recipients, ","), d.Subject,
			d.Held.UTC().Format("2006-01-02 15:04"), d.SentID)
	}
	return tw.Flush()
}

func (a *app) draftsDecide(id string, approve bool) error {
	c := admin.NewClient(a.clientPaths().RuntimeDir)
	defer c.Close()
	var d admin.Draft
	var err error
	verb := "rejected"
	if approve {
		verb = "approved"
		d, err = c.ApproveDraft(a.ctx, id)
	} else {
		d, err = c.RejectDraft(a.ctx, id)
	}
	if err != nil {
		return a.operatorErr(map[bool]string{true: "approve", false: "reject"}[approve]+" drafts", err)
	}
	if a.json {
		return a.printJSON(d)
	}
	_, err = fmt.Fprintf(a.stdout, "%s draft %s from %s (sent copy %s)\n", verb, d.ID, d.Mailbox, d.SentID)
	return err
}

// operatorErr words the errors of an operator command that needs the
// daemon.
func (a *app) operatorErr(what string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, admin.ErrDaemonDown):
		return fmt.Errorf("daemon must be running to %s: start aimx serve", what)
	case errors.Is(err, admin.ErrNotOperator):
		return fmt.Errorf("only the operator (root or the daemon's user) can %s", what)
	}
	return err
}
