package operations

import (
	"context"
	"fmt"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/storage"
)

// Sees reports whether a caller may see a mailbox (book/admin.md: the
// operator sees every one, anyone else what it owns). A nil Sees sees
// every mailbox: the operator's door.
type Sees func(m domains.Mailbox) bool

func (s Sees) sees(m domains.Mailbox) bool { return s == nil || s(m) }

// MailboxRow is one mailbox with its counts: a row of mailbox_list, of
// GET /v1/mailboxes and of `aimx mailboxes list` (book/mcp.md, book/admin.md).
type MailboxRow struct {
	Name   string `json:"name" jsonschema:"The mailbox's full address; *@domain is a domain's catchall."`
	Owner  string `json:"owner" jsonschema:"The Unix user that owns the mailbox."`
	Total  int    `json:"total" jsonschema:"Emails in the inbox."`
	Unread int    `json:"unread" jsonschema:"Inbox emails not marked read."`
	Sent   int    `json:"sent" jsonschema:"Copies of sent emails."`
	// Trust is the mailbox's effective trust policy (mailbox, else
	// domain, else global; book/verification.md).
	Trust string `json:"trust" jsonschema:"The effective trust policy: none (every email is trusted none, so on_receive hooks without fire_on_untrusted never fire) or verified (senders matching trusted_senders that pass DKIM/DMARC are trusted true)."`
}

// Counter is the part of the message store a listing needs.
type Counter interface {
	Counts(ctx context.Context, ref storage.MailboxRef) (storage.Counts, error)
}

// Rows lists the mailboxes of cfg that sees admits, sorted by name, with
// their counts from store.
func Rows(ctx context.Context, store Counter, cfg *domains.Config, sees Sees) ([]MailboxRow, error) {
	out := []MailboxRow{}
	for _, name := range cfg.MailboxNames() {
		m := cfg.Mailboxes[name]
		if !sees.sees(m) {
			continue
		}
		c, err := store.Counts(ctx, domains.MailboxRef(name))
		if err != nil {
			return nil, fmt.Errorf("count %s: %w", name, err)
		}
		eff, _ := cfg.EffectiveFor(name)
		out = append(out, MailboxRow{Name: name, Owner: m.Owner, Total: c.Total, Unread: c.Unread, Sent: c.Sent, Trust: string(eff.Trust)})
	}
	return out, nil
}

// HookInfo is one hook as both doors show it: a row of hook_list and of
// GET /v1/hooks, and the body of POST /v1/hooks (book/mcp.md, book/admin.md).
type HookInfo struct {
	Name            string   `json:"name" jsonschema:"The hook's name, which hook_delete takes."`
	Mailbox         string   `json:"mailbox" jsonschema:"The mailbox's full address."`
	Event           string   `json:"event" jsonschema:"on_receive or after_send."`
	Cmd             []string `json:"cmd" jsonschema:"The command's argument list."`
	TimeoutSecs     int      `json:"timeout_secs" jsonschema:"Seconds before the command is stopped."`
	FireOnUntrusted bool     `json:"fire_on_untrusted" jsonschema:"Whether it also runs for untrusted emails."`
	// LastRun is filled by the doors that know the hook scheduler (the
	// daemon's hook_list); nil elsewhere and before the first run.
	LastRun *HookLastRun `json:"last_run,omitempty" jsonschema:"How the hook last ran since the daemon started; absent when it has not run since."`
}

// HookLastRun is how a hook last ran (hooks.LastRun, as the doors show it).
type HookLastRun struct {
	At         string `json:"at" jsonschema:"When the run started, RFC 3339."`
	Started    bool   `json:"started" jsonschema:"False when the command could not be started (missing or not executable); exit_code is then -1 and the aimx log says why."`
	ExitCode   int    `json:"exit_code" jsonschema:"The exit status; 128+n when signal n ended it; -1 when it did not start."`
	DurationMS int64  `json:"duration_ms" jsonschema:"How long it ran, in milliseconds."`
	TimedOut   bool   `json:"timed_out" jsonschema:"True when timeout_secs expired and it was stopped."`
}

// HookInfoOf is the row of one configured hook.
func HookInfoOf(r domains.HookRef) HookInfo {
	cmd := r.Cmd
	if cmd == nil {
		cmd = []string{}
	}
	return HookInfo{Name: r.EffectiveName(), Mailbox: r.Mailbox, Event: string(r.Event), Cmd: cmd,
		TimeoutSecs: r.TimeoutSecs, FireOnUntrusted: r.FireOnUntrusted}
}

// Hook is the hook definition a row describes; a zero TimeoutSecs is the
// default one.
func (h HookInfo) Hook() domains.Hook {
	return domains.Hook{Name: h.Name, Event: domains.Event(h.Event), Cmd: h.Cmd, TimeoutSecs: h.TimeoutSecs, FireOnUntrusted: h.FireOnUntrusted}
}

// HookRows lists the hooks of cfg's mailboxes that sees admits, or of one
// mailbox when only is set, by mailbox name then in the order they were
// added.
func HookRows(cfg *domains.Config, only string, sees Sees) []HookInfo {
	out := []HookInfo{}
	for _, h := range cfg.AllHooks() {
		if (only != "" && h.Mailbox != only) || !sees.sees(cfg.Mailboxes[h.Mailbox]) {
			continue
		}
		out = append(out, HookInfoOf(h))
	}
	return out
}
