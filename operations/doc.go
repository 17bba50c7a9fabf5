// Package operations is what both doors of aimx do to the config and the
// mail together (book/admin.md, "One set of operations"): create and delete
// mailboxes, create and delete hooks, and list mailboxes with their counts.
// The MCP tools (package mcp, for agents) and the operator API (package
// domains/admin, on admin.sock) decide who the caller is, call these
// operations, and word the results and errors for their own reader; the
// rules, the locks and the order of the steps live here, once.
//
// Rules that differ by door are a Door argument (only the operator's door
// creates catchalls and role addresses, or forces a create over another
// owner's mail); what a caller may see is a Sees predicate that the
// operations re-check under the lock of the change, against the config it
// is about to change. Domain add/remove and send submission belong here
// too, beside these, when they are built.
package operations
