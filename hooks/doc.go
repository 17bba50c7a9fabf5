// Package hooks runs the commands that mailbox owners attach to mail events
// (SPEC §7).
//
// This file set holds the runner: it executes one hook run as the mailbox
// owner, with a clean environment, the message's .md on stdin, its own process
// group and a hard timeout, keeps the tail of its output and writes one log
// line. Deciding which hooks are due, remembering which have run and
// scheduling runs on a worker pool are built on top of it.
package hooks
