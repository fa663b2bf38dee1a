package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/config"
	"github.com/paygate-cn/paygate/routing"
)

func TestValidateContracts(t *testing.T) {
	rate := decimal.RequireFromString
	for name, tc := range map[string]struct {
		contracts map[string][]paygate.FeeRule
		want      string // "" for a valid schedule
	}{
		"none": {nil, ""},
		"carve-out before a broader rule": {map[string][]paygate.FeeRule{"wechat": {
			{Name: "small", Rate: rate("0.002"), MaxAmount: 10000},
			{Name: "all", Rate: rate("0.0038")},
		}}, ""},
		"overlapping rules": {map[string][]paygate.FeeRule{"wechat": {
			{Name: "a", Rate: rate("0.0038")},
			{Name: "b", Rate: rate("0.002")},
		}}, `merchants[0].contracts.wechat[1] "b"`},
		"cap below min": {map[string][]paygate.FeeRule{"wechat": {
			{Name: "capped", Rate: rate("0.006"), Cap: 100, Min: 200},
		}}, `merchants[0].contracts.wechat[0] "capped": cap 100 below min 200`},
		// Providers are checked in name order, so the error is stable.
		"first provider by name": {map[string][]paygate.FeeRule{
			"wechat": {{Name: "", Rate: rate("0.006")}},
			"alipay": {{Name: "x", Rate: rate("2")}},
		}, `merchants[0].contracts.alipay[0] "x"`},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := config.Default()
			cfg.Merchants[0].Contracts = tc.contracts
			err := cfg.ValidateContracts()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("valid contracts rejected: %v", err)
				}
				return
			}
			var fe *routing.FeeRuleError
			if !errors.As(err, &fe) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ValidateContracts = %v, want a FeeRuleError naming %s", err, tc.want)
			}
		})
	}
}

func TestRateLimits(t *testing.T) {
	cfg := config.Default()
	cfg.RateLimit.Limits = config.Limits{KeyRate: 100, KeyBurst: 200, TerminalRate: 5, TerminalBurst: 10}
	own := cfg.Merchants[0]
	own.ID = "m_own"
	own.RateLimit = &config.Limits{KeyRate: 7, TerminalBurst: 3} // the rest from rate_limit
	cfg.Merchants = append(cfg.Merchants, own)
	limits := cfg.RateLimits()
	for _, tc := range []struct {
		key         paygate.APIKey
		rate, burst int
	}{
		{paygate.APIKey{MerchantID: cfg.Merchants[0].ID}, 100, 200},
		{paygate.APIKey{MerchantID: cfg.Merchants[0].ID, TerminalID: "T0001"}, 5, 10},
		{paygate.APIKey{MerchantID: "m_own"}, 7, 200},
		{paygate.APIKey{MerchantID: "m_own", TerminalID: "T0001"}, 5, 3},
		// A merchant outside the configuration (none today) gets the
		// gateway's rates.
		{paygate.APIKey{MerchantID: "m_unknown"}, 100, 200},
		{paygate.APIKey{MerchantID: "m_unknown", TerminalID: "T9"}, 5, 10},
	} {
		if rate, burst := limits(&tc.key); rate != tc.rate || burst != tc.burst {
			t.Errorf("%+v: %d/%d, want %d/%d", tc.key, rate, burst, tc.rate, tc.burst)
		}
	}

	def := config.Default()
	if rate, burst := def.RateLimits()(&paygate.APIKey{MerchantID: def.Merchants[0].ID}); rate != config.DefaultKeyRate || burst != config.DefaultKeyBurst {
		t.Errorf("defaults: %d/%d", rate, burst)
	}
	def.RateLimit.Disabled = true
	if def.RateLimits() != nil {
		t.Error("a disabled rate limit must answer nil (no limit)")
	}
}
