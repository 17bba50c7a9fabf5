// Package hooks runs the commands that mailbox owners attach to mail events
// (book/hooks.md).
//
// Three layers: the Gate decides at receipt which on_receive hooks are due
// (recorded in the message's hooks_due before 250); the Scheduler runs due
// jobs on a bounded worker pool, fairly across owners (a queue per owner
// and a cap on each owner's running hooks), recording each run's start and
// end in the durable hook state (a StateStore: FileState under
// <data>/.spool/hooks by default) and recovering due and interrupted runs
// after a restart; the Runner executes one run as the mailbox owner, with a
// clean environment, the message's .md (opened once through the store,
// never by path) on stdin, its own process group and a hard timeout, keeps
// the tail of its output and writes one log line.
//
// Webhooks (book/webhooks.md) ride the same scheduler: a due webhook is a
// job named "webhook:<name>" in hooks_due or an after_send record, and a
// worker delivers it as a Standard Webhooks signed POST instead of running
// a command, retrying a failed delivery with backoff for a day.
//
// A StateStore shared by several nodes also implements JobClaimer
// (book/scale-out.md, "Hooks across nodes"): a job then starts only under
// its claim, so it fires once across the nodes; the recovery scan runs
// every RescanInterval too; and a hook whose owner is not a Unix user on
// this node waits for a node where it is (claim.go, shared.go).
package hooks
