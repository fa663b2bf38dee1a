package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/channels/unionpay"
	"github.com/paygate-cn/paygate/config"
)

// windowMain starts a gateway whose clock (the simulators' too) the test
// moves, with B-scan-C windows as the orders give them (no shortening)
// and background resolution running often.
func windowMain(t *testing.T, backend string) (*client, *shiftClock) {
	clk := &shiftClock{}
	c := testMainWith(t, backend, func(m *Main) {
		m.Now = clk.Now
		m.PaymentWindow = 0
	}, func(cfg *config.Config) {
		cfg.Jobs.PendingQueryInterval = 200 * time.Millisecond
	})
	return c, clk
}

// TestWaitSecondsDoesNotReverseAConfirmingPayment is the regression test
// of scenario 1111 with wait_seconds 2 ending reversed although the
// customer confirmed a second later: the wait bounds only the answer.
func TestWaitSecondsDoesNotReverseAConfirmingPayment(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			c, _ := windowMain(t, b)
			c.eachWallet(t, func(t *testing.T, w wallet) {
				c := c.with(t)
				body := authCodeOrder(w.code("1111"), 1000)
				body["wait_seconds"] = 1
				o := c.createOrder(body, "").decode(t)
				if o["status"] != "pending" {
					t.Fatalf("answer after the wait: %v, want pending", o["status"])
				}
				exp, _ := time.Parse(time.RFC3339Nano, o["expires_at"].(string))
				created, _ := time.Parse(time.RFC3339Nano, o["created_at"].(string))
				if exp.Sub(created) != 60*time.Second {
					t.Errorf("auth_code window %v, want the default 60 s", exp.Sub(created))
				}
				got := c.waitStatus(o["id"].(string), "succeeded")
				if got["refunded_amount"] != float64(0) {
					t.Errorf("order %v", got)
				}
			})
		})
	}
}

// TestUnpaidBScanCReversedOnlyWhenItsWindowEnds: a payment that never
// confirms stays pending after the wait and is reversed when its window
// (expires_in) ends, not before.
func TestUnpaidBScanCReversedOnlyWhenItsWindowEnds(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			c, clk := windowMain(t, b)
			var ids []string
			for _, w := range wallets {
				body := authCodeOrder(w.code("2222"), 1000)
				body["wait_seconds"] = 1
				body["expires_in"] = 120
				o := c.createOrder(body, "").decode(t)
				if o["status"] != "pending" {
					t.Fatalf("%s: answer after the wait: %v, want pending", w.channel, o["status"])
				}
				ids = append(ids, o["id"].(string))
			}
			// Well inside the window, background polling keeps it pending.
			clk.Shift(100 * time.Second)
			time.Sleep(time.Second)
			for _, id := range ids {
				if s := c.order(id)["status"]; s != "pending" {
					t.Fatalf("order %s is %v inside its window", id, s)
				}
			}
			clk.Shift(125 * time.Second)
			for _, id := range ids {
				c.waitStatus(id, "reversed")
			}
		})
	}
}

// TestCardSystemErrorQueriedBeforeReversal is scenario 5555 on cards: a
// channel with a query (UnionPay QuickPass) is asked, and the payment that
// went through ends succeeded; the acquirer, which has no query, reverses.
func TestCardSystemErrorQueriedBeforeReversal(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *client) {
		card := newCard(t, "625965", 16, "5555")
		o := mustStatus(t, c.createOrder(cardOrder(card, paygate.EntryContactless, "", 8800), ""), 201)
		if o["provider"] != paygate.KindUnionPay {
			t.Fatalf("contactless UnionPay card routed to %v", o["provider"])
		}
		if o["status"] != "succeeded" {
			t.Errorf("QuickPass 5555: %v, want succeeded after the query", o["status"])
		}
		chip := newCard(t, "622202", 16, "5555")
		o = mustStatus(t, c.createOrder(cardOrder(chip, paygate.EntryChip, "debit", 8800), ""), 201)
		if o["provider"] != paygate.KindAcquirer || o["status"] != "reversed" {
			t.Errorf("acquirer 5555: %v on %v, want reversed", o["status"], o["provider"])
		}
	})
}

// TestClosedUnionPayQRCannotBePaid is the regression test of a closed
// UnionPay QR order that a later scan still paid: acp cannot withdraw a
// code, so the code carries the order's window (payTimeout); a close
// before it is refused, and after it the platform refuses the scan.
func TestClosedUnionPayQRCannotBePaid(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			c, clk := windowMain(t, b)
			r := c.createOrder(map[string]any{"merchant_order_no": orderNo(), "amount": 500, "subject": "Cake",
				"method": "qr", "channel": paygate.KindUnionPay, "expires_in": 60}, "")
			o := mustStatus(t, r, 201)
			id := o["id"].(string)
			cl := c.do("POST", "/v1/orders/"+id+"/close", "/v1/orders/{id}/close", nil, "")
			if cl.Status != 409 || cl.errorCode() != paygate.EINVALIDSTATE {
				t.Fatalf("close inside the window: %d %s, want 409 invalid_state", cl.Status, cl.Body)
			}
			clk.Shift(61 * time.Second)
			c.waitStatus(id, "closed")
			b, _ := json.Marshal(map[string]string{"qr_code": o["qr_code"].(string)})
			resp, err := http.Post(c.base+"/sandbox/unionpay/scan", "application/json", bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusConflict {
				t.Errorf("scan past the window: %d, want 409", resp.StatusCode)
			}
			time.Sleep(500 * time.Millisecond)
			if got := c.order(id); got["status"] != "closed" {
				t.Errorf("closed order became %v", got["status"])
			}
			if bk, _ := c.m.Sandbox.UnionPay.Books(unionpay.ToOrderID(id)); bk.Paid != 0 {
				t.Errorf("the platform took %d for a closed order", bk.Paid)
			}
		})
	}
}
