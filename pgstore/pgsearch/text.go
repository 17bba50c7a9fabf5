package pgsearch

import (
	"strconv"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/aimx-dev/aimx/search"
)

// maxLexeme bounds a word's bytes: PostgreSQL refuses longer lexemes
// (2 KiB), and no query can name one (search.ParseQuery takes 1,000 bytes).
const maxLexeme = 1000

// weights are the tsvector weights naming the fields, in the order of
// search.Doc's fields: subject, from, to (and cc), body.
const weights = "ABCD"

// field indexes the four text fields.
const (
	fieldSubject = iota
	fieldFrom
	fieldTo
	fieldBody
	nFields
)

// fieldOf maps a query field to its index; "" (any field) is -1.
var fieldOf = map[string]int{"": -1, "subject": fieldSubject, "from": fieldFrom, "to": fieldTo, "body": fieldBody}

// fold is a word as the index keeps it: lower case, without diacritics
// (decomposed, its marks dropped, composed again), as FTS5's unicode61
// tokenizer with remove_diacritics 2 has it (book/search.md).
func fold(w string) string {
	d := norm.NFD.String(strings.ToLower(w))
	var b strings.Builder
	b.Grow(len(d))
	for _, r := range d {
		if !unicode.Is(unicode.Mn, r) {
			b.WriteRune(r)
		}
	}
	return norm.NFC.String(b.String())
}

// words splits a field's text as search.ParseQuery splits a query
// (search.Tokens) and folds each word; it returns the distinct words and
// how many words the field has (its length for the ranking).
func words(text string) (distinct []string, n int) {
	seen := map[string]bool{}
	for _, t := range search.Tokens(text) {
		n++
		w := fold(t)
		if w == "" || len(w) > maxLexeme || seen[w] {
			continue
		}
		seen[w] = true
		distinct = append(distinct, w)
	}
	return distinct, n
}

// quote writes w as a quoted lexeme of tsvector or tsquery input. Words
// are letters and digits only, but a quote or backslash would be escaped
// all the same.
func quote(b *strings.Builder, w string) {
	b.WriteByte('\'')
	for _, r := range w {
		if r == '\'' || r == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('\'')
}

// docVector is a document's tsvector input and its fields' lengths: each
// distinct word once, at position 1 to 4 with the weight of each field
// that holds it (so no phrase or position is kept, like the SQLite index's
// detail=column).
func docVector(d search.Doc) (string, [nFields]int) {
	var lens [nFields]int
	fields := map[string][]int{}
	var order []string
	for f, text := range [nFields]string{d.Subject, d.From, d.To, d.Body} {
		ws, n := words(text)
		lens[f] = n
		for _, w := range ws {
			if _, ok := fields[w]; !ok {
				order = append(order, w)
			}
			fields[w] = append(fields[w], f)
		}
	}
	var b strings.Builder
	for i, w := range order {
		if i > 0 {
			b.WriteByte(' ')
		}
		quote(&b, w)
		b.WriteByte(':')
		for j, f := range fields[w] {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Itoa(f + 1))
			b.WriteByte(weights[f])
		}
	}
	return b.String(), lens
}

// queryText writes a parsed query as tsquery input: every positive term
// must match (each of its words, in its field when it names one; the last
// one as a prefix for word*), and no negative one. Every word is a quoted
// lexeme, so nothing the caller typed is read as an operator.
func queryText(e *search.Expr) string {
	var pos, neg []string
	for _, t := range e.Terms {
		var b strings.Builder
		b.WriteByte('(')
		n := 0
		for i, w := range t.Words {
			fw := fold(w)
			if fw == "" {
				continue
			}
			if n > 0 {
				b.WriteString(" & ")
			}
			n++
			quote(&b, fw)
			prefix := t.Prefix && i == len(t.Words)-1
			if f := fieldOf[t.Field]; prefix || f >= 0 {
				b.WriteByte(':')
				if prefix {
					b.WriteByte('*')
				}
				if f >= 0 {
					b.WriteByte(weights[f])
				}
			}
		}
		b.WriteByte(')')
		if n == 0 {
			continue // a word that folds to nothing matches nothing and excludes nothing
		}
		if t.Not {
			neg = append(neg, b.String())
		} else {
			pos = append(pos, b.String())
		}
	}
	if len(pos) == 0 {
		return ""
	}
	out := strings.Join(pos, " & ")
	if len(neg) > 0 {
		out = "(" + out + ") & !(" + strings.Join(neg, " | ") + ")"
	}
	return out
}

// rankWord is one word the ranking scores: its folded form and the fields
// it counts in (nil: any).
type rankWord struct {
	word  string
	field int // -1: any field
}

// rankWords are the positive terms' words that count for ranking: every
// word but a prefix (book/search.md, "Ranking").
func rankWords(e *search.Expr) []rankWord {
	var out []rankWord
	for _, t := range e.Positive() {
		for i, w := range t.Words {
			if t.Prefix && i == len(t.Words)-1 {
				continue
			}
			if fw := fold(w); fw != "" {
				out = append(out, rankWord{word: fw, field: fieldOf[t.Field]})
			}
		}
	}
	return out
}
