package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"sync"

	"github.com/paygate-cn/paygate"
)

// decodeStrict decodes a JSON object into dst (a pointer to a struct) and
// rejects unknown fields, at any depth, with EUNKNOWNPARAM naming the field,
// wrong types with EPARAMINVALID (EAMOUNTINVALID for amounts), and anything
// that is not one JSON object with EINVALIDJSON.
//
// Unknown fields are found by comparing the object's keys with the struct's
// json tags, not by reading the decoder's error text.
func decodeStrict(body []byte, dst any) error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return paygate.Errorf(paygate.EINVALIDJSON, "request body is empty; a JSON object is required")
	}
	if !json.Valid(body) {
		return paygate.Errorf(paygate.EINVALIDJSON, "request body is not valid JSON")
	}
	if body[0] != '{' {
		return paygate.Errorf(paygate.EINVALIDJSON, "request body must be a JSON object")
	}
	if err := checkKeys(body, reflect.TypeOf(dst).Elem(), ""); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(dst); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			param := te.Field
			code := paygate.EPARAMINVALID
			if param == "amount" || strings.HasSuffix(param, ".amount") {
				code = paygate.EAMOUNTINVALID
				return paygate.ParamErrorf(code, param, "%s must be an integer number of fen, got a JSON %s", param, te.Value)
			}
			return paygate.ParamErrorf(code, param, "%s has the wrong type: got a JSON %s, want %s", param, te.Value, jsonKind(te.Type))
		}
		return paygate.Errorf(paygate.EINVALIDJSON, "request body could not be decoded")
	}
	return nil
}

func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "an integer"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Slice:
		return "an array"
	}
	return t.Kind().String()
}

var fieldCache sync.Map // reflect.Type → map[string]reflect.Type

func fieldsOf(t reflect.Type) map[string]reflect.Type {
	if f, ok := fieldCache.Load(t); ok {
		return f.(map[string]reflect.Type)
	}
	m := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		m[name] = f.Type
	}
	fieldCache.Store(t, m)
	return m
}

// checkKeys walks raw against struct type t and reports the first key that
// t does not declare, with its dotted path.
func checkKeys(raw []byte, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t.PkgPath() == "time" {
		return nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil // not an object: the typed decode reports the type error
	}
	fields := fieldsOf(t)
	for k, v := range obj {
		ft, ok := fields[k]
		if !ok {
			return paygate.ParamErrorf(paygate.EUNKNOWNPARAM, path+k, "unknown parameter %q", path+k)
		}
		if err := checkKeys(v, ft, path+k+"."); err != nil {
			return err
		}
	}
	return nil
}
