package config

import (
	"encoding"
	"fmt"
	"reflect"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

var (
	fileType        = reflect.TypeOf(file{})
	durationType    = reflect.TypeOf(time.Duration(0))
	textUnmarshaler = reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem()
)

// checkNode walks the YAML tree beside the Go type it decodes into and
// reports, with line and field path, every key the type does not have and
// every scalar a decimal or duration field cannot take. yaml.v3's own
// strict mode catches the same unknown keys but names only the Go type;
// the path is what a person editing the file needs. Aliases are left to
// the decoder (walking them could expand exponentially).
func checkNode(n *yaml.Node, t reflect.Type, path string) []error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil
		}
		return checkNode(n.Content[0], t, path)
	case yaml.AliasNode:
		return nil
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if t == durationType {
		return checkDuration(n, path)
	}
	if reflect.PointerTo(t).Implements(textUnmarshaler) {
		if n.Kind != yaml.ScalarNode {
			return nil // the decoder reports the wrong node kind
		}
		v := reflect.New(t).Interface().(encoding.TextUnmarshaler)
		if err := v.UnmarshalText([]byte(n.Value)); err != nil {
			return []error{fmt.Errorf("line %d: %s: %q is not a valid %s", n.Line, path, n.Value, describe(t))}
		}
		return nil
	}
	var errs []error
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return nil
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Tag == "!!merge" {
				continue
			}
			ft, ok := fields[k.Value]
			if !ok {
				errs = append(errs, fmt.Errorf("line %d: %s: unknown key", k.Line, join(path, k.Value)))
				continue
			}
			errs = append(errs, checkNode(v, ft, join(path, k.Value))...)
		}
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			return nil
		}
		for i, item := range n.Content {
			errs = append(errs, checkNode(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i))...)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return nil
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Tag == "!!merge" {
				continue
			}
			errs = append(errs, checkNode(v, t.Elem(), join(path, k.Value))...)
		}
	}
	return errs
}

func checkDuration(n *yaml.Node, path string) []error {
	if n.Kind != yaml.ScalarNode {
		return nil
	}
	if _, err := time.ParseDuration(n.Value); err != nil {
		return []error{fmt.Errorf("line %d: %s: %q is not a duration (write it with a unit, like \"10s\" or \"5m\")", n.Line, path, n.Value)}
	}
	return nil
}

func describe(t reflect.Type) string {
	if t.Name() == "Decimal" {
		return "decimal number"
	}
	return t.String()
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// yamlFields maps the YAML keys of struct type t to their field types, the
// way yaml.v3 names them: the tag's name, else the lowercased field name;
// inline structs contribute their own keys.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := make(map[string]reflect.Type)
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(opts, "inline") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range yamlFields(ft) {
					out[k] = v
				}
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}
