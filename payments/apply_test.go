package payments_test

import (
	"context"
	"testing"
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/payments"
	"github.com/paygate-cn/paygate/store"
	"github.com/paygate-cn/paygate/store/storetest"
)

// Alipay's refund notification carries the trade's cumulative refunded
// amount, not the refund's own: a signed one whose total cannot include the
// refund (below its amount, above every refund of the order) was applied.
func TestApplyRefundResultRejectsInconsistentRefundedTotal(t *testing.T) {
	for _, backend := range storetest.Selected() {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			db := storetest.Open(t, backend)
			ctx := context.Background()
			a := &payments.Payments{Orders: db, Refunds: db, Now: time.Now}
			payOrder(t, db, "m_1", "ORD-1", "")
			o, err := db.OrderByMerchantNo(ctx, "m_1", "ORD-1") // amount 100
			if err != nil {
				t.Fatal(err)
			}
			refund := func(no string, amount int64) *paygate.Refund {
				r := &paygate.Refund{ID: paygate.NewID(paygate.PrefixRefund, time.Now()), MerchantID: "m_1", OrderID: o.ID,
					MerchantRefundNo: no, Status: paygate.RefundPending, Amount: amount, Currency: "CNY", Provider: "alipay"}
				if err := db.CreateRefund(ctx, r); err != nil {
					t.Fatal(err)
				}
				return r
			}
			first, second := refund("RF-1", 30), refund("RF-2", 20)
			o, err = db.OrderByID(ctx, o.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, total := range []int64{29, 51, 100} {
				res := &paygate.RefundResult{Outcome: paygate.OutcomeSuccess, RefundedTotal: total}
				if _, applied, err := a.ApplyRefundResult(ctx, o, first, res); applied || paygate.ErrorCode(err) != paygate.EINVALID {
					t.Errorf("refunded total %d: applied %v, err %v", total, applied, err)
				}
			}
			if r, _ := db.RefundByID(ctx, first.ID); r.Status != paygate.RefundPending {
				t.Fatalf("refund after the refused results: %s", r.Status)
			}
			// 30 (this refund first at the channel) and 50 (the other
			// first) are both consistent.
			if _, applied, err := a.ApplyRefundResult(ctx, o, first, &paygate.RefundResult{Outcome: paygate.OutcomeSuccess, RefundedTotal: 50}); !applied || err != nil {
				t.Fatalf("consistent total: applied %v, err %v", applied, err)
			}
			o, _ = db.OrderByID(ctx, o.ID)
			if _, applied, err := a.ApplyRefundResult(ctx, o, second, &paygate.RefundResult{Outcome: paygate.OutcomeSuccess, RefundedTotal: 20}); !applied || err != nil {
				t.Fatalf("consistent total: applied %v, err %v", applied, err)
			}
		})
	}
}

// payOrder creates a paid order.
func payOrder(t *testing.T, db *store.DB, merchant, no, notifyURL string) {
	t.Helper()
	ctx := context.Background()
	o := &paygate.Order{MerchantID: merchant, MerchantOrderNo: no, Amount: 100, Currency: "CNY",
		Method: paygate.MethodQR, Provider: "wechat", Channel: "wechat", NotifyURL: notifyURL}
	if err := db.CreateOrder(ctx, o); err != nil {
		t.Fatal(err)
	}
	ev := &paygate.Event{Type: paygate.EventOrderSucceeded}
	if _, ok, err := db.UpdateOrder(ctx, paygate.OrderUpdate{OrderID: o.ID, To: paygate.OrderSucceeded, Event: ev}); !ok || err != nil {
		t.Fatalf("pay: %v %v", ok, err)
	}
}
