package agents

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// tomlCodec edits TOML configuration files (Codex CLI). go-toml has no
// writer that keeps comments, so the edit is made on the text: aimx's
// entry is one table (`[mcp_servers.aimx]`, nested values inline) that is
// cut out by its header lines and appended at the end, and everything else
// stays byte for byte. The result is parsed back before it is used; an
// entry written in a form the text edit cannot see (an inline table or
// dotted keys elsewhere) is refused rather than guessed at.
type tomlCodec struct{}

func (c tomlCodec) put(doc []byte, path []string, name string, e Entry, skeleton Entry) ([]byte, error) {
	if _, err := c.decode(doc); err != nil {
		return nil, err
	}
	rest := cutTOMLTables(doc, path, name)
	if err := c.absent(rest, path, name); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if len(bytes.TrimSpace(rest)) == 0 {
		writeTOMLFields(&b, skeleton)
		if len(skeleton) > 0 {
			b.WriteByte('\n')
		}
	} else {
		b.Write(bytes.TrimRight(rest, "\n"))
		b.WriteString("\n\n")
	}
	b.WriteString("[" + tomlKeyPath(append(append([]string{}, path...), name)) + "]\n")
	writeTOMLFields(&b, e)
	out := b.Bytes()
	if _, err := c.decode(out); err != nil {
		return nil, fmt.Errorf("the [%s] table cannot be added to this file (%w); add it by hand", tomlKeyPath(append(path, name)), err)
	}
	return out, nil
}

func (c tomlCodec) drop(doc []byte, path []string, name string) ([]byte, bool, error) {
	m, err := c.decode(doc)
	if err != nil {
		return doc, false, err
	}
	if _, ok := lookup(m, append(append([]string{}, path...), name)...); !ok {
		return doc, false, nil
	}
	rest := cutTOMLTables(doc, path, name)
	if err := c.absent(rest, path, name); err != nil {
		return doc, false, err
	}
	if len(bytes.TrimSpace(rest)) == 0 {
		return nil, true, nil
	}
	return rest, true, nil
}

// absent checks that doc (with aimx's tables cut) no longer has the entry.
func (c tomlCodec) absent(doc []byte, path []string, name string) error {
	m, err := c.decode(doc)
	if err != nil {
		return fmt.Errorf("the file does not parse once the [%s] table is cut (%w); edit it by hand", tomlKeyPath(append(path, name)), err)
	}
	if _, ok := lookup(m, append(append([]string{}, path...), name)...); ok {
		return fmt.Errorf("%s is set in a form aimx cannot edit (an inline table or dotted keys); remove it by hand and run again", tomlKeyPath(append(path, name)))
	}
	return nil
}

func (tomlCodec) decode(doc []byte) (map[string]any, error) {
	m := map[string]any{}
	if err := toml.Unmarshal(doc, &m); err != nil {
		return nil, fmt.Errorf("parse TOML: %w", err)
	}
	return m, nil
}

// cutTOMLTables removes every table whose header starts with path.name
// (`[mcp_servers.aimx]`, `[mcp_servers.aimx.env]`, ...), each with the
// blank lines before it. A table runs to the next header; comments and
// blank lines at its end belong to the table after it and stay.
func cutTOMLTables(doc []byte, path []string, name string) []byte {
	lines := strings.SplitAfter(string(doc), "\n")
	want := append(append([]string{}, path...), name)
	var out []string
	inString := "" // the delimiter of an open multi-line string
	for i := 0; i < len(lines); {
		line := lines[i]
		if inString == "" && isOurHeader(line, want) {
			end := i + 1
			for end < len(lines) && !isHeader(lines[end], &inString) {
				end++
			}
			for end > i+1 && isBlankOrComment(lines[end-1]) {
				end--
			}
			for len(out) > 0 && strings.TrimSpace(out[len(out)-1]) == "" {
				out = out[:len(out)-1]
			}
			i = end
			continue
		}
		trackMultiline(line, &inString)
		out = append(out, line)
		i++
	}
	s := strings.Join(out, "")
	return []byte(strings.TrimLeft(s, "\n"))
}

// isHeader reports whether line is a table header, outside any
// multi-line string (whose state it updates for a non-header line).
func isHeader(line string, inString *string) bool {
	if *inString == "" && strings.HasPrefix(strings.TrimSpace(line), "[") {
		return true
	}
	trackMultiline(line, inString)
	return false
}

// trackMultiline updates the open multi-line string delimiter across line.
func trackMultiline(line string, inString *string) {
	for {
		if *inString != "" {
			j := strings.Index(line, *inString)
			if j < 0 {
				return
			}
			line, *inString = line[j+3:], ""
			continue
		}
		code := line
		if k := strings.IndexByte(code, '#'); k >= 0 && !strings.ContainsAny(code[:k], `"'`) {
			return // a comment; quotes before # are too rare to matter here
		}
		j, d := firstOf(code, `"""`, `'''`)
		if j < 0 {
			return
		}
		line, *inString = code[j+3:], d
	}
}

func firstOf(s string, a, b string) (int, string) {
	i, j := strings.Index(s, a), strings.Index(s, b)
	switch {
	case i < 0 && j < 0:
		return -1, ""
	case j < 0 || (i >= 0 && i < j):
		return i, a
	}
	return j, b
}

func isBlankOrComment(line string) bool {
	t := strings.TrimSpace(line)
	return t == "" || strings.HasPrefix(t, "#")
}

// isOurHeader reports whether line is `[a.b...]` or `[[a.b...]]` whose key
// starts with want.
func isOurHeader(line string, want []string) bool {
	t := strings.TrimSpace(line)
	if !strings.HasPrefix(t, "[") {
		return false
	}
	t = strings.TrimLeft(t, "[")
	end := strings.IndexByte(t, ']')
	if q := strings.IndexAny(t, `"'`); q >= 0 && q < end {
		end = closingBracket(t)
	}
	if end < 0 {
		return false
	}
	keys := splitTOMLKey(t[:end])
	if len(keys) < len(want) {
		return false
	}
	for i, k := range want {
		if keys[i] != k {
			return false
		}
	}
	return true
}

// closingBracket finds the `]` of a header key that has quoted parts.
func closingBracket(t string) int {
	var q byte
	for i := 0; i < len(t); i++ {
		switch c := t[i]; {
		case q != 0 && c == '\\' && q == '"':
			i++
		case q != 0 && c == q:
			q = 0
		case q == 0 && (c == '"' || c == '\''):
			q = c
		case q == 0 && c == ']':
			return i
		}
	}
	return -1
}

// splitTOMLKey splits a dotted key into its parts, unquoted.
func splitTOMLKey(k string) []string {
	var parts []string
	for k = strings.TrimSpace(k); k != ""; {
		var part string
		switch k[0] {
		case '"':
			end := closingQuote(k)
			if end < 0 {
				return nil
			}
			s, err := strconv.Unquote(k[:end+1])
			if err != nil {
				return nil
			}
			part, k = s, k[end+1:]
		case '\'':
			end := strings.IndexByte(k[1:], '\'')
			if end < 0 {
				return nil
			}
			part, k = k[1:end+1], k[end+2:]
		default:
			end := strings.IndexByte(k, '.')
			if end < 0 {
				end = len(k)
			}
			part, k = strings.TrimSpace(k[:end]), k[end:]
		}
		parts = append(parts, part)
		k = strings.TrimSpace(k)
		k = strings.TrimSpace(strings.TrimPrefix(k, "."))
	}
	return parts
}

func closingQuote(k string) int {
	for i := 1; i < len(k); i++ {
		switch k[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}

// writeTOMLFields writes e as `key = value` lines; nested entries are
// inline tables, as Codex's documentation writes `env` and `http_headers`.
func writeTOMLFields(b *bytes.Buffer, e Entry) {
	for _, f := range e {
		b.WriteString(tomlKey(f.Key) + " = " + tomlValue(f.Value) + "\n")
	}
}

func tomlValue(v any) string {
	switch v := v.(type) {
	case string:
		return tomlString(v)
	case bool:
		return strconv.FormatBool(v)
	case int:
		return strconv.Itoa(v)
	case []string:
		q := make([]string, len(v))
		for i, s := range v {
			q[i] = tomlString(s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	case Entry:
		if len(v) == 0 {
			return "{}"
		}
		kv := make([]string, len(v))
		for i, f := range v {
			kv[i] = tomlKey(f.Key) + " = " + tomlValue(f.Value)
		}
		return "{ " + strings.Join(kv, ", ") + " }"
	}
	return `""` // TOML has no null; the harnesses' entries never hold one
}

// tomlKeyPath writes a dotted key.
func tomlKeyPath(keys []string) string {
	q := make([]string, len(keys))
	for i, k := range keys {
		q[i] = tomlKey(k)
	}
	return strings.Join(q, ".")
}

// tomlKey writes a bare key when it may be one, else a quoted key.
func tomlKey(k string) string {
	bare := k != ""
	for _, c := range k {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			bare = false
		}
	}
	if bare {
		return k
	}
	return tomlString(k)
}

// tomlString writes a TOML basic string: only the escapes TOML has.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteRune(c)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\t':
			b.WriteString(`\t`)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, c)
		default:
			b.WriteRune(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// sortedKeys returns a map's keys in order (listing).
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
