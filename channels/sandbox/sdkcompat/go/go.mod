module github.com/paygate-cn/paygate/channels/sandbox/sdkcompat/go

go 1.26

require github.com/wechatpay-apiv3/wechatpay-go v0.2.21
