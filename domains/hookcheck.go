package domains

import (
	"fmt"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// Events are the hook events of book/hooks.md, in the order the docs and
// the tool schemas list them.
func Events() []Event { return []Event{EventOnReceive, EventAfterSend} }

// HookRule names one rule of a hook definition (book/hooks.md), so a door
// can word a broken rule for its own reader while the rule itself is
// written once, here.
type HookRule int

// The rules of a hook definition (book/hooks.md).
const (
	// RuleName: the name grammar ^[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,127}$.
	RuleName HookRule = iota + 1
	// RuleEvent: on_receive or after_send.
	RuleEvent
	// RuleCmd: an argument list whose first element is an absolute path.
	RuleCmd
	// RuleCmdText: arguments are UTF-8 without NUL bytes.
	RuleCmdText
	// RuleTimeout: 1 to MaxHookTimeoutSecs seconds.
	RuleTimeout
	// RuleFireOnUntrusted: only on_receive hooks fire on untrusted mail.
	RuleFireOnUntrusted
)

// HookProblem is one rule a hook breaks: which, the config key under the
// hook it concerns, and a sentence for the operator.
type HookProblem struct {
	Rule  HookRule
	Field string
	Msg   string
}

// Problems lists the rules of book/hooks.md that h breaks, in the order of
// its fields; nil when it keeps them all. Whether the name is unique and
// the mailbox may have hooks depends on the config and is checked there.
func (h Hook) Problems() []HookProblem {
	var out []HookProblem
	add := func(r HookRule, field, format string, args ...any) {
		out = append(out, HookProblem{Rule: r, Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	if h.Name != "" {
		if err := validHookName(h.Name); err != nil {
			add(RuleName, "name", "%s", err.Error())
		}
	}
	switch h.Event {
	case EventOnReceive, EventAfterSend:
	default:
		add(RuleEvent, "event", "event must be %q or %q, not %q", EventOnReceive, EventAfterSend, h.Event)
	}
	switch {
	case len(h.Cmd) == 0:
		add(RuleCmd, "cmd", "cmd must hold at least the program path")
	case !filepath.IsAbs(h.Cmd[0]):
		add(RuleCmd, "cmd", "cmd[0] %q must be an absolute path (hooks never run through a shell or PATH)", h.Cmd[0])
	}
	for _, a := range h.Cmd {
		if strings.IndexByte(a, 0) >= 0 {
			add(RuleCmdText, "cmd", "cmd arguments cannot hold NUL bytes")
			break
		}
		if !utf8.ValidString(a) {
			add(RuleCmdText, "cmd", "not valid UTF-8")
		}
	}
	if h.TimeoutSecs < 1 || h.TimeoutSecs > MaxHookTimeoutSecs {
		add(RuleTimeout, "timeout_secs", "must be from 1 to %d, not %d", MaxHookTimeoutSecs, h.TimeoutSecs)
	}
	if h.FireOnUntrusted && h.Event != EventOnReceive {
		add(RuleFireOnUntrusted, "fire_on_untrusted", "only on_receive hooks can fire on untrusted mail")
	}
	if h.FireOnAutoSubmitted && h.Event != EventOnReceive {
		add(RuleFireOnUntrusted, "fire_on_auto_submitted", "only on_receive hooks can fire on automatic mail")
	}
	return out
}

// Broken reports whether h breaks rule r.
func (h Hook) Broken(r HookRule) bool {
	for _, p := range h.Problems() {
		if p.Rule == r {
			return true
		}
	}
	return false
}
