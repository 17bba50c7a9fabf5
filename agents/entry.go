package agents

import (
	"encoding/json"
	"fmt"
)

// Field is one key of an Entry.
type Field struct {
	Key string
	// Value is a string, bool, int, []string, Entry or nil.
	Value any
}

// Entry is an ordered set of fields: a server entry as a harness documents
// it. The codecs write it in this order, whatever the file format.
type Entry []Field

// generic returns e as the values encoding/json would decode it into, the
// common form the parse-back checks compare.
func (e Entry) generic() map[string]any {
	m := make(map[string]any, len(e))
	for _, f := range e {
		m[f.Key] = genericValue(f.Value)
	}
	return m
}

func genericValue(v any) any {
	switch v := v.(type) {
	case Entry:
		return v.generic()
	case []string:
		out := make([]any, len(v))
		for i, s := range v {
			out[i] = s
		}
		return out
	case int:
		return float64(v)
	default:
		return v
	}
}

// canonical turns any decoded document value (from encoding/json, go-toml
// or yaml) into what encoding/json would decode from its JSON text, so that
// two formats' values compare with reflect.DeepEqual.
func canonical(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("compare values: %w", err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("compare values: %w", err)
	}
	return out, nil
}

// lookup follows path from the document root through nested maps; ok is
// false when a key is missing or a value on the way is not a map.
func lookup(doc map[string]any, path ...string) (any, bool) {
	var cur any = doc
	for _, k := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[k]; !ok {
			return nil, false
		}
	}
	return cur, true
}
