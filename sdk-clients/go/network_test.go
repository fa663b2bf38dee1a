package paygate_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net"
	"testing"
	"time"

	paygate "github.com/paygate-cn/paygate/sdk-clients/go"
)

// fastRetries keeps the unstable-network tests short.
var fastRetries = paygate.WithBackoff(20*time.Millisecond, 100*time.Millisecond)

// sameAnswer checks that the retry got the stored first answer: same
// body, the first 201 and the replay 200.
func sameAnswer(t *testing.T, exs []exchange) {
	t.Helper()
	if len(exs) != 2 {
		t.Fatalf("%d requests reached the proxy, want 2", len(exs))
	}
	if exs[0].IdempotencyKey == "" || exs[0].IdempotencyKey != exs[1].IdempotencyKey {
		t.Fatalf("idempotency keys %q and %q: the retry must reuse the first", exs[0].IdempotencyKey, exs[1].IdempotencyKey)
	}
	if exs[0].Status != 201 || exs[1].Status != 200 {
		t.Fatalf("statuses %d then %d, want 201 then the 200 replay", exs[0].Status, exs[1].Status)
	}
	if !bytes.Equal(exs[0].Body, exs[1].Body) {
		t.Fatalf("the replayed answer differs from the first:\n%s\n%s", exs[0].Body, exs[1].Body)
	}
}

// TestDroppedAnswerPaysOnce: the connection drops after the gateway took
// the payment and before the answer came back; the SDK retries with the
// same key and gets the stored answer: one order, one refund.
func TestDroppedAnswerPaysOnce(t *testing.T) {
	cx := ctx(t)
	p := newProxy(t, gatewayURL, dropAnswer)
	c := newClient(t, paygate.WithBaseURL(p.URL()), fastRetries)
	no := orderNo()
	o, err := c.Orders.Create(cx, &paygate.OrderParams{MerchantOrderNo: no, Amount: 1500, Subject: "Noodles",
		Method: "auth_code", AuthCode: wechatCode(), TerminalID: "T0001"})
	if err != nil {
		t.Fatal(err)
	}
	exs := p.Exchanges()
	sameAnswer(t, exs)
	var first struct{ ID string }
	json.Unmarshal(exs[0].Body, &first)
	if first.ID != o.ID || o.Status != "succeeded" {
		t.Fatalf("the SDK's order %s (%s), the gateway's first answer %s", o.ID, o.Status, first.ID)
	}
	n := 0
	for it, err := range newClient(t).Orders.List(cx, &paygate.OrderListParams{MerchantOrderNo: no}) {
		if err != nil {
			t.Fatal(err)
		}
		if it.MerchantOrderNo == no {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d orders for one payment", n)
	}

	rp := newProxy(t, gatewayURL, dropAnswer)
	rc := newClient(t, paygate.WithBaseURL(rp.URL()), fastRetries)
	r, err := rc.Refunds.Create(cx, o.ID, &paygate.RefundParams{MerchantRefundNo: no + "-R", Amount: 500})
	if err != nil {
		t.Fatal(err)
	}
	sameAnswer(t, rp.Exchanges())
	after, err := newClient(t).Orders.Get(cx, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r.Amount != 500 || after.RefundedAmount != 500 {
		t.Fatalf("refund %d, order refunded_amount %d: want one refund of 500", r.Amount, after.RefundedAmount)
	}
}

// TestRetriedConditions: connection refused, 429 with Retry-After, 502 and
// 503 are retried with the same idempotency key.
func TestRetriedConditions(t *testing.T) {
	cx := ctx(t)
	create := func(c *paygate.Client) error {
		_, err := c.Orders.Create(cx, &paygate.OrderParams{MerchantOrderNo: orderNo(), Amount: 100, Subject: "Retry",
			Method: "qr", Channel: "wechat"})
		return err
	}
	t.Run("429 honours Retry-After", func(t *testing.T) {
		p := newProxy(t, gatewayURL, answer429)
		start := time.Now()
		if err := create(newClient(t, paygate.WithBaseURL(p.URL()), fastRetries)); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < time.Second {
			t.Fatalf("retried after %v, Retry-After asked for 1 s", d)
		}
		exs := p.Exchanges()
		if len(exs) != 2 || exs[0].IdempotencyKey != exs[1].IdempotencyKey {
			t.Fatalf("exchanges %+v", exs)
		}
	})
	for _, s := range []step{answer502, answer503} {
		p := newProxy(t, gatewayURL, s)
		if err := create(newClient(t, paygate.WithBaseURL(p.URL()), fastRetries)); err != nil {
			t.Fatal(err)
		}
		exs := p.Exchanges()
		if len(exs) != 2 || exs[0].IdempotencyKey != exs[1].IdempotencyKey || exs[1].Status != 201 {
			t.Fatalf("step %d: exchanges %+v", s, exs)
		}
	}
	t.Run("connection refused", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close() // nothing listens: the first attempt is refused
		c := newClient(t, paygate.WithBaseURL("http://"+addr), paygate.WithBackoff(300*time.Millisecond, time.Second))
		go func() {
			time.Sleep(100 * time.Millisecond)
			if l2, err := net.Listen("tcp", addr); err == nil {
				startProxy(t, l2, gatewayURL)
			}
		}()
		if err := create(c); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("gives up after the retries", func(t *testing.T) {
		p := newProxy(t, gatewayURL, answer503, answer503, answer503, answer503)
		err := create(newClient(t, paygate.WithBaseURL(p.URL()), fastRetries, paygate.WithMaxRetries(2)))
		var pe *paygate.Error
		if !errors.As(err, &pe) || pe.Status != 503 || pe.Code != "service_unavailable" {
			t.Fatalf("got %v", err)
		}
		if n := p.Requests(); n != 3 {
			t.Fatalf("%d attempts, want 1 + 2 retries", n)
		}
	})
}
