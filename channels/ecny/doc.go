// Package ecny is paygate's client for an operating bank's e-CNY (数字人民币)
// merchant acquiring API: payment code and hard-wallet tap (B-scan-C), dynamic
// QR (C-scan-B), query, cancel, close, refund and refund query, signed
// notifications and the daily bill file.
//
// Each operating bank publishes its own API; paygate speaks one defined in
// the banks' style, specified in docs/channels/ecny.md. In short:
//
//   - JSON over HTTPS POST, every message an envelope {"head": {...}, "body": {...}};
//     head carries version, merchant_no, request_id (or notify_id), timestamp,
//     sign_type "SM2" and, in responses, the result code.
//   - Every request, response and notification is signed with SM2 over the
//     SM3 digest of Z_A||M (user id "1234567812345678"), where
//     M = LABEL "\n" PATH "\n" BODY, LABEL is REQUEST, RESPONSE or NOTIFY and
//     BODY the exact HTTP body bytes; the DER signature travels base64 in the
//     X-ECNY-Signature header.
//   - Hard wallets are read over NFC into a one-time tap code starting "019";
//     they use the micropay operation with wallet_type HARD, so an e-CNY order
//     is always method auth_code.
//   - Result codes: 0000 processed (state in trade_status), 1xxx envelope
//     errors and 9999 are unknown outcomes, 2001-2003 final declines, 2004 not
//     found.
//   - The bill is a pipe-separated UTF-8 text with a header line, a column
//     line, one line per money movement and a TOTAL line (see ParseBill).
package ecny
