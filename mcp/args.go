package mcp

import (
	"bytes"
	"encoding/json"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Strict arguments (book/mcp.md, "Arguments"): a tool's hand-written input
// schema is the one list of what it accepts. normalizeArgs checks a call's
// arguments against it before the handler sees them: an argument the schema
// does not name is refused, a value of the wrong type is refused with a
// sentence naming the argument and the type, and the forms agents write
// for numbers and booleans ("5", "true") are turned into JSON ones. The
// handler then decodes the normalized object into its args struct.

// acceptedArgs lists the properties of an input schema: the required ones
// first, in the schema's order, then the others by name (the order the
// manifest prints them in).
func acceptedArgs(in schema) []string {
	props, _ := in["properties"].(map[string]any)
	var out []string
	seen := map[string]bool{}
	if required, ok := in["required"].([]string); ok {
		for _, n := range required {
			out = append(out, n)
			seen[n] = true
		}
	}
	var rest []string
	for n := range props {
		if !seen[n] {
			rest = append(rest, n)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

// normalizeArgs checks raw (the call's arguments, any JSON value) against
// the input schema of tool and returns them as a JSON object holding only
// known arguments with values of the schema's types. A null argument is
// treated as left out.
func normalizeArgs(tool string, in schema, raw any) (json.RawMessage, error) {
	if raw == nil {
		return json.RawMessage("{}"), nil
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return nil, errorf("the arguments of %s could not be read; pass a JSON object such as {\"mailbox\": \"support\"}.", tool)
	}
	var args map[string]json.RawMessage
	if err := json.Unmarshal(b, &args); err != nil {
		return nil, errorf("the arguments of %s must be a JSON object of named arguments, not %s.", tool, shortJSON(b))
	}
	props, _ := in["properties"].(map[string]any)
	accepted := acceptedArgs(in)
	names := make([]string, 0, len(args))
	for n := range args {
		names = append(names, n)
	}
	sort.Strings(names) // the first unknown argument is the same on every call
	out := make(map[string]any, len(args))
	for _, n := range names {
		p, ok := props[n].(schema)
		if !ok {
			if len(accepted) == 0 {
				return nil, errorf("unknown argument %q for %s; it takes no arguments.", n, tool)
			}
			return nil, errorf("unknown argument %q for %s; it accepts: %s.", n, tool, strings.Join(accepted, ", "))
		}
		v := bytes.TrimSpace(args[n])
		if string(v) == "null" {
			continue
		}
		val, err := coerce(n, p, v)
		if err != nil {
			return nil, err
		}
		out[n] = val
	}
	norm, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	return norm, nil
}

// coerce returns the value v of argument name as the schema's type wants it.
func coerce(name string, p schema, v json.RawMessage) (any, error) {
	typ, _ := p["type"].(string)
	switch typ {
	case "integer":
		var s string
		if json.Unmarshal(v, &s) == nil { // "5"
			s = strings.TrimSpace(s)
			if n, err := strconv.ParseInt(s, 10, 64); err == nil {
				return n, nil
			}
			return nil, errorf("%s must be an integer, such as %s, not %s.", name, integerExample(p), shortJSON(v))
		}
		var f float64
		if json.Unmarshal(v, &f) == nil {
			if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
				return nil, errorf("%s must be a whole number, such as %s, not %s.", name, integerExample(p), shortJSON(v))
			}
			return int64(f), nil
		}
		return nil, errorf("%s must be an integer, such as %s, not %s.", name, integerExample(p), shortJSON(v))
	case "boolean":
		var b bool
		if json.Unmarshal(v, &b) == nil {
			return b, nil
		}
		var s string
		if json.Unmarshal(v, &s) == nil {
			switch strings.ToLower(strings.TrimSpace(s)) {
			case "true":
				return true, nil
			case "false":
				return false, nil
			}
		}
		return nil, errorf("%s must be true or false, not %s.", name, shortJSON(v))
	case "string":
		var s string
		if json.Unmarshal(v, &s) != nil {
			return nil, errorf("%s must be a string (text in quotes), not %s.", name, shortJSON(v))
		}
		return s, nil
	case "array":
		var items []json.RawMessage
		if json.Unmarshal(v, &items) != nil {
			return nil, errorf("%s must be an array, such as [\"/usr/local/bin/triage\", \"--queue\", \"support\"], not %s.", name, shortJSON(v))
		}
		item, _ := p["items"].(schema)
		out := make([]any, 0, len(items))
		for i, it := range items {
			val, err := coerce(name+"["+strconv.Itoa(i)+"]", item, bytes.TrimSpace(it))
			if err != nil {
				return nil, err
			}
			out = append(out, val)
		}
		return out, nil
	}
	var val any
	if err := json.Unmarshal(v, &val); err != nil {
		return nil, errorf("%s could not be read as JSON.", name)
	}
	return val, nil
}

// integerExample is a value an integer argument accepts, for its sentences.
func integerExample(p schema) string {
	for _, k := range []string{"default", "minimum"} {
		if d, ok := p[k]; ok {
			if b, err := json.Marshal(d); err == nil {
				return string(b)
			}
		}
	}
	return "5"
}

// shortJSON quotes a value back to the agent, cut to a readable length.
func shortJSON(v []byte) string {
	s := cleanHeader(string(v))
	if r := []rune(s); len(r) > 60 {
		s = string(r[:57]) + "..."
	}
	return s
}
