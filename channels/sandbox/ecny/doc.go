// Package ecny simulates an operating bank's e-CNY merchant gateway as
// specified in docs/channels/ecny.md: it verifies the merchant's SM2 request
// signatures (rejecting bad ones with 1001), signs every response and
// notification with the bank's SM2 key, keeps trades and refunds in memory,
// delivers notifications through a sandbox.Notifier and writes the day's
// pipe-separated bill file.
//
// The sandbox scenarios (README, docs/channels/ecny.md) are chosen by the last four digits of the payment
// code (sandbox.ScenarioOf). POST /scan stands in for a payer scanning a
// dynamic QR code; it is a control endpoint and is not signed.
package ecny
