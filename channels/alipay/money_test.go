package alipay

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"testing"
)

func TestAmounts(t *testing.T) {
	for fen, s := range map[int64]string{0: "0.00", 1: "0.01", 1234: "12.34", 100: "1.00", -6: "-0.06", 5_000_000: "50000.00"} {
		if got := yuan(fen); got != s {
			t.Errorf("yuan(%d) = %q, want %q", fen, got, s)
		}
		if got, err := parseFen(s); err != nil || got != fen {
			t.Errorf("parseFen(%q) = %d, %v", s, got, err)
		}
	}
	for s, fen := range map[string]int64{"12": 1200, "12.3": 1230, "0.1": 10} {
		if got, err := parseFen(s); err != nil || got != fen {
			t.Errorf("parseFen(%q) = %d, %v", s, got, err)
		}
	}
	for _, bad := range []string{"", ".5", "1.", "1.234", "1e3", " 1.00", "1,00", "+1", "--1", "0x10", "1234567890123.00", "NaN"} {
		if _, err := parseFen(bad); err == nil {
			t.Errorf("parseFen(%q) accepted", bad)
		}
	}
}

// BenchmarkSignRSA2048 measures this machine's RSA2 (SHA256withRSA,
// 2048-bit) signing rate: every OpenAPI request costs one signature.
func BenchmarkSignRSA2048(b *testing.B) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	msg := []byte(`app_id=2021000000000042&biz_content={"auth_code":"286001234567890123","out_trade_no":"ord_1","scene":"bar_code","subject":"Latte","total_amount":"12.34"}&charset=utf-8&format=JSON&method=alipay.trade.pay&sign_type=RSA2&timestamp=2026-11-21 12:00:00&version=1.0`)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			sum := sha256.Sum256(msg)
			if _, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, sum[:]); err != nil {
				b.Fatal(err)
			}
		}
	})
}
