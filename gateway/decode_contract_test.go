package gateway

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/paygate-cn/paygate"
)

// probeInner and probeRequest exercise the shapes decodeStrict treats
// differently: struct and pointer-to-struct fields are checked for unknown
// keys, slices, maps, time.Time and interfaces are not.
type probeInner struct {
	X int `json:"x"`
}

type probeRequest struct {
	A        int                   `json:"a"`
	S        string                `json:"s,omitempty"`
	Untagged int                   // key "Untagged"
	Skip     int                   `json:"-"`
	unexp    int                   // an unexported field is not a key
	Inner    probeInner            `json:"inner"`
	PP       **probeInner          `json:"pp"`
	List     []probeInner          `json:"list"`
	PList    []*probeInner         `json:"plist"`
	M        map[string]probeInner `json:"m"`
	T        time.Time             `json:"t"`
	PT       *time.Time            `json:"pt"`
	Any      any                   `json:"any"`
	Self     *probeRequest         `json:"self"`
	Empty    struct{}              `json:"empty"`
}

type decodeCase struct {
	body, code, param string
	msg               string // a substring of the message, if set
}

func checkDecode(t *testing.T, tc decodeCase, err error) {
	t.Helper()
	if tc.code == "" {
		if err != nil {
			t.Errorf("%.80q: %v, want success", tc.body, err)
		}
		return
	}
	var pe *paygate.Error
	if !errors.As(err, &pe) || pe.Code != tc.code || pe.Param != tc.param || !strings.Contains(pe.Message, tc.msg) {
		t.Errorf("%.80q: got %v, want %s param %q message containing %q", tc.body, err, tc.code, tc.param, tc.msg)
	}
}

func nested(open, close string, n int, inner string) string {
	return strings.Repeat(open, n) + inner + strings.Repeat(close, n)
}

var orderDecodeCases = []decodeCase{
	// Empty.
	{``, paygate.EINVALIDJSON, "", "request body is empty; a JSON object is required"},
	{" \t\r\n", paygate.EINVALIDJSON, "", "request body is empty"},
	{"\v\f\u00a0", paygate.EINVALIDJSON, "", "request body is empty"},

	// Invalid JSON.
	{`{`, paygate.EINVALIDJSON, "", "not valid JSON"},
	{`{"amount":`, paygate.EINVALIDJSON, "", "not valid JSON"},
	{`{"amount":}`, paygate.EINVALIDJSON, "", "not valid JSON"},
	{`{"amount":1,}`, paygate.EINVALIDJSON, "", "not valid JSON"},
	{`{"amount":01}`, paygate.EINVALIDJSON, "", "not valid JSON"},
	{`{"amount":-}`, paygate.EINVALIDJSON, "", "not valid JSON"},
	{`{"amount":1.}`, paygate.EINVALIDJSON, "", "not valid JSON"},
	{`{"amount":1e}`, paygate.EINVALIDJSON, "", "not valid JSON"},
	{`{"amount":+1}`, paygate.EINVALIDJSON, "", "not valid JSON"},
	{`{"amount":NaN}`, paygate.EINVALIDJSON, "", "not valid JSON"},
	{`{"card":tru}`, paygate.EINVALIDJSON, "", "not valid JSON"},
	{`{"card":nulll}`, paygate.EINVALIDJSON, "", "not valid JSON"},
	{`{'amount':1}`, paygate.EINVALIDJSON, "", "not valid JSON"},
	{`{amount:1}`, paygate.EINVALIDJSON, "", "not valid JSON"},
	{`{"amount" 1}`, paygate.EINVALIDJSON, "", "not valid JSON"},
	{`{"amount":1 "currency":"CNY"}`, paygate.EINVALIDJSON, "", "not valid JSON"},
	{`{"subject":"a` + "\x01" + `"}`, paygate.EINVALIDJSON, "", "not valid JSON"},
	{`{"subject":"\q"}`, paygate.EINVALIDJSON, "", "not valid JSON"},
	{`{"subject":"\'"}`, paygate.EINVALIDJSON, "", "not valid JSON"},
	{`{"subject":"\u12g4"}`, paygate.EINVALIDJSON, "", "not valid JSON"},
	{`{"metadata":{"a":"b"]}`, paygate.EINVALIDJSON, "", "not valid JSON"},
	{`{"metadata":[1,2}}`, paygate.EINVALIDJSON, "", "not valid JSON"},
	{"\ufeff{}", paygate.EINVALIDJSON, "", "not valid JSON"},
	// An unknown key does not hide a syntax error after it.
	{`{"bogus":1,`, paygate.EINVALIDJSON, "", "not valid JSON"},
	{`{"card":{"pin":1}} x`, paygate.EINVALIDJSON, "", "not valid JSON"},
	// Trailing data after the object is rejected, not ignored.
	{`{"amount":1}{"amount":2}`, paygate.EINVALIDJSON, "", "not valid JSON"},
	{`{"amount":1} 2`, paygate.EINVALIDJSON, "", "not valid JSON"},
	{`{"amount":1},`, paygate.EINVALIDJSON, "", "not valid JSON"},
	{`[] {}`, paygate.EINVALIDJSON, "", "not valid JSON"},
	// Surrounding whitespace, including Unicode spaces, is trimmed.
	{" \n{\"amount\":1}\n\u00a0", "", "", ""},

	// Not an object.
	{`[]`, paygate.EINVALIDJSON, "", "must be a JSON object"},
	{`[{"amount":1}]`, paygate.EINVALIDJSON, "", "must be a JSON object"},
	{`"x"`, paygate.EINVALIDJSON, "", "must be a JSON object"},
	{`12`, paygate.EINVALIDJSON, "", "must be a JSON object"},
	{`null`, paygate.EINVALIDJSON, "", "must be a JSON object"},
	{`true`, paygate.EINVALIDJSON, "", "must be a JSON object"},

	// Unknown keys, at any depth, named by their dotted path.
	{`{"bogus":1}`, paygate.EUNKNOWNPARAM, "bogus", `unknown parameter "bogus"`},
	{`{"amount":1,"bogus":{"x":[1,{"y":2}]}}`, paygate.EUNKNOWNPARAM, "bogus", ""},
	{`{"":1}`, paygate.EUNKNOWNPARAM, "", `unknown parameter ""`},
	{`{"card":{"entry_mode":"chip","pin":"1234"}}`, paygate.EUNKNOWNPARAM, "card.pin", `unknown parameter "card.pin"`},
	{`{"location":{"region_code":"310000","city":"x"}}`, paygate.EUNKNOWNPARAM, "location.city", ""},
	// Keys are compared exactly, not case-insensitively as encoding/json does.
	{`{"Amount":1}`, paygate.EUNKNOWNPARAM, "Amount", ""},
	{`{"card":{"EMV":"5A08"}}`, paygate.EUNKNOWNPARAM, "card.EMV", ""},
	{`{"amount ":1}`, paygate.EUNKNOWNPARAM, "amount ", ""},
	// Keys are compared after unescaping.
	{`{"a\u006dount":1,"\u0063ard":{"\u0065mv":"5A08"}}`, "", "", ""},
	{`{"b\u006fgus":1}`, paygate.EUNKNOWNPARAM, "bogus", `unknown parameter "bogus"`},
	{`{"card":{"p\u0069n":"1"}}`, paygate.EUNKNOWNPARAM, "card.pin", ""},
	{`{"a\/b":1}`, paygate.EUNKNOWNPARAM, "a/b", ""},
	{`{"\ud83d\ude00":1}`, paygate.EUNKNOWNPARAM, "\U0001F600", ""},
	{`{"\ud83d":1}`, paygate.EUNKNOWNPARAM, "\uFFFD", ""},
	{`{"\ude00\ud83d x":1}`, paygate.EUNKNOWNPARAM, "\uFFFD\uFFFD x", ""},
	{"{\"\xff\xfeab\":1}", paygate.EUNKNOWNPARAM, "\uFFFD\uFFFDab", ""},
	{`{"金额":1}`, paygate.EUNKNOWNPARAM, "金额", ""},
	// Maps are not checked.
	{`{"metadata":{"anything":"goes"}}`, "", "", ""},
	// An unknown key wins over a type error.
	{`{"amount":"12","bogus":1}`, paygate.EUNKNOWNPARAM, "bogus", ""},
	{`{"card":{"emv":1,"pin":1}}`, paygate.EUNKNOWNPARAM, "card.pin", ""},

	// Wrong types.
	{`{"amount":"12"}`, paygate.EAMOUNTINVALID, "amount", "amount must be an integer number of fen, got a JSON string"},
	{`{"amount":1.5}`, paygate.EAMOUNTINVALID, "amount", "got a JSON number 1.5"},
	{`{"amount":1e3}`, paygate.EAMOUNTINVALID, "amount", ""},
	{`{"amount":true}`, paygate.EAMOUNTINVALID, "amount", "got a JSON bool"},
	{`{"amount":{}}`, paygate.EAMOUNTINVALID, "amount", "got a JSON object"},
	{`{"amount":99999999999999999999}`, paygate.EAMOUNTINVALID, "amount", ""},
	{`{"subject":12}`, paygate.EPARAMINVALID, "subject", "subject has the wrong type: got a JSON number, want a string"},
	{`{"expires_in":"1"}`, paygate.EPARAMINVALID, "expires_in", "want an integer"},
	{`{"card":"x"}`, paygate.EPARAMINVALID, "card", "want an object"},
	{`{"card":[{"pin":1}]}`, paygate.EPARAMINVALID, "card", "want an object"},
	{`{"card":{"emv":1}}`, paygate.EPARAMINVALID, "card.emv", ""},
	{`{"location":{"region_code":310000}}`, paygate.EPARAMINVALID, "location.region_code", ""},
	{`{"metadata":{"a":1}}`, paygate.EPARAMINVALID, "metadata", "want a string"},
	{`{"metadata":[]}`, paygate.EPARAMINVALID, "metadata", "want an object"},
	{`{"currency":null,"card":null,"amount":null,"location":null}`, "", "", ""},

	// Duplicate keys are refused in every object, compared unescaped;
	// unknown keys are unknown wherever they are, and reported first.
	{`{"amount":1,"amount":2}`, paygate.EDUPPARAM, "amount", `parameter "amount" is given more than once`},
	{`{"amount":1,"subject":"x","a\u006dount":1}`, paygate.EDUPPARAM, "amount", ""},
	{`{"bogus":1,"bogus":2}`, paygate.EUNKNOWNPARAM, "bogus", ""},
	{`{"card":{"type":"debit"},"card":{"emv":"5A08"}}`, paygate.EDUPPARAM, "card", ""},
	{`{"card":{"type":"debit","type":"credit"}}`, paygate.EDUPPARAM, "card.type", ""},
	{`{"card":{},"card":{"pin":1}}`, paygate.EUNKNOWNPARAM, "card.pin", ""},
	{`{"amount":"x","amount":1}`, paygate.EDUPPARAM, "amount", ""},
	{`{"metadata":{"a":"1","b":"2","a":"3"}}`, paygate.EDUPPARAM, "metadata.a", ""},
	{`{"metadata":{"a":"1","\u0061":"3"}}`, paygate.EDUPPARAM, "metadata.a", ""},
	{`{"metadata":{"k1":"","k2":"","k3":"","k4":"","k5":"","k6":"","k7":"","k8":"","k9":"","k10":"","k4":""}}`, paygate.EDUPPARAM, "metadata.k4", ""},
	{`{"metadata":{"k1":"","k2":"","k3":"","k4":"","k5":"","k6":"","k7":"","k8":"","k9":"","k10":""}}`, "", "", ""},
	{`{"metadata":{"a":[{"x":1},{"x":1,"x":2}]}}`, paygate.EDUPPARAM, "metadata", ""},
	{`{"metadata":{"a":{"x":1,"y":2},"b":{"x":1}}}`, paygate.EPARAMINVALID, "metadata", ""},

	// Strings: valid UTF-8, no NUL or other control character (C0, DEL,
	// C1), raw or escaped; tab and newline only in free text (subject,
	// reason, metadata values). Keys are never free text.
	{`{"subject":"a\u0000b"}`, paygate.ECHARSINVALID, "subject", "U+0000"},
	{`{"payer_id":"o\u0000"}`, paygate.ECHARSINVALID, "payer_id", "U+0000"},
	{`{"subject":"tab\tand\nnewline"}`, "", "", ""},
	{"{\"subject\":\"tab\\tand\\nnewline\"}", "", "", ""},
	{`{"subject":"a\rb"}`, paygate.ECHARSINVALID, "subject", "U+000D"},
	{`{"subject":"a\bb"}`, paygate.ECHARSINVALID, "subject", "U+0008"},
	{`{"subject":"a\fb"}`, paygate.ECHARSINVALID, "subject", "U+000C"},
	{`{"subject":"a\u001bb"}`, paygate.ECHARSINVALID, "subject", "U+001B"},
	{"{\"subject\":\"a\x7fb\"}", paygate.ECHARSINVALID, "subject", "U+007F"},
	{`{"subject":"a\u007fb"}`, paygate.ECHARSINVALID, "subject", "U+007F"},
	{"{\"subject\":\"a\u0085b\"}", paygate.ECHARSINVALID, "subject", "U+0085"},
	{`{"subject":"a\u009Fb"}`, paygate.ECHARSINVALID, "subject", "U+009F"},
	{"{\"subject\":\"a\xffb\"}", paygate.ECHARSINVALID, "subject", "not valid UTF-8"},
	{"{\"subject\":\"\xe4\xb8\"}", paygate.ECHARSINVALID, "subject", "not valid UTF-8"},
	{"{\"subject\":\"\xed\xa0\x80\"}", paygate.ECHARSINVALID, "subject", "not valid UTF-8"},
	{`{"subject":"\ud83d"}`, paygate.ECHARSINVALID, "subject", "not valid UTF-8"},
	{`{"subject":"\ude00\ud83d"}`, paygate.ECHARSINVALID, "subject", "not valid UTF-8"},
	{`{"subject":"\ud83d\u0041"}`, paygate.ECHARSINVALID, "subject", "not valid UTF-8"},
	{`{"subject":"\ud83d\ude00 拿铁 \u00e9\u2028"}`, "", "", ""},
	{`{"payer_id":"a\tb"}`, paygate.ECHARSINVALID, "payer_id", "U+0009"},
	{`{"merchant_order_no":"a\nb"}`, paygate.ECHARSINVALID, "merchant_order_no", "U+000A"},
	{`{"card":{"emv":"5A\u0000"}}`, paygate.ECHARSINVALID, "card.emv", ""},
	{`{"location":{"region_code":"31000\u0000"}}`, paygate.ECHARSINVALID, "location.region_code", ""},
	{`{"metadata":{"table":"12\n13\t"}}`, "", "", ""},
	{`{"metadata":{"table":"12\u0000"}}`, paygate.ECHARSINVALID, "metadata.table", "U+0000"},
	{`{"metadata":{"ta\nble":"12"}}`, paygate.ECHARSINVALID, "metadata", "U+000A"},
	{`{"metadata":{"t\u0000":"12"}}`, paygate.ECHARSINVALID, "metadata", "U+0000"},
	{`{"metadata":{"a":"ok","b":"\u0001"}}`, paygate.ECHARSINVALID, "metadata.b", "U+0001"},
	// The first bad string is reported; a type error comes after it.
	{`{"subject":"\u0001","payer_id":"\u0002"}`, paygate.ECHARSINVALID, "subject", "U+0001"},
	{`{"amount":"\u0000"}`, paygate.ECHARSINVALID, "amount", ""},
	// An unknown key and a duplicate come before a bad string.
	{`{"subject":"\u0000","bogus":1}`, paygate.EUNKNOWNPARAM, "bogus", ""},
	{`{"subject":"\u0000","amount":1,"amount":1}`, paygate.EDUPPARAM, "amount", ""},
	{`{"b\u0000gus":1}`, paygate.EUNKNOWNPARAM, "b\x00gus", ""},

	// Deep nesting: up to 10000 levels is JSON; more is not.
	{`{"metadata":{"a":` + nested("[", "]", 9998, "") + `}}`, paygate.EPARAMINVALID, "metadata", ""},
	{`{"metadata":{"a":` + nested("[", "]", 9999, "") + `}}`, paygate.EINVALIDJSON, "", "not valid JSON"},
	{`{"bogus":` + nested(`{"a":`, "}", 9999, "1") + `}`, paygate.EUNKNOWNPARAM, "bogus", ""},
	{`{"bogus":` + nested(`{"a":`, "}", 10000, "1") + `}`, paygate.EINVALIDJSON, "", "not valid JSON"},
	{`{"card":` + nested("[", "]", 50000, "") + `}`, paygate.EINVALIDJSON, "", "not valid JSON"},
	{nested("[", "]", 10000, ""), paygate.EINVALIDJSON, "", "must be a JSON object"},
}

func TestDecodeStrictOrderRequest(t *testing.T) {
	for _, tc := range orderDecodeCases {
		var in OrderRequest
		checkDecode(t, tc, decodeStrict([]byte(tc.body), &in))
	}
}

func TestDecodeStrictValues(t *testing.T) {
	var in OrderRequest
	body := `{"merchant_order_no":"P1-1","amount":1000,"card":{"type":"debit","emv":"5A08"},"metadata":{"k":"v"},"subject":"a\"b\u00e9"}`
	if err := decodeStrict([]byte(body), &in); err != nil {
		t.Fatal(err)
	}
	if in.MerchantOrderNo != "P1-1" || in.Amount == nil || *in.Amount != 1000 || in.Card == nil ||
		in.Card.Type != "debit" || in.Card.EMV != "5A08" || in.Metadata["k"] != "v" || in.Subject != "a\"bé" {
		t.Fatalf("decoded %+v card %+v", in, in.Card)
	}
}

var probeDecodeCases = []decodeCase{
	{`{"a":1,"s":"x","Untagged":2,"inner":{"x":1},"pp":{"x":2},"t":"2025-01-02T03:04:05Z","pt":null,"any":{"z":[{"q":1}]},"empty":{}}`, "", "", ""},
	// Untagged fields are keyed by their Go name, exactly.
	{`{"untagged":1}`, paygate.EUNKNOWNPARAM, "untagged", ""},
	// "-" and unexported fields are not keys.
	{`{"Skip":1}`, paygate.EUNKNOWNPARAM, "Skip", ""},
	{`{"-":1}`, paygate.EUNKNOWNPARAM, "-", ""},
	{`{"unexp":1}`, paygate.EUNKNOWNPARAM, "unexp", ""},
	// Struct and pointer-to-struct fields are checked, recursively.
	{`{"inner":{"x":1,"y":2}}`, paygate.EUNKNOWNPARAM, "inner.y", ""},
	{`{"pp":{"y":2}}`, paygate.EUNKNOWNPARAM, "pp.y", ""},
	{`{"self":{"self":{"inner":{"y":2}}}}`, paygate.EUNKNOWNPARAM, "self.self.inner.y", ""},
	{`{"self":{"self":{"a":1,"zz":1}}}`, paygate.EUNKNOWNPARAM, "self.self.zz", ""},
	{`{"empty":{"x":1}}`, paygate.EUNKNOWNPARAM, "empty.x", ""},
	{`{"self":` + nested(`{"self":`, "}", 500, `{"y":1}`) + `}`, paygate.EUNKNOWNPARAM, strings.Repeat("self.", 501) + "y", ""},
	// Slices, maps, time.Time and interfaces are not.
	{`{"list":[{"x":1,"y":2}],"plist":[{"y":1},null]}`, "", "", ""},
	{`{"m":{"k":{"y":2}}}`, "", "", ""},
	{`{"any":{"y":2}}`, "", "", ""},
	// (time.Time's own UnmarshalJSON error is not a type error.)
	{`{"t":{"y":2}}`, paygate.EINVALIDJSON, "", "could not be decoded"},
	{`{"pt":{"y":2}}`, paygate.EINVALIDJSON, "", "could not be decoded"},
	// Wrong types inside them are still type errors.
	{`{"list":[{"x":"1"}]}`, paygate.EPARAMINVALID, "list.x", ""},
	{`{"inner":[]}`, paygate.EPARAMINVALID, "inner", "want an object"},
}

func TestDecodeStrictShapes(t *testing.T) {
	for _, tc := range probeDecodeCases {
		var in probeRequest
		checkDecode(t, tc, decodeStrict([]byte(tc.body), &in))
	}
}

func TestDecodeStrictEmptyStruct(t *testing.T) {
	var none struct{}
	checkDecode(t, decodeCase{`{}`, "", "", ""}, decodeStrict([]byte(`{}`), &none))
	checkDecode(t, decodeCase{`{"a":1}`, paygate.EUNKNOWNPARAM, "a", ""}, decodeStrict([]byte(`{"a":1}`), &none))
}

// cardOrderBody is a card-present sale as a POS sends it.
const cardOrderBody = `{"merchant_order_no":"P1-1","amount":1000,"currency":"CNY","subject":"Dinner","method":"card","card":{"entry_mode":"chip","emv":"5A0862220200000000015F24033012318202198095050000008000","type":"debit"},"terminal_id":"T0001","location":{"region_code":"310000"}}`

func BenchmarkDecodeStrict(b *testing.B) {
	body := []byte(cardOrderBody)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		var in OrderRequest
		if err := decodeStrict(body, &in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeStrictWallet decodes an e-commerce order with a Chinese
// subject, free text and metadata (walletOrderBody).
func BenchmarkDecodeStrictWallet(b *testing.B) {
	body := []byte(walletOrderBody)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		var in OrderRequest
		if err := decodeStrict(body, &in); err != nil {
			b.Fatal(err)
		}
	}
}
