package mcp

import (
	"context"
	"slices"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// toolNeeds is what a caller must hold to be shown a tool (book/mcp.md,
// "Tools that fit the caller"): tools/list leaves out what the caller can
// never use, so an agent does not plan around a tool that will refuse it.
type toolNeeds uint8

const (
	// needHookRights: the hook and webhook tools, for callers with hook
	// rights (a socket caller, a token minted with --allow-hooks).
	needHookRights toolNeeds = 1 << iota
	// needWholeOwner: mailbox_create, for callers not narrowed to named
	// mailboxes (a token minted with --mailbox is).
	needWholeOwner
)

// canUse reports whether the caller holds what d needs.
func (c Caller) canUse(d *toolDef) bool {
	if d.needs&needHookRights != 0 && !c.AllowHooks {
		return false
	}
	if d.needs&needWholeOwner != 0 && c.narrowed() {
		return false
	}
	return true
}

// fitCaller installs the tools/list filter: each caller is listed the
// tools it can use, in manifest order (mailbox_list first, where mcp-go
// would sort by name). A request without a caller gets the whole
// manifest; every tool refuses it anyway.
//
// mcp-go also runs tool filters at tools/call, with the one tool called;
// that single tool is let through, so a caller that calls a tool it was
// not listed (a client that cached another token's list, say) gets the
// handler's sentence naming what it lacks, not "tool not found". The
// handlers check the same rights, so the filter is no access boundary.
func (s *Server) fitCaller() {
	defs := make(map[string]*toolDef, len(s.tools))
	names := make([]string, 0, len(s.tools))
	for _, d := range s.tools {
		defs[d.name] = d
		names = append(names, d.name)
	}
	order := manifestOrder(names)
	server.WithToolFilter(func(ctx context.Context, tools []mcp.Tool) []mcp.Tool {
		if len(tools) <= 1 {
			return tools
		}
		if c, ok := CallerFrom(ctx); ok {
			tools = slices.DeleteFunc(slices.Clone(tools), func(t mcp.Tool) bool {
				d := defs[t.Name]
				return d != nil && !c.canUse(d)
			})
		}
		return order(ctx, tools)
	})(s.mcp)
}

// manifestOrder returns a tool filter that puts tools in the order of
// names (the manifest's), tools it does not know last by name. The stdio
// bridge, whose caller always has every right, lists through it too.
func manifestOrder(names []string) server.ToolFilterFunc {
	pos := make(map[string]int, len(names))
	for i, n := range names {
		pos[n] = i
	}
	rank := func(t mcp.Tool) int {
		if i, ok := pos[t.Name]; ok {
			return i
		}
		return len(names)
	}
	return func(_ context.Context, tools []mcp.Tool) []mcp.Tool {
		slices.SortStableFunc(tools, func(a, b mcp.Tool) int { return rank(a) - rank(b) })
		return tools
	}
}
