package dnsresolver

import (
	"strings"
)

// normalize lowercases name and strips one trailing dot. ok is false when
// the name cannot exist in the DNS (empty, too long, an empty or overlong
// label); such names are answered "not found" without a query.
func normalize(name string) (string, bool) {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if name == "" || len(name) > 253 { // RFC 1035 2.3.4
		return name, false
	}
	for label := range strings.SplitSeq(name, ".") {
		if label == "" || len(label) > 63 {
			return name, false
		}
	}
	return name, true
}

// answeredLocally reports whether a normalized name gets NXDOMAIN without a
// query in system-resolver mode: RFC 6761 special-use names and
// single-label names (which would otherwise go through search domains).
func answeredLocally(name string) bool {
	i := strings.LastIndexByte(name, '.')
	if i < 0 {
		return true // single label, and the bare special-use TLDs
	}
	// RFC 6761 6.2 (test), 6.3 (localhost), 6.4 (invalid), 6.5 (example):
	// names that never exist in the global DNS. Answering them here keeps a
	// dev setup (agent.localhost) or a test domain from leaking a query.
	switch name[i+1:] {
	case "test", "localhost", "invalid", "example":
		return true
	}
	return false
}
