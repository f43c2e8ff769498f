package config

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// This file is the one place YAML text is read. Load takes the run settings
// from the parse through viper; the top-level Blocks come out of the same
// parse as Values, map keys in file order (a sweep's axes run in the order
// they are written, which viper's maps do not keep).

// parseYAML reads YAML text into its document node; nil for a text with no
// document (empty, or only comments). Errors are one line.
func parseYAML(data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("not valid YAML: %s", OneLine(err))
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	return &doc, nil
}

// OneLine is err's text on one line: every run of white space, line breaks
// included, becomes one space. YAML's own messages span lines; the errors
// of this package are one line, and a command prints any other error
// through OneLine.
func OneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }

// Value is one YAML value of a config as written: a map keeps its keys in
// file order, a scalar its text and quoting. An alias is neither a scalar,
// a list nor a map (Flow follows it). The zero Value is no value: String
// says "nothing", and Flow and Decode refuse it.
type Value struct{ n *yaml.Node }

// Entry is one key of a map Value and its value.
type Entry struct {
	Key   string // the key's text as written
	Value Value
}

// ParseValue reads text, a -set or RUNNER_* value, as one YAML value; an
// empty text is nothing (YAML null).
func ParseValue(text string) (Value, error) {
	doc, err := parseYAML([]byte(text))
	if err != nil {
		return Value{}, fmt.Errorf("value is %w", err)
	}
	if doc == nil {
		return Value{&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null"}}, nil
	}
	return Value{doc.Content[0]}, nil
}

// IsScalar reports whether v is one scalar (nothing included).
func (v Value) IsScalar() bool { return v.n != nil && v.n.Kind == yaml.ScalarNode }

// IsList reports whether v is a list.
func (v Value) IsList() bool { return v.n != nil && v.n.Kind == yaml.SequenceNode }

// IsMap reports whether v is a map.
func (v Value) IsMap() bool { return v.n != nil && v.n.Kind == yaml.MappingNode }

// Text is a scalar's text as written, without its quotes; "" for the rest.
func (v Value) Text() string {
	if !v.IsScalar() {
		return ""
	}
	return v.n.Value
}

// Items are a list's values in order; nil for the rest.
func (v Value) Items() []Value {
	if !v.IsList() {
		return nil
	}
	out := make([]Value, len(v.n.Content))
	for i, e := range v.n.Content {
		out[i] = Value{e}
	}
	return out
}

// Entries are a map's keys and values in file order (a key written twice
// comes twice); nil for the rest.
func (v Value) Entries() []Entry {
	if !v.IsMap() {
		return nil
	}
	out := make([]Entry, 0, len(v.n.Content)/2)
	for i := 0; i+1 < len(v.n.Content); i += 2 {
		out = append(out, Entry{v.n.Content[i].Value, Value{v.n.Content[i+1]}})
	}
	return out
}

// String describes v for an error message: "a map", "a list", "nothing",
// a scalar's text quoted, or "something else".
func (v Value) String() string {
	switch {
	case v.n == nil:
		return "nothing"
	case v.IsMap():
		return "a map"
	case v.IsList():
		return "a list"
	case v.IsScalar() && v.n.Tag == "!!null":
		return "nothing"
	case v.IsScalar():
		return fmt.Sprintf("%q", v.n.Value)
	}
	return "something else"
}

// Flow renders v as one line of YAML flow text that ParseValue (and so a
// -set) reads back as the same value: lists as [a, b], maps as {k: v};
// scalars keep their quoting, so "500" stays a string. A value that does not
// fit on one line is an error.
func (v Value) Flow() (string, error) {
	n := v.n
	if n == nil {
		return "", fmt.Errorf("no value")
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	b, err := yaml.Marshal(flowCopy(n))
	if err != nil {
		return "", fmt.Errorf("%s", OneLine(err))
	}
	s := strings.TrimSpace(string(b))
	if strings.Contains(s, "\n") {
		return "", fmt.Errorf("value %s does not fit on one line", Value{n})
	}
	return s, nil
}

// flowCopy is a deep copy of n in flow style without comments; block
// scalars become double-quoted ones.
func flowCopy(n *yaml.Node) *yaml.Node {
	c := *n
	c.HeadComment, c.LineComment, c.FootComment = "", "", ""
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		c.Style = yaml.FlowStyle
		c.Content = make([]*yaml.Node, len(n.Content))
		for i, e := range n.Content {
			c.Content[i] = flowCopy(e)
		}
	}
	if n.Kind == yaml.ScalarNode && n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		c.Style = yaml.DoubleQuotedStyle
	}
	return &c
}

// Decode stores v in the value dst points to, strictly: a key that names
// no field of a struct is an error, as is a value of the wrong type. Errors
// are one line.
func (v Value) Decode(dst any) error {
	if v.n == nil {
		return fmt.Errorf("no value")
	}
	b, err := yaml.Marshal(v.n)
	if err == nil {
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		err = dec.Decode(dst)
	}
	if err != nil {
		return fmt.Errorf("%s", OneLine(err))
	}
	return nil
}

// Set puts x at path in the map v: path's elements are map keys, matched
// to the keys written as lower case with the spaces around them trimmed;
// missing keys are added, and maps made on the way. A key on the way that
// holds something other than a map is an error naming it.
func (v Value) Set(path []string, x Value) error {
	if !v.IsMap() {
		return fmt.Errorf("%s is not a map", v)
	}
	cur := v.n
	for i, name := range path {
		last := i == len(path)-1
		var next *yaml.Node
		for j := 0; j+1 < len(cur.Content); j += 2 {
			if strings.ToLower(strings.TrimSpace(cur.Content[j].Value)) == name {
				next = cur.Content[j+1]
				if last {
					cur.Content[j+1] = x.n
				}
			}
		}
		switch {
		case last:
			if next == nil {
				cur.Content = append(cur.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: name}, x.n)
			}
		case next == nil:
			next = &yaml.Node{Kind: yaml.MappingNode}
			cur.Content = append(cur.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: name}, next)
		case next.Kind != yaml.MappingNode:
			return fmt.Errorf("%s is %s in the config, not a map", strings.Join(path[:i+1], "."), Value{next})
		}
		cur = next
	}
	return nil
}

// Split parses src once and returns its top-level Blocks as written, by
// name (an absent block is missing), and the rest of the file: the run
// settings as YAML text, which Load reads alike with or without the
// blocks. The top level must be a map with each key once; errors are one
// line naming src.
func Split(src Source) (blocks map[string]Value, rest []byte, err error) {
	doc, err := parseYAML(src.Data)
	if err != nil {
		return nil, nil, fmt.Errorf("config %s: %w", src.Name, err)
	}
	if doc == nil || doc.Content[0].Kind != yaml.MappingNode {
		return nil, nil, fmt.Errorf("config %s: want a map of keys at the top level", src.Name)
	}
	if err := doc.Decode(new(map[string]yaml.Node)); err != nil { // a key written twice, as Load refuses it
		return nil, nil, fmt.Errorf("config %s: not valid YAML: %s", src.Name, OneLine(err))
	}
	top := doc.Content[0]
	blocks = map[string]Value{}
	var settings []*yaml.Node
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		if slices.Contains(Blocks, k.Value) {
			blocks[k.Value] = Value{v}
			continue
		}
		settings = append(settings, k, v)
	}
	if len(settings) == 0 {
		return blocks, nil, nil
	}
	top.Content = settings
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	if err := enc.Encode(doc.Content[0]); err != nil {
		return nil, nil, fmt.Errorf("config %s: %s", src.Name, OneLine(err))
	}
	enc.Close()
	return blocks, buf.Bytes(), nil
}

// parse reads the YAML document of src as a map; an empty document is an
// empty map.
func parse(src Source) (map[string]any, error) {
	doc, err := parseYAML(src.Data)
	var m map[string]any
	if err == nil && doc != nil {
		if derr := doc.Decode(&m); derr != nil {
			err = fmt.Errorf("not valid YAML: %s", OneLine(derr))
		}
	}
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", src.Name, err)
	}
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

// parseAny reads text (a -set or RUNNER_* value) as YAML: nil for nothing.
func parseAny(text string) (any, error) {
	v, err := ParseValue(text)
	var out any
	if err == nil {
		if derr := v.n.Decode(&out); derr != nil {
			err = fmt.Errorf("value is not valid YAML: %s", OneLine(derr))
		}
	}
	return out, err
}

// YAML renders a resolved config.
func YAML(resolved map[string]any) ([]byte, error) {
	return yaml.Marshal(resolved)
}
