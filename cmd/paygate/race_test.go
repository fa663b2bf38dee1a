package main

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/channels/sandbox"
	acquirersb "github.com/paygate-cn/paygate/channels/sandbox/acquirer"
	"github.com/paygate-cn/paygate/channels/unionpay"
)

// raceRoundsPerBackend is how many orders the cancel/refund race plays per
// backend, spread over every channel that can both cancel and refund.
const raceRoundsPerBackend = 200

// books is what the channel's simulator holds for one order.
func (c *client) books(channel, orderID, pan string) (sandbox.Books, bool) {
	sb := c.m.Sandbox
	switch channel {
	case paygate.KindWeChat:
		return sb.WeChat.Books(orderID)
	case paygate.KindAlipay:
		return sb.Alipay.Books(orderID)
	case paygate.KindUnionPay:
		return sb.UnionPay.Books(unionpay.ToOrderID(orderID))
	case paygate.KindECNY:
		return sb.ECNY.Books(orderID)
	}
	for _, tx := range hostRecords(c, pan, acquirersb.KindSale) {
		var b sandbox.Books
		switch tx.Status {
		case acquirersb.StatusApproved:
			b.Paid = tx.Amount
		case acquirersb.StatusVoided:
			b.Paid, b.Reversed = tx.Amount, true
		case acquirersb.StatusReversed:
			b.Reversed = true
		}
		b.Refunded = tx.Refunded
		return b, true
	}
	return sandbox.Books{}, false
}

// TestCancelRacingRefundNeverReversedThenRefunded is the regression test
// of the race in which a cancel and a refund of one order both reached the
// channel: the order went reversed → partially_refunded while the channel
// had returned everything. Each round pays an order, then races a cancel,
// two refunds, the channel's payment callback delivered again and a
// background resolution; then a second cancel against the refunds'
// callbacks. Every order must end in exactly one of "reversed with nothing
// refunded" or "refunded as the channel says", and the simulators' books
// must agree with the database to the fen.
func TestCancelRacingRefundNeverReversedThenRefunded(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			c := testMain(t, b)
			channels := []string{paygate.KindWeChat, paygate.KindAlipay, paygate.KindUnionPay, paygate.KindECNY, paygate.KindAcquirer}
			kits := map[string]tamperKit{}
			for _, w := range wallets {
				kits[w.channel] = newTamperKit(t, c.m.Sandbox, w.channel)
			}
			var countMu sync.Mutex
			outcomes := map[string]int{} // "<channel> reversed|refunded" → rounds
			sem := make(chan struct{}, 10)
			var wg sync.WaitGroup
			for i := range raceRoundsPerBackend {
				channel := channels[i%len(channels)]
				wg.Add(1)
				sem <- struct{}{}
				go func() {
					defer wg.Done()
					defer func() { <-sem }()
					outcome := raceRound(t, c, channel, kits[channel], i)
					countMu.Lock()
					outcomes[channel+" "+outcome]++
					countMu.Unlock()
				}()
			}
			wg.Wait()
			t.Logf("outcomes: %v", outcomes)
		})
	}
}

// raceRound plays one round on channel and checks its end; it returns
// "reversed" or "refunded" (which side won).
func raceRound(t *testing.T, c *client, channel string, kit tamperKit, round int) string {
	c = c.with(t)
	const amount = 1000
	var body map[string]any
	pan := ""
	if channel == paygate.KindAcquirer {
		card := newCard(t, "622202", 16, nextLast4())
		pan = card.pan
		body = cardOrder(card, paygate.EntryChip, "debit", amount)
	} else {
		for _, w := range wallets {
			if w.channel == channel {
				body = authCodeOrder(w.code("6789"), amount)
			}
		}
	}
	r := c.createOrder(body, "")
	if r.Status != 201 {
		t.Errorf("round %d %s: create: %d %s", round, channel, r.Status, r.Body)
		return "error"
	}
	o := r.decode(t)
	id := o["id"].(string)
	if o["status"] != "succeeded" || o["channel"] != channel {
		t.Errorf("round %d: payment on %s: %v", round, channel, o)
		return "error"
	}

	var wg sync.WaitGroup
	var mu sync.Mutex
	var refunds []string
	cancelled := false
	refund := func(n int, amount int64) {
		defer wg.Done()
		r := c.do("POST", "/v1/orders/"+id+"/refunds", "", map[string]any{
			"merchant_refund_no": fmt.Sprintf("RR-%s-%d", randSuffix(), n), "amount": amount}, "")
		switch {
		case r.Status == 201:
			mu.Lock()
			refunds = append(refunds, r.decode(t)["id"].(string))
			mu.Unlock()
		case r.Status == 409 && r.errorCode() == paygate.EINVALIDSTATE:
		default:
			t.Errorf("round %d %s: refund: %d %s", round, channel, r.Status, r.Body)
		}
	}
	cancel := func() {
		defer wg.Done()
		r := c.do("POST", "/v1/orders/"+id+"/cancel", "", nil, "")
		switch {
		case r.Status == 200 && r.decode(t)["status"] == "reversed":
			mu.Lock()
			cancelled = true
			mu.Unlock()
		case r.Status == 409 && r.errorCode() == paygate.EINVALIDSTATE:
		default:
			t.Errorf("round %d %s: cancel: %d %s", round, channel, r.Status, r.Body)
		}
	}
	wg.Add(5)
	go cancel()
	go refund(1, 300)
	go refund(2, 200)
	go func() { // the payment's callback, delivered again
		defer wg.Done()
		if kit.notice == nil {
			return
		}
		if n, ok := kit.notice(id); ok {
			h, b := kit.sign(n)
			c.postCallback(channel, h, b)
		}
	}()
	go func() { // background resolution of the order and its refunds
		defer wg.Done()
		ctx := context.Background()
		if cur, err := c.m.DB.OrderByID(ctx, id); err == nil {
			c.m.Payments.Resolve(ctx, cur)
		}
		c.m.Payments.ResolvePending(ctx, 0, time.Second, 5)
	}()
	wg.Wait()

	// Second phase: a cancel again, against the refunds' callbacks.
	wg.Add(1 + len(refunds))
	go cancel()
	for _, refID := range refunds {
		go func() {
			defer wg.Done()
			if kit.refundNotice == nil {
				return
			}
			if n, ok := kit.refundNotice(refID); ok {
				h, b := kit.signRefund(n)
				c.postCallback(channel, h, b)
			}
		}()
	}
	wg.Wait()

	var refunded int64
	for _, refID := range refunds {
		rf := c.waitRefund(refID)
		if rf["status"] == "succeeded" {
			refunded += int64(rf["amount"].(float64))
		}
	}
	got := c.order(id)
	bk, ok := c.books(channel, id, pan)
	if !ok {
		t.Errorf("round %d %s: the simulator has no record of %s", round, channel, id)
		return "error"
	}
	status := got["status"].(string)
	inDB := int64(got["refunded_amount"].(float64))
	switch status {
	case "reversed":
		if inDB != 0 || refunded != 0 || !bk.Reversed || bk.Refunded != 0 {
			t.Errorf("round %d %s: reversed order with %d refunded (refunds %d); channel %+v", round, channel, inDB, refunded, bk)
		}
		if len(refunds) > 0 {
			t.Errorf("round %d %s: refunds %v accepted on an order that was reversed", round, channel, refunds)
		}
		return "reversed"
	case "succeeded", "partially_refunded", "refunded":
		if cancelled {
			t.Errorf("round %d %s: cancel answered reversed, order is %s", round, channel, status)
		}
		if bk.Reversed || bk.Paid != amount || bk.Refunded != inDB || inDB != refunded {
			t.Errorf("round %d %s: order %s refunded %d (refunds %d); channel %+v", round, channel, status, inDB, refunded, bk)
		}
		want := map[bool]string{true: "refunded", false: "partially_refunded"}[inDB == amount]
		if inDB == 0 {
			want = "succeeded"
		}
		if status != want {
			t.Errorf("round %d %s: order %s with %d refunded", round, channel, status, inDB)
		}
		return "refunded"
	default:
		t.Errorf("round %d %s: order ended %s", round, channel, status)
		return "error"
	}
}
