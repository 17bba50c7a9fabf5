package search

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Snippet sizes (book/search.md, "Snippets").
const (
	snippetBefore = 60  // bytes of context before the first match, about
	snippetLen    = 200 // bytes of text in a snippet, about
)

// Snippet cuts about snippetLen bytes of body around the first word that
// matches a positive term of e, on word boundaries, with every matching
// word in the cut between ** and **; whitespace runs become one space, so
// the snippet is one line. A body without a match gives its start.
func Snippet(body string, e *Expr) string {
	var words []Term
	for _, t := range e.Positive() {
		if t.Field == "" || t.Field == "body" {
			words = append(words, t)
		}
	}
	spans := tokenSpans(body)
	first := -1
	for i, sp := range spans {
		if matchesAny(body[sp[0]:sp[1]], words) {
			first = i
			break
		}
	}
	start := 0
	if first >= 0 {
		start = spans[first][0]
		// Back up to a word start about snippetBefore bytes earlier.
		for j := first; j >= 0 && spans[first][0]-spans[j][0] <= snippetBefore; j-- {
			start = spans[j][0]
		}
	}
	end := min(len(body), start+snippetLen)
	// End on a word boundary: after the last whole word that fits.
	for j := len(spans) - 1; j >= 0; j-- {
		if spans[j][1] <= end && spans[j][0] >= start {
			if end < len(body) {
				end = spans[j][1]
			}
			break
		}
	}
	for end > start && end < len(body) && !utf8.RuneStart(body[end]) {
		end-- // a word longer than the snippet: cut between characters
	}
	var b strings.Builder
	if start > 0 {
		b.WriteString("… ")
	}
	pos := start
	for _, sp := range spans {
		if sp[0] < start || sp[1] > end {
			continue
		}
		writeSpace(&b, body[pos:sp[0]])
		w := body[sp[0]:sp[1]]
		if matchesAny(w, words) {
			b.WriteString("**" + w + "**")
		} else {
			b.WriteString(w)
		}
		pos = sp[1]
	}
	if pos < end {
		writeSpace(&b, body[pos:end])
	}
	out := strings.TrimSpace(b.String())
	if end < len(body) {
		out += " …"
	}
	return out
}

// writeSpace writes the text between two words with every run of white
// space (line breaks included) as one space.
func writeSpace(b *strings.Builder, s string) {
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) {
			space = true
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	if space {
		b.WriteByte(' ')
	}
}

// matchesAny reports whether word is one of the terms' words (or begins
// with the prefix of a prefix term), ignoring case.
func matchesAny(word string, terms []Term) bool {
	for _, t := range terms {
		for i, w := range t.Words {
			if strings.EqualFold(word, w) {
				return true
			}
			if t.Prefix && i == len(t.Words)-1 && len(word) >= len(w) && strings.EqualFold(word[:len(w)], w) {
				return true
			}
		}
	}
	return false
}
