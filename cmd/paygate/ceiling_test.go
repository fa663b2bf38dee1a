//go:build harness

package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkLoopbackHTTPCeiling measures the most HTTP exchanges per second
// this machine can make over loopback between a Go client and a Go server
// whose handler does nothing: no signatures, no JSON, no database. A
// B-scan-C order takes at least three such exchanges (merchant → gateway,
// gateway → channel, channel's notification → gateway), so a third of this
// rate bounds any gateway's orders per second here, whatever its code
// (docs/performance.md uses it for e-CNY, whose SM2 limit sits above it).
//
//	go test -tags harness ./cmd/paygate -run '^$' -bench LoopbackHTTPCeiling -benchtime 5s
func BenchmarkLoopbackHTTPCeiling(b *testing.B) {
	body := strings.Repeat("x", 512) // about an order request's size
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Write([]byte(`{"status":"succeeded"}`))
	}))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	b.SetParallelism(16) // 16 × GOMAXPROCS concurrent clients
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Post(srv.URL, "application/json", strings.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "exchanges/s")
}
