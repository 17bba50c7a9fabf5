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
		out = append(out, MailboxRow{Name: name, Owner: m.Owner, Total: c.Total, Unread: c.Unread, Sent: c.Sent})
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
