package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/store"
)

func newRefund(o *paygate.Order, no string, amount int64) *paygate.Refund {
	return &paygate.Refund{MerchantID: o.MerchantID, OrderID: o.ID, MerchantRefundNo: no, Amount: amount, Reason: "return"}
}

func TestRefundRules(t *testing.T) {
	backends(t, func(t *testing.T, db *store.DB, clk *clock) {
		ctx := context.Background()
		o := paidOrder(t, db, "m_1", "R-1", 1000)

		r1 := newRefund(o, "RF-1", 300)
		if err := db.CreateRefund(ctx, r1); err != nil {
			t.Fatal(err)
		}
		if r1.Status != paygate.RefundPending || r1.Currency != "CNY" || r1.Provider != "wechat" || r1.ID[:4] != paygate.PrefixRefund {
			t.Fatalf("refund = %+v", r1)
		}
		got, err := db.MerchantRefund(ctx, "m_1", r1.ID)
		if err != nil {
			t.Fatal(err)
		}
		if *got != *r1 {
			t.Fatalf("read back %+v, want %+v", got, r1)
		}

		tests := []struct {
			name string
			r    *paygate.Refund
			code string
		}{
			{"duplicate number", newRefund(o, "RF-1", 1), paygate.EDUPREFUNDNO},
			{"exceeds what remains", newRefund(o, "RF-2", 701), paygate.EREFUNDEXCEEDS},
			{"other merchant", &paygate.Refund{MerchantID: "m_2", OrderID: o.ID, MerchantRefundNo: "X", Amount: 1}, paygate.ENOTFOUND},
			{"missing order", &paygate.Refund{MerchantID: "m_1", OrderID: "ord_missing", MerchantRefundNo: "X", Amount: 1}, paygate.ENOTFOUND},
			{"zero amount", newRefund(o, "RF-3", 0), paygate.EAMOUNTINVALID},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) { wantCode(t, db.CreateRefund(ctx, tc.r), tc.code) })
		}

		unpaid := newOrder("m_1", "R-2", 1000)
		if err := db.CreateOrder(ctx, unpaid); err != nil {
			t.Fatal(err)
		}
		wantCode(t, db.CreateRefund(ctx, newRefund(unpaid, "RF-9", 1)), paygate.EINVALIDSTATE)

		// Exactly what remains is fine; after that nothing is.
		clk.Advance(time.Second)
		r2 := newRefund(o, "RF-2", 700)
		if err := db.CreateRefund(ctx, r2); err != nil {
			t.Fatal(err)
		}
		wantCode(t, db.CreateRefund(ctx, newRefund(o, "RF-4", 1)), paygate.EREFUNDEXCEEDS)

		_, err = db.MerchantRefund(ctx, "m_2", r1.ID)
		wantCode(t, err, paygate.ENOTFOUND)
		_, err = db.MerchantRefund(ctx, "", r1.ID)
		wantCode(t, err, paygate.ENOTFOUND)
		if read, err := db.RefundByID(ctx, r1.ID); err != nil || read.ID != r1.ID {
			t.Fatalf("RefundByID = %v, %v", read, err)
		}
		_, _, err = db.UpdateRefund(ctx, paygate.RefundUpdate{RefundID: "ref_missing", To: paygate.RefundFailed})
		wantCode(t, err, paygate.ENOTFOUND)

		list, err := db.RefundsOfOrder(ctx, o.ID)
		if err != nil || len(list) != 2 || list[0].ID != r1.ID || list[1].ID != r2.ID {
			t.Fatalf("RefundsOfOrder = %v, %v", list, err)
		}
	})
}

func TestRefundAccounting(t *testing.T) {
	backends(t, func(t *testing.T, db *store.DB, clk *clock) {
		ctx := context.Background()
		o := paidOrder(t, db, "m_1", "RA-1", 1000)
		o.NotifyURL = ""

		create := func(no string, amount int64) *paygate.Refund {
			t.Helper()
			r := newRefund(o, no, amount)
			if err := db.CreateRefund(ctx, r); err != nil {
				t.Fatal(err)
			}
			return r
		}
		order := func() *paygate.Order {
			t.Helper()
			got, err := db.MerchantOrder(ctx, "m_1", o.ID)
			if err != nil {
				t.Fatal(err)
			}
			return got
		}

		r1 := create("A", 400)
		r2 := create("B", 600)
		clk.Advance(time.Minute)

		// r2 fails: its 600 is released and can be refunded again.
		failed, applied, err := db.UpdateRefund(ctx, paygate.RefundUpdate{RefundID: r2.ID, To: paygate.RefundFailed,
			Failure: &paygate.Failure{Code: "channel_declined", Message: "balance"},
			Events:  []*paygate.Event{{Type: paygate.EventRefundFailed}}})
		if err != nil || !applied || failed.Status != paygate.RefundFailed || failed.Failure == nil || failed.SucceededAt != nil {
			t.Fatalf("fail refund: %+v %v %v", failed, applied, err)
		}
		if got := order(); got.RefundReserved != 400 || got.RefundedAmount != 0 || got.Status != paygate.OrderSucceeded {
			t.Fatalf("after failure: reserved %d refunded %d status %s", got.RefundReserved, got.RefundedAmount, got.Status)
		}
		// A second outcome for a final refund changes nothing.
		if again, applied, err := db.UpdateRefund(ctx, paygate.RefundUpdate{RefundID: r2.ID, To: paygate.RefundSucceeded}); err != nil || applied || again.Status != paygate.RefundFailed {
			t.Fatalf("second update: %v %v", applied, err)
		}

		// r1 succeeds: partially refunded, with both events written.
		no := "50300000"
		at := clk.Now()
		done, applied, err := db.UpdateRefund(ctx, paygate.RefundUpdate{RefundID: r1.ID, To: paygate.RefundSucceeded,
			ChannelRefundNo: &no, At: at,
			Events: []*paygate.Event{{Type: paygate.EventRefundSucceeded}, {Type: paygate.EventOrderPartiallyRefunded}}})
		if err != nil || !applied || done.ChannelRefundNo != no || done.SucceededAt == nil || !done.SucceededAt.Equal(at.Truncate(time.Microsecond)) {
			t.Fatalf("succeed refund: %+v %v %v", done, applied, err)
		}
		if got := order(); got.RefundReserved != 400 || got.RefundedAmount != 400 || got.Status != paygate.OrderPartiallyRefunded {
			t.Fatalf("after success: reserved %d refunded %d status %s", got.RefundReserved, got.RefundedAmount, got.Status)
		}
		checkEvent := func(typ, wantObject string, wantStatus string) {
			t.Helper()
			list, _, err := db.Events(ctx, paygate.EventFilter{MerchantID: "m_1", OrderID: o.ID, Type: typ})
			if err != nil || len(list) != 1 {
				t.Fatalf("%s events: %d, %v", typ, len(list), err)
			}
			var data struct {
				Object struct {
					Object string `json:"object"`
					Status string `json:"status"`
				} `json:"object"`
			}
			if err := json.Unmarshal(list[0].Data, &data); err != nil {
				t.Fatal(err)
			}
			if data.Object.Object != wantObject || data.Object.Status != wantStatus {
				t.Fatalf("%s data = %s", typ, list[0].Data)
			}
		}
		checkEvent(paygate.EventRefundFailed, "refund", "failed")
		checkEvent(paygate.EventRefundSucceeded, "refund", "succeeded")
		checkEvent(paygate.EventOrderPartiallyRefunded, "order", "partially_refunded")

		// The rest: 600 more, succeeded → refunded.
		r3 := create("C", 600)
		if _, _, err := db.UpdateRefund(ctx, paygate.RefundUpdate{RefundID: r3.ID, To: paygate.RefundSucceeded}); err != nil {
			t.Fatal(err)
		}
		if got := order(); got.RefundReserved != 1000 || got.RefundedAmount != 1000 || got.Status != paygate.OrderRefunded {
			t.Fatalf("after full refund: reserved %d refunded %d status %s", got.RefundReserved, got.RefundedAmount, got.Status)
		}
		wantCode(t, db.CreateRefund(ctx, newRefund(o, "D", 1)), paygate.EINVALIDSTATE)
	})
}

func TestConcurrentRefunds(t *testing.T) {
	backends(t, func(t *testing.T, db *store.DB, clk *clock) {
		ctx := context.Background()
		const amount = 10000
		o := paidOrder(t, db, "m_1", "CR-1", amount)

		const n = 50
		var mu sync.Mutex
		var accepted int64
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Go(func() {
				amt := 1 + rand.Int64N(700)
				err := db.CreateRefund(ctx, newRefund(o, fmt.Sprintf("CR-%d", i), amt))
				switch paygate.ErrorCode(err) {
				case "":
					mu.Lock()
					accepted += amt
					mu.Unlock()
				case paygate.EREFUNDEXCEEDS:
				default:
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		got, err := db.MerchantOrder(ctx, "m_1", o.ID)
		if err != nil {
			t.Fatal(err)
		}
		if accepted > amount || got.RefundReserved != accepted {
			t.Fatalf("accepted %d, reserved %d, order amount %d", accepted, got.RefundReserved, amount)
		}
		refunds, err := db.RefundsOfOrder(ctx, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		var sum int64
		for _, r := range refunds {
			sum += r.Amount
		}
		if sum != accepted {
			t.Fatalf("refund rows sum to %d, accepted %d", sum, accepted)
		}

		// Settle them concurrently, half succeeding, half failing.
		var wantRefunded int64
		for i, r := range refunds {
			if i%2 == 0 {
				wantRefunded += r.Amount
			}
		}
		for i, r := range refunds {
			wg.Go(func() {
				to := paygate.RefundSucceeded
				if i%2 == 1 {
					to = paygate.RefundFailed
				}
				if _, _, err := db.UpdateRefund(ctx, paygate.RefundUpdate{RefundID: r.ID, To: to}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		got, _ = db.MerchantOrder(ctx, "m_1", o.ID)
		if got.RefundedAmount != wantRefunded || got.RefundReserved != wantRefunded {
			t.Fatalf("refunded %d reserved %d, want %d", got.RefundedAmount, got.RefundReserved, wantRefunded)
		}
		if pend, err := db.PendingRefunds(ctx, clk.Now().Add(time.Hour), 100); err != nil || len(pend) != 0 {
			t.Fatalf("pending refunds left: %d, %v", len(pend), err)
		}
	})
}

func TestPendingRefunds(t *testing.T) {
	backends(t, func(t *testing.T, db *store.DB, clk *clock) {
		ctx := context.Background()
		o := paidOrder(t, db, "m_1", "PR-1", 1000)
		var rs []*paygate.Refund
		for i := range 3 {
			r := newRefund(o, fmt.Sprintf("PR-%d", i), 100)
			if err := db.CreateRefund(ctx, r); err != nil {
				t.Fatal(err)
			}
			rs = append(rs, r)
			clk.Advance(time.Minute)
		}
		if _, _, err := db.UpdateRefund(ctx, paygate.RefundUpdate{RefundID: rs[0].ID, To: paygate.RefundSucceeded}); err != nil {
			t.Fatal(err)
		}
		got, err := db.PendingRefunds(ctx, rs[2].CreatedAt, 10)
		if err != nil || len(got) != 1 || got[0].ID != rs[1].ID {
			t.Fatalf("PendingRefunds = %v, %v", got, err)
		}
	})
}
