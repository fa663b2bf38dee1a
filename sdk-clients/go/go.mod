module github.com/paygate-cn/paygate/sdk-clients/go

go 1.26
