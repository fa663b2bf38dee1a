package gateway

import (
	"strings"
	"testing"
	"time"

	"github.com/paygate-cn/paygate"
)

func TestDetectWallet(t *testing.T) {
	for _, tc := range []struct{ ua, want string }{
		{"Mozilla/5.0 (Linux; Android 14) Mobile Safari/537.36 MicroMessenger/8.0.47.2560(0x28002F36) NetType/WIFI", paygate.KindWeChat},
		{"Mozilla/5.0 (iPhone) Mobile/15E148 MicroMessenger/8.0.44(0x18002c2c) NetType/4G Language/zh_CN", paygate.KindWeChat},
		{"Mozilla/5.0 (Linux; Android 14) Mobile Safari/537.36 AlipayClient/10.5.86.8000 Language/zh-Hans", paygate.KindAlipay},
		{"Mozilla/5.0 (iPhone) Mobile/15E148 UnionPay/1.0 CloudPay", paygate.KindUnionPay},
		{"Mozilla/5.0 (Linux; Android 13) Mobile Safari/537.36 UnionPay/1.0 ICBCiPhoneBSNew", paygate.KindUnionPay},
		{"Mozilla/5.0 (Linux; Android 13) Mobile Safari/537.36 UnionPay/", ""}, // no version, no app
		{"Mozilla/5.0 (Linux; Android 13) Mobile Safari/537.36 eCNY/1.2.3", paygate.KindECNY},
		{"Mozilla/5.0 (iPhone) Mobile/15E148 Safari/604.1", ""},
		{"", ""},
	} {
		if got := DetectWallet(tc.ua, DefaultECNYMarker); got != tc.want {
			t.Errorf("DetectWallet(%q) = %q, want %q", tc.ua, got, tc.want)
		}
	}
	// The e-CNY marker is configurable.
	if got := DetectWallet("Mozilla/5.0 DCEPWallet/2.0", "DCEPWallet/"); got != paygate.KindECNY {
		t.Errorf("configured marker: %q", got)
	}
}

func FuzzDetectWallet(f *testing.F) {
	f.Add("Mozilla/5.0 MicroMessenger/8.0", "eCNY/")
	f.Add("UnionPay/1.0 CloudPay", "")
	f.Fuzz(func(t *testing.T, ua, marker string) {
		switch DetectWallet(ua, marker) {
		case "", paygate.KindWeChat, paygate.KindAlipay, paygate.KindUnionPay, paygate.KindECNY:
		default:
			t.Fatalf("unknown wallet for %q", ua)
		}
	})
}

func TestParseYuan(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"12.34", 1234, true}, {"12.3", 1230, true}, {"12", 1200, true}, {"0.01", 1, true}, {" 5 ", 500, true},
		{"012.00", 1200, true}, {"999999999.99", 99999999999, true},
		{"", 0, false}, {".5", 0, false}, {"5.", 0, false}, {"1.234", 0, false}, {"-1", 0, false}, {"1e3", 0, false},
		{"1,000", 0, false}, {"１２", 0, false}, {"1000000000", 0, false}, {"1.2.3", 0, false}, {"+1", 0, false},
	} {
		got, ok := ParseYuan(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseYuan(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// FuzzParseYuan: whatever is accepted prints back as the same amount.
func FuzzParseYuan(f *testing.F) {
	for _, s := range []string{"12.34", "0", "1.5", "abc", "99.999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := ParseYuan(s)
		if !ok {
			return
		}
		if n < 0 {
			t.Fatalf("%q: negative %d", s, n)
		}
		if back, ok := ParseYuan(FormatYuan(n)); !ok || back != n {
			t.Fatalf("%q: %d prints as %q", s, n, FormatYuan(n))
		}
	})
}

func TestFormatYuan(t *testing.T) {
	for in, want := range map[int64]string{0: "0.00", 1: "0.01", 10: "0.10", 1234: "12.34", 50000: "500.00", -5: "-0.05"} {
		if got := FormatYuan(in); got != want {
			t.Errorf("FormatYuan(%d) = %q, want %q", in, got, want)
		}
	}
}

// flipLast changes a token's last character (to another one: replacing it
// with a fixed character left a token ending in that character intact).
func flipLast(tok string) string {
	last := tok[len(tok)-1]
	if last == '0' {
		return tok[:len(tok)-1] + "1"
	}
	return tok[:len(tok)-1] + "0"
}

// TestCashierTokens: regression for a tamper case that changed nothing one
// run in sixteen.
func TestCashierTokens(t *testing.T) {
	k := &Cashier{Key: []byte("0123456789abcdef0123456789abcdef"), PublicURL: "https://pay.example.com"}
	now := time.Unix(1_800_000_000, 0)
	p := payer{wallet: paygate.KindWeChat, id: "o-payer-1"}

	tok := k.formToken("code1", p, now)
	if nonce, ok := k.checkFormToken(tok, "code1", p, now.Add(time.Minute)); !ok || len(nonce) != 16 {
		t.Fatalf("own form token refused")
	}
	for name, check := range map[string]func() bool{
		"other code":  func() bool { _, ok := k.checkFormToken(tok, "code2", p, now); return ok },
		"other payer": func() bool { _, ok := k.checkFormToken(tok, "code1", payer{p.wallet, "o-2"}, now); return ok },
		"other wallet": func() bool {
			_, ok := k.checkFormToken(tok, "code1", payer{paygate.KindAlipay, p.id}, now)
			return ok
		},
		"expired":  func() bool { _, ok := k.checkFormToken(tok, "code1", p, now.Add(formTTL)); return ok },
		"tampered": func() bool { _, ok := k.checkFormToken(flipLast(tok), "code1", p, now); return ok },
		"empty":    func() bool { _, ok := k.checkFormToken("", "code1", p, now); return ok },
	} {
		if check() {
			t.Errorf("form token accepted for %s", name)
		}
	}

	s := k.sessionValue(p, now.Add(time.Hour))
	if got, ok := k.parseSession(s, p.wallet, now); !ok || got != p {
		t.Fatalf("session %v %v", got, ok)
	}
	if _, ok := k.parseSession(s, paygate.KindAlipay, now); ok {
		t.Error("session of another wallet accepted")
	}
	if _, ok := k.parseSession(s, p.wallet, now.Add(2*time.Hour)); ok {
		t.Error("expired session accepted")
	}
	if _, ok := k.parseSession(strings.Replace(s, ".", "x.", 1), p.wallet, now); ok {
		t.Error("tampered session accepted")
	}

	st := k.stateValue("code1", "alipay", now)
	if !k.checkState(st, "code1", "alipay", now) || k.checkState(st, "code2", "alipay", now) ||
		k.checkState(st, "code1", "alipay", now.Add(time.Hour)) {
		t.Error("oauth state checks")
	}

	// Dynamic QR image URLs: only for pending qr orders before expiry.
	qr := "https://qr.alipay.com/x"
	o := &paygate.Order{ID: "ord_1", Method: paygate.MethodQR, Status: paygate.OrderPending, QRCode: &qr, ExpiresAt: now.Add(time.Minute)}
	u := k.OrderPNGURL(o, now)
	if u == nil || !strings.HasPrefix(*u, "https://pay.example.com/qr_png/ord_1/") || !strings.HasSuffix(*u, ".png") || len(*u) < 60 {
		t.Fatalf("png url %v", u)
	}
	if k.OrderPNGURL(o, now.Add(time.Minute)) != nil {
		t.Error("png url after expiry")
	}
	o.Status = paygate.OrderSucceeded
	if k.OrderPNGURL(o, now) != nil {
		t.Error("png url of a paid order")
	}
	if (*Cashier)(nil).OrderPNGURL(o, now) != nil {
		t.Error("png url without a cashier")
	}
}

func TestSandboxPayerIDs(t *testing.T) {
	c := "0123456789abcdef0123456789abcdef"
	ids := map[string]bool{}
	for _, w := range []string{paygate.KindWeChat, paygate.KindAlipay, paygate.KindUnionPay, paygate.KindECNY} {
		id := sandboxPayerID(w, c)
		if id != sandboxPayerID(w, c) || ids[id] || len(id) > 64 {
			t.Errorf("%s: %q", w, id)
		}
		ids[id] = true
	}
	if id := sandboxPayerID(paygate.KindAlipay, c); !strings.HasPrefix(id, "2088") || len(id) != 16 {
		t.Errorf("alipay buyer id %q", id)
	}
}

func TestConfirmRef(t *testing.T) {
	for cred, want := range map[string]string{
		`{"appId":"wx1","package":"prepay_id=wx201410272009395522657a690389285100"}`: "wx201410272009395522657a690389285100",
		`{"trade_no":"2026120122001"}`: "2026120122001",
		`{"tn":"7771234"}`:             "7771234",
		`{"pay_ref":"E123"}`:           "E123",
		`null`:                         "CTN",
	} {
		if got := confirmRef(&paygate.Order{Credential: []byte(cred), ChannelTradeNo: "CTN"}); got != want {
			t.Errorf("%s: %q, want %q", cred, got, want)
		}
	}
}

// FuzzCashierTokens: the parsers of form tokens, payer sessions and OAuth
// states never panic and accept only what was signed (the seeds).
func FuzzCashierTokens(f *testing.F) {
	k := &Cashier{Key: []byte("0123456789abcdef0123456789abcdef")}
	now := time.Unix(1_800_000_000, 0)
	p := payer{wallet: paygate.KindWeChat, id: "o-1"}
	form, session, state := k.formToken("c", p, now), k.sessionValue(p, now.Add(time.Hour)), k.stateValue("c", "wechat", now)
	for _, s := range []string{form, session, state, "a.b.c.d", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if _, ok := k.checkFormToken(s, "c", p, now); ok && s != form {
			t.Fatalf("form token %q accepted", s)
		}
		if _, ok := k.parseSession(s, p.wallet, now); ok && s != session {
			t.Fatalf("session %q accepted", s)
		}
		if k.checkState(s, "c", "wechat", now) && s != state {
			t.Fatalf("state %q accepted", s)
		}
	})
}
