package gateway

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
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

// FuzzDecodeStrict: any input either decodes or yields a *paygate.Error
// with a 4xx code; it never panics and never yields internal.
func FuzzDecodeStrict(f *testing.F) {
	for _, s := range []string{`{"merchant_order_no":"A","amount":1,"card":{"emv":"5A08"},"metadata":{"k":"v"}}`,
		`{"amount":"1"}`, `{"location":{"region_code":1}}`, `[`, `{"a":{"b":{"c":[]}}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var in OrderRequest
		err := decodeStrict(body, &in)
		if err == nil {
			return
		}
		var pe *paygate.Error
		if !errors.As(err, &pe) || StatusOf(pe.Code) >= 500 {
			t.Fatalf("decodeStrict(%q) = %v: not a client error", body, err)
		}
	})
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
