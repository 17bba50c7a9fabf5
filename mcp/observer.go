package mcp

import (
	"time"

	"github.com/mark3labs/mcp-go/mcp"
)

// ToolObserver is told about every tool call as it ends, for the daemon's
// metrics (book/operations.md, "Metrics"). It runs on the call's goroutine
// and must be quick. It learns the tool's name and how the call ended,
// never the caller, the arguments or the answer.
type ToolObserver interface {
	ToolCall(tool, result string, d time.Duration)
}

// How a tool call ended, as a ToolObserver is told.
const (
	// ToolResultOK: the tool answered a result.
	ToolResultOK = "ok"
	// ToolResultRefused: the tool answered a refusal the agent can act on
	// (a missing mailbox, a bad argument, no caller identity).
	ToolResultRefused = "refused"
	// ToolResultError: the call failed inside the server (logged; the
	// agent got the generic internal-error sentence), a panic included.
	ToolResultError = "error"
)

// observeTool tells Deps.Metrics, when set, how the call of tool that
// began at start ended with res.
func (s *Server) observeTool(tool string, start time.Time, res *mcp.CallToolResult) {
	o := s.deps.Metrics
	if o == nil {
		return
	}
	result := ToolResultOK
	if res == nil || res.IsError {
		result = ToolResultRefused
		if res == nil || isInternalError(tool, res) {
			result = ToolResultError
		}
	}
	o.ToolCall(tool, result, time.Since(start))
}

// isInternalError reports whether res is the generic internal-error
// answer of tool.
func isInternalError(tool string, res *mcp.CallToolResult) bool {
	for _, c := range res.Content {
		if t, ok := c.(mcp.TextContent); ok && t.Text == internalError(tool) {
			return true
		}
	}
	return false
}
