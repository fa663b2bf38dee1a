// Package apitest checks real API traffic against paygate's OpenAPI
// document, so that the document and the handlers cannot drift apart.
//
// It implements the subset of OpenAPI 3.0 schemas the document uses: type,
// nullable, properties, required, additionalProperties, items, enum,
// minimum/maximum, minLength/maxLength, pattern and $ref.
package apitest

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/paygate-cn/paygate/gateway"
)

// Doc is a parsed OpenAPI document.
type Doc struct {
	Paths      map[string]map[string]operation `json:"paths"`
	Components struct {
		Schemas map[string]*Schema `json:"schemas"`
	} `json:"components"`
}

type operation struct {
	RequestBody *struct {
		Content map[string]struct {
			Schema *Schema `json:"schema"`
		} `json:"content"`
	} `json:"requestBody"`
	Responses map[string]struct {
		Content map[string]struct {
			Schema *Schema `json:"schema"`
		} `json:"content"`
	} `json:"responses"`
}

// Schema is an OpenAPI schema object (the subset in use).
type Schema struct {
	Ref                  string             `json:"$ref"`
	Type                 string             `json:"type"`
	Nullable             bool               `json:"nullable"`
	Properties           map[string]*Schema `json:"properties"`
	Required             []string           `json:"required"`
	AdditionalProperties json.RawMessage    `json:"additionalProperties"`
	Items                *Schema            `json:"items"`
	Enum                 []any              `json:"enum"`
	Minimum              *float64           `json:"minimum"`
	Maximum              *float64           `json:"maximum"`
	MinLength            *int               `json:"minLength"`
	MaxLength            *int               `json:"maxLength"`
	Pattern              string             `json:"pattern"`
}

// Load parses the gateway's embedded document.
func Load() (*Doc, error) {
	var d Doc
	if err := json.Unmarshal(gateway.OpenAPI(), &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// Operations lists "METHOD /path" of every operation, sorted.
func (d *Doc) Operations() []string {
	var ops []string
	for p, m := range d.Paths {
		for method := range m {
			ops = append(ops, strings.ToUpper(method)+" "+p)
		}
	}
	sort.Strings(ops)
	return ops
}

// CheckRequest validates a request body for an operation.
func (d *Doc) CheckRequest(method, pathTemplate string, body []byte) error {
	op, err := d.op(method, pathTemplate)
	if err != nil {
		return err
	}
	if op.RequestBody == nil {
		return nil
	}
	return d.check(op.RequestBody.Content["application/json"].Schema, body)
}

// CheckResponse validates a response status and body for an operation:
// the status must be documented, and a JSON body must match its schema.
func (d *Doc) CheckResponse(method, pathTemplate string, status int, body []byte) error {
	op, err := d.op(method, pathTemplate)
	if err != nil {
		return err
	}
	r, ok := op.Responses[strconv.Itoa(status)]
	if !ok {
		return fmt.Errorf("%s %s: status %d is not documented", method, pathTemplate, status)
	}
	c, ok := r.Content["application/json"]
	if !ok || c.Schema == nil {
		return nil
	}
	return d.check(c.Schema, body)
}

func (d *Doc) op(method, pathTemplate string) (operation, error) {
	ops, ok := d.Paths[pathTemplate]
	if !ok {
		return operation{}, fmt.Errorf("path %s is not documented", pathTemplate)
	}
	op, ok := ops[strings.ToLower(method)]
	if !ok {
		return operation{}, fmt.Errorf("%s %s is not documented", method, pathTemplate)
	}
	return op, nil
}

func (d *Doc) check(s *Schema, body []byte) error {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("body is not JSON: %w", err)
	}
	return d.Validate(s, v, "$")
}

// Validate checks a decoded JSON value against a schema.
func (d *Doc) Validate(s *Schema, v any, path string) error {
	if v == nil && s.Nullable {
		return nil
	}
	if s.Ref != "" {
		name := strings.TrimPrefix(s.Ref, "#/components/schemas/")
		t, ok := d.Components.Schemas[name]
		if !ok {
			return fmt.Errorf("%s: unknown $ref %s", path, s.Ref)
		}
		return d.Validate(t, v, path)
	}
	if v == nil {
		if s.Nullable || s.Type == "" {
			return nil
		}
		return fmt.Errorf("%s: null where %s is required", path, s.Type)
	}
	if len(s.Enum) > 0 {
		found := false
		for _, e := range s.Enum {
			found = found || fmt.Sprint(e) == fmt.Sprint(v)
		}
		if !found {
			return fmt.Errorf("%s: %v is not one of %v", path, v, s.Enum)
		}
	}
	switch s.Type {
	case "object":
		obj, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: want object, got %T", path, v)
		}
		for _, r := range s.Required {
			if _, ok := obj[r]; !ok {
				return fmt.Errorf("%s: required property %q missing", path, r)
			}
		}
		var extra *Schema
		allowExtra := len(s.AdditionalProperties) == 0 || string(s.AdditionalProperties) == "true"
		if !allowExtra && string(s.AdditionalProperties) != "false" {
			extra = new(Schema)
			if err := json.Unmarshal(s.AdditionalProperties, extra); err != nil {
				return err
			}
		}
		for k, pv := range obj {
			ps, ok := s.Properties[k]
			switch {
			case ok:
			case extra != nil:
				ps = extra
			case allowExtra:
				continue
			default:
				return fmt.Errorf("%s: property %q is not documented", path, k)
			}
			if err := d.Validate(ps, pv, path+"."+k); err != nil {
				return err
			}
		}
	case "array":
		arr, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s: want array, got %T", path, v)
		}
		if s.Items != nil {
			for i, e := range arr {
				if err := d.Validate(s.Items, e, fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
			}
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			return fmt.Errorf("%s: want string, got %T", path, v)
		}
		if s.MaxLength != nil && len([]rune(str)) > *s.MaxLength {
			return fmt.Errorf("%s: longer than %d", path, *s.MaxLength)
		}
		if s.MinLength != nil && len([]rune(str)) < *s.MinLength {
			return fmt.Errorf("%s: shorter than %d", path, *s.MinLength)
		}
		if s.Pattern != "" && !regexp.MustCompile(s.Pattern).MatchString(str) {
			return fmt.Errorf("%s: %q does not match %s", path, str, s.Pattern)
		}
	case "integer", "number":
		n, ok := v.(float64)
		if !ok {
			return fmt.Errorf("%s: want %s, got %T", path, s.Type, v)
		}
		if s.Type == "integer" && n != float64(int64(n)) {
			return fmt.Errorf("%s: %v is not an integer", path, n)
		}
		if s.Minimum != nil && n < *s.Minimum {
			return fmt.Errorf("%s: %v below minimum %v", path, n, *s.Minimum)
		}
		if s.Maximum != nil && n > *s.Maximum {
			return fmt.Errorf("%s: %v above maximum %v", path, n, *s.Maximum)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%s: want boolean, got %T", path, v)
		}
	}
	return nil
}
