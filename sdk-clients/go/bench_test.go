package paygate_test

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	paygate "github.com/paygate-cn/paygate/sdk-clients/go"
)

// BenchmarkOverhead compares the SDK with a bare net/http client doing the
// least a caller must (sign, send, read the answer) for the same request
// against the same gateway: the difference per operation is what the SDK
// adds (building the request, its headers, decoding into typed structs).
//
//	go test -run '^$' -bench Overhead -count 5
func BenchmarkOverhead(b *testing.B) {
	c := newClient(b)
	cx := ctx(b)
	o, err := c.Orders.Create(cx, &paygate.OrderParams{MerchantOrderNo: orderNo(), Amount: 100, Subject: "Bench",
		Method: "qr", Channel: "wechat"})
	if err != nil {
		b.Fatal(err)
	}
	path := "/v1/orders/" + o.ID
	hc := &http.Client{}
	bare := func() {
		req, _ := http.NewRequest("GET", gatewayURL+path, nil)
		req.Header.Set("Authorization", bareSign("GET", path))
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	sdk := func() {
		if _, err := c.Orders.Get(cx, o.ID); err != nil {
			b.Fatal(err)
		}
	}
	// The two alternate, so that the machine's noise falls on both alike;
	// the medians of each are compared.
	var tb, ts []time.Duration
	for b.Loop() {
		t0 := time.Now()
		bare()
		t1 := time.Now()
		sdk()
		tb, ts = append(tb, t1.Sub(t0)), append(ts, time.Since(t1))
	}
	mb, ms := median(tb), median(ts)
	b.ReportMetric(float64(mb.Microseconds()), "bare-µs/op")
	b.ReportMetric(float64(ms.Microseconds()), "sdk-µs/op")
	b.ReportMetric(float64((ms - mb).Microseconds()), "overhead-µs/op")
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func bareSign(method, path string) string {
	var nb [16]byte
	rand.Read(nb[:])
	nonce := hex.EncodeToString(nb[:])
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	empty := sha256.Sum256(nil)
	m := hmac.New(sha256.New, []byte(testSecret))
	m.Write([]byte(method + "\n" + path + "\n" + ts + "\n" + nonce + "\n" + hex.EncodeToString(empty[:])))
	return "PAYGATE-HMAC-SHA256 key_id=" + testKeyID + ",timestamp=" + ts + ",nonce=" + nonce + ",signature=" + hex.EncodeToString(m.Sum(nil))
}
