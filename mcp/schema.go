package mcp

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/jsonschema-go/jsonschema"
)

// Output schemas are generated from the result structs of results.go
// (book/mcp.md, "Output schemas"): the structs are the one description
// of a result. A field's `jsonschema` tag is its description, and it is
// optional exactly when its json tag has omitempty. What a tag cannot say
// (an object's own description, an enum) is set on the generated schema.

// resultSchema is the output schema of a tool whose result is a T, with
// desc as the root object's description.
func resultSchema[T any](desc string) *jsonschema.Schema {
	s, err := jsonschema.For[T](nil)
	if err != nil {
		panic(fmt.Sprintf("result schema: %v", err)) // a programming error, caught by every test
	}
	s.Description = desc
	notNull(s)
	return s
}

// notNull drops the "null" that generation allows beside every slice and
// pointer: no field of a result is null (required slices are never nil,
// and omitempty leaves out a nil pointer or an empty slice), and a test
// validates every result against its schema.
func notNull(s *jsonschema.Schema) {
	if s == nil {
		return
	}
	if len(s.Types) == 2 && s.Types[0] == "null" {
		s.Type, s.Types = s.Types[1], nil
	}
	for _, p := range s.Properties {
		notNull(p)
	}
	notNull(s.Items)
	notNull(s.AdditionalProperties)
}

// field returns the schema of a property below s, one name per level;
// a name ending in [] steps into the array's items.
func field(s *jsonschema.Schema, path ...string) *jsonschema.Schema {
	for _, name := range path {
		items := strings.HasSuffix(name, "[]")
		s = s.Properties[strings.TrimSuffix(name, "[]")]
		if s != nil && items {
			s = s.Items
		}
		if s == nil {
			panic(fmt.Sprintf("result schema has no %s", strings.Join(path, "."))) // a programming error
		}
	}
	return s
}

// withEnum sets the allowed values of the property at path and returns s.
func withEnum(s *jsonschema.Schema, values []string, path ...string) *jsonschema.Schema {
	f := field(s, path...)
	f.Enum = nil
	for _, v := range values {
		f.Enum = append(f.Enum, v)
	}
	return s
}

// schema is a hand-written JSON Schema node, for the input schemas: their
// defaults, bounds and formats are written beside the parameter they
// describe.
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

// raw encodes a schema for the manifest: a hand-written one or a
// generated *jsonschema.Schema.
func raw(s any) json.RawMessage {
	b, err := json.Marshal(s)
	if err != nil {
		panic(fmt.Sprintf("tool schema does not encode: %v", err)) // a programming error, caught by every test
	}
	return b
}
