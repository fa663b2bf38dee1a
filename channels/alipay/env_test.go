package alipay_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/channels/alipay"
	"github.com/paygate-cn/paygate/channels/sandbox"
	sim "github.com/paygate-cn/paygate/channels/sandbox/alipay"
)

// sink is a merchant-side notify endpoint that records what it receives.
type sink struct {
	srv      *httptest.Server
	mu       sync.Mutex
	bodies   []string
	arrived  chan string
	failNext atomic.Int32 // answer "fail" to this many deliveries first
}

func newSink(t testing.TB) *sink {
	k := &sink{arrived: make(chan string, 64)}
	k.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		k.mu.Lock()
		k.bodies = append(k.bodies, string(b))
		k.mu.Unlock()
		k.arrived <- string(b)
		if k.failNext.Add(-1) >= 0 {
			io.WriteString(w, "fail")
			return
		}
		io.WriteString(w, "success")
	}))
	t.Cleanup(k.srv.Close)
	return k
}

// next waits for the next notification delivered.
func (k *sink) next(t *testing.T) string {
	t.Helper()
	select {
	case b := <-k.arrived:
		return b
	case <-time.After(10 * time.Second):
		t.Fatal("no notification arrived")
		return ""
	}
}

// env is a simulator mounted under /sandbox/alipay/ and a client for it.
type env struct {
	sim    *sim.Server
	srv    *httptest.Server
	client *alipay.Client
	sink   *sink
	offset atomic.Int64 // the simulator's clock runs this far ahead
	spec   paygate.ProviderSpec
}

func newEnv(t testing.TB, hangFor, timeout time.Duration) *env {
	t.Helper()
	e := &env{sink: newSink(t)}
	n := sandbox.NewNotifier()
	n.Scale = 0.001
	t.Cleanup(n.Close)
	s, err := sim.New(sim.Options{
		AppID:     "2021000000000042",
		NotifyURL: e.sink.srv.URL,
		Notifier:  n,
		Now:       func() time.Time { return time.Now().Add(time.Duration(e.offset.Load())) },
		HangFor:   hangFor,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.sim = s
	mux := http.NewServeMux()
	mux.Handle("/sandbox/alipay/", http.StripPrefix("/sandbox/alipay", s.Handler()))
	e.srv = httptest.NewServer(mux)
	t.Cleanup(func() { s.Close(); e.srv.Close() })
	e.spec = paygate.ProviderSpec{
		ID: "alipay-test", Kind: paygate.KindAlipay,
		BaseURL:     e.srv.URL + "/sandbox/alipay/gateway.do",
		Credentials: s.Credentials(),
		Timeout:     timeout,
	}
	e.client, err = alipay.New(e.spec)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

var orderSeq atomic.Int64

func newOrderID() string {
	return fmt.Sprintf("ord_%d_%d", time.Now().UnixNano(), orderSeq.Add(1))
}

func payReq(id, code string, amount int64, notify string) *paygate.PaymentRequest {
	return &paygate.PaymentRequest{OrderID: id, Amount: amount, Subject: "Latte", Method: paygate.MethodAuthCode, AuthCode: code, NotifyURL: notify}
}

func chanErr(t *testing.T, err error) *paygate.ChannelError {
	t.Helper()
	var ce *paygate.ChannelError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want *paygate.ChannelError", err)
	}
	return ce
}

func ctx() context.Context { return context.Background() }
