package domains

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MatchSender reports whether the bare sender address addr matches any of
// the trusted_senders globs (book/configuration.md): `*` matches any run of characters
// (`@` included), `?` exactly one, everything else itself; the glob must
// match the whole address; both sides are case-folded.
func MatchSender(globs []string, addr string) bool {
	a := []rune(strings.ToLower(addr))
	for _, g := range globs {
		if globMatch([]rune(strings.ToLower(g)), a) {
			return true
		}
	}
	return false
}

// globMatch is the linear backtracking matcher for `*` and `?`: on a
// mismatch it resumes after the last `*`, so no input is exponential.
func globMatch(p, s []rune) bool {
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == s[si]):
			pi++
			si++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// validGlob rejects trusted_senders entries that are not `*`/`?` globs
// over a bare address: empty, whitespace or control characters, bracket
// classes or escapes (which other glob dialects would read differently),
// and display-name or list punctuation.
func validGlob(g string) error {
	if g == "" {
		return fmt.Errorf("trusted_senders entry is empty")
	}
	if !utf8.ValidString(g) {
		return fmt.Errorf("trusted_senders entry %q is not valid UTF-8", g)
	}
	for _, r := range g {
		if unicode.IsSpace(r) || unicode.IsControl(r) || strings.ContainsRune(`[]\<>,;`, r) {
			return fmt.Errorf("trusted_senders entry %q: only '*' and '?' are special, and a bare address (no spaces, <>, [], \\, ',' or ';') is expected", g)
		}
	}
	return nil
}
