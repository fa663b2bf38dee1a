package gateway

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/paygate-cn/paygate"
)

// decodeStrict decodes a JSON object into dst (a pointer to a struct) and
// rejects, in this order:
//   - anything that is not one JSON object, with EINVALIDJSON;
//   - unknown fields, at any depth, with EUNKNOWNPARAM naming the field;
//   - a key given twice in one object, at any depth, with EDUPPARAM;
//   - a string (key or value, at any depth) that is not valid UTF-8 or
//     holds NUL or another control character, with ECHARSINVALID: tab and
//     newline are allowed only in free text, the fields tagged input:"text"
//     (subject, reason, metadata values). A \u escape of a lone surrogate
//     is not valid UTF-8.
//   - wrong types, with EPARAMINVALID (EAMOUNTINVALID for amounts).
//
// The first three are found by one pass over the body that validates it as
// JSON, compares the keys of every object decoded into a struct with the
// struct's json tags (not by reading the decoder's error text), and checks
// every string as it steps over it; then json.Unmarshal decodes it. When
// several keys are unknown, the first in the body is reported.
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
	if f := &w.faults[faultUnknown]; f.found {
		return paygate.ParamErrorf(paygate.EUNKNOWNPARAM, f.path, "unknown parameter %q", f.path)
	}
	if f := &w.faults[faultDuplicate]; f.found {
		return paygate.ParamErrorf(paygate.EDUPPARAM, f.path, "parameter %q is given more than once", f.path)
	}
	if f := &w.faults[faultString]; f.found {
		return stringError(f.path, w.badRune)
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

// String rule results: clean, or the first offence found (a control
// character's rune, or invalidUTF8).
const (
	clean       rune = -1
	invalidUTF8 rune = -2
)

// stringError reports a string breaking the rule. The string itself is
// never echoed.
func stringError(param string, bad rune) error {
	what := "the request"
	if param != "" {
		what = param
	}
	if bad == invalidUTF8 {
		return paygate.ParamErrorf(paygate.ECHARSINVALID, param, "%s is not valid UTF-8", what)
	}
	return paygate.ParamErrorf(paygate.ECHARSINVALID, param,
		"%s contains the control character U+%04X; strings may hold no control characters (free text: tab and newline only)", what, bad)
}

// isControl reports the Unicode control characters (category Cc): C0,
// DEL and C1.
func isControl(r rune) bool {
	return r < 0x20 || 0x7F <= r && r <= 0x9F
}

// badRuneIn applies the string rule to s (a path or query value, a header):
// clean, or the first offence. Free text (text) may hold tab and newline.
func badRuneIn(s string, text bool) rune {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if isControl(rune(c)) && !(text && (c == '\t' || c == '\n')) {
				return rune(c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return invalidUTF8
		}
		if isControl(r) {
			return r
		}
		i += size
	}
	return clean
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

// field is a JSON key a struct type declares.
type field struct {
	typ   reflect.Type
	index int  // its position among the keys, for duplicate detection
	text  bool // tagged input:"text": free text (tab and newline allowed)
}

var fieldCache sync.Map // reflect.Type → map[string]field

// fieldsOf maps the JSON keys struct type t declares to their fields.
func fieldsOf(t reflect.Type) map[string]field {
	if f, ok := fieldCache.Load(t); ok {
		return f.(map[string]field)
	}
	m := map[string]field{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		m[name] = field{typ: f.Type, index: len(m), text: f.Tag.Get("input") == "text"}
	}
	fieldCache.Store(t, m)
	return m
}

// structKeys is the set of keys a struct type accepts (at most 64).
type structKeys struct {
	fields map[string]fieldKeys
}

// fieldKeys is what the walker knows of one key: its index, whether its
// strings are free text, and the keys of its value when that value is
// itself checked (a struct or pointer to a struct, other than time.Time),
// nil when it is not (maps, slices, time.Time, scalars).
type fieldKeys struct {
	child *structKeys
	index int
	text  bool
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
	if len(fields) > 64 {
		panic("gateway: a request type has more than 64 keys: " + t.String())
	}
	k := &structKeys{fields: make(map[string]fieldKeys, len(fields))}
	built[t] = k
	for name, f := range fields {
		fk := fieldKeys{index: f.index, text: f.text}
		if st := checkedStruct(f.typ); st != nil {
			fk.child = buildKeys(st, built)
		}
		k.fields[name] = fk
	}
	return k
}

// maxDepth is the nesting limit of encoding/json: deeper documents are not
// valid JSON to it.
const maxDepth = 10000

// Faults the walker finds in a valid document, in the order they are
// reported.
const (
	faultUnknown   = iota // a key the struct does not declare
	faultDuplicate        // a key twice in one object
	faultString           // a string breaking the string rule
	nFaults
)

// keyWalker validates a JSON document as json.Valid does and, in the same
// pass, looks up the keys of every object decoded into a struct, finds
// keys given twice and checks every string. It does not allocate unless it
// finds a fault, must unescape a key, or meets an object of more than
// keyStack keys outside the structs.
type keyWalker struct {
	data  []byte
	i     int // next byte to read
	depth int // containers open

	// faults holds the first of each kind and its dotted path, built as
	// the walk returns from the objects it is in.
	faults    [nFaults]fault
	foundMask uint8 // bit i: faults[i].found
	badRune   rune  // what the first bad string holds (faultString)
}

type fault struct {
	found bool
	path  string
}

// found returns a bit per kind of fault found.
func (w *keyWalker) found() uint8 { return w.foundMask }

// record notes a fault at path (relative to the value being walked) unless
// one of its kind was found before.
func (w *keyWalker) record(kind int, path string) {
	if f := &w.faults[kind]; !f.found {
		f.found, f.path = true, path
		w.foundMask |= 1 << kind
	}
}

// badString records a string fault.
func (w *keyWalker) badString(bad rune, path string) {
	if !w.faults[faultString].found {
		w.badRune = bad
		w.record(faultString, path)
	}
}

// prefix puts key in front of the paths of the faults found since before.
func (w *keyWalker) prefix(before uint8, key []byte) {
	now := w.found()
	if now == before {
		return
	}
	for i := range w.faults {
		if now&^before&(1<<i) == 0 {
			continue
		}
		if f := &w.faults[i]; f.path == "" {
			f.path = string(key)
		} else {
			f.path = string(key) + "." + f.path
		}
	}
}

// document reports whether data is one valid JSON value (with optional
// whitespace around it) of no more than maxDepth levels.
func (w *keyWalker) document(k *structKeys) bool {
	if !w.value(k, false) {
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
// keys are checked against k. Its strings are free text if text.
func (w *keyWalker) value(k *structKeys, text bool) bool {
	w.space()
	if w.i >= len(w.data) {
		return false
	}
	switch w.data[w.i] {
	case '{':
		if k != nil {
			return w.object(k)
		}
		return w.skip(text)
	case '[':
		return w.skip(text)
	case '"':
		// Most values are strings: stepped over here, without skip's
		// container stacks.
		_, _, ok, bad := w.str(text)
		if ok && bad != clean {
			w.badString(bad, "")
		}
		return ok
	case 't':
		return w.literal("true")
	case 'f':
		return w.literal("false")
	case 'n':
		return w.literal("null")
	}
	return w.number()
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
	var seen uint64 // the indexes of the keys met
	for {
		w.space()
		raw, plain, ok, _ := w.str(false)
		if !ok || !w.colon() {
			return false
		}
		key := raw
		if !plain {
			key = unquoteKey(raw)
		}
		// A key breaking the string rule is not a declared one: it is
		// reported as unknown.
		f, known := k.fields[string(key)]
		switch {
		case !known:
			w.record(faultUnknown, string(key))
		case seen&(1<<f.index) != 0:
			w.record(faultDuplicate, string(key))
		default:
			seen |= 1 << f.index
		}
		before := w.foundMask
		if !w.value(f.child, f.text) {
			return false
		}
		if w.foundMask != before {
			w.prefix(before, key)
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

// keyStack is how many keys of the objects open in skip are remembered
// without allocating.
const keyStack = 32

// skippedKey is a key of an object open in skip: its hash and where its
// raw text is, to find keys given twice.
type skippedKey struct {
	hash       uint64
	start, end int32
	plain      bool
}

// skip steps over one value at w.i without checking keys against a struct;
// it still finds keys given twice and checks every string (values are free
// text if text; keys never are). It keeps its own stack of open containers
// (one bit each: object or array) rather than recursing, so deep nesting
// costs no goroutine stack.
//
// The path of a fault found inside is the key of the member it is in when
// the value is an object (metadata.table), else empty.
func (w *keyWalker) skip(text bool) bool {
	var stack bitStack
	var keyBuf [keyStack]skippedKey
	var startBuf [8]int32
	keys, starts := keyBuf[:0], startBuf[:0] // keys of the open objects; where each object's begin
	var member []byte                        // the current member key of the outermost object, raw
	var memberPlain bool
	// where names the member a fault is in.
	where := func() string {
		if stack.n == 0 || member == nil {
			return ""
		}
		if memberPlain {
			return string(member)
		}
		return string(unquoteKey(member))
	}
	// key reads an object's key and remembers it.
	key := func() bool {
		w.space()
		start := w.i + 1
		raw, plain, ok, bad := w.str(false)
		if !ok || !w.colon() {
			return false
		}
		if stack.n == 1 {
			member, memberPlain = nil, false
		}
		if bad != clean {
			w.badString(bad, where())
		}
		if stack.n == 1 && bad == clean {
			member, memberPlain = raw, plain
		}
		h := keyHash(raw, plain)
		keys = append(keys, skippedKey{hash: h, start: int32(start), end: int32(start + len(raw)), plain: plain})
		return true
	}
	// closeObject checks the keys of the object being closed.
	closeObject := func() {
		from := starts[len(starts)-1]
		starts = starts[:len(starts)-1]
		if dup := w.duplicateKey(keys[from:]); dup != nil {
			path := ""
			if len(starts) == 0 {
				path = string(dup)
			}
			w.record(faultDuplicate, path)
		}
		keys = keys[:from]
	}
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
				starts = append(starts, int32(len(keys)))
				if !key() {
					return false
				}
			}
			continue
		case '"':
			_, _, ok, bad := w.str(text)
			if !ok {
				return false
			}
			if bad != clean {
				w.badString(bad, where())
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
				if inObject && !key() {
					return false
				}
				break
			}
			if inObject && c == '}' || !inObject && c == ']' {
				if inObject {
					closeObject()
				}
				stack.pop()
				w.depth--
				continue
			}
			return false
		}
	}
}

// keyHash is FNV-1a of a key as decoded (unescaped when not plain).
func keyHash(raw []byte, plain bool) uint64 {
	if !plain {
		raw = unquoteKey(raw)
	}
	h := uint64(14695981039346656037)
	for _, c := range raw {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

// duplicateKey returns a key given twice among keys (one object's), as
// decoded, or nil. keys are reordered.
func (w *keyWalker) duplicateKey(keys []skippedKey) []byte {
	if len(keys) < 2 {
		return nil
	}
	same := func(a, b *skippedKey) []byte {
		if a.hash != b.hash {
			return nil
		}
		ka, kb := w.data[a.start:a.end], w.data[b.start:b.end]
		if !a.plain {
			ka = unquoteKey(ka)
		}
		if !b.plain {
			kb = unquoteKey(kb)
		}
		if bytes.Equal(ka, kb) {
			return ka
		}
		return nil
	}
	if len(keys) <= 24 { // metadata holds at most 20: compare pairwise
		for i := 1; i < len(keys); i++ {
			for j := 0; j < i; j++ {
				if k := same(&keys[i], &keys[j]); k != nil {
					return k
				}
			}
		}
		return nil
	}
	slices.SortFunc(keys, func(a, b skippedKey) int { return cmp.Compare(a.hash, b.hash) })
	for i := 1; i < len(keys); i++ {
		// Keys of equal hash are adjacent; compare each with the run's others.
		for j := i - 1; j >= 0 && keys[j].hash == keys[i].hash; j-- {
			if k := same(&keys[i], &keys[j]); k != nil {
				return k
			}
		}
	}
	return nil
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

// plainByte marks the bytes that stand for themselves in a JSON string, are
// allowed in every string and need no unescaping to compare it as a key:
// printable ASCII but '"' and '\\' (DEL is a control character).
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < 0x7F; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// str steps over the string at w.i and returns its raw contents, plain if
// they are the key as written (no escapes, valid UTF-8), and what breaks
// the string rule in it: clean, invalidUTF8 (bytes that are not UTF-8, or a
// \\u escape of a lone surrogate) or the first control character (tab and
// newline are allowed if text). Like json.Valid it accepts any bytes from
// 0x80 up as JSON; ok is false only when the string is not valid JSON.
func (w *keyWalker) str(text bool) (raw []byte, plain, ok bool, bad rune) {
	d, i := w.data, w.i
	if i >= len(d) || d[i] != '"' {
		return nil, false, false, clean
	}
	i++
	start := i
	plain, bad = true, clean
	for {
		for i < len(d) && plainByte[d[i]] {
			i++
		}
		if i >= len(d) {
			return nil, false, false, clean
		}
		switch c := d[i]; {
		case c == '"':
			w.i = i + 1
			return d[start:i], plain, true, bad
		case c == '\\':
			plain = false
			if i+1 >= len(d) {
				return nil, false, false, clean
			}
			switch e := d[i+1]; e {
			case '"', '\\', '/':
				i += 2
			case 'b', 'f', 'n', 'r', 't':
				if r := escaped[e]; bad == clean && !(text && (r == '\t' || r == '\n')) {
					bad = r
				}
				i += 2
			case 'u':
				if len(d)-i < 6 {
					return nil, false, false, clean
				}
				r := hex4(d[i+2 : i+6])
				if r < 0 {
					return nil, false, false, clean
				}
				i += 6
				switch {
				case utf16.IsSurrogate(r):
					// A high surrogate must be followed by a low one.
					if r < 0xDC00 && len(d)-i >= 6 && d[i] == '\\' && d[i+1] == 'u' {
						if lo := hex4(d[i+2 : i+6]); 0xDC00 <= lo && lo <= 0xDFFF {
							i += 6
							continue
						}
					}
					if bad == clean {
						bad = invalidUTF8
					}
				case bad == clean && isControl(r) && !(text && (r == '\t' || r == '\n')):
					bad = r
				}
			default:
				return nil, false, false, clean
			}
		case c < 0x20:
			return nil, false, false, clean
		case c < utf8.RuneSelf: // DEL
			if bad == clean {
				bad = rune(c)
			}
			i++
		default: // 0x80 and up
			size, r := utf8Rune(d[i:])
			switch {
			case size == 0:
				plain = false
				if bad == clean {
					bad = invalidUTF8
				}
				i++
			case r >= 0 && bad == clean:
				bad = r
				i += size
			default:
				i += size
			}
		}
	}
}

// utf8Rune steps over the UTF-8 sequence at the start of b (b[0] >= 0x80),
// as utf8.DecodeRune would but without decoding it: its size, 0 if it is
// not valid UTF-8, and the rune only when it is a C1 control character
// (U+0080-U+009F, encoded C2 80-C2 9F), else -1. The bytes it steps over
// are all 0x80 or up, so never a quote or a backslash.
func utf8Rune(b []byte) (size int, control rune) {
	c := b[0]
	cont := func(i int, lo, hi byte) bool { return i < len(b) && lo <= b[i] && b[i] <= hi }
	switch {
	case c < 0xC2:
		return 0, -1
	case c < 0xE0:
		if !cont(1, 0x80, 0xBF) {
			return 0, -1
		}
		if c == 0xC2 && b[1] <= 0x9F {
			return 2, rune(b[1])
		}
		return 2, -1
	case c < 0xF0:
		lo, hi := byte(0x80), byte(0xBF)
		if c == 0xE0 {
			lo = 0xA0
		} else if c == 0xED {
			hi = 0x9F // no surrogates
		}
		if !cont(1, lo, hi) || !cont(2, 0x80, 0xBF) {
			return 0, -1
		}
		return 3, -1
	case c < 0xF5:
		lo, hi := byte(0x80), byte(0xBF)
		if c == 0xF0 {
			lo = 0x90
		} else if c == 0xF4 {
			hi = 0x8F
		}
		if !cont(1, lo, hi) || !cont(2, 0x80, 0xBF) || !cont(3, 0x80, 0xBF) {
			return 0, -1
		}
		return 4, -1
	}
	return 0, -1
}

// escaped maps the one-letter escapes of control characters to them.
var escaped = [256]rune{'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

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

// checkURL applies the string rule to what the URL carries, before any
// handler reads it: every path parameter and every query key and value
// (docs/errors.md). A query string that does not parse is EQUERYINVALID, a
// query parameter given twice EDUPPARAM.
func (s *Server) checkURL(c *gin.Context) {
	if err := checkURLValues(c.Params, c.Request.URL.RawQuery); err != nil {
		s.writeError(c, err)
		return
	}
	c.Next()
}

func checkURLValues(params gin.Params, rawQuery string) error {
	for _, p := range params {
		if bad := badRuneIn(p.Value, false); bad != clean {
			return stringError(p.Key, bad)
		}
	}
	if rawQuery == "" {
		return nil
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		// The parser's message quotes the input: it is not echoed.
		return paygate.Errorf(paygate.EQUERYINVALID, "the query string is malformed: use key=value pairs joined by '&', percent-encoded")
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys) // the same request reports the same parameter
	for _, k := range keys {
		if bad := badRuneIn(k, false); bad != clean {
			return stringError("", bad)
		}
		vs := q[k]
		if len(vs) > 1 {
			return paygate.ParamErrorf(paygate.EDUPPARAM, k, "query parameter %q is given more than once", k)
		}
		if bad := badRuneIn(vs[0], false); bad != clean {
			return stringError(k, bad)
		}
	}
	return nil
}
