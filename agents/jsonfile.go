package agents

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// jsonCodec edits JSON configuration files (Claude Code, Gemini CLI,
// OpenCode) keeping the order of every object's keys, as the harnesses
// write them, and their numbers as written. Output is indented by two
// spaces, as those harnesses write their files. Comments (JSONC) are not
// JSON: such a file is refused, never rewritten without them.
type jsonCodec struct{}

// object is a JSON object that remembers its key order.
type object struct {
	keys []string
	vals map[string]any
}

func newObject() *object { return &object{vals: map[string]any{}} }

func (o *object) get(k string) (any, bool) { v, ok := o.vals[k]; return v, ok }

// set replaces k's value in place, or appends k.
func (o *object) set(k string, v any) {
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
}

// del removes k and reports whether it was there.
func (o *object) del(k string) bool {
	if _, ok := o.vals[k]; !ok {
		return false
	}
	delete(o.vals, k)
	for i, key := range o.keys {
		if key == k {
			o.keys = append(o.keys[:i], o.keys[i+1:]...)
			break
		}
	}
	return true
}

func (jsonCodec) put(doc []byte, path []string, name string, e Entry, skeleton Entry) ([]byte, error) {
	root, err := parseJSONObject(doc)
	if err != nil {
		return nil, err
	}
	if root == nil {
		root = jsonEntry(skeleton)
	}
	m := root
	for _, k := range path {
		v, ok := m.get(k)
		child, isObj := v.(*object)
		switch {
		case !ok || v == nil:
			child = newObject()
			m.set(k, child)
		case !isObj:
			return nil, fmt.Errorf("%q is not an object", k)
		}
		m = child
	}
	m.set(name, jsonEntry(e))
	return encodeJSON(root), nil
}

func (jsonCodec) drop(doc []byte, path []string, name string) ([]byte, bool, error) {
	root, err := parseJSONObject(doc)
	if err != nil || root == nil {
		return doc, false, err
	}
	parents := []*object{root}
	m := root
	for _, k := range path {
		v, _ := m.get(k)
		child, ok := v.(*object)
		if !ok {
			return doc, false, nil
		}
		parents = append(parents, child)
		m = child
	}
	if !m.del(name) {
		return doc, false, nil
	}
	// Drop the maps on the path that are empty now, innermost first.
	for i := len(path) - 1; i >= 0; i-- {
		if len(parents[i+1].keys) > 0 {
			break
		}
		parents[i].del(path[i])
	}
	if len(root.keys) == 0 {
		return nil, true, nil
	}
	return encodeJSON(root), true, nil
}

func (jsonCodec) decode(doc []byte) (map[string]any, error) {
	root, err := parseJSONObject(doc)
	if err != nil || root == nil {
		return map[string]any{}, err
	}
	return plain(root).(map[string]any), nil
}

// plain turns objects back into maps.
func plain(v any) any {
	switch v := v.(type) {
	case *object:
		m := make(map[string]any, len(v.keys))
		for _, k := range v.keys {
			m[k] = plain(v.vals[k])
		}
		return m
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = plain(x)
		}
		return out
	}
	return v
}

// jsonEntry converts an Entry to an object.
func jsonEntry(e Entry) *object {
	o := newObject()
	for _, f := range e {
		switch v := f.Value.(type) {
		case Entry:
			o.set(f.Key, jsonEntry(v))
		case []string:
			a := make([]any, len(v))
			for i, s := range v {
				a[i] = s
			}
			o.set(f.Key, a)
		case int:
			o.set(f.Key, json.Number(fmt.Sprint(v)))
		default:
			o.set(f.Key, v)
		}
	}
	return o
}

// parseJSONObject reads a document whose root is an object; nil for an
// empty (or all-space) document.
func parseJSONObject(doc []byte) (*object, error) {
	if len(bytes.TrimSpace(doc)) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	v, err := readJSON(dec)
	if err != nil {
		return nil, fmt.Errorf("parse JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("parse JSON: text after the top-level value (comments are not JSON)")
	}
	o, ok := v.(*object)
	if !ok {
		return nil, errors.New("parse JSON: the top-level value is not an object")
	}
	return o, nil
}

func readJSON(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return tok, nil // string, json.Number, bool or nil
	}
	switch d {
	case '{':
		o := newObject()
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, err
			}
			k, _ := kt.(string) // the decoder only returns string keys here
			v, err := readJSON(dec)
			if err != nil {
				return nil, err
			}
			o.set(k, v)
		}
		_, err := dec.Token() // '}'
		return o, err
	case '[':
		a := []any{}
		for dec.More() {
			v, err := readJSON(dec)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		_, err := dec.Token() // ']'
		return a, err
	}
	return nil, fmt.Errorf("unexpected %v", d)
}

// encodeJSON writes an object indented by two spaces, with a final
// newline, leaving <, > and & as they are (as JavaScript writes them).
func encodeJSON(o *object) []byte {
	var b bytes.Buffer
	writeJSON(&b, o, "")
	b.WriteByte('\n')
	return b.Bytes()
}

func writeJSON(b *bytes.Buffer, v any, indent string) {
	inner := indent + "  "
	switch v := v.(type) {
	case *object:
		if len(v.keys) == 0 {
			b.WriteString("{}")
			return
		}
		b.WriteString("{\n")
		for i, k := range v.keys {
			b.WriteString(inner)
			writeJSONString(b, k)
			b.WriteString(": ")
			writeJSON(b, v.vals[k], inner)
			if i < len(v.keys)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(indent + "}")
	case []any:
		if len(v) == 0 {
			b.WriteString("[]")
			return
		}
		b.WriteString("[\n")
		for i, x := range v {
			b.WriteString(inner)
			writeJSON(b, x, inner)
			if i < len(v)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(indent + "]")
	case string:
		writeJSONString(b, v)
	case json.Number:
		b.WriteString(v.String())
	case bool:
		fmt.Fprint(b, v)
	case nil:
		b.WriteString("null")
	default:
		writeJSONString(b, fmt.Sprint(v)) // not produced by readJSON or jsonEntry
	}
}

func writeJSONString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	b.Truncate(b.Len() - 1)
}
