package paygate_test

import (
	"slices"
	"testing"

	"github.com/paygate-cn/paygate"
)

// Every kind is declared once, every flow names a known method once, and
// the flows of card (whose channel routing chooses) require the same
// parameters in every kind, so a card request is checked before routing.
func TestChannelKinds(t *testing.T) {
	kinds := map[string]bool{}
	for _, k := range paygate.ChannelKinds {
		if kinds[k.Kind] {
			t.Errorf("kind %s declared twice", k.Kind)
		}
		kinds[k.Kind] = true
		methods := map[paygate.Method]bool{}
		for _, f := range k.Flows {
			if !f.Method.Valid() || methods[f.Method] {
				t.Errorf("%s: flow %q unknown or declared twice", k.Kind, f.Method)
			}
			methods[f.Method] = true
			if len(f.EntryModes) > 0 && f.Method != paygate.MethodCard {
				t.Errorf("%s %s: entry modes on a flow that takes no card", k.Kind, f.Method)
			}
		}
	}
	for _, k := range []string{paygate.KindWeChat, paygate.KindAlipay, paygate.KindUnionPay, paygate.KindECNY, paygate.KindAcquirer} {
		if !kinds[k] {
			t.Errorf("kind %s not declared", k)
		}
	}
	var card []string
	for i, k := range paygate.KindsFor(paygate.MethodCard) {
		f, _ := paygate.FlowOf(k, paygate.MethodCard)
		req := slices.Sorted(slices.Values(f.Requires))
		if i > 0 && !slices.Equal(req, card) {
			t.Errorf("card flow of %s requires %v, others %v", k, req, card)
		}
		card = req
	}
	if _, ok := paygate.FlowOf(paygate.KindWeChat, paygate.MethodWeb); ok {
		t.Error("wechat declares web, which its client does not implement")
	}
	if f, ok := paygate.FlowOf(paygate.KindUnionPay, paygate.MethodCard); !ok || f.Takes(paygate.EntryChip) || !f.Takes(paygate.EntryContactless) {
		t.Error("unionpay card flow must take contactless only")
	}
}
