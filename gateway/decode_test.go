package gateway

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

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
// straightforward implementation it replaced, on OrderRequest and on
// probeRequest: they must accept and reject the same bodies with the same
// codes, decode the same values, and give the same type errors. Two
// differences are allowed:
//   - the reference reports a random one of several unknown keys, so
//     decodeStrict's must be one of them (and the same when there is one);
//   - the reference checks only the last value of a duplicated key for
//     unknown keys, decodeStrict all of them, so with duplicate keys it may
//     reject with EUNKNOWNPARAM a body the reference accepts.
//
// Any error must also be a *paygate.Error with a 4xx code, and keyWalker
// must agree with json.Valid.
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
		`{"self":{"list":[{"q":1}],"inner":{"x":1e5,"z":null},"pp":{"x":-0.5E-3}}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if w := (keyWalker{data: body}); w.document(nil) != json.Valid(body) {
			t.Fatalf("keyWalker says %q is valid JSON: %v", body, !json.Valid(body))
		}
		compareWithReference[OrderRequest](t, body)
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
	if code != refCode {
		if dup && code == paygate.EUNKNOWNPARAM {
			return
		}
		t.Fatalf("%T: decodeStrict(%q) = %v, reference %v", got, body, err, refErr)
	}
	switch code {
	case "":
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%T: decodeStrict(%q) decoded %+v, reference %+v", got, body, got, want)
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
		if err := referenceCheckKeys(v, ft, path+k+"."); err != nil {
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
		unknown = append(unknown, referenceUnknownKeys(v, ft, path+k+".")...)
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
	body := []byte(cardOrderBody)
	keys := keysOf(reflect.TypeFor[OrderRequest]())
	allocs := testing.AllocsPerRun(100, func() {
		w := keyWalker{data: body}
		if !w.document(keys) || w.found {
			t.Fatal("walk failed")
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per walk", allocs)
	}
}

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
	} {
		_, err := parseAuthorization(tc.h)
		if got := paygate.ErrorCode(err); got != tc.code {
			t.Errorf("%q: %v, want %q", tc.h, err, tc.code)
		}
	}
}

func FuzzParseAuthorization(f *testing.F) {
	f.Add(AuthScheme + " key_id=k,timestamp=1,nonce=0123456789abcdef,signature=00")
	f.Add("PAYGATE-HMAC-SHA256 ,,,=,")
	f.Fuzz(func(t *testing.T, h string) {
		p, err := parseAuthorization(h)
		if err == nil && (p.keyID == "" || len(p.nonce) < 16 || len(p.signature) != 64) {
			t.Fatalf("accepted %q as %+v", h, p)
		}
	})
}

// The signing definition is DESIGN §3's, written out independently here.
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
		if !w.document(keysOf(reflect.TypeFor[OrderRequest]())) || w.found {
			b.Fatal("walk failed")
		}
	}
}
