package config

import "github.com/paygate-cn/paygate"

// RateLimits answers each API key's request rate limit (rate per second,
// burst) from the configuration: the merchant's own rates where it sets
// them, the gateway's otherwise; terminal keys have their own rates
// (docs/configuration.md, "rate_limit"). It returns nil when the limit is
// disabled. The answers are worked out here, once: the function returned
// does one map lookup per request.
func (c *Config) RateLimits() func(*paygate.APIKey) (rate, burst int) {
	if c.RateLimit.Disabled {
		return nil
	}
	type pair struct{ key, terminal [2]int }
	resolve := func(mc *Merchant) (p pair) {
		p.key[0], p.key[1] = c.RateLimit.For(mc, false)
		p.terminal[0], p.terminal[1] = c.RateLimit.For(mc, true)
		return p
	}
	byMerchant := make(map[string]pair, len(c.Merchants))
	for i := range c.Merchants {
		byMerchant[c.Merchants[i].ID] = resolve(&c.Merchants[i])
	}
	fallback := resolve(nil)
	return func(k *paygate.APIKey) (int, int) {
		p, ok := byMerchant[k.MerchantID]
		if !ok {
			p = fallback
		}
		if k.TerminalID != "" {
			return p.terminal[0], p.terminal[1]
		}
		return p.key[0], p.key[1]
	}
}
