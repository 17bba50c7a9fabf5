package agents

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// yamlCodec edits YAML configuration files (Goose) through yaml.v3's node
// tree, so comments, key order, anchors and quoting of the rest of the file
// survive. Output is indented by two spaces.
type yamlCodec struct{}

func (yamlCodec) put(doc []byte, path []string, name string, e Entry, skeleton Entry) ([]byte, error) {
	root, err := parseYAML(doc)
	if err != nil {
		return nil, err
	}
	if root == nil {
		root = &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{yamlEntry(skeleton)}}
	}
	m := root.Content[0]
	for _, k := range path {
		child := yamlGet(m, k)
		switch {
		case child == nil:
			child = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			m.Content = append(m.Content, yamlScalar(k), child)
		case child.Kind == yaml.ScalarNode && child.Tag == "!!null":
			*child = yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"} // `extensions:` with no value
		case child.Kind != yaml.MappingNode:
			return nil, fmt.Errorf("%q is not a mapping", k)
		}
		m = child
	}
	if v := yamlGet(m, name); v != nil {
		*v = *yamlEntry(e)
	} else {
		m.Content = append(m.Content, yamlScalar(name), yamlEntry(e))
	}
	return encodeYAML(root)
}

func (yamlCodec) drop(doc []byte, path []string, name string) ([]byte, bool, error) {
	root, err := parseYAML(doc)
	if err != nil || root == nil {
		return doc, false, err
	}
	parents := []*yaml.Node{root.Content[0]}
	for _, k := range path {
		child := yamlGet(parents[len(parents)-1], k)
		if child == nil || child.Kind != yaml.MappingNode {
			return doc, false, nil
		}
		parents = append(parents, child)
	}
	if !yamlDel(parents[len(parents)-1], name) {
		return doc, false, nil
	}
	for i := len(path) - 1; i >= 0; i-- {
		if len(parents[i+1].Content) > 0 {
			break
		}
		yamlDel(parents[i], path[i])
	}
	top := root.Content[0]
	if len(top.Content) == 0 && top.HeadComment == "" && top.FootComment == "" && root.HeadComment == "" && root.FootComment == "" {
		return nil, true, nil
	}
	out, err := encodeYAML(root)
	return out, true, err
}

func (yamlCodec) decode(doc []byte) (map[string]any, error) {
	m := map[string]any{}
	if err := yaml.Unmarshal(doc, &m); err != nil {
		return nil, fmt.Errorf("parse YAML: %w", err)
	}
	return m, nil
}

// parseYAML reads a one-document file whose root is a mapping; nil for an
// empty document.
func parseYAML(doc []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(doc))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, fmt.Errorf("parse YAML: %w", err)
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		return nil, errors.New("parse YAML: the file holds more than one document")
	}
	if len(root.Content) == 0 {
		return nil, nil
	}
	if top := root.Content[0]; top.Kind != yaml.MappingNode {
		if top.Kind == yaml.ScalarNode && top.Tag == "!!null" {
			root.Content[0] = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			return &root, nil
		}
		return nil, errors.New("parse YAML: the top level is not a mapping")
	}
	return &root, nil
}

func encodeYAML(root *yaml.Node) ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("write YAML: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("write YAML: %w", err)
	}
	return b.Bytes(), nil
}

// yamlGet returns the value of key k in mapping m, or nil.
func yamlGet(m *yaml.Node, k string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == k {
			return m.Content[i+1]
		}
	}
	return nil
}

// yamlDel removes key k from mapping m and reports whether it was there.
func yamlDel(m *yaml.Node, k string) bool {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == k {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return true
		}
	}
	return false
}

func yamlScalar(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}

// yamlEntry converts an Entry to a mapping node.
func yamlEntry(e Entry) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for _, f := range e {
		m.Content = append(m.Content, yamlScalar(f.Key), yamlValue(f.Value))
	}
	return m
}

func yamlValue(v any) *yaml.Node {
	switch v := v.(type) {
	case Entry:
		return yamlEntry(v)
	case []string:
		seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, s := range v {
			seq.Content = append(seq.Content, yamlScalar(s))
		}
		return seq
	case string:
		return yamlScalar(v)
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(v)}
	case int:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(v)}
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
}
