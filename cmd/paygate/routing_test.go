package main

import (
	"context"
	"strings"
	"testing"

	"github.com/paygate-cn/paygate"
	acquirersb "github.com/paygate-cn/paygate/channels/sandbox/acquirer"
	"github.com/paygate-cn/paygate/config"
	"github.com/shopspring/decimal"
)

// The quote endpoint and the order's stored route agree for the same input.
func TestQuoteAgreesWithOrder(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *client) {
		for _, code := range []string{"134567890123456789", "287654321098765432", "6212345678901234567", "0112345678901234567"} {
			body := authCodeOrder(code, 88888)
			q := c.do("POST", "/v1/routes/quote", "/v1/routes/quote", body, "")
			if q.Status != 200 {
				t.Fatalf("quote: %d %s", q.Status, q.Body)
			}
			quote := q.decode(t)
			o := c.createOrder(body, "").decode(t)
			for _, k := range []string{"provider", "channel", "fee", "net_amount"} {
				if quote[k] != o[k] {
					t.Errorf("%s: quote %s=%v, order %v", code, k, quote[k], o[k])
				}
			}
			qr, or := quote["route"].(map[string]any), o["route"].(map[string]any)
			for _, k := range []string{"provider", "fee_rate", "fee", "rule"} {
				if qr[k] != or[k] {
					t.Errorf("%s: route.%s quote %v, order %v", code, k, qr[k], or[k])
				}
			}
			if len(qr["candidates"].([]any)) != len(or["candidates"].([]any)) {
				t.Errorf("%s: candidates differ: %v / %v", code, qr["candidates"], or["candidates"])
			}
		}
		// A card described without card data, for routing only: a UnionPay
		// contactless credit tap of 1000.00 takes the 0.38% QuickPass rate;
		// one fen more takes the standard credit rate.
		card := func(amount int64, mode string) map[string]any {
			return map[string]any{"amount": amount, "subject": "Dinner", "method": "card",
				"card": map[string]any{"entry_mode": mode, "type": "credit", "network": "unionpay"}}
		}
		for _, tc := range []struct {
			amount int64
			mode   string
			fee    float64
		}{
			{100000, "contactless", 380},
			{100001, "contactless", 600},
			{100000, "chip", 600},
		} {
			q := c.do("POST", "/v1/routes/quote", "/v1/routes/quote", card(tc.amount, tc.mode), "")
			if q.Status != 200 || q.decode(t)["fee"] != tc.fee {
				t.Errorf("card %d %s: %d %s, want fee %v", tc.amount, tc.mode, q.Status, q.Body, tc.fee)
			}
		}
		// A quote writes nothing.
		if l := c.do("GET", "/v1/orders?limit=100", "/v1/orders", nil, "").decode(t); len(l["data"].([]any)) != 4 {
			t.Errorf("%d orders after quotes, want 4", len(l["data"].([]any)))
		}
		if r := c.do("POST", "/v1/routes/quote", "/v1/routes/quote", `{"amount": "1"}`, ""); r.Status != 400 {
			t.Errorf("bad quote: %d %s", r.Status, r.Body)
		}
	})
}

// Contradictory fee rules stop the start, with the rule named.
func TestBadFeeRulesRejectedAtStart(t *testing.T) {
	for name, tc := range map[string]struct {
		mutate func(cfg *config.Config)
		want   string
	}{
		"overlapping contract rules": {func(cfg *config.Config) {
			cfg.Merchants[0].Contracts = map[string][]paygate.FeeRule{"wechat": {
				{Name: "a", Rate: decimal.RequireFromString("0.0038")},
				{Name: "b", Rate: decimal.RequireFromString("0.002")},
			}}
		}, `merchants[0].contracts.wechat`},
		"cap below min": {func(cfg *config.Config) {
			cfg.Merchants[0].Contracts = map[string][]paygate.FeeRule{"wechat": {
				{Name: "capped", Rate: decimal.RequireFromString("0.006"), Cap: 100, Min: 200},
			}}
		}, `"capped"`},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := config.Default()
			cfg.Addr = "127.0.0.1:0"
			cfg.DataDir = t.TempDir()
			cfg.DatabaseURL = "sqlite:" + cfg.DataDir + "/p.db"
			tc.mutate(cfg)
			m := NewMain()
			m.Config, m.Out = cfg, nil
			m.Logger = discardLogger()
			err := m.Run(context.Background())
			m.Close()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Run = %v, want an error naming %s", err, tc.want)
			}
		})
	}
}

// With two acquirers of different contracts and UnionPay QuickPass
// configured, each kind of card payment goes to the cheapest eligible
// provider; with the cheapest one down, the next takes it and the decision
// says why.
func TestCardRoutingAcrossAcquirers(t *testing.T) {
	host, err := acquirersb.New(acquirersb.Options{MACKey: []byte("0123456789ABCDEF")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := host.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	d := decimal.RequireFromString
	contract := func(credit, debit string, debitCap int64) []paygate.FeeRule {
		return []paygate.FeeRule{
			{Name: "credit", Rate: d(credit), CardTypes: []string{"credit"}},
			{Name: "debit", Rate: d(debit), Cap: debitCap, CardTypes: []string{"debit"}},
		}
	}
	c := testMain(t, "sqlite", func(cfg *config.Config) {
		for _, p := range []paygate.ProviderSpec{
			{ID: "acq_a", Kind: "acquirer", Credentials: host.Credentials(), Fees: contract("0.0055", "0.0050", 2000)},
			{ID: "acq_b", Kind: "acquirer", Credentials: host.Credentials(), Fees: contract("0.0058", "0.0045", 1800)},
		} {
			cfg.Providers = append(cfg.Providers, p)
		}
	})
	quote := func(amount int64, mode, typ string) map[string]any {
		t.Helper()
		r := c.do("POST", "/v1/routes/quote", "/v1/routes/quote", map[string]any{"amount": amount, "subject": "x", "method": "card",
			"card": map[string]any{"entry_mode": mode, "type": typ, "network": "unionpay"}}, "")
		if r.Status != 200 {
			t.Fatalf("quote: %d %s", r.Status, r.Body)
		}
		return r.decode(t)
	}
	for _, tc := range []struct {
		amount    int64
		mode, typ string
		provider  string
		fee       float64
	}{
		{50000, "contactless", "credit", "unionpay", 190}, // QuickPass 0.38%
		{100000, "contactless", "debit", "unionpay", 380}, // at the 1000.00 boundary
		{200000, "contactless", "credit", "acq_a", 1100},  // above it: a 0.55% beats b 0.58%, unionpay 0.60%
		{500000, "chip", "debit", "acq_b", 1800},          // a caps at 2000, b at 1800
		{10000, "swipe", "credit", "acq_a", 55},
		{10000, "chip", "debit", "acq_b", 45},
	} {
		q := quote(tc.amount, tc.mode, tc.typ)
		if q["provider"] != tc.provider || q["fee"] != tc.fee {
			t.Errorf("%d %s %s → %v fee %v, want %s fee %v", tc.amount, tc.mode, tc.typ, q["provider"], q["fee"], tc.provider, tc.fee)
		}
	}
	// acq_a goes down: consecutive channel failures open its circuit.
	for range 10 {
		c.m.Router.Health().Report("acq_a", &paygate.ChannelError{Provider: "acq_a", Op: "pay", Timeout: true})
	}
	q := quote(200000, "contactless", "credit")
	if q["provider"] != "acq_b" || q["fee"] != 1160.0 {
		t.Errorf("with acq_a down → %v fee %v, want acq_b 1160", q["provider"], q["fee"])
	}
	for _, cand := range q["route"].(map[string]any)["candidates"].([]any) {
		cm := cand.(map[string]any)
		if cm["provider"] == "acq_a" && (cm["eligible"] != false || !strings.Contains(cm["reason"].(string), "circuit")) {
			t.Errorf("acq_a candidate: %v", cm)
		}
	}
}

// A merchant's contracted rate replaces the provider's default on its
// orders (WeChat 0.20% here), and the order records the contract rule.
func TestMerchantContractRate(t *testing.T) {
	c := testMain(t, "sqlite", func(cfg *config.Config) {
		cfg.Merchants[0].Contracts = map[string][]paygate.FeeRule{
			"wechat": {{Name: "wechat.contract_020", Rate: decimal.RequireFromString("0.002")}},
		}
	})
	o := c.createOrder(authCodeOrder("134567890123456789", 10000), "").decode(t)
	route := o["route"].(map[string]any)
	if o["fee"] != 20.0 || o["net_amount"] != 9980.0 || route["rule"] != "wechat.contract_020" || route["fee_rate"] != "0.002" {
		t.Errorf("contracted order: fee %v net %v rule %v rate %v", o["fee"], o["net_amount"], route["rule"], route["fee_rate"])
	}
	// Alipay has no contract: its default applies.
	a := c.createOrder(authCodeOrder("287654321098765432", 10000), "").decode(t)
	if a["fee"] != 60.0 {
		t.Errorf("alipay fee %v, want 60", a["fee"])
	}
}
