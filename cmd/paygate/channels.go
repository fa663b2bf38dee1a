package main

import (
	"fmt"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/channels/acquirer"
	"github.com/paygate-cn/paygate/channels/alipay"
	"github.com/paygate-cn/paygate/channels/ecny"
	"github.com/paygate-cn/paygate/channels/unionpay"
	"github.com/paygate-cn/paygate/channels/wechat"
)

// newChannel builds the client of a configured provider by its kind. The
// acquirer client stamps its messages and a sale's time with now, the
// gateway's clock (the wallets report the channel's own times).
func newChannel(spec paygate.ProviderSpec, now paygate.Clock) (paygate.Channel, error) {
	switch spec.Kind {
	case paygate.KindWeChat:
		return wechat.New(spec)
	case paygate.KindAlipay:
		return alipay.New(spec)
	case paygate.KindUnionPay:
		return unionpay.New(spec)
	case paygate.KindECNY:
		return ecny.New(spec)
	case paygate.KindAcquirer:
		return acquirer.New(spec, acquirer.WithClock(now))
	}
	return nil, fmt.Errorf("kind %q is not supported by this build", spec.Kind)
}
