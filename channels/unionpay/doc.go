// Package unionpay is paygate's client for the UnionPay online platform
// (全渠道, acp 5.1.0 style), written without a UnionPay SDK.
//
// Requests are form-encoded key=value pairs posted over HTTPS to paths under
// the provider's base URL (backTransReq.do, queryTrans.do,
// fileTransRequest.do). Every request carries version 5.1.0, encoding UTF-8,
// signMethod 01 and the certId of the merchant's signing certificate, and is
// signed by SHA256withRSA over the lower-case hex SHA-256 of the canonical
// string (all non-empty fields but signature, sorted by key, key=value joined
// by '&'); the base64 signature goes in `signature`. Synchronous answers come
// back as raw, unencoded key=value pairs (composite values in braces) and are
// verified against the platform key pinned in the credentials, whose certId
// must match unionpay_cert_id; the 5.1.0 signPubKeyCert chain is not used.
//
// Decisions:
//   - orderId is paygate's id with the underscore dropped ("ord_x" →
//     "ordx", 27 letters and digits); a consume undo uses "rev" + the same
//     24 characters, so undo notifies map back to the order.
//   - txnTime is decoded from the id's embedded creation time (Beijing
//     time), so a query repeats the original txnTime without stored state.
//   - A consume answered 00 is only accepted; Pay queries once at once and
//     otherwise reports pending. Codes 03, 04 and 06 leave the outcome
//     unknown (*paygate.ChannelError); 05 is pending; the rest are final.
//   - The card PAN travels only in accNo, RSA-encrypted under the platform
//     key (encryptCertId); it is never logged and errors show it masked.
//
// docs/channels/unionpay.md describes the fields, codes and the ZM layout.
package unionpay
