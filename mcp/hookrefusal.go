package mcp

import (
	"errors"
	"strings"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/operations"
)

// hookRuleRefusal words, for the agent, the first rule of book/hooks.md the
// new hook breaks among those the tool's input schema states; the rules
// themselves are domains.Hook.Problems, the ones the config is validated
// with. A rule it does not word here is refused by the operation and
// worded by hookRuleError.
func hookRuleRefusal(h domains.Hook) error {
	switch {
	case h.Broken(domains.RuleEvent):
		return errorf("event must be on_receive or after_send, not %q.", string(h.Event))
	case h.Broken(domains.RuleCmd):
		return errorf("cmd must be an argument list whose first element is an absolute path, such as [\"/usr/local/bin/triage\", \"--fast\"].")
	case h.Broken(domains.RuleFireOnUntrusted) && h.FireOnUntrusted:
		return errorf("fire_on_untrusted applies to on_receive hooks only.")
	case h.Broken(domains.RuleFireOnUntrusted):
		return errorf("fire_on_auto_submitted applies to on_receive hooks only.")
	case h.Broken(domains.RuleTimeout):
		return errorf("timeout_secs must be between 1 and %d.", domains.MaxHookTimeoutSecs)
	case h.Broken(domains.RuleName):
		return errHookNameUnavailable(h)
	}
	return nil
}

// hookCreateRefusal words a refused hook_create. No answer carries a file
// path or another owner's mailbox or command: a clash with a hook the
// caller may not see reads like an invalid name.
func hookCreateRefusal(err error, mailbox string, h domains.Hook) error {
	var taken *operations.HookTakenError
	switch {
	case errors.Is(err, operations.ErrNoSuchMailbox):
		return errMailboxNotFound(mailbox)
	case errors.As(err, &taken) && taken.Hidden:
		return errHookNameUnavailable(h)
	case errors.As(err, &taken):
		return errorf("the hook was not created: %s already has a hook named %q (names are unique on the server); choose another name, or delete that hook first.", taken.Mailbox, taken.Name)
	case errors.Is(err, operations.ErrInvalidHook):
		return hookRuleError(err, mailbox)
	}
	return err
}

// hookRuleError words a validation failure of the new hook from the rules
// it broke: only the messages about this mailbox's hooks, never the
// error's text, which names the config file.
func hookRuleError(err error, mailbox string) error {
	prefix := `mailboxes."` + mailbox + `".hooks`
	var msgs []string
	for _, ce := range configErrors(err) {
		if strings.HasPrefix(ce.Key, prefix) {
			msgs = append(msgs, strings.TrimSuffix(ce.Msg, "."))
		}
	}
	if len(msgs) == 0 {
		return errorf("the hook was not created: it breaks a rule of hook definitions (see the tool's input schema).")
	}
	return errorf("the hook was not created: %s.", strings.Join(msgs, "; "))
}

// configErrors collects every *domains.ConfigError in err's tree.
func configErrors(err error) []*domains.ConfigError {
	var out []*domains.ConfigError
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		if ce, ok := e.(*domains.ConfigError); ok {
			out = append(out, ce)
			return
		}
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, x := range u.Unwrap() {
				walk(x)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	walk(err)
	return out
}
