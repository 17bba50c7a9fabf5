package mcp

import (
	"fmt"
	"os"

	"github.com/aimx-dev/aimx/domains"
)

// checkHookCmd refuses a cmd[0] that is not an executable file on this
// host, before the hook is written (book/mcp.md, "hook_create"): a typo'd
// path would otherwise fail at every run, silently for the agent.
//
// The check is os.Stat by the daemon, which follows symlinks (installed
// programs often are one) and needs no rights on the file itself: it asks
// whether cmd[0] is a regular file with an execute bit. Whether the
// mailbox owner may run it is the runner's business at each run, as that
// owner (book/hooks.md). The answer is the same sentence for a path that
// does not exist, is not a regular file, has no execute bit or cannot be
// looked at, so a caller learns no more than "an executable file is
// there" about paths it could not see itself.
func checkHookCmd(path string) error {
	fi, err := os.Stat(path)
	if err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
		return nil
	}
	return errorf("the hook was not created: cmd[0] %q is not an executable file on this host (it does not exist, is not a regular file, or has no execute permission). Pass the absolute path of an installed program; `command -v NAME` prints it.", path)
}

// hookWarnings are the warnings of hook_create's result: when the new
// hook will not run for the mail one would expect (book/hooks.md, "The
// trust gate" and "Loop protection"). Only on_receive hooks are gated.
func hookWarnings(cfg *domains.Config, mailbox string, h domains.Hook) []string {
	if h.Event != domains.EventOnReceive {
		return nil
	}
	var out []string
	if !h.FireOnUntrusted {
		eff, _ := cfg.EffectiveFor(mailbox)
		switch {
		case eff.Trust == domains.TrustNone || eff.Trust == "":
			out = append(out, fmt.Sprintf("%s has trust = \"none\": every email it receives is trusted \"none\", so this hook will not run for any email. "+
				"Ask the operator to set trust = \"verified\" and trusted_senders for the mailbox (book/verification.md), "+
				"or delete the hook and create it again with fire_on_untrusted: true if the command treats the email as untrusted data.", mailbox))
		case len(eff.TrustedSenders) == 0:
			out = append(out, fmt.Sprintf("%s has trust = \"verified\" but no trusted_senders: no email it receives is trusted \"true\", so this hook will not run for any email. "+
				"Ask the operator to list the senders to trust in trusted_senders (book/verification.md), or use fire_on_untrusted: true if the command treats the email as untrusted data.", mailbox))
		}
	}
	if !h.FireOnAutoSubmitted {
		out = append(out, "Loop protection: the hook does not run for automatic mail (Auto-Submitted other than no, bounces, mail that looped through this server); "+
			"set fire_on_auto_submitted: true only for a hook that never replies (book/hooks.md, \"Loop protection\").")
	}
	return out
}
