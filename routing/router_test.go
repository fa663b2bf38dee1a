package routing

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/shopspring/decimal"
)

var d = decimal.RequireFromString

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 11, 21, 10, 0, 0, 0, cst)} }
func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}
func (c *fakeClock) Add(dur time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(dur)
	c.mu.Unlock()
}

// cardProviders: UnionPay QuickPass with the default schedule, and two
// acquirers with different contracts (acqB has a QuickPass rate of its own).
func cardProviders() []paygate.ProviderSpec {
	card := []paygate.Method{paygate.MethodCard}
	return []paygate.ProviderSpec{
		{ID: "unionpay", Kind: "unionpay", Priority: 1},
		{ID: "acqA", Kind: "acquirer", Priority: 2, Fees: []paygate.FeeRule{
			{Name: "acqA.credit", Rate: d("0.005"), Methods: card, CardTypes: []string{"credit"}},
			{Name: "acqA.debit", Rate: d("0.005"), Cap: 1500, Methods: card, CardTypes: []string{"debit"}},
		}},
		{ID: "acqB", Kind: "acquirer", Priority: 3, Fees: []paygate.FeeRule{
			{Name: "acqB.quickpass_le_1000", Rate: d("0.0035"), Methods: card, EntryModes: []string{"contactless"}, MaxAmount: 100000},
			{Name: "acqB.credit", Rate: d("0.0058"), Methods: card, CardTypes: []string{"credit"}},
			{Name: "acqB.debit", Rate: d("0.0045"), Cap: 2500, Methods: card, CardTypes: []string{"debit"}},
		}},
		{ID: "wechat", Kind: "wechat"},
		{ID: "alipay", Kind: "alipay"},
	}
}

func demoMerchant() *paygate.Merchant {
	return &paygate.Merchant{ID: "m_demo", Name: "Demo", MCC: "5812", MerchantNo: "898310058120001", RegionCode: "310000"}
}

func cardReq(m *paygate.Merchant, entry, typ string, amount int64) *paygate.RouteRequest {
	return &paygate.RouteRequest{Merchant: m, Amount: amount, Method: paygate.MethodCard, Card: card(entry, typ)}
}

func newRouter(t testing.TB, specs []paygate.ProviderSpec, opts Options) *Router {
	t.Helper()
	r, err := New(specs, opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func candidate(route *paygate.Route, id string) paygate.RouteCandidate {
	for _, c := range route.Candidates {
		if c.Provider == id {
			return c
		}
	}
	return paygate.RouteCandidate{}
}

func TestCheapestCardRoute(t *testing.T) {
	clk := newClock()
	r := newRouter(t, cardProviders(), Options{Now: clk.Now})
	m := demoMerchant()
	tests := []struct {
		name        string
		entry, typ  string
		amount      int64
		provider    string
		fee         int64
		rule        string
		unionpayWhy string
	}{
		{"contactless credit 500.00", "contactless", "credit", 50000, "acqB", 175, "acqB.quickpass_le_1000", "fee 190 by unionpay.quickpass_le_1000"},
		{"contactless debit 1000.00", "contactless", "debit", 100000, "acqB", 350, "acqB.quickpass_le_1000", "fee 380 by unionpay.quickpass_le_1000"},
		{"contactless credit 2000.00", "contactless", "credit", 200000, "acqA", 1000, "acqA.credit", "fee 1200 by card.credit"},
		{"contactless debit 2000.00", "contactless", "debit", 200000, "acqB", 900, "acqB.debit", "fee 1100 by card.debit"},
		{"chip credit 500.00", "chip", "credit", 50000, "acqA", 250, "acqA.credit", "entry mode not taken by unionpay: contactless only"},
		{"chip debit 10000.00", "chip", "debit", 1000000, "acqA", 1500, "acqA.debit", "entry mode not taken"},
		{"swipe debit 300.00", "swipe", "debit", 30000, "acqB", 135, "acqB.debit", "entry mode not taken"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			route, err := r.Quote(context.Background(), cardReq(m, tt.entry, tt.typ, tt.amount))
			if err != nil {
				t.Fatal(err)
			}
			if route.Provider != tt.provider || route.Fee != tt.fee || route.Rule != tt.rule {
				t.Fatalf("got %s fee %d by %s, want %s fee %d by %s", route.Provider, route.Fee, route.Rule, tt.provider, tt.fee, tt.rule)
			}
			if len(route.Candidates) != 5 || route.Candidates[0].Provider != tt.provider {
				t.Fatalf("candidates %+v", route.Candidates)
			}
			if why := candidate(route, "unionpay").Reason; !strings.HasPrefix(why, tt.unionpayWhy) {
				t.Errorf("unionpay reason %q, want %q", why, tt.unionpayWhy)
			}
			if why := candidate(route, "wechat").Reason; why != "method card not supported by wechat" {
				t.Errorf("wechat reason %q", why)
			}
			for i := 1; i < len(route.Candidates); i++ {
				a, b := route.Candidates[i-1], route.Candidates[i]
				if b.Eligible && (!a.Eligible || a.Fee > b.Fee) {
					t.Errorf("candidates out of order: %+v before %+v", a, b)
				}
			}
		})
	}
}

func TestCircuitOpenFallsToNext(t *testing.T) {
	clk := newClock()
	h := NewHealth(HealthOptions{FailureThreshold: 3, CoolDown: time.Minute, Now: clk.Now})
	r := newRouter(t, cardProviders(), Options{Now: clk.Now, Health: h})
	req := cardReq(demoMerchant(), "contactless", "credit", 50000)
	for i := 0; i < 3; i++ {
		h.Report("acqB", &paygate.ChannelError{Provider: "acqB", Op: "pay", Timeout: true})
	}
	route, err := r.Quote(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if route.Provider != "unionpay" || route.Fee != 190 {
		t.Fatalf("got %s %d, want unionpay 190", route.Provider, route.Fee)
	}
	b := candidate(route, "acqB")
	want := "circuit open since 2026-11-21T02:00:00Z, fee would be 175"
	if b.Eligible || b.Reason != want || b.Fee != 175 {
		t.Errorf("acqB candidate %+v, want reason %q", b, want)
	}
	// After the cool-down acqB is routable again, for one probe.
	clk.Add(time.Minute)
	route, _ = r.Quote(context.Background(), req)
	if route.Provider != "acqB" || !strings.Contains(route.Candidates[0].Reason, "probe") {
		t.Fatalf("after cool-down: %+v", route.Candidates[0])
	}
}

func TestSuccessRateBreaksTies(t *testing.T) {
	clk := newClock()
	h := NewHealth(HealthOptions{FailureThreshold: 100, Now: clk.Now})
	specs := []paygate.ProviderSpec{
		{ID: "a1", Kind: "acquirer", Priority: 1},
		{ID: "a2", Kind: "acquirer", Priority: 2},
	}
	r := newRouter(t, specs, Options{Now: clk.Now, Health: h})
	req := cardReq(demoMerchant(), "chip", "credit", 10000)
	if route, _ := r.Quote(context.Background(), req); route.Provider != "a1" {
		t.Fatalf("priority tie-break: %s", route.Provider)
	}
	h.Report("a1", nil)
	h.Report("a1", &paygate.ChannelError{Provider: "a1", Op: "pay"})
	if route, _ := r.Quote(context.Background(), req); route.Provider != "a2" {
		t.Fatalf("success rate tie-break: %s", route.Provider)
	}
}

func TestEligibility(t *testing.T) {
	specs := []paygate.ProviderSpec{
		{ID: "unionpay", Kind: "unionpay"},
		{ID: "acq", Kind: "acquirer", MaxAmount: 100000},
		{ID: "acqvisa", Kind: "acquirer", Networks: []string{"visa"}},
		{ID: "wechat", Kind: "wechat", Methods: []paygate.Method{"auth_code"}},
		{ID: "alipay", Kind: "alipay", MinAmount: 100},
		{ID: "ecny", Kind: "ecny"},
		{ID: "off", Kind: "wechat", Disabled: true},
	}
	r := newRouter(t, specs, Options{})
	m := demoMerchant()
	m.Providers = []string{"unionpay", "acq", "acqvisa", "wechat", "alipay", "off"}
	ctx := context.Background()

	route, err := r.Quote(ctx, &paygate.RouteRequest{Merchant: m, Amount: 50, Method: "qr"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"unionpay": "fee 0 by unionpay.qr_le_1000",
		"acq":      "method qr not supported by acquirer",
		"acqvisa":  "method qr not supported by acquirer",
		"wechat":   "method qr not enabled for provider wechat",
		"alipay":   "amount below the provider minimum 100",
		"ecny":     "provider ecny not enabled for the merchant",
		"off":      "provider disabled",
	}
	for id, why := range want {
		if got := candidate(route, id).Reason; got != why {
			t.Errorf("%s: reason %q, want %q", id, got, why)
		}
	}

	_, err = r.Quote(ctx, cardReq(m, "chip", "debit", 200000))
	if msg := paygate.ErrorMessage(err); paygate.ErrorCode(err) != paygate.ENOROUTE ||
		!strings.Contains(msg, "acq: amount above the provider maximum 100000; acqvisa: card network unionpay not accepted by acqvisa") {
		t.Errorf("got %v", err)
	}

	visa := cardReq(m, "chip", "credit", 1000)
	visa.Card.Network = "visa"
	route, err = r.Quote(ctx, visa)
	if err != nil || route.Provider != "acqvisa" {
		t.Fatalf("visa: %v %+v", err, route)
	}
	if got := candidate(route, "acq").Reason; got != "card network visa not accepted by acq" {
		t.Errorf("acq: %q", got)
	}

	route, err = r.Quote(ctx, &paygate.RouteRequest{Merchant: m, Amount: 1000, Method: "auth_code", Channel: "alipay"})
	if err != nil || route.Provider != "alipay" || candidate(route, "wechat").Reason != "channel alipay requested" {
		t.Fatalf("requested channel: %v %+v", err, route)
	}
}

func TestNoRoute(t *testing.T) {
	r := newRouter(t, []paygate.ProviderSpec{{ID: "wechat", Kind: "wechat"}}, Options{})
	_, err := r.Quote(context.Background(), cardReq(demoMerchant(), "chip", "credit", 100))
	if paygate.ErrorCode(err) != paygate.ENOROUTE || !strings.Contains(paygate.ErrorMessage(err), "wechat: method card not supported by wechat") {
		t.Fatalf("got %v", err)
	}
}

func TestBadRequests(t *testing.T) {
	r := newRouter(t, cardProviders(), Options{})
	m := demoMerchant()
	tests := []struct {
		req  *paygate.RouteRequest
		code string
	}{
		{&paygate.RouteRequest{Amount: 1, Method: "qr"}, paygate.EINVALID},
		{&paygate.RouteRequest{Merchant: m, Amount: 0, Method: "qr"}, paygate.EAMOUNTINVALID},
		{&paygate.RouteRequest{Merchant: m, Amount: paygate.MaxAmount + 1, Method: "qr"}, paygate.EAMOUNTTOOLARGE},
		{&paygate.RouteRequest{Merchant: m, Amount: 1, Method: "cash"}, paygate.EUNSUPPORTED},
		{&paygate.RouteRequest{Merchant: m, Amount: 1, Method: "card"}, paygate.EPARAMMISSING},
		{&paygate.RouteRequest{Merchant: m, Amount: 1, Method: "qr", Channel: "paypal"}, paygate.EUNKNOWNCHANNEL},
	}
	for _, tt := range tests {
		if _, err := r.Quote(context.Background(), tt.req); paygate.ErrorCode(err) != tt.code {
			t.Errorf("%+v: got %v, want %s", tt.req, err, tt.code)
		}
	}
}

func TestNewRejects(t *testing.T) {
	tests := []struct {
		specs []paygate.ProviderSpec
		want  string
	}{
		{[]paygate.ProviderSpec{{ID: "x", Kind: "paypal"}}, `unknown kind "paypal"`},
		{[]paygate.ProviderSpec{{ID: "x", Kind: "wechat"}, {ID: "x", Kind: "alipay"}}, `providers[1] "x": duplicate id`},
		{[]paygate.ProviderSpec{{ID: "x", Kind: "wechat", MinAmount: 10, MaxAmount: 5}}, `invalid amount bounds`},
		{[]paygate.ProviderSpec{{ID: "a", Kind: "wechat"}, {ID: "x", Kind: "acquirer", Fees: []paygate.FeeRule{
			{Name: "ok", Rate: d("0.006")}, {Name: "card.debit", Rate: d("0.0055"), Cap: 100, Min: 200}}}},
			`providers[1].fees[1] "card.debit": cap 100 below min 200`},
		{[]paygate.ProviderSpec{{ID: "w", Kind: "wechat", Methods: []paygate.Method{paygate.MethodQR, paygate.MethodWeb}}},
			`providers[0] "w": method web is not implemented by wechat`},
	}
	for _, tt := range tests {
		if _, err := New(tt.specs, Options{}); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("got %v, want %q", err, tt.want)
		}
	}
}

// Routing offers a provider for exactly the methods its kind implements
// (paygate.ChannelKinds): a combination the client does not implement is
// never routed, and a requested channel that does not implement the method
// is no route.
func TestRoutesOnlyImplementedFlows(t *testing.T) {
	var specs []paygate.ProviderSpec
	for _, k := range paygate.ChannelKinds {
		specs = append(specs, paygate.ProviderSpec{ID: k.Kind, Kind: k.Kind})
	}
	r := newRouter(t, specs, Options{})
	m := demoMerchant()
	for _, k := range paygate.ChannelKinds {
		for _, method := range allMethods {
			req := &paygate.RouteRequest{Merchant: m, Amount: 1000, Method: method, Channel: k.Kind}
			if method == paygate.MethodCard {
				req.Channel = ""
				req.Card = card("contactless", "credit")
			}
			route, err := r.Quote(context.Background(), req)
			_, implemented := k.Flow(method)
			var eligible bool
			if err == nil {
				eligible = candidate(route, k.Kind).Eligible
			} else if paygate.ErrorCode(err) != paygate.ENOROUTE {
				t.Fatalf("%s %s: %v", k.Kind, method, err)
			}
			if eligible != implemented {
				t.Errorf("%s %s: eligible %v, implemented %v (%v)", k.Kind, method, eligible, implemented, err)
			}
		}
	}
	// WeChat has no desktop web flow, e-CNY no h5/app, UnionPay no app.
	for _, tc := range []struct {
		kind   string
		method paygate.Method
	}{{"wechat", paygate.MethodWeb}, {"ecny", paygate.MethodH5}, {"ecny", paygate.MethodApp}, {"unionpay", paygate.MethodApp}} {
		_, err := r.Quote(context.Background(), &paygate.RouteRequest{Merchant: m, Amount: 1000, Method: tc.method, Channel: tc.kind})
		if paygate.ErrorCode(err) != paygate.ENOROUTE {
			t.Errorf("%s %s: %v, want no_route", tc.kind, tc.method, err)
		}
	}
}

// Routing never changes the merchant, and a contract rule for a cheaper
// category than the merchant's registered MCC never applies (跳码).
func TestMCCIntegrity(t *testing.T) {
	r := newRouter(t, cardProviders(), Options{})
	m := demoMerchant()
	m.Contracts = map[string][]paygate.FeeRule{
		"wechat": {{Name: "wechat.grocery", Rate: d("0.002"), MCCs: []string{"5411"}}},
		"alipay": {{Name: "alipay.restaurant", Rate: d("0.0038"), MCCs: []string{"5812"}}},
	}
	before := *m
	before.Contracts = map[string][]paygate.FeeRule{"wechat": m.Contracts["wechat"], "alipay": m.Contracts["alipay"]}
	route, err := r.Quote(context.Background(), &paygate.RouteRequest{Merchant: m, Amount: 10000, Method: "auth_code"})
	if err != nil {
		t.Fatal(err)
	}
	if route.Provider != "alipay" || route.Rule != "alipay.restaurant" || route.Fee != 38 {
		t.Errorf("got %s %s %d, want alipay's 5812 contract", route.Provider, route.Rule, route.Fee)
	}
	if c := candidate(route, "wechat"); c.Rule != "wechat.default" || c.Fee != 60 {
		t.Errorf("wechat priced by %s %d: the 5411 rule must not apply to a 5812 merchant", c.Rule, c.Fee)
	}
	if !reflect.DeepEqual(&before, m) {
		t.Errorf("merchant changed: %+v", m)
	}
	if route.Risk[0].Rule != RuleMCC || route.Risk[0].Action != RiskPass {
		t.Errorf("risk %+v", route.Risk)
	}
}

func TestFallback(t *testing.T) {
	r := newRouter(t, cardProviders(), Options{})
	route, err := r.Quote(context.Background(), cardReq(demoMerchant(), "contactless", "credit", 50000))
	if err != nil {
		t.Fatal(err)
	}
	if next, ok := NextEligible(route, "acqB"); !ok || next.Provider != "unionpay" {
		t.Fatalf("NextEligible: %+v", next)
	}
	if !Fallback(route, "acqB", "channel unavailable: circuit open") {
		t.Fatal("no fallback")
	}
	if route.Provider != "unionpay" || route.Fee != 190 || route.Rule != "unionpay.quickpass_le_1000" || !route.FeeRate.Equal(d("0.0038")) {
		t.Fatalf("after fallback %+v", route)
	}
	if c := route.Candidates[2]; c.Provider != "acqB" || c.Eligible || c.Reason != "channel unavailable: circuit open" {
		t.Errorf("failed candidate %+v (candidates %+v)", c, route.Candidates)
	}
	Fallback(route, "unionpay", "down")
	if route.Provider != "acqA" || route.FeeCap != nil {
		t.Errorf("second fallback %+v", route)
	}
	if Fallback(route, "acqA", "down") {
		t.Error("fell back with nothing left")
	}
}

func TestDecidedRouteIsIndependent(t *testing.T) {
	r := newRouter(t, cardProviders(), Options{})
	route, _ := r.Quote(context.Background(), cardReq(demoMerchant(), "chip", "debit", 1000000))
	if route.FeeCap == nil || *route.FeeCap != 1500 {
		t.Fatalf("fee cap %v", route.FeeCap)
	}
	var e *paygate.Error
	_, err := r.Quote(context.Background(), &paygate.RouteRequest{Merchant: demoMerchant(), Amount: 1, Method: "card"})
	if !errors.As(err, &e) || e.Param != "card" {
		t.Fatalf("got %v", err)
	}
}
