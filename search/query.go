package search

import (
	"fmt"
	"strings"
	"unicode"
)

// Query text limits (book/search.md).
const (
	maxQueryBytes = 1000
	maxTerms      = 32
)

// Fields a term may be limited to with field:word.
var fields = map[string]bool{"from": true, "to": true, "subject": true, "body": true}

// Term is one item of a query: one or more words that must all appear
// (in Field when it is set), or must not appear when Not.
type Term struct {
	// Field is "" (any of subject, from, to, body) or one of them.
	Field string
	// Words are the words as typed (the engine folds case and
	// diacritics itself); a quoted phrase or an address gives several.
	Words []string
	// Prefix makes the last word match any word it begins (invoice*).
	Prefix bool
	// Not excludes the messages that match the term (-word).
	Not bool
}

// Expr is a parsed query: every positive term must match, and no
// negative one may.
type Expr struct {
	Terms []Term
}

// QueryError is query text that cannot be searched; its message is a
// sentence for the agent.
type QueryError struct{ Msg string }

func (e *QueryError) Error() string { return e.Msg }

// ParseQuery reads the query syntax of book/search.md: words (all must
// match), "quoted words" (kept together as one term), field:word for from,
// to, subject and body, word* for a prefix, and -word to exclude. Words are
// split as the index splits them (letters and digits; everything else
// separates), so punctuation never reaches the engine as syntax.
func ParseQuery(text string) (*Expr, error) {
	if len(text) > maxQueryBytes {
		return nil, &QueryError{fmt.Sprintf("the query is too long: at most %d bytes, not %d.", maxQueryBytes, len(text))}
	}
	var e Expr
	for _, item := range splitItems(text) {
		t, ok := parseItem(item)
		if !ok {
			continue
		}
		e.Terms = append(e.Terms, t)
	}
	if len(e.Terms) > maxTerms {
		return nil, &QueryError{fmt.Sprintf("the query has too many terms: at most %d, not %d.", maxTerms, len(e.Terms))}
	}
	if len(e.Positive()) == 0 {
		return nil, &QueryError{"the query has no word to look for: give at least one word (letters or digits) that is not excluded with -."}
	}
	return &e, nil
}

// Positive returns the terms that must match.
func (e *Expr) Positive() []Term {
	var out []Term
	for _, t := range e.Terms {
		if !t.Not {
			out = append(out, t)
		}
	}
	return out
}

// splitItems splits text at spaces outside double quotes; a quoted part
// stays in its item with its quotes.
func splitItems(text string) []string {
	var items []string
	var cur strings.Builder
	quoted := false
	for _, r := range text {
		switch {
		case r == '"':
			quoted = !quoted
			cur.WriteRune(r)
		case unicode.IsSpace(r) && !quoted:
			if cur.Len() > 0 {
				items = append(items, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteRune(r)
		}
	}
	if cur.Len() > 0 {
		items = append(items, cur.String())
	}
	return items
}

// parseItem reads one item: [-][field:]words[*]. An item with no word
// (punctuation alone) is dropped.
func parseItem(item string) (Term, bool) {
	var t Term
	if strings.HasPrefix(item, "-") && len(item) > 1 {
		t.Not = true
		item = item[1:]
	}
	if i := strings.IndexByte(item, ':'); i > 0 && fields[strings.ToLower(item[:i])] {
		t.Field = strings.ToLower(item[:i])
		item = item[i+1:]
	}
	quoted := strings.HasPrefix(item, `"`)
	if !quoted && strings.HasSuffix(item, "*") {
		t.Prefix = true
	}
	t.Words = Tokens(item)
	if len(t.Words) == 0 {
		return t, false
	}
	return t, true
}

// isTokenRune reports whether r belongs to a word: letters and numbers, as
// the index's unicode61 tokenizer has them. Marks separate here, so no
// piece handed to the engine is split again by it.
func isTokenRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.Is(unicode.Co, r)
}

// Tokens splits s into words, as typed: lowercasing can add marks (the
// dotted capital I), which the engine would split on.
func Tokens(s string) []string {
	var out []string
	for _, sp := range tokenSpans(s) {
		out = append(out, s[sp[0]:sp[1]])
	}
	return out
}

// tokenSpans returns the byte spans of the words of s.
func tokenSpans(s string) [][2]int {
	var out [][2]int
	start := -1
	for i, r := range s {
		if isTokenRune(r) {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			out = append(out, [2]int{start, i})
			start = -1
		}
	}
	if start >= 0 {
		out = append(out, [2]int{start, len(s)})
	}
	return out
}
