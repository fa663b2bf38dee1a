// Package wechat is a paygate.Channel for WeChat Pay API v3 (direct
// merchants), built on gopay's wechat/v3 client.
//
// Protocol decisions:
//
//   - Every answer must carry a valid Wechatpay-Signature made with the
//     configured WeChat Pay public key (platform_public_key, id
//     platform_public_key_id, which starts with PUB_KEY_ID_). gopay verifies
//     200/204 answers; this package verifies the others itself, so a decline
//     or "not found" is believed only when WeChat signed it. An unverifiable
//     answer is a *paygate.ChannelError, never a decline.
//   - Payment code (B-scan-C) is one codepay call. HTTP 200 with trade_state
//     SUCCESS is a success; HTTP 202 USERPAYING (or a 200 whose trade_state is
//     USERPAYING) is pending: the caller polls Query while the customer
//     confirms, and reverses if it never does. Final refusals (NOTENOUGH,
//     AUTH_CODE_*, TRADE_ERROR, ...) are declines; SYSTEM_ERROR, BANKERROR,
//     429, 5xx, timeouts and unknown codes are unknown (ChannelError).
//   - codepay carries no notify_url in v3; WeChat notifies the URL configured
//     on the merchant platform. Native, JSAPI, H5 and App send
//     PaymentRequest.NotifyURL.
//   - Callbacks: the signature is checked over "timestamp\nnonce\nbody\n",
//     the timestamp must be within 5 minutes, the resource is decrypted with
//     AES-256-GCM under the APIv3 key. Forged or stale → EINVALIDSIG;
//     malformed, undecryptable or over 64 KiB → EINVALID. The reply is 204
//     with no body on success, and {"code":"FAIL","message":...} otherwise.
//   - Secrets (keys, the APIv3 key) never appear in errors or logs; gopay's
//     debug logging stays off.
package wechat
