package routing

import (
	"context"
	"testing"

	"github.com/paygate-cn/paygate"
)

// BenchmarkQuote is one route decision over five providers (fee
// computation over every candidate, no I/O).
func BenchmarkQuote(b *testing.B) {
	r := newRouter(b, cardProviders(), Options{})
	req := cardReq(demoMerchant(), "contactless", "credit", 50000)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Quote(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkQuoteWallet routes a B-scan-C wallet payment with merchant
// contracts for the wallets.
func BenchmarkQuoteWallet(b *testing.B) {
	r := newRouter(b, cardProviders(), Options{})
	m := demoMerchant()
	m.Contracts = map[string][]paygate.FeeRule{"alipay": {{Name: "alipay.contract", Rate: d("0.0038")}}}
	req := &paygate.RouteRequest{Merchant: m, Amount: 1234, Method: paygate.MethodAuthCode}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Quote(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRoute is a payment with the default risk rules against Redis;
// it reports Redis round trips per Route.
func BenchmarkRoute(b *testing.B) {
	rdb := testRedis(b)
	r := newRouter(b, cardProviders(), Options{Risk: rdb.Store})
	m := demoMerchant()
	ctx := context.Background()
	payers := make([]string, 4096)
	for i := range payers {
		payers[i] = "payer-" + fen(int64(i))
	}
	b.ReportAllocs()
	before := rdb.RoundTrips()
	i := 0
	for b.Loop() {
		req := tap(m, payers[i%len(payers)], 1000)
		i++
		if _, err := r.Route(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rdb.RoundTrips()-before)/float64(b.N), "roundtrips/op")
}
