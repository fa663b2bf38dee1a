package wechat

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"testing"
)

// BenchmarkSignRSA2048 measures one SHA256-RSA2048 (PKCS #1 v1.5)
// signature, the cost of signing every request to WeChat Pay.
func BenchmarkSignRSA2048(b *testing.B) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	msg := []byte("POST\n/v3/pay/transactions/codepay\n1700000000\n593BEC0C930BF1AFEB40B4A08C8FB242\n{\"appid\":\"wxd678efh567hg6787\"}\n")
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			sum := sha256.Sum256(msg)
			if _, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:]); err != nil {
				b.Fatal(err)
			}
		}
	})
}
