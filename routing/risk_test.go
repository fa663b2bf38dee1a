package routing

import (
	"context"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/redisstore/redistest"
)

// testRedis returns the risk counters of a Redis key prefix of the test's
// own on the Redis at 127.0.0.1:6379; its keys are removed at the end.
func testRedis(t testing.TB) *redistest.Redis {
	t.Helper()
	return redistest.New(t)
}

func decision(route *paygate.Route, rule string) paygate.RiskDecision {
	for _, d := range route.Risk {
		if d.Rule == rule {
			return d
		}
	}
	return paygate.RiskDecision{}
}

func tap(m *paygate.Merchant, payer string, amount int64) *paygate.RouteRequest {
	req := cardReq(m, "contactless", "credit", amount)
	req.PayerKey = payer
	req.TerminalID = "T0001"
	return req
}

func quickPassOnly() []paygate.ProviderSpec {
	return []paygate.ProviderSpec{{ID: "unionpay", Kind: "unionpay"}, {ID: "acq", Kind: "acquirer"}}
}

func TestSplitPaymentLosesReducedRate(t *testing.T) {
	rdb := testRedis(t)
	clk := newClock()
	r := newRouter(t, quickPassOnly(), Options{Risk: rdb.Store, Now: clk.Now})
	m := demoMerchant()
	ctx := context.Background()
	reduced := 0
	for i := 0; i < 10; i++ {
		route, err := r.Route(ctx, tap(m, "card-1", 100000))
		if err != nil {
			t.Fatal(err)
		}
		d := decision(route, RuleSplitPayment)
		if route.Fee == 380 {
			reduced++
			if d.Action != RiskPass {
				t.Errorf("tap %d at 0.38%% with split decision %+v", i, d)
			}
		} else if route.Fee != 600 || route.Rule != "card.credit" || d.Action != paygate.RiskStandardRate ||
			!strings.Contains(d.Reason, "crosses 100000") {
			t.Errorf("tap %d: fee %d by %s, split %+v", i, route.Fee, route.Rule, d)
		}
		clk.Add(30 * time.Second)
	}
	if reduced != 1 {
		t.Errorf("%d of 10 split taps got 0.38%%, want 1", reduced)
	}
	// Outside the window the card starts afresh.
	clk.Add(11 * time.Minute)
	if route, _ := r.Route(ctx, tap(m, "card-1", 100000)); route.Fee != 380 {
		t.Errorf("after the window: %d", route.Fee)
	}
}

func TestSplitPaymentDeclined(t *testing.T) {
	rdb := testRedis(t)
	clk := newClock()
	r := newRouter(t, quickPassOnly(), Options{Risk: rdb.Store, Now: clk.Now})
	m := demoMerchant()
	rules := DefaultRiskRules()
	rules.SplitPayment.Action = paygate.RiskDecline
	m.Risk = &rules
	declined := 0
	for i := 0; i < 10; i++ {
		_, err := r.Route(context.Background(), tap(m, "card-1", 100000))
		switch paygate.ErrorCode(err) {
		case "":
		case paygate.ERISKDECLINED:
			declined++
		default:
			t.Fatal(err)
		}
	}
	if declined != 9 {
		t.Errorf("%d declined, want 9", declined)
	}
}

func TestNearIdenticalAmounts(t *testing.T) {
	rdb := testRedis(t)
	clk := newClock()
	r := newRouter(t, quickPassOnly(), Options{Risk: rdb.Store, Now: clk.Now})
	m := demoMerchant()
	var actions []string
	for _, amount := range []int64{30000, 30050, 29990} { // sum 90040: under 1000.00
		route, err := r.Route(context.Background(), tap(m, "card-2", amount))
		if err != nil {
			t.Fatal(err)
		}
		actions = append(actions, decision(route, RuleSplitPayment).Action)
	}
	if want := []string{RiskPass, RiskPass, paygate.RiskStandardRate}; !reflect.DeepEqual(actions, want) {
		t.Errorf("actions %v, want %v", actions, want)
	}
}

func TestUnrelatedCustomersKeepReducedRate(t *testing.T) {
	rdb := testRedis(t)
	clk := newClock()
	r := newRouter(t, quickPassOnly(), Options{Risk: rdb.Store, Now: clk.Now})
	m := demoMerchant()
	for i := 0; i < 10; i++ {
		route, err := r.Route(context.Background(), tap(m, "card-"+string(rune('a'+i)), 100000))
		if err != nil {
			t.Fatal(err)
		}
		if route.Fee != 380 || route.Rule != "unionpay.quickpass_le_1000" {
			t.Errorf("customer %d: %d by %s", i, route.Fee, route.Rule)
		}
	}
}

func TestConcurrentDailyLimit(t *testing.T) {
	rdb := testRedis(t)
	r := newRouter(t, quickPassOnly(), Options{Risk: rdb.Store})
	m := demoMerchant()
	m.Risk = &paygate.RiskRules{PerPayerDaily: &paygate.Limit{Max: 100000, Action: paygate.RiskDecline}}
	var ok, declined atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := r.Route(context.Background(), tap(m, "card-race", 3000))
			switch paygate.ErrorCode(err) {
			case "":
				ok.Add(1)
			case paygate.ERISKDECLINED:
				declined.Add(1)
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 33 || declined.Load() != 17 {
		t.Errorf("%d taken, %d declined; want 33 and 17 (33 × 30.00 ≤ 1000.00)", ok.Load(), declined.Load())
	}
	day := time.Now().In(cst).Format("20060102")
	if total := rdb.Int(t, "risk:{m_demo}:payer:card-race:"+day); total != 99000 {
		t.Errorf("recorded total %d", total)
	}
	if ttl := rdb.TTL(t, "risk:{m_demo}:payer:card-race:"+day); ttl <= 24*time.Hour {
		t.Errorf("ttl %v", ttl)
	}
}

func TestStaticQRLimitAndTerminalLimit(t *testing.T) {
	rdb := testRedis(t)
	r := newRouter(t, []paygate.ProviderSpec{{ID: "wechat", Kind: "wechat"}}, Options{Risk: rdb.Store})
	m := demoMerchant()
	rules := DefaultRiskRules()
	rules.PerTerminalDaily = &paygate.Limit{Max: 70000, Action: paygate.RiskFlag}
	m.Risk = &rules
	qr := func(amount int64) (*paygate.Route, error) {
		return r.Route(context.Background(), &paygate.RouteRequest{Merchant: m, Amount: amount, Method: "jsapi",
			StaticQR: true, PayerKey: "openid-1", TerminalID: "QR1"})
	}
	if _, err := qr(40000); err != nil {
		t.Fatal(err)
	}
	_, err := qr(10001)
	if paygate.ErrorCode(err) != paygate.ERISKDECLINED || !strings.Contains(paygate.ErrorMessage(err), RuleStaticQRDaily) {
		t.Fatalf("got %v", err)
	}
	route, err := qr(10000) // exactly 500.00 in the day
	if err != nil {
		t.Fatal(err)
	}
	if d := decision(route, RulePerTerminalDaily); d.Action != RiskPass {
		t.Errorf("terminal %+v", d)
	}
	// Not a static QR: only the terminal limit (flag) applies.
	route, err = r.Route(context.Background(), &paygate.RouteRequest{Merchant: m, Amount: 30000, Method: "auth_code",
		PayerKey: "openid-1", TerminalID: "QR1"})
	if err != nil {
		t.Fatal(err)
	}
	if d := decision(route, RulePerTerminalDaily); d.Action != paygate.RiskFlag || !strings.Contains(d.Reason, "today 50000 + 30000 above 70000") {
		t.Errorf("terminal %+v", d)
	}
}

func TestPerPaymentAndRegion(t *testing.T) {
	r := newRouter(t, quickPassOnly(), Options{})
	m := demoMerchant()
	rules := DefaultRiskRules()
	rules.PerPayment = &paygate.Limit{Max: 200000, Action: paygate.RiskDecline}
	m.Risk = &rules
	req := tap(m, "card-1", 200001)
	if _, err := r.Route(context.Background(), req); paygate.ErrorCode(err) != paygate.ERISKDECLINED {
		t.Fatalf("per payment: %v", err)
	}
	req.Amount = 1000
	req.TerminalRegion = "310000"
	req.Location = &paygate.Location{RegionCode: "310115"}
	route, err := r.Route(context.Background(), req)
	if err != nil || decision(route, RuleRegion).Action != RiskPass {
		t.Fatalf("Pudong in Shanghai: %v %+v", err, route)
	}
	req.Location.RegionCode = "440300"
	route, err = r.Route(context.Background(), req)
	if err != nil || decision(route, RuleRegion).Action != paygate.RiskFlag {
		t.Fatalf("flag: %v %+v", err, route)
	}
	rules.RegionPolicy = paygate.RiskDecline
	if _, err := r.Route(context.Background(), req); paygate.ErrorCode(err) != paygate.ELOCATIONMISMATCH {
		t.Fatalf("decline: %v", err)
	}
}

func TestQuoteAgreesAndDoesNotWrite(t *testing.T) {
	rdb := testRedis(t)
	clk := newClock()
	r := newRouter(t, cardProviders(), Options{Risk: rdb.Store, Now: clk.Now})
	m := demoMerchant()
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		req := tap(m, "card-q", 100000)
		q, err := r.Quote(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if keys := rdb.Keys(t, "*"); len(keys) != 0 {
				t.Fatalf("quote wrote %v", keys)
			}
		}
		o, err := r.Route(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(q, o) {
			t.Errorf("payment %d: quote %+v, route %+v", i, q, o)
		}
	}
	if keys := rdb.Keys(t, "*"); len(keys) != 1 {
		t.Errorf("keys %v", keys)
	}
}

func TestOneRoundTripPerRoute(t *testing.T) {
	rdb := testRedis(t)
	m := demoMerchant()
	rules := DefaultRiskRules()
	rules.PerPayerDaily = &paygate.Limit{Max: 10000000, Action: paygate.RiskDecline}
	rules.PerTerminalDaily = &paygate.Limit{Max: 10000000, Action: paygate.RiskDecline}
	m.Risk = &rules
	// The adapter loaded the script, so every Route is one EVALSHA.
	r := newRouter(t, quickPassOnly(), Options{Risk: rdb.Store})
	before := rdb.RoundTrips()
	const n = 20
	for i := 0; i < n; i++ {
		req := tap(m, "card-rt", 1000)
		req.StaticQR = i%2 == 0
		if _, err := r.Route(context.Background(), req); err != nil {
			t.Fatal(err)
		}
	}
	if got := rdb.RoundTrips() - before; got != n {
		t.Errorf("%d round trips for %d routes", got, n)
	}
}
