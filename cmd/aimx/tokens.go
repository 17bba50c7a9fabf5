package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/aimx-dev/aimx/domains/admin"
)

// tokenHint is printed when the token file was edited with the daemon down:
// the daemon reads it when it starts and whenever it changes.
const tokenHint = "daemon not running: changed tokens.json directly; the daemon uses it when it starts"

func (a *app) tokensCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "tokens",
		Aliases: []string{"token"},
		Short:   "Create, list and revoke MCP bearer tokens (operator only)",
		Long: "Tokens let a remote agent use MCP over HTTP ([mcp] http_listen) as a Unix user. A token is shown\n" +
			"once, when it is created; only its hash is stored (tokens.json in the config dir). See book/tokens.md.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	var req admin.NewToken
	create := &cobra.Command{
		Use:   "create --owner USER [--mailbox M]... [--allow-hooks] [--name N]",
		Short: "Mint a token acting as USER and print it once",
		Args:  exactArgs(0),
		RunE:  func(*cobra.Command, []string) error { return a.tokensCreate(req) },
	}
	fl := create.Flags()
	fl.StringVar(&req.Owner, "owner", "", "the Unix user the token acts as")
	fl.StringArrayVar(&req.Mailboxes, "mailbox", nil, "narrow the token to this mailbox of the owner's (repeatable); a narrowed token cannot create mailboxes")
	fl.BoolVar(&req.AllowHooks, "allow-hooks", false, "let the token use the hook tools (a hook runs commands as the owner)")
	fl.StringVar(&req.Name, "name", "", "a label for the token, shown by list")
	_ = create.MarkFlagRequired("owner") // the flag was just defined: cannot fail
	list := &cobra.Command{
		Use:   "list",
		Short: "List tokens (never their secrets)",
		Args:  exactArgs(0),
		RunE:  func(*cobra.Command, []string) error { return a.tokensList() },
	}
	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token; it stops working at once",
		Args:  exactArgs(1),
		RunE:  func(_ *cobra.Command, args []string) error { return a.tokensRevoke(args[0]) },
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}

func (a *app) tokensCreate(req admin.NewToken) error {
	var res admin.TokenCreated
	fellBack, err := a.asOperator("manage tokens", false, func(api admin.API) error {
		var err error
		res, err = api.CreateToken(a.ctx, req)
		return err
	})
	if err != nil {
		return err
	}
	if fellBack {
		fmt.Fprintln(a.stderr, tokenHint)
	}
	if a.json {
		return a.printJSON(res)
	}
	scope := "all of " + res.Owner + "'s mailboxes"
	if len(res.Mailboxes) > 0 {
		scope = strings.Join(res.Mailboxes, ", ")
	}
	_, err = fmt.Fprintf(a.stdout, "%s\n\nid:          %s\nowner:       %s\nmailboxes:   %s\nallow hooks: %t\n\n"+
		"This is the only time the token is shown: store it now. Agents send it as\n"+
		"\"Authorization: Bearer <token>\" to the MCP HTTP endpoint.\n",
		res.Token, res.ID, res.Owner, scope, res.AllowHooks)
	return err
}

func (a *app) tokensList() error {
	var res admin.TokenList
	fellBack, err := a.asOperator("manage tokens", false, func(api admin.API) error {
		var err error
		res, err = api.ListTokens(a.ctx)
		return err
	})
	if err != nil {
		return err
	}
	_ = fellBack // reading the file needs no hint
	if a.json {
		return a.printJSON(res)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tOWNER\tMAILBOXES\tHOOKS\tCREATED")
	for _, t := range res.Tokens {
		mb := "(all)"
		if len(t.Mailboxes) > 0 {
			mb = strings.Join(t.Mailboxes, ",")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%t\t%s\n", t.ID, orDefault(t.Name, "-"), t.Owner, mb, t.AllowHooks, t.CreatedAt.Format(time.RFC3339))
	}
	return tw.Flush()
}

func (a *app) tokensRevoke(id string) error {
	var res admin.TokenInfo
	fellBack, err := a.asOperator("manage tokens", false, func(api admin.API) error {
		var err error
		res, err = api.RevokeToken(a.ctx, id)
		return err
	})
	if err != nil {
		return err
	}
	if fellBack {
		fmt.Fprintln(a.stderr, tokenHint)
	}
	if a.json {
		return a.printJSON(res)
	}
	_, err = fmt.Fprintf(a.stdout, "revoked token %s (owner %s)\n", res.ID, res.Owner)
	return err
}
