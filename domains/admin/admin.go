// Package admin is the operator's side of aimx (book/admin.md): the operations
// that span packages (any-owner mailbox and hook CRUD, catchalls included,
// token CRUD, reload, status) and the small HTTP/JSON API that serves them
// on admin.sock, plus the Client the CLI reaches it with.
//
// The operations are methods of Admin and take and return plain values;
// the HTTP layer only decodes, calls and encodes. The CLI with the daemon
// down builds an Admin over the files and calls the same methods, so a
// change means the same thing whichever way it is made. Nothing here is
// reachable from aimx.sock or TCP: MCP callers never get operator rights
// through this package.
package admin

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/domains/tokens"
	"github.com/aimx-dev/aimx/internal/panics"
	"github.com/aimx-dev/aimx/operations"
	"github.com/aimx-dev/aimx/storage"
)

// Admin carries out operator requests. Build one per daemon (or per CLI
// run when the daemon is down).
type Admin struct {
	// Config rewrites config.toml and publishes the result; its Registry
	// is the config requests are resolved against.
	Config *domains.Changer
	// Mailboxes creates and deletes mailboxes (config plus storage): the
	// same operations mailbox_create and mailbox_delete use.
	Mailboxes *operations.Mailboxes
	// Hooks edits hooks as config: the same operations hook_create and
	// hook_delete use.
	Hooks *operations.Hooks
	// Domains adds, removes and lists the served domains; nil answers
	// that domains cannot be managed here.
	Domains *operations.Domains
	// Drafts are the sends held for approval; nil when the daemon is
	// down (the queue is the daemon's).
	Drafts *operations.Drafts
	// Tokens is the token store: the file store, or the shared
	// database's with the postgres backend.
	Tokens tokens.Backend
	// LookupOwner resolves the owner of a new token; nil means
	// domains.LookupOwner.
	LookupOwner func(name string) (domains.Owner, error)
	// Store holds the mail, for the counts in the mailbox list.
	Store storage.MessageStore
	// Log gets one line per change. Secrets never reach it.
	Log zerolog.Logger
	// Status describes the running daemon; nil outside a daemon.
	Status func() Status
	// Panics counts the daemon's recovered panics: reported in
	// /v1/status, and counting the ones this API recovers. Nil is fine.
	Panics *panics.Counter
}

// MailboxInfo is one mailbox as the operator sees it: the row both doors
// list, and whether it is a catchall.
type MailboxInfo struct {
	operations.MailboxRow
	Catchall bool `json:"catchall"`
}

// MailboxList is the body of GET /v1/mailboxes.
type MailboxList struct {
	Mailboxes []MailboxInfo `json:"mailboxes"`
}

// NewMailbox is the body of POST /v1/mailboxes. Name is an FQDN, `*@d`
// for a catchall, or a bare local part of the default domain.
type NewMailbox struct {
	Name  string `json:"name"`
	Owner string `json:"owner"`
	// Force re-creates a mailbox whose storage still holds another
	// owner's mail (one removed from config.toml by hand): that mail is
	// deleted first. Without it such a create is refused (conflict).
	Force bool `json:"force,omitempty"`
}

// MailboxCreated answers POST /v1/mailboxes. Created is false when the
// mailbox already existed with that owner (the call is idempotent).
type MailboxCreated = operations.MailboxCreated

// MailboxDeleted answers DELETE /v1/mailboxes/{name}.
type MailboxDeleted = operations.MailboxDeleted

// HookInfo is one hook: the hook_list shape of book/mcp.md, shared with the
// MCP tool. It is also the body of POST /v1/hooks, where name and
// timeout_secs are optional.
type HookInfo = operations.HookInfo

// HookList is the body of GET /v1/hooks.
type HookList struct {
	Hooks []HookInfo `json:"hooks"`
}

// Reloaded answers POST /v1/reload.
type Reloaded struct {
	Domains   []string `json:"domains"`
	Mailboxes int      `json:"mailboxes"`
}

// Status answers GET /v1/status.
type Status struct {
	Version    string            `json:"version"`
	StartedAt  time.Time         `json:"started_at"`
	UptimeSecs int64             `json:"uptime_secs"`
	Listeners  map[string]string `json:"listeners"`
	Domains    []string          `json:"domains"`
	Mailboxes  int               `json:"mailboxes"`
	// Queue is how many outbound messages wait for delivery (0 until the
	// outbound queue exists).
	Queue int `json:"queue"`
	// HookJobs is how many hook jobs are queued or running.
	HookJobs int `json:"hook_jobs"`
	// Panics is how many panics the daemon recovered since it started
	// (each logged with its stack); anything but 0 is a bug to report.
	Panics int64 `json:"panics"`
}

func (a *Admin) current() *domains.Config { return a.Config.Registry.Current() }

func (a *Admin) lookup(name string) (domains.Owner, error) {
	if a.LookupOwner != nil {
		return a.LookupOwner(name)
	}
	return domains.LookupOwner(name)
}

// resolve turns a mailbox name given by the operator into its canonical
// name (book/configuration.md: a bare local part is of the default domain).
func (a *Admin) resolve(input string) (string, error) {
	input = strings.TrimSpace(input)
	if input == "" {
		return "", apiErr(CodeValidation, "a mailbox name is required (local@domain, *@domain or a bare local part)")
	}
	name, err := a.current().ResolveName(input)
	if err != nil {
		return "", apiErr(CodeValidation, "%q is not a valid mailbox name: %v", input, err)
	}
	return name, nil
}

// ListMailboxes lists every mailbox, catchalls included, with its counts.
func (a *Admin) ListMailboxes(ctx context.Context) (MailboxList, error) {
	out := MailboxList{Mailboxes: []MailboxInfo{}}
	if a.Store == nil {
		return out, nil
	}
	rows, err := operations.Rows(ctx, a.Store, a.current(), nil)
	if err != nil {
		return MailboxList{}, err
	}
	for _, r := range rows {
		out.Mailboxes = append(out.Mailboxes, MailboxInfo{MailboxRow: r, Catchall: domains.IsCatchall(r.Name)})
	}
	return out, nil
}

// CreateMailbox adds a mailbox for any owner, a catchall included.
func (a *Admin) CreateMailbox(ctx context.Context, req NewMailbox) (MailboxCreated, error) {
	name, err := a.resolve(req.Name)
	if err != nil {
		return MailboxCreated{}, err
	}
	owner := strings.TrimSpace(req.Owner)
	if owner == "" {
		return MailboxCreated{}, apiErr(CodeValidation, "an owner is required: the Unix user %s belongs to", name)
	}
	res, err := a.Mailboxes.Create(ctx, operations.NewMailbox{Name: name, Owner: owner, Force: req.Force, Door: operations.OperatorDoor})
	var cerr *domains.ConfigError
	switch {
	case errors.Is(err, operations.ErrForeignMail):
		return MailboxCreated{}, apiErr(CodeConflict, "storage for %s already holds mail of another owner; nothing was created. Re-create it with --force (force=true), which deletes that mail", name)
	case errors.Is(err, operations.ErrMailboxTaken):
		return MailboxCreated{}, apiErr(CodeConflict, "mailbox %s exists with another owner", name)
	case errors.Is(err, operations.ErrDomainNotServed):
		_, domain := domains.SplitName(name)
		return MailboxCreated{}, apiErr(CodeValidation, "domain %s is not one of this server's domains (%s)", domain, strings.Join(a.current().Domains, ", "))
	case errors.Is(err, operations.ErrUnknownOwner):
		return MailboxCreated{}, apiErr(CodeValidation, "owner %q is not a user on this host", owner)
	case errors.As(err, &cerr):
		return MailboxCreated{}, apiErr(CodeValidation, "mailbox %s: %s", name, cerr.Msg)
	case err != nil:
		return MailboxCreated{}, err
	}
	if res.Created {
		a.Log.Info().Str("mailbox", name).Str("owner", owner).Bool("force", req.Force).Msg("admin: mailbox created")
	}
	return res, nil
}

// DeleteMailbox removes a mailbox, a catchall included, and its mail. One
// that holds mail is refused with code nonempty unless force.
func (a *Admin) DeleteMailbox(ctx context.Context, input string, force bool) (MailboxDeleted, error) {
	name, err := a.resolve(input)
	if err != nil {
		return MailboxDeleted{}, err
	}
	res, err := a.Mailboxes.Delete(ctx, operations.DeleteMailbox{Name: name, Force: force, Door: operations.OperatorDoor})
	var ne *operations.NotEmptyError
	switch {
	case errors.As(err, &ne):
		e := apiErr(CodeNonEmpty, "mailbox %s holds %d messages; pass force to delete it and its mail", name, ne.Messages)
		e.Messages = ne.Messages
		return MailboxDeleted{}, e
	case errors.Is(err, operations.ErrNoSuchMailbox):
		return MailboxDeleted{}, apiErr(CodeNotFound, "no mailbox %s", name)
	case err != nil:
		return MailboxDeleted{}, err
	}
	a.Log.Info().Str("mailbox", name).Int("deleted_files", res.DeletedFiles).Bool("force", force).Msg("admin: mailbox deleted")
	return res, nil
}

// ListHooks lists every hook, or one mailbox's when mailbox is set.
func (a *Admin) ListHooks(_ context.Context, mailbox string) (HookList, error) {
	cfg := a.current()
	if mailbox != "" {
		name, err := a.resolve(mailbox)
		if err != nil {
			return HookList{}, err
		}
		if _, ok := cfg.Mailboxes[name]; !ok {
			return HookList{}, apiErr(CodeNotFound, "no mailbox %s", name)
		}
		mailbox = name
	}
	return HookList{Hooks: operations.HookRows(cfg, mailbox, nil)}, nil
}

// CreateHook adds a hook to any mailbox (never a catchall: book/configuration.md).
func (a *Admin) CreateHook(ctx context.Context, req HookInfo) (HookInfo, error) {
	ref, err := a.Hooks.Create(ctx, operations.NewHook{Mailbox: req.Mailbox, Hook: req.Hook()})
	if err != nil {
		return HookInfo{}, hookError(err)
	}
	a.Log.Info().Str("hook", ref.EffectiveName()).Str("mailbox", ref.Mailbox).Msg("admin: hook created")
	return operations.HookInfoOf(ref), nil
}

// DeleteHook removes the hook with this name.
func (a *Admin) DeleteHook(ctx context.Context, name string) (HookInfo, error) {
	ref, err := a.Hooks.Delete(ctx, name, nil)
	if err != nil {
		return HookInfo{}, hookError(err)
	}
	a.Log.Info().Str("hook", ref.EffectiveName()).Str("mailbox", ref.Mailbox).Msg("admin: hook deleted")
	return operations.HookInfoOf(ref), nil
}

// hookError maps the hook operations' errors to API codes.
func hookError(err error) error {
	msg := strings.TrimPrefix(strings.TrimPrefix(err.Error(), "create hook: "), "delete hook: ")
	switch {
	case errors.Is(err, operations.ErrInvalidHook):
		return apiErr(CodeValidation, "%s", msg)
	case errors.Is(err, operations.ErrNoSuchMailbox), errors.Is(err, operations.ErrHookNotFound):
		return apiErr(CodeNotFound, "%s", msg)
	case errors.Is(err, operations.ErrHookExists):
		return apiErr(CodeConflict, "%s", msg)
	}
	return err
}

// Reload reads config.toml again and makes it live. A file that does not
// load leaves the running config in place and is a validation error
// naming what is wrong.
func (a *Admin) Reload(context.Context) (Reloaded, error) {
	cfg, err := a.Config.Reload()
	if err != nil {
		var cerr *domains.ConfigError
		if errors.As(err, &cerr) {
			return Reloaded{}, apiErr(CodeValidation, "config rejected, the running config is kept: %v", err)
		}
		return Reloaded{}, err
	}
	a.Log.Info().Strs("domains", cfg.Domains).Int("mailboxes", len(cfg.Mailboxes)).Msg("admin: reload: config is live")
	return Reloaded{Domains: cfg.Domains, Mailboxes: len(cfg.Mailboxes)}, nil
}

// DaemonStatus describes the running daemon.
func (a *Admin) DaemonStatus(context.Context) (Status, error) {
	if a.Status == nil {
		return Status{}, apiErr(CodeInternal, "no daemon status here")
	}
	st := a.Status()
	st.Panics = a.Panics.Count()
	return st, nil
}
