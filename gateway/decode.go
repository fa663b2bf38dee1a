package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/paygate-cn/paygate"
)

// decodeStrict decodes a JSON object into dst (a pointer to a struct) and
// rejects unknown fields, at any depth, with EUNKNOWNPARAM naming the field,
// wrong types with EPARAMINVALID (EAMOUNTINVALID for amounts), and anything
// that is not one JSON object with EINVALIDJSON.
//
// Unknown fields are found by comparing the object's keys with the struct's
// json tags, not by reading the decoder's error text: one pass over the body
// validates it and checks every key of every struct-typed value, then
// json.Unmarshal decodes it. When several keys are unknown, the first in the
// body is reported.
func decodeStrict(body []byte, dst any) error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return paygate.Errorf(paygate.EINVALIDJSON, "request body is empty; a JSON object is required")
	}
	w := keyWalker{data: body}
	if !w.document(keysOf(reflect.TypeOf(dst).Elem())) {
		return paygate.Errorf(paygate.EINVALIDJSON, "request body is not valid JSON")
	}
	if body[0] != '{' {
		return paygate.Errorf(paygate.EINVALIDJSON, "request body must be a JSON object")
	}
	if w.found {
		return paygate.ParamErrorf(paygate.EUNKNOWNPARAM, w.unknown, "unknown parameter %q", w.unknown)
	}
	if err := json.Unmarshal(body, dst); err != nil {
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

// fieldsOf maps the JSON keys struct type t declares to their field types.
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

// structKeys is the set of keys a struct type accepts. Each key maps to the
// keys of its field's value when that value is itself checked (a struct or
// pointer to a struct, other than time.Time), and to nil when it is not
// (maps, slices, time.Time, scalars).
type structKeys struct {
	fields map[string]*structKeys
}

var keysCache sync.Map // reflect.Type (a struct) → *structKeys

// checkedStruct returns the struct type whose keys are checked for a value
// of type t, or nil if its keys are not checked.
func checkedStruct(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t.PkgPath() == "time" {
		return nil
	}
	return t
}

// keysOf returns the keys checked for a value of type t, nil for none.
func keysOf(t reflect.Type) *structKeys {
	st := checkedStruct(t)
	if st == nil {
		return nil
	}
	if k, ok := keysCache.Load(st); ok {
		return k.(*structKeys)
	}
	built := map[reflect.Type]*structKeys{}
	k := buildKeys(st, built)
	for bt, bk := range built {
		keysCache.LoadOrStore(bt, bk)
	}
	return k
}

// buildKeys builds the keys of struct type t and of the struct types below
// it, sharing one structKeys per type so recursive types terminate.
func buildKeys(t reflect.Type, built map[reflect.Type]*structKeys) *structKeys {
	if k, ok := built[t]; ok {
		return k
	}
	if k, ok := keysCache.Load(t); ok {
		return k.(*structKeys)
	}
	fields := fieldsOf(t)
	k := &structKeys{fields: make(map[string]*structKeys, len(fields))}
	built[t] = k
	for name, ft := range fields {
		var child *structKeys
		if st := checkedStruct(ft); st != nil {
			child = buildKeys(st, built)
		}
		k.fields[name] = child
	}
	return k
}

// maxDepth is the nesting limit of encoding/json: deeper documents are not
// valid JSON to it.
const maxDepth = 10000

// keyWalker validates a JSON document as json.Valid does and, in the same
// pass, looks up the keys of every object decoded into a struct. It does
// not allocate unless it finds an unknown key or must unescape a key.
type keyWalker struct {
	data  []byte
	i     int // next byte to read
	depth int // containers open

	found   bool   // an unknown key was found
	unknown string // the first unknown key's dotted path
}

// document reports whether data is one valid JSON value (with optional
// whitespace around it) of no more than maxDepth levels.
func (w *keyWalker) document(k *structKeys) bool {
	if !w.value(k) {
		return false
	}
	w.space()
	return w.i == len(w.data)
}

func (w *keyWalker) space() {
	for w.i < len(w.data) {
		switch w.data[w.i] {
		case ' ', '\t', '\n', '\r':
			w.i++
		default:
			return
		}
	}
}

// value steps over one value; if it is an object and k is not nil, its
// keys are checked against k.
func (w *keyWalker) value(k *structKeys) bool {
	w.space()
	if k != nil && w.i < len(w.data) && w.data[w.i] == '{' {
		return w.object(k)
	}
	return w.skip()
}

// object steps over the object at w.i, checking its keys against k.
func (w *keyWalker) object(k *structKeys) bool {
	if w.depth++; w.depth > maxDepth {
		return false
	}
	w.i++ // '{'
	w.space()
	if w.i < len(w.data) && w.data[w.i] == '}' {
		w.i++
		w.depth--
		return true
	}
	for {
		w.space()
		raw, plain, ok := w.str()
		if !ok || !w.colon() {
			return false
		}
		key := raw
		if !plain {
			key = unquoteKey(raw)
		}
		child, known := k.fields[string(key)]
		if !known && !w.found {
			w.found, w.unknown = true, string(key)
		}
		foundBefore := w.found
		if !w.value(child) {
			return false
		}
		if !foundBefore && w.found {
			w.unknown = string(key) + "." + w.unknown
		}
		w.space()
		if w.i >= len(w.data) {
			return false
		}
		switch w.data[w.i] {
		case ',':
			w.i++
		case '}':
			w.i++
			w.depth--
			return true
		default:
			return false
		}
	}
}

// colon steps over whitespace and the ':' after a key.
func (w *keyWalker) colon() bool {
	w.space()
	if w.i < len(w.data) && w.data[w.i] == ':' {
		w.i++
		return true
	}
	return false
}

// skip steps over one value at w.i without checking keys. It keeps its own
// stack of open containers (one bit each: object or array) rather than
// recursing, so deep nesting costs no goroutine stack.
func (w *keyWalker) skip() bool {
	var stack bitStack
	for {
		// A value is expected.
		w.space()
		if w.i >= len(w.data) {
			return false
		}
		switch c := w.data[w.i]; c {
		case '{', '[':
			if w.depth++; w.depth > maxDepth {
				return false
			}
			w.i++
			w.space()
			closer := byte(']')
			if c == '{' {
				closer = '}'
			}
			if w.i < len(w.data) && w.data[w.i] == closer {
				w.i++
				w.depth--
				break
			}
			stack.push(c == '{')
			if c == '{' {
				if _, _, ok := w.str(); !ok || !w.colon() {
					return false
				}
			}
			continue
		case '"':
			if _, _, ok := w.str(); !ok {
				return false
			}
		case 't':
			if !w.literal("true") {
				return false
			}
		case 'f':
			if !w.literal("false") {
				return false
			}
		case 'n':
			if !w.literal("null") {
				return false
			}
		default:
			if !w.number() {
				return false
			}
		}
		// A value ended: close containers until one continues with ','.
		for {
			if stack.n == 0 {
				return true
			}
			w.space()
			if w.i >= len(w.data) {
				return false
			}
			c := w.data[w.i]
			w.i++
			inObject := stack.top()
			if c == ',' {
				if inObject {
					w.space()
					if _, _, ok := w.str(); !ok || !w.colon() {
						return false
					}
				}
				break
			}
			if inObject && c == '}' || !inObject && c == ']' {
				stack.pop()
				w.depth--
				continue
			}
			return false
		}
	}
}

func (w *keyWalker) literal(lit string) bool {
	if len(w.data)-w.i < len(lit) || string(w.data[w.i:w.i+len(lit)]) != lit {
		return false
	}
	w.i += len(lit)
	return true
}

// number steps over -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (w *keyWalker) number() bool {
	d, i := w.data, w.i
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && '1' <= d[i] && d[i] <= '9':
		i = digits(d, i+1)
	default:
		return false
	}
	if i < len(d) && d[i] == '.' {
		j := digits(d, i+1)
		if j == i+1 {
			return false
		}
		i = j
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		j := digits(d, i)
		if j == i {
			return false
		}
		i = j
	}
	w.i = i
	return true
}

func digits(d []byte, i int) int {
	for i < len(d) && '0' <= d[i] && d[i] <= '9' {
		i++
	}
	return i
}

// plainByte marks the bytes that stand for themselves in a JSON string and
// need no unescaping to compare it as a key: printable ASCII but '"' and '\\'.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// str steps over the string at w.i and returns its raw contents, and plain
// if they are the key as written (no escapes, valid UTF-8). Like json.Valid
// it accepts any bytes from 0x80 up, valid UTF-8 or not.
func (w *keyWalker) str() (raw []byte, plain, ok bool) {
	d, i := w.data, w.i
	if i >= len(d) || d[i] != '"' {
		return nil, false, false
	}
	i++
	start := i
	plain, ascii := true, true
	for {
		for i < len(d) && plainByte[d[i]] {
			i++
		}
		if i >= len(d) {
			return nil, false, false
		}
		switch c := d[i]; {
		case c == '"':
			raw = d[start:i]
			w.i = i + 1
			if !ascii && plain {
				plain = utf8.Valid(raw)
			}
			return raw, plain, true
		case c == '\\':
			plain = false
			if i+1 >= len(d) {
				return nil, false, false
			}
			switch d[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if len(d)-i < 6 || hex4(d[i+2:i+6]) < 0 {
					return nil, false, false
				}
				i += 6
			default:
				return nil, false, false
			}
		case c < 0x20:
			return nil, false, false
		default: // 0x80 and up
			ascii = false
			i++
		}
	}
}

// hex4 decodes four hex digits, or returns -1.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// unquoteKey unescapes the raw contents of a valid JSON string as
// encoding/json does for a map key: a \u escape of a lone surrogate and
// each byte that is not part of valid UTF-8 become U+FFFD.
func unquoteKey(raw []byte) []byte {
	b := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); {
		c := raw[i]
		switch {
		case c == '\\':
			switch e := raw[i+1]; e {
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r := hex4(raw[i+2:])
				i += 6
				if utf16.IsSurrogate(r) {
					if len(raw)-i >= 6 && raw[i] == '\\' && raw[i+1] == 'u' {
						if pair := utf16.DecodeRune(r, hex4(raw[i+2:])); pair != utf8.RuneError {
							b = utf8.AppendRune(b, pair)
							i += 6
							continue
						}
					}
					r = utf8.RuneError
				}
				b = utf8.AppendRune(b, r)
				continue
			default: // '"', '\\', '/'
				b = append(b, e)
			}
			i += 2
		case c < utf8.RuneSelf:
			b = append(b, c)
			i++
		default:
			r, size := utf8.DecodeRune(raw[i:])
			if r == utf8.RuneError && size == 1 {
				b = utf8.AppendRune(b, r)
			} else {
				b = append(b, raw[i:i+size]...)
			}
			i += size
		}
	}
	return b
}

// bitStack is a stack of bools, one bit each; the first 128 need no heap.
type bitStack struct {
	n      int
	inline [2]uint64
	more   []uint64
}

func (s *bitStack) push(v bool) {
	word, bit := s.n/64, uint(s.n%64)
	var p *uint64
	if word < len(s.inline) {
		p = &s.inline[word]
	} else {
		for len(s.more) <= word-len(s.inline) {
			s.more = append(s.more, 0)
		}
		p = &s.more[word-len(s.inline)]
	}
	if v {
		*p |= 1 << bit
	} else {
		*p &^= 1 << bit
	}
	s.n++
}

func (s *bitStack) top() bool {
	word, bit := (s.n-1)/64, uint((s.n-1)%64)
	if word < len(s.inline) {
		return s.inline[word]>>bit&1 == 1
	}
	return s.more[word-len(s.inline)]>>bit&1 == 1
}

func (s *bitStack) pop() { s.n-- }
