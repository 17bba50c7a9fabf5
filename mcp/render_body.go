package mcp

import (
	"slices"
	"strings"
	"unicode/utf8"
)

// Size control (book/mcp.md, "Size control"): a result carries at most
// max_body_chars characters of body text, so a 200 KB email costs an
// agent a few thousand tokens, not a hundred thousand. Lengths and offsets
// count characters (Unicode code points), never bytes, so a cut never
// splits one.

// Bounds of max_body_chars.
const (
	defaultBodyChars = 20_000
	maxBodyChars     = 500_000
)

// cutChars returns the part of s from character offset on, at most max
// characters, the number of characters in s, and whether characters
// remain after the part.
func cutChars(s string, offset, max int) (part string, total int, more bool) {
	total = utf8.RuneCountInString(s)
	if offset >= total {
		return "", total, false
	}
	start := byteOffset(s, 0, offset)
	end := byteOffset(s, start, max)
	return s[start:end], total, offset+max < total
}

// byteOffset returns the byte index n characters after byte index from.
func byteOffset(s string, from, n int) int {
	i := from
	for ; n > 0 && i < len(s); n-- {
		_, w := utf8.DecodeRuneInString(s[i:])
		i += w
	}
	return i
}

// newText returns the text the sender wrote in this email: the body
// without quoted lines ("> ..." and the "On ... wrote:" line that
// introduces them), without a forwarded or original message block
// ("-----Original Message-----", "---------- Forwarded message ---------",
// an Outlook rule of underscores followed by "From:"), and without the
// signature (from a "-- " line, RFC 3676 4.3). cut is false when nothing
// was left out: the new text is then the body itself.
func newText(body string) (text string, cut bool) {
	lines := strings.SplitAfter(body, "\n")
	var kept []string
	for i := 0; i < len(lines); i++ {
		line := strings.TrimRight(lines[i], "\r\n")
		trim := strings.TrimSpace(line)
		switch {
		case line == "-- " || line == "--" || endsMessage(trim, lines[i+1:]):
			return tidy(kept), true
		case strings.HasPrefix(trim, ">"):
			cut = true
			continue
		case attribution(trim) && quoteFollows(lines[i+1:]):
			cut = true
			// A long attribution wraps: "On Mon, ... Alice <" then
			// "alice@example.com> wrote:".
			if n := len(kept); !strings.HasPrefix(trim, "On ") && n > 0 && strings.HasPrefix(strings.TrimSpace(kept[n-1]), "On ") {
				kept = kept[:n-1]
			}
			continue
		}
		kept = append(kept, lines[i])
	}
	if !cut {
		return body, false
	}
	return tidy(kept), true
}

// attribution: a line that introduces quoted mail, in the forms mail
// clients write ("On <date>, <name> wrote:", "<name> wrote:").
func attribution(trim string) bool {
	l := strings.ToLower(trim)
	return strings.HasSuffix(l, "wrote:") || strings.HasSuffix(l, "a écrit :") || strings.HasSuffix(l, "schrieb:")
}

// quoteFollows: the next non-blank line is quoted.
func quoteFollows(rest []string) bool {
	for _, l := range rest {
		if t := strings.TrimSpace(l); t != "" {
			return strings.HasPrefix(t, ">")
		}
	}
	return false
}

// endsMessage: a line that starts a forwarded or original message.
func endsMessage(trim string, rest []string) bool {
	l := strings.ToLower(trim)
	for _, p := range []string{"-----original message-----", "----- original message -----", "---------- forwarded message", "begin forwarded message:"} {
		if strings.HasPrefix(l, p) {
			return true
		}
	}
	if len(trim) >= 10 && strings.Trim(trim, "_") == "" {
		for _, r := range rest {
			if t := strings.TrimSpace(r); t != "" {
				return strings.HasPrefix(t, "From:")
			}
		}
	}
	return false
}

// tidy joins kept lines without the blank lines at either end, ending
// with one line break when the text had one.
func tidy(lines []string) string {
	for len(lines) > 0 && strings.TrimSpace(lines[0]) == "" {
		lines = lines[1:]
	}
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	return strings.Join(lines, "")
}

// shares splits budget characters among texts of the given lengths so
// that no text gets more than it needs and the ones that need more share
// what is left evenly (water-filling): short texts come whole, long ones
// are cut to the same size.
func shares(lengths []int, budget int) []int {
	out := make([]int, len(lengths))
	order := make([]int, len(lengths))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return lengths[a] - lengths[b] })
	left := budget
	for k, i := range order {
		fair := left / (len(order) - k)
		out[i] = min(lengths[i], fair)
		left -= out[i]
	}
	return out
}
