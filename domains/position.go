package domains

import (
	"slices"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// renderPath writes key parts as a TOML dotted key, quoting parts that are
// not bare keys, with index parts ("[n]") attached: mailboxes."a@b.c".hooks[0].
func renderPath(parts []string) string {
	var b strings.Builder
	for i, part := range parts {
		if strings.HasPrefix(part, "[") {
			b.WriteString(part)
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		writeKey(&b, part)
	}
	return b.String()
}

// positions maps rendered key paths to the line and column where the key
// (or its table header) is written, so rule errors found after decoding can
// still name a line.
type positions map[string][2]int

// indexPositions walks the document's top-level expressions. Keys inside
// inline tables are not indexed; a lookup falls back to the enclosing key.
func indexPositions(data []byte) positions {
	pos := positions{}
	var prs unstable.Parser
	prs.Reset(data)
	var table []string
	arrays := map[string]int{}
	for prs.NextExpression() {
		e := prs.Expression()
		var parts []string
		first := true
		var line, col int
		it := e.Key()
		for it.Next() {
			n := it.Node()
			if first {
				sh := prs.Shape(n.Raw)
				line, col = sh.Start.Line, sh.Start.Column
				first = false
			}
			parts = append(parts, string(n.Data))
		}
		switch e.Kind {
		case unstable.Table:
			table = parts
		case unstable.ArrayTable:
			k := renderPath(parts)
			i := arrays[k]
			arrays[k] = i + 1
			table = append(parts, idx(i))
		case unstable.KeyValue:
			parts = append(append([]string{}, table...), parts...)
		default:
			continue
		}
		if e.Kind != unstable.KeyValue {
			parts = table
		}
		k := renderPath(parts)
		if _, ok := pos[k]; !ok {
			pos[k] = [2]int{line, col}
		}
		if v := e.Value(); e.Kind == unstable.KeyValue && v != nil && v.Kind == unstable.Array {
			// Elements of an array value, so that domains[2] names its own line.
			ch := v.Children()
			for i := 0; ch.Next(); i++ {
				if r := ch.Node().Raw; r.Length > 0 {
					sh := prs.Shape(r)
					pos[renderPath(append(slices.Clone(parts), idx(i)))] = [2]int{sh.Start.Line, sh.Start.Column}
				}
			}
		}
	}
	return pos
}

// lookup finds the position of the longest known prefix of path.
func (pos positions) lookup(path []string) (line, col int) {
	for n := len(path); n > 0; n-- {
		if lc, ok := pos[renderPath(path[:n])]; ok {
			return lc[0], lc[1]
		}
	}
	return 0, 0
}
