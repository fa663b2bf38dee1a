package wechat

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"testing"
	"time"
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

// BenchmarkParseCallback measures what the gateway must do with every
// payment notification before it may act on it: check the platform's
// SHA256-RSA2048 signature, decrypt the AES-256-GCM resource and decode
// it. docs/performance.md adds it to the callbacks' bound.
func BenchmarkParseCallback(b *testing.B) {
	e := newEnv(b, 5*time.Second, time.Second)
	d := genuine(b, e)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := e.client.ParseCallback(ctx, d.header, d.body); err != nil {
				b.Fatal(err)
			}
		}
	})
}
