// Package alipay is the Alipay channel: the OpenAPI gateway (gateway.do)
// with RSA2 (SHA256withRSA, 2048-bit) signatures in public-key mode, on
// gopay's v2 client (github.com/go-pay/gopay/alipay).
//
// Protocol decisions:
//
//   - Host. gopay v2 always calls https://openapi.alipay.com/gateway.do
//     when IsProd is set. The client installs an HTTP transport that sends
//     requests addressed to that host to ProviderSpec.BaseURL instead (the
//     sandbox, or a proxy); with no BaseURL it is the production gateway.
//     Signed wap/page pay URLs are rewritten the same way. v3 (JSON API with
//     SetProxyHost) was not used: its bar-code, precreate and bill coverage
//     in v1.5.123 is thinner and the sandbox speaks the v2 gateway.
//   - Calls go through gopay's DoAliPay, which builds the public
//     parameters, biz_content and the request signature. The answer is
//     verified here, not by gopay: gopay verifies only in certificate mode
//     and only on code 10000, and we must verify declines too. The sign
//     covers the exact bytes of the "<method>_response" value, which
//     encoding/json's RawMessage keeps unchanged.
//   - Classification. 10000 is success (trade.pay) or the state a query
//     reports; 10003 is pending (buyer confirming: the caller polls Query,
//     Pay never loops); 40004 is a final business answer (declined with
//     paygate Failure codes mapped from sub_code, or not_found for
//     ACQ.TRADE_NOT_EXIST). 20000, ACQ.SYSTEM_ERROR, 40001/40002/40006
//     (our own configuration), transport errors, non-200, timeouts and
//     unsigned or forged answers are *paygate.ChannelError: unknown, never a
//     decline. trade.pay's ACQ.TRADE_HAS_SUCCESS is pending (query it).
//   - Amounts are fen; Alipay's yuan strings are converted exactly in both
//     directions, never through floating point. out_trade_no is our order
//     id, out_request_no our refund id.
//   - Methods: auth_code → alipay.trade.pay (scene bar_code); qr →
//     trade.precreate (QRCode); jsapi → trade.create with buyer_id (ids
//     starting 2088) or buyer_open_id, Credential {"trade_no"}; h5/web →
//     wap/page pay, Credential {"pay_url"}; app → Credential
//     {"order_string"}. notify_url travels per request.
//   - Reverse is trade.cancel (OutcomeClosed; retry_flag Y is unknown).
//     CloseOrder is trade.close; a trade Alipay never created (an unscanned
//     precreate QR) needs no closing.
//   - Refunds are synchronous at Alipay: 10000 is success. Alipay has no
//     refund number; ChannelRefundNo is the trade_no. A refund query for an
//     unknown out_request_no answers 10000 with no refund fields: not_found.
//   - Notifications: form-encoded, RSA2 over the sorted parameters without
//     sign and sign_type; app_id must be ours. notify_id is the
//     deduplication key. A notification with out_biz_no/refund_fee/
//     gmt_refund is a refund's (refund_fee is cumulative, so the amount is
//     left 0). The reply is exactly "success" (200 text/plain); anything
//     else makes Alipay retry for about 25 hours.
//   - Bills: alipay.data.dataservice.bill.downloadurl.query (bill_type
//     trade) then a GET of the URL. ParseBill reads the GBK csv.zip: the
//     business detail file (header 支付宝交易号...), '#' lines skipped,
//     trailing tabs trimmed. Fee in BillRow is the 服务费 column negated:
//     positive when charged, negative when a refund returns it.
package alipay
