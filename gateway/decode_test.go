package gateway

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/paygate-cn/paygate"
)

func TestDecodeStrict(t *testing.T) {
	for _, tc := range []struct {
		body, code, param string
	}{
		{`{"merchant_order_no":"A","amount":1}`, "", ""},
		{`{"amount":"12"}`, paygate.EAMOUNTINVALID, "amount"},
		{`{"amount":1.5}`, paygate.EAMOUNTINVALID, "amount"},
		{`{"amount":1e3}`, paygate.EAMOUNTINVALID, "amount"},
		{`{"subject":12}`, paygate.EPARAMINVALID, "subject"},
		{`{"bogus":1}`, paygate.EUNKNOWNPARAM, "bogus"},
		{`{"card":{"entry_mode":"chip","pin":"1234"}}`, paygate.EUNKNOWNPARAM, "card.pin"},
		{`{"location":{"region_code":"310000","city":"x"}}`, paygate.EUNKNOWNPARAM, "location.city"},
		{`{"metadata":{"a":1}}`, paygate.EPARAMINVALID, "metadata"},
		{`{"amount":1}{"amount":2}`, paygate.EINVALIDJSON, ""},
		{`[]`, paygate.EINVALIDJSON, ""},
		{`"x"`, paygate.EINVALIDJSON, ""},
		{``, paygate.EINVALIDJSON, ""},
		{`{"amount":`, paygate.EINVALIDJSON, ""},
	} {
		var in OrderRequest
		err := decodeStrict([]byte(tc.body), &in)
		var pe *paygate.Error
		switch {
		case tc.code == "" && err != nil:
			t.Errorf("%s: %v", tc.body, err)
		case tc.code != "" && (!errors.As(err, &pe) || pe.Code != tc.code || pe.Param != tc.param):
			t.Errorf("%s: got %v, want %s param %q", tc.body, err, tc.code, tc.param)
		}
	}
}

// FuzzDecodeStrict compares decodeStrict with referenceDecodeStrict, the
// straightforward implementation it replaced (which knew neither duplicate
// keys nor the string rule), on OrderRequest, on probeRequest and on an
// empty struct: they must accept and reject the same bodies with the same
// codes, decode the same values, and give the same type errors, except:
//   - the reference reports a random one of several unknown keys, so
//     decodeStrict's must be one of them (and the same when there is one);
//   - the reference checks only the last value of a duplicated key for
//     unknown keys, decodeStrict all of them, so with duplicate keys it may
//     reject with EUNKNOWNPARAM a body the reference accepts;
//   - decodeStrict rejects a body with a key twice in one object with
//     EDUPPARAM (unless a key is unknown), and one with a string breaking
//     the string rule with ECHARSINVALID (unless a key is unknown or given
//     twice): the first only if hasDuplicateKeys, the second only if
//     suspectStrings, and a body with duplicate keys is never accepted.
//
// Whatever decodeStrict accepts decodes to strings that keep the rule
// (checked on the values, independently of the walker). Any error must be a
// *paygate.Error with a 4xx code, and keyWalker must agree with json.Valid.
func FuzzDecodeStrict(f *testing.F) {
	for _, tc := range orderDecodeCases {
		if len(tc.body) < 1000 {
			f.Add([]byte(tc.body))
		}
	}
	for _, tc := range probeDecodeCases {
		if len(tc.body) < 1000 {
			f.Add([]byte(tc.body))
		}
	}
	for _, s := range []string{cardOrderBody,
		`{"merchant_order_no":"A","amount":1,"card":{"emv":"5A08"},"metadata":{"k":"v"}}`,
		`{"amount":"1"}`, `{"location":{"region_code":1}}`, `[`, `{"a":{"b":{"c":[]}}}`,
		`{"card":{"pin":1},"card":{}}`, `{"zz":1,"card":{"pin":1},"aa":{}}`,
		`{"self":{"list":[{"q":1}],"inner":{"x":1e5,"z":null},"pp":{"x":-0.5E-3}}}`,
		`{"list":[{"x":1,"x":2}]}`, `{"m":{"a":{"x":1},"a":{}}}`, `{"any":{"k":[{"a":1,"b":2,"a":3}]}}`,
		`{"s":"\t","subject":"\t","metadata":{"\t":"\t"}}`, "{\"s\":\"\xc2\x85\"}", `{"t":"\u0000"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if w := (keyWalker{data: body}); w.document(nil) != json.Valid(body) {
			t.Fatalf("keyWalker says %q is valid JSON: %v", body, !json.Valid(body))
		}
		compareWithReference[OrderRequest](t, body)
		compareWithReference[RefundRequest](t, body)
		compareWithReference[probeRequest](t, body)
		compareWithReference[struct{}](t, body)
	})
}

func compareWithReference[T any](t *testing.T, body []byte) {
	t.Helper()
	var got, want T
	err := decodeStrict(body, &got)
	refErr := referenceDecodeStrict(body, &want)
	var pe *paygate.Error
	if err != nil && (!errors.As(err, &pe) || StatusOf(pe.Code) >= 500) {
		t.Fatalf("%T: decodeStrict(%q) = %v: not a client error", got, body, err)
	}
	code, refCode := paygate.ErrorCode(err), paygate.ErrorCode(refErr)
	dup := hasDuplicateKeys(body)
	suspect := suspectStrings(body)
	switch {
	case code == paygate.EDUPPARAM && !dup:
		t.Fatalf("%T: decodeStrict(%q) = %v without duplicate keys", got, body, err)
	case code == paygate.ECHARSINVALID && !suspect:
		t.Fatalf("%T: decodeStrict(%q) = %v without a suspect string", got, body, err)
	case code == "" && dup:
		t.Fatalf("%T: decodeStrict(%q) accepted duplicate keys", got, body)
	case refCode == paygate.EUNKNOWNPARAM && code != paygate.EUNKNOWNPARAM:
		t.Fatalf("%T: decodeStrict(%q) = %v, but an unknown key comes first (reference %v)", got, body, err, refErr)
	}
	if code != refCode {
		if dup && (code == paygate.EUNKNOWNPARAM || code == paygate.EDUPPARAM) || code == paygate.ECHARSINVALID {
			return
		}
		t.Fatalf("%T: decodeStrict(%q) = %v, reference %v", got, body, err, refErr)
	}
	switch code {
	case "":
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%T: decodeStrict(%q) decoded %+v, reference %+v", got, body, got, want)
		}
		if err := keepsStringRule(reflect.ValueOf(got), false); err != nil {
			t.Fatalf("%T: decodeStrict(%q) accepted %v", got, body, err)
		}
	case paygate.EUNKNOWNPARAM:
		if dup {
			return
		}
		unknown := referenceUnknownKeys(bytes.TrimSpace(body), reflect.TypeFor[T](), "")
		if !slices.Contains(unknown, pe.Param) || len(unknown) == 1 && err.Error() != refErr.Error() {
			t.Fatalf("%T: decodeStrict(%q) = %v, reference %v; unknown keys %q", got, body, err, refErr, unknown)
		}
	default:
		if err.Error() != refErr.Error() {
			t.Fatalf("%T: decodeStrict(%q) = %v, reference %v", got, body, err, refErr)
		}
	}
}

// suspectStrings reports whether the body holds anything a string may
// break the string rule with: bytes that are not UTF-8, DEL or a C1
// control raw, or an escape of a control character or a surrogate. It
// reads the bytes plainly, as an oracle independent of the walker; valid
// JSON has backslashes only inside strings.
func suspectStrings(body []byte) bool {
	for i := 0; i < len(body); {
		c := body[i]
		switch {
		case c == '\\' && i+1 < len(body):
			e := body[i+1]
			if strings.IndexByte("bfnrt", e) >= 0 {
				return true
			}
			if e == 'u' && i+6 <= len(body) {
				if r, err := strconv.ParseUint(string(body[i+2:i+6]), 16, 32); err == nil && (isControl(rune(r)) || utf16.IsSurrogate(rune(r))) {
					return true
				}
				i += 6
				continue
			}
			i += 2
		case c == 0x7F:
			return true
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(body[i:])
			if r == utf8.RuneError && size == 1 || isControl(r) {
				return true
			}
			i += size
		default:
			i++
		}
	}
	return false
}

// keepsStringRule checks every string of a decoded value: valid UTF-8, no
// control character but tab and newline in fields tagged input:"text".
func keepsStringRule(v reflect.Value, text bool) error {
	check := func(s string, text bool) error {
		if !utf8.ValidString(s) {
			return fmt.Errorf("%q: not UTF-8", s)
		}
		for _, r := range s {
			if isControl(r) && !(text && (r == '\t' || r == '\n')) {
				return fmt.Errorf("%q: control character %U", s, r)
			}
		}
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		return check(v.String(), text)
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			return keepsStringRule(v.Elem(), text)
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			if err := keepsStringRule(v.Index(i), text); err != nil {
				return err
			}
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			if err := keepsStringRule(it.Key(), false); err != nil {
				return err
			}
			if err := keepsStringRule(it.Value(), text); err != nil {
				return err
			}
		}
	case reflect.Struct:
		if v.Type().PkgPath() == "time" {
			return nil
		}
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			if err := keepsStringRule(v.Field(i), f.Tag.Get("input") == "text"); err != nil {
				return fmt.Errorf("%s: %w", f.Name, err)
			}
		}
	}
	return nil
}

// referenceDecodeStrict is decodeStrict as it was before it walked the body
// itself: json.Valid, then a map[string]json.RawMessage per object to find
// unknown keys, then a json.Decoder.
func referenceDecodeStrict(body []byte, dst any) error {
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
	if err := referenceCheckKeys(body, reflect.TypeOf(dst).Elem(), ""); err != nil {
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

// referenceCheckKeys walks raw against struct type t and reports a key that
// t does not declare, with its dotted path.
func referenceCheckKeys(raw []byte, t reflect.Type, path string) error {
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
		if err := referenceCheckKeys(v, ft.typ, path+k+"."); err != nil {
			return err
		}
	}
	return nil
}

// referenceUnknownKeys lists every key referenceCheckKeys could report.
func referenceUnknownKeys(raw []byte, t reflect.Type, path string) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t.PkgPath() == "time" {
		return nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil
	}
	fields := fieldsOf(t)
	var unknown []string
	for k, v := range obj {
		ft, ok := fields[k]
		if !ok {
			unknown = append(unknown, path+k)
			continue
		}
		unknown = append(unknown, referenceUnknownKeys(v, ft.typ, path+k+".")...)
	}
	return unknown
}

// hasDuplicateKeys reports whether some object in the JSON document body
// has a key twice (compared unescaped); false if body is not valid JSON.
func hasDuplicateKeys(body []byte) bool {
	type container struct {
		object, wantKey bool
		seen            map[string]bool
	}
	var stack []*container
	valueEnded := func() {
		if n := len(stack); n > 0 && stack[n-1].object {
			stack[n-1].wantKey = true
		}
	}
	dec := json.NewDecoder(bytes.NewReader(bytes.TrimSpace(body)))
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		d, isDelim := tok.(json.Delim)
		switch {
		case isDelim && (d == '}' || d == ']'):
			stack = stack[:len(stack)-1]
			valueEnded()
		case len(stack) > 0 && stack[len(stack)-1].wantKey:
			top, k := stack[len(stack)-1], tok.(string)
			if top.seen[k] {
				return true
			}
			top.seen[k], top.wantKey = true, false
		case isDelim:
			stack = append(stack, &container{object: d == '{', wantKey: d == '{', seen: map[string]bool{}})
		default:
			valueEnded()
		}
	}
}

func TestHasDuplicateKeys(t *testing.T) {
	for body, want := range map[string]bool{
		`{"a":1,"b":2}`:                   false,
		`{"a":1,"a":2}`:                   true,
		`{"a":1,"\u0061":2}`:              true,
		`{"a":{"b":1},"c":{"b":1}}`:       false,
		`{"a":[{"b":1,"b":1}]}`:           true,
		`[{"a":1},{"a":1}]`:               false,
		`{"a":{"x":[]},"b":"a"}`:          false,
		`{"a":[1,{"a":[]}],"b":{},"a":0}`: true,
	} {
		if got := hasDuplicateKeys([]byte(body)); got != want {
			t.Errorf("%s: %v, want %v", body, got, want)
		}
	}
}

// Where decodeStrict and the reference are meant to differ.
func TestDecodeStrictUnknownKeyOrder(t *testing.T) {
	for _, tc := range []decodeCase{
		// The first unknown key in the body is reported.
		{`{"zz":1,"card":{"pin":1},"aa":1}`, paygate.EUNKNOWNPARAM, "zz", ""},
		{`{"card":{"pin":1},"aa":1,"zz":1}`, paygate.EUNKNOWNPARAM, "card.pin", ""},
		{`{"card":{"type":"debit","zz":1,"aa":1},"location":{"x":1}}`, paygate.EUNKNOWNPARAM, "card.zz", ""},
		// Every value of a duplicated key is checked, not only the last.
		{`{"card":{"pin":1},"card":{}}`, paygate.EUNKNOWNPARAM, "card.pin", ""},
		{`{"card":{"pin":1},"card":null}`, paygate.EUNKNOWNPARAM, "card.pin", ""},
	} {
		for range 20 {
			var in OrderRequest
			checkDecode(t, tc, decodeStrict([]byte(tc.body), &in))
		}
	}
}

func TestKeyWalkerDoesNotAllocate(t *testing.T) {
	keys := keysOf(reflect.TypeFor[OrderRequest]())
	for _, body := range []string{cardOrderBody, walletOrderBody} {
		b := []byte(body)
		allocs := testing.AllocsPerRun(100, func() {
			w := keyWalker{data: b}
			if !w.document(keys) || w.found() != 0 {
				t.Fatal("walk failed")
			}
		})
		if allocs != 0 {
			t.Fatalf("%v allocations per walk of %s", allocs, body)
		}
	}
}

// walletOrderBody has free text, a Chinese subject and metadata (an object
// walked outside the structs).
const walletOrderBody = `{"merchant_order_no":"W1-1","amount":1800,"subject":"拿铁 ×2\n外带","method":"jsapi","channel":"wechat","payer_id":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o","client_ip":"203.0.113.7","metadata":{"table":"12","note":"少冰\t半糖","k3":"v","k4":"v","k5":"v","k6":"v","k7":"v","k8":"v","k9":"v","k10":"v"}}`

func BenchmarkDecodeStrictReference(b *testing.B) {
	body := []byte(cardOrderBody)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		var in OrderRequest
		if err := referenceDecodeStrict(body, &in); err != nil {
			b.Fatal(err)
		}
	}
}

func TestParseAuthorization(t *testing.T) {
	sig := "0000000000000000000000000000000000000000000000000000000000000000"
	for _, tc := range []struct {
		h, code string
	}{
		{AuthScheme + " key_id=k,timestamp=1,nonce=0123456789abcdef,signature=" + sig, ""},
		{"", paygate.EAUTHMISSING},
		{"Bearer x", paygate.EAUTHMISSING},
		{AuthScheme + " timestamp=1,nonce=0123456789abcdef,signature=" + sig, paygate.EAUTHMISSING},
		{AuthScheme + " key_id=k,nonce=0123456789abcdef,signature=" + sig, paygate.EAUTHMISSING},
		{AuthScheme + " key_id=k,timestamp=1,nonce=short,signature=" + sig, paygate.EAUTHMISSING},
		{AuthScheme + " key_id=k,timestamp=1,nonce=0123456789abcdef,signature=abc", paygate.EINVALIDSIG},
		// Each parameter once.
		{AuthScheme + " key_id=k,key_id=other,timestamp=1,nonce=0123456789abcdef,signature=" + sig, paygate.EAUTHREPEATED},
		{AuthScheme + " key_id=k,timestamp=1,nonce=0123456789abcdef,signature=" + sig + ",signature=" + sig, paygate.EAUTHREPEATED},
		{AuthScheme + " key_id=k,timestamp=1,timestamp=2,nonce=0123456789abcdef,signature=" + sig, paygate.EAUTHREPEATED},
		{AuthScheme + " key_id=k,timestamp=1,nonce=0123456789abcdef, nonce=0123456789abcdef,signature=" + sig, paygate.EAUTHREPEATED},
		{AuthScheme + " key_id=k,timestamp=1,nonce=0123456789abcdef,signature=" + sig + ",ext=1,ext=2", ""},
	} {
		_, err := parseAuthorization(tc.h)
		if got := paygate.ErrorCode(err); got != tc.code {
			t.Errorf("%q: %v, want %q", tc.h, err, tc.code)
		}
	}
}

func TestAuthorizationHeaderTwice(t *testing.T) {
	sig := strings.Repeat("0", 64)
	h := http.Header{}
	h.Add("Authorization", AuthScheme+" key_id=k,timestamp=1,nonce=0123456789abcdef,signature="+sig)
	if _, err := authorization(h); err != nil {
		t.Fatalf("one header: %v", err)
	}
	h.Add("Authorization", AuthScheme+" key_id=k2,timestamp=1,nonce=0123456789abcdef,signature="+sig)
	if _, err := authorization(h); paygate.ErrorCode(err) != paygate.EAUTHREPEATED {
		t.Fatalf("two headers: %v", err)
	}
}

func FuzzParseAuthorization(f *testing.F) {
	f.Add(AuthScheme + " key_id=k,timestamp=1,nonce=0123456789abcdef,signature=00")
	f.Add("PAYGATE-HMAC-SHA256 ,,,=,")
	f.Add(AuthScheme + " key_id=k,timestamp=1,nonce=0123456789abcdef,signature=" + strings.Repeat("0", 64) + ",key_id=k")
	f.Fuzz(func(t *testing.T, h string) {
		p, err := parseAuthorization(h)
		if err == nil && (p.keyID == "" || len(p.nonce) < 16 || len(p.signature) != 64) {
			t.Fatalf("accepted %q as %+v", h, p)
		}
		if err != nil && StatusOf(paygate.ErrorCode(err)) != http.StatusUnauthorized {
			t.Fatalf("%q: %v is not a 401", h, err)
		}
		if err == nil {
			// Accepted: no parameter appears twice.
			_, rest, _ := strings.Cut(h, " ")
			seen := map[string]bool{}
			for _, part := range strings.Split(rest, ",") {
				k, _, _ := strings.Cut(strings.TrimSpace(part), "=")
				if k == "key_id" || k == "timestamp" || k == "nonce" || k == "signature" {
					if seen[k] {
						t.Fatalf("accepted %q with %s twice", h, k)
					}
					seen[k] = true
				}
			}
		}
	})
}

func TestBadRuneIn(t *testing.T) {
	for _, tc := range []struct {
		s    string
		text bool
		want rune
	}{
		{"ord_123", false, clean},
		{"拿铁 ☕", false, clean},
		{"a\x00b", false, 0},
		{"a\tb", false, '\t'},
		{"a\tb\nc", true, clean},
		{"a\rb", true, '\r'},
		{"a\x7f", false, 0x7F},
		{"a\u0085", false, 0x85},
		{"a\xff", false, invalidUTF8},
		{"\xed\xa0\x80", false, invalidUTF8},
	} {
		if got := badRuneIn(tc.s, tc.text); got != tc.want {
			t.Errorf("%q (text %v): %d, want %d", tc.s, tc.text, got, tc.want)
		}
	}
}

func TestCheckURLValues(t *testing.T) {
	for _, tc := range []struct {
		params      gin.Params
		query, code string
		param       string
	}{
		{gin.Params{{Key: "id", Value: "ord_1"}}, "limit=10&status=pending", "", ""},
		{gin.Params{{Key: "id", Value: "ord_\x00"}}, "", paygate.ECHARSINVALID, "id"},
		{gin.Params{{Key: "id", Value: "ord_\xff"}}, "", paygate.ECHARSINVALID, "id"},
		{nil, "merchant_order_no=A%00", paygate.ECHARSINVALID, "merchant_order_no"},
		{nil, "cursor=%0A", paygate.ECHARSINVALID, "cursor"},
		{nil, "cursor=%FF", paygate.ECHARSINVALID, "cursor"},
		{nil, "st%00atus=x", paygate.ECHARSINVALID, ""},
		{nil, "status=a&status=b", paygate.EDUPPARAM, "status"},
		{nil, "status=a&limit=1&status=a", paygate.EDUPPARAM, "status"},
		{nil, "status=%zz", paygate.EQUERYINVALID, ""},
		{nil, "status=a;limit=1", paygate.EQUERYINVALID, ""},
		{nil, "status=%", paygate.EQUERYINVALID, ""},
		{nil, "q=a+b%20c", "", ""},
	} {
		err := checkURLValues(tc.params, tc.query)
		var pe *paygate.Error
		if tc.code == "" && err != nil || tc.code != "" && (!errors.As(err, &pe) || pe.Code != tc.code || pe.Param != tc.param) {
			t.Errorf("%v %q: %v, want %s param %q", tc.params, tc.query, err, tc.code, tc.param)
		}
	}
}

// FuzzCheckURLValues: every answer is a 400, and what is accepted keeps
// the string rule and parses without a repeated parameter.
func FuzzCheckURLValues(f *testing.F) {
	for _, s := range []string{"", "limit=10&status=pending", "a=%00", "a=1&a=2", "a=%zz", "a;b", "a=%C2%85", "=&=", "a=b=c"} {
		f.Add("ord_1", s)
	}
	f.Fuzz(func(t *testing.T, id, query string) {
		err := checkURLValues(gin.Params{{Key: "id", Value: id}}, query)
		if err != nil {
			if StatusOf(paygate.ErrorCode(err)) != http.StatusBadRequest {
				t.Fatalf("%q %q: %v is not a 400", id, query, err)
			}
			return
		}
		if badRuneIn(id, false) != clean {
			t.Fatalf("accepted id %q", id)
		}
		q, perr := url.ParseQuery(query)
		if perr != nil {
			t.Fatalf("accepted malformed query %q", query)
		}
		for k, vs := range q {
			if len(vs) != 1 || badRuneIn(k, false) != clean || badRuneIn(vs[0], false) != clean {
				t.Fatalf("accepted %q: %q=%q", query, k, vs)
			}
		}
	})
}

func TestActivationTTLRange(t *testing.T) {
	for in, ok := range map[int]bool{299: false, 300: true, 604800: true, 604801: false, -1: false,
		// Seconds that overflow a Duration: refused, never wrapped into range.
		9223372037: false, 9223372036854775807: false, 9223372040: false, 18446744074: false} {
		v := in
		d, err := activationTTL(&v)
		if ok != (err == nil) || err != nil && (paygate.ErrorCode(err) != paygate.EPARAMINVALID || err.(*paygate.Error).Param != "activation_expires_in") {
			t.Errorf("%d: %v %v", in, d, err)
		}
		if ok && d != time.Duration(in)*time.Second {
			t.Errorf("%d: %v", in, d)
		}
	}
}

// The signing definition is the README's, written out independently here.
func TestSignRequestDefinition(t *testing.T) {
	body := []byte(`{"amount":1}`)
	sum := sha256.Sum256(body)
	mac := hmac.New(sha256.New, []byte("sk_test_vector"))
	mac.Write([]byte("POST\n/v1/orders?x=1\n1763700000\n0123456789abcdef\n" + hex.EncodeToString(sum[:])))
	want := hex.EncodeToString(mac.Sum(nil))
	if got := SignRequest("sk_test_vector", "POST", "/v1/orders?x=1", "1763700000", "0123456789abcdef", body); got != want {
		t.Fatalf("signature %s, want %s", got, want)
	}
}

// BenchmarkKeyWalker is the part of decodeStrict that is not json.Unmarshal.
func BenchmarkKeyWalker(b *testing.B) {
	body := []byte(cardOrderBody)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		w := keyWalker{data: body}
		if !w.document(keysOf(reflect.TypeFor[OrderRequest]())) || w.found() != 0 {
			b.Fatal("walk failed")
		}
	}
}

// utf8Rune steps over exactly what utf8.DecodeRune decodes, and flags
// exactly the C1 controls, for every lead byte, every second byte and the
// boundary values of the others, whole or cut short.
func TestUTF8RuneAgrees(t *testing.T) {
	edges := []byte{0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xFF}
	for b0 := 0x80; b0 <= 0xFF; b0++ {
		for b1 := 0; b1 <= 0xFF; b1++ {
			for _, b2 := range edges {
				for _, b3 := range edges {
					full := []byte{byte(b0), byte(b1), b2, b3}
					for n := 1; n <= 4; n++ {
						b := full[:n]
						size, control := utf8Rune(b)
						r, want := utf8.DecodeRune(b)
						if r == utf8.RuneError && want == 1 {
							want = 0
						}
						wantControl := rune(-1)
						if want > 0 && isControl(r) {
							wantControl = r
						}
						if size != want || control != wantControl {
							t.Fatalf("% x: size %d control %d, want %d %d", b, size, control, want, wantControl)
						}
					}
				}
			}
		}
	}
}
