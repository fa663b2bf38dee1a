package bench

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/paygate-cn/paygate"
)

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 200; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	for _, tc := range []struct {
		pct  int
		want float64
	}{{50, 100}, {99, 198}, {100, 200}, {1, 2}} {
		if got := ms(d, tc.pct); got != tc.want {
			t.Errorf("p%d = %v, want %v", tc.pct, got, tc.want)
		}
	}
	if got := ms([]time.Duration{3 * time.Millisecond}, 99); got != 3 {
		t.Errorf("p99 of one = %v", got)
	}
	if !math.IsNaN(ms(nil, 50)) {
		t.Error("no samples must read NaN")
	}
}

// metricSum adds the samples of one family whose labels match.
func TestMetricSum(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `# HELP paygate_callbacks_total callbacks
paygate_callbacks_total{channel="wechat",outcome="applied"} 12
paygate_callbacks_total{channel="wechat",outcome="duplicate"} 3
paygate_callbacks_total{channel="alipay",outcome="applied"} 100
paygate_http_requests_total{code="200",method="POST",route="/sandbox/wechat/*path"} 7
paygate_http_requests_total{code="200",method="POST",route="/sandbox/wechat/*path"} 1e+03
paygate_http_requests_total{code="200",method="POST",route="/v1/orders"} 9
`)
	}))
	defer srv.Close()
	hc := srv.Client()
	if got := callbacksSeen(hc, srv.URL, paygate.KindWeChat); got != 15 {
		t.Errorf("callbacks %v, want 15", got)
	}
	if got := sandboxCalls(hc, srv.URL, paygate.KindWeChat); got != 1007 {
		t.Errorf("sandbox calls %v, want 1007", got)
	}
	if got := sandboxCalls(hc, srv.URL, paygate.KindAlipay); got != 0 {
		t.Errorf("alipay sandbox calls %v, want 0", got)
	}
}

// The timing decorator adds up each order's channel calls, and take
// forgets what it returns.
func TestTimedChannel(t *testing.T) {
	timer := newChannelTimer()
	ch := &timedChannel{Channel: slowChannel{d: 5 * time.Millisecond}, t: timer}
	ctx := context.Background()
	if _, err := ch.Pay(ctx, &paygate.PaymentRequest{OrderID: "ord_1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.Query(ctx, &paygate.Order{ID: "ord_1"}); err != nil {
		t.Fatal(err)
	}
	if d := timer.take("ord_1"); d < 10*time.Millisecond {
		t.Errorf("channel time %v, want at least 10ms", d)
	}
	if d := timer.take("ord_1"); d != 0 {
		t.Errorf("taken twice: %v", d)
	}
}

// slowChannel answers Pay and Query after d; the benchmark calls nothing
// else.
type slowChannel struct {
	paygate.Channel
	d time.Duration
}

func (c slowChannel) Pay(context.Context, *paygate.PaymentRequest) (*paygate.Result, error) {
	time.Sleep(c.d)
	return &paygate.Result{}, nil
}

func (c slowChannel) Query(context.Context, *paygate.Order) (*paygate.Result, error) {
	time.Sleep(c.d)
	return &paygate.Result{}, nil
}
