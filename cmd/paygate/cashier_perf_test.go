//go:build harness

package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// TestCashierPagePerf measures the payer page's server answer at a fixed
// arrival rate (open loop: a request leaves every 1/rate s whatever the
// previous ones do), as docs/performance.md reports. It is built only with
// the harness tag and runs only with PAYGATE_PERF=1:
//
//	PAYGATE_PERF=1 go test -tags harness ./cmd/paygate -run TestCashierPagePerf -v
//
// PAYGATE_PERF_CASHIER_RATE (default 100/s) and _SECONDS (default 15)
// change the load.
func TestCashierPagePerf(t *testing.T) {
	if os.Getenv("PAYGATE_PERF") == "" {
		t.Skip("set PAYGATE_PERF=1 to run the performance harness")
	}
	rate, seconds := 100, 15
	if v, err := strconv.Atoi(os.Getenv("PAYGATE_PERF_CASHIER_RATE")); err == nil && v > 0 {
		rate = v
	}
	if v, err := strconv.Atoi(os.Getenv("PAYGATE_PERF_CASHIER_SECONDS")); err == nil && v > 0 {
		seconds = v
	}
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			c := testMain(t, backend)
			qr := c.createQRCode(map[string]any{"store_name": "早餐铺", "terminal_id": "T0001"})
			for _, page := range []struct{ name, ua string }{{"payer page (WeChat)", uaWeChat}, {"other browsers", uaBrowser}} {
				// Over HTTP (loopback, a client in this process), and the
				// server's own answer: the handler called directly.
				for _, via := range []string{"http", "handler"} {
					var h http.Handler
					if via == "handler" {
						h = c.m.Server.Handler()
					}
					lat, size := cashierLoad(t, qr["url"].(string), page.ua, rate, seconds, h)
					slices.Sort(lat)
					q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
					t.Logf("%s %s via %s: %d requests at %d/s: p50 %v p90 %v p99 %v max %v; page %d bytes", backend, page.name,
						via, len(lat), rate, q(0.50), q(0.90), q(0.99), lat[len(lat)-1], size)
				}
			}
		})
	}
}

// cashierLoad sends GETs of u at rate per second for seconds, one
// browser (cookie) per page, and returns every answer's latency. With a
// handler h the requests are served by h directly, without the network.
func cashierLoad(t *testing.T, u, ua string, rate, seconds int, h http.Handler) ([]time.Duration, int) {
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	get := func() (time.Duration, int, error) {
		req, _ := http.NewRequest("GET", u, nil)
		req.Header.Set("User-Agent", ua)
		req.AddCookie(&http.Cookie{Name: "sandbox_payer", Value: "0123456789abcdef0123456789abcdef"})
		start := time.Now()
		if h != nil {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			d := time.Since(start)
			if rec.Code != 200 {
				return 0, 0, fmt.Errorf("status %d", rec.Code)
			}
			return d, rec.Body.Len(), nil
		}
		resp, err := hc.Do(req)
		if err != nil {
			return 0, 0, err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return 0, 0, fmt.Errorf("status %d", resp.StatusCode)
		}
		return time.Since(start), len(b), err
	}
	for range 50 { // warm the connections and caches
		if _, _, err := get(); err != nil {
			t.Fatal(err)
		}
	}
	n := rate * seconds
	lat := make([]time.Duration, n)
	var size int
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed error
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	for i := range n {
		<-tick.C
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, s, err := get()
			mu.Lock()
			defer mu.Unlock()
			if err != nil && failed == nil {
				failed = err
			}
			lat[i], size = d, s
		}()
	}
	wg.Wait()
	if failed != nil {
		t.Fatal(failed)
	}
	return lat, size
}
