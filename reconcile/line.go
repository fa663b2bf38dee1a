// Package reconcile matches what paygate recorded against what each channel
// says it settled: bill sources and parsers per channel kind, matching,
// repairs, runs and discrepancies, and merchant statements.
// docs/reconciliation.md describes the formats and the outcomes.
package reconcile

import (
	"fmt"
	"time"
)

// LineKind says whether a bill line moved money to the merchant or back.
type LineKind string

const (
	LinePayment LineKind = "payment"
	LineRefund  LineKind = "refund"
)

// LineStatus is a bill line's state in paygate's terms.
type LineStatus string

const (
	// StatusSucceeded: a payment or refund the channel settled.
	StatusSucceeded LineStatus = "succeeded"
	// StatusReversed: a payment the channel reversed (WeChat REVOKED,
	// UnionPay undo, ISO 8583 void/0400); no money moved in the end.
	StatusReversed LineStatus = "reversed"
	// StatusFailed: a refund or payment the channel lists as failed.
	StatusFailed LineStatus = "failed"
)

// Line is one transaction as a channel's bill states it.
type Line struct {
	Kind   LineKind
	Status LineStatus

	// Payment identity. ChannelTradeNo is the channel's trade number
	// (微信订单号, 支付宝交易号, queryId, RRN); OrderID is paygate's order id
	// as the channel knows it (out_trade_no, 商户订单号, orderId).
	ChannelTradeNo string
	OrderID        string

	// Refund identity (refund lines only): the channel's refund number and
	// paygate's refund id as the channel knows it (out_refund_no,
	// 退款批次号/请求号, the refund's orderId). Refunds are keyed by these,
	// never by the payment's numbers.
	ChannelRefundNo string
	RefundID        string

	// Amount in fen, always positive: paid, or returned for a refund.
	Amount int64
	// Fee in fen, always positive: charged on a payment, returned on a
	// refund (0 when the channel keeps it).
	Fee int64
	// Time is when the channel says the transaction happened.
	Time time.Time
	// Account is the channel merchant account the line belongs to (mchid,
	// pid, merId, acquirer merchant no.), for the foreign-file check.
	Account string
	// Ref is a channel-specific reference for matching when trade numbers
	// are absent (acquirer: terminal/batch/STAN/RRN).
	Ref string
	// Adjustment marks a line of a channel's error file (UnionPay ZME:
	// 差错 such as chargebacks and adjustments) rather than its detail.
	Adjustment bool

	// Pos is where the line stands in its file.
	Pos Position
}

// Position names a place in a bill file.
type Position struct {
	File string
	Line int
}

// ParseError is a bill that cannot be read: malformed, truncated, failing
// its hash, or another merchant account's. It names file, line and column
// (1-based; 0 when not applicable).
type ParseError struct {
	File   string
	Line   int
	Column int
	Msg    string
	// Err is the cause when there is one to test with errors.Is
	// (ErrBillDigest for a hash mismatch, ErrForeignBill).
	Err error
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
}

func (e *ParseError) Unwrap() error { return e.Err }

// BillReader reads one channel bill line by line, never holding the whole
// file as text. Next returns io.EOF after the last line of a complete bill
// (trailers and summaries checked), or a *ParseError.
type BillReader interface {
	Next() (Line, error)
}
