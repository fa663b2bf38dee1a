package main

import (
	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/channels/alipay"
	"github.com/paygate-cn/paygate/channels/unionpay"
	"github.com/paygate-cn/paygate/channels/wechat"
	"github.com/paygate-cn/paygate/config"
	"github.com/paygate-cn/paygate/gateway"
)

// walletAuth builds the cashier's payer identification per wallet from the
// first enabled provider of each kind that can do it (docs/cashier.md):
// WeChat with appid and oauth_app_secret, any Alipay app, UnionPay with
// up_app_id and up_app_secret. The sandbox needs none: its payer is a
// cookie.
func walletAuth(cfg *config.Config, providers []paygate.ProviderSpec) map[string]gateway.WalletAuth {
	out := map[string]gateway.WalletAuth{}
	if cfg.Sandbox.Enabled {
		return out
	}
	for _, spec := range providers {
		if spec.Disabled || out[spec.Kind] != nil {
			continue
		}
		switch spec.Kind {
		case paygate.KindWeChat:
			if o, ok := wechat.NewOAuth(spec); ok {
				out[spec.Kind] = o
			}
		case paygate.KindAlipay:
			if c, err := alipay.New(spec); err == nil {
				out[spec.Kind] = c.OAuth()
			}
		case paygate.KindUnionPay:
			if o, ok := unionpay.NewOAuth(spec); ok {
				out[spec.Kind] = o
			}
		}
	}
	return out
}
