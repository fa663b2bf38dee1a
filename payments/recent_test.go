package payments

import (
	"testing"

	"github.com/paygate-cn/paygate"
)

func TestRecentlyPaid(t *testing.T) {
	r := NewRecentlyPaid(2)
	paid := func(id string) *paygate.Order {
		return &paygate.Order{ID: id, Status: paygate.OrderSucceeded, Provider: "alipay", Amount: 100}
	}
	note := func(id, provider string, amount int64, outcome paygate.Outcome) *paygate.Notification {
		return &paygate.Notification{OrderID: id, Provider: provider, Result: &paygate.Result{Outcome: outcome, Amount: amount}}
	}
	r.Remember(paid("a"))
	r.Remember(&paygate.Order{ID: "p", Status: paygate.OrderPending, Provider: "alipay", Amount: 100})
	for _, tc := range []struct {
		name string
		n    *paygate.Notification
		want bool
	}{
		{"same provider and amount", note("a", "alipay", 100, paygate.OutcomeSuccess), true},
		{"amount not reported", note("a", "alipay", 0, paygate.OutcomeSuccess), true},
		{"another amount", note("a", "alipay", 101, paygate.OutcomeSuccess), false},
		{"another provider", note("a", "wechat", 100, paygate.OutcomeSuccess), false},
		{"not a success", note("a", "alipay", 100, paygate.OutcomeClosed), false},
		{"a pending order is not remembered", note("p", "alipay", 100, paygate.OutcomeSuccess), false},
		{"unknown order", note("z", "alipay", 100, paygate.OutcomeSuccess), false},
		{"refund notification", &paygate.Notification{RefundID: "r", Provider: "alipay", Refund: &paygate.RefundResult{Outcome: paygate.OutcomeSuccess}}, false},
	} {
		if got := r.Settled(tc.n); got != tc.want {
			t.Errorf("%s: Settled = %v, want %v", tc.name, got, tc.want)
		}
	}
	// The oldest is forgotten past the size.
	r.Remember(paid("b"))
	r.Remember(paid("c"))
	if r.Settled(note("a", "alipay", 100, paygate.OutcomeSuccess)) || !r.Settled(note("c", "alipay", 100, paygate.OutcomeSuccess)) {
		t.Error("eviction kept the oldest or lost the newest")
	}
	var none *RecentlyPaid // a nil memory is a valid, empty one
	none.Remember(paid("a"))
	if none.Settled(note("a", "alipay", 100, paygate.OutcomeSuccess)) {
		t.Error("nil memory settled a notification")
	}
}
