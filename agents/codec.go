package agents

import (
	"fmt"
	"reflect"
)

// Format is the file format of a harness's MCP configuration.
type Format string

// The formats the harnesses use.
const (
	JSON Format = "json"
	TOML Format = "toml"
	YAML Format = "yaml"
)

// codec edits one format in place: it changes the entry it is asked to and
// keeps every other key (and, where the format has them, comments and key
// order).
type codec interface {
	// put returns doc with path/name set to e, added or replaced. skeleton
	// holds the top-level fields of a new document (doc empty).
	put(doc []byte, path []string, name string, e Entry, skeleton Entry) ([]byte, error)
	// drop returns doc without path/name (and without the map at path when
	// that leaves it empty), and whether the entry was there. A result of
	// nil means nothing else is left: the file can go.
	drop(doc []byte, path []string, name string) ([]byte, bool, error)
	// decode parses doc (empty: an empty document).
	decode(doc []byte) (map[string]any, error)
}

// codecFor returns the codec of a format.
func codecFor(f Format) (codec, error) {
	switch f {
	case JSON:
		return jsonCodec{}, nil
	case TOML:
		return tomlCodec{}, nil
	case YAML:
		return yamlCodec{}, nil
	}
	return nil, fmt.Errorf("unknown config format %q", f)
}

// checkEntry parses doc back and checks that path/name holds exactly e:
// the last guard before a file is written, whatever the codec did.
func checkEntry(c codec, doc []byte, path []string, name string, e Entry) error {
	m, err := c.decode(doc)
	if err != nil {
		return fmt.Errorf("the new file does not parse: %w", err)
	}
	got, ok := lookup(m, append(append([]string{}, path...), name)...)
	if !ok {
		return fmt.Errorf("the new file has no %s entry", name)
	}
	g, err := canonical(got)
	if err != nil {
		return err
	}
	w, err := canonical(e.generic())
	if err != nil {
		return err
	}
	if !reflect.DeepEqual(g, w) {
		return fmt.Errorf("the new file's %s entry reads back as %v, not %v", name, g, w)
	}
	return nil
}
