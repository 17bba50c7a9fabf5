// Package mcp is aimx's tool surface for agents (book/mcp.md): the MCP tools,
// implemented once on mark3labs/mcp-go, and the one place that decides what
// a caller may see (book/admin.md).
//
// The transports (aimx.sock with the peer uid, TCP with a bearer token, the
// stdio bridge, tests in process) only decide who the caller is and put a
// Caller into the request context; every tool handler asks visibleMailbox
// before it touches a mailbox. Nothing here reaches around the core to
// files: mail goes through storage.MessageStore, configuration changes
// through package operations, which the operator's door (domains/admin)
// calls too: the tools decide who the caller is and word the outcome.
package mcp
