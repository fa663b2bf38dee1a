package ecny_test

import (
	"crypto/rand"
	"testing"

	"github.com/emmansun/gmsm/sm2"

	"github.com/paygate-cn/paygate/channels/ecny"
)

// BenchmarkSignSM2 is the e-CNY signing limit of this machine: one SM2
// signature (SM3 over Z_A||M) of a typical micropay request.
func BenchmarkSignSM2(b *testing.B) {
	key, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	m := ecny.SigningBytes(ecny.LabelRequest, ecny.PathMicropay, []byte(`{"head":{"version":"1.0","merchant_no":"898310000000001","request_id":"7c0f1b2e5a6d4e8f9a0b1c2d3e4f5a6b","timestamp":"2026-11-21T15:30:00+08:00","sign_type":"SM2"},"body":{"out_trade_no":"ord_01kcz7v2q8x3m4n5p6r7s8t9v0","amount":1234,"currency":"CNY","subject":"Latte","auth_code":"0112345678901239876","wallet_type":"SOFT","terminal_id":"T0001"}}`))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := ecny.Sign(key, m); err != nil {
				b.Fatal(err)
			}
		}
	})
}
