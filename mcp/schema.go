package mcp

import (
	"encoding/json"
	"fmt"
)

// schema is a JSON Schema node. The tool schemas are written by hand
// rather than reflected from Go types: mcp-go's reflection makes every
// field without `omitempty` required and drops list roots (DESIGN.md), and
// agents read these descriptions.
type schema map[string]any

// prop is one named property of an object schema.
type prop struct {
	name     string
	s        schema
	required bool
}

// req marks a property required.
func req(name string, s schema) prop { return prop{name: name, s: s, required: true} }

// opt is an optional property.
func opt(name string, s schema) prop { return prop{name: name, s: s} }

// object is an object schema with the given properties.
func object(desc string, props ...prop) schema {
	s := schema{"type": "object", "properties": map[string]any{}}
	if desc != "" {
		s["description"] = desc
	}
	var required []string
	for _, p := range props {
		s["properties"].(map[string]any)[p.name] = p.s
		if p.required {
			required = append(required, p.name)
		}
	}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

func str(desc string) schema { return schema{"type": "string", "description": desc} }

func enum(desc string, values ...string) schema {
	return schema{"type": "string", "description": desc, "enum": values}
}

func integer(desc string) schema { return schema{"type": "integer", "description": desc} }

func boolean(desc string) schema { return schema{"type": "boolean", "description": desc} }

func array(desc string, items schema) schema {
	return schema{"type": "array", "description": desc, "items": items}
}

// with returns a copy of s with extra keywords (minimum, default, ...).
func (s schema) with(kv ...any) schema {
	out := schema{}
	for k, v := range s {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

// raw encodes a schema for mcp.WithRawInputSchema / WithRawOutputSchema.
func (s schema) raw() json.RawMessage {
	b, err := json.Marshal(s)
	if err != nil {
		panic(fmt.Sprintf("tool schema does not encode: %v", err)) // a programming error, caught by every test
	}
	return b
}
