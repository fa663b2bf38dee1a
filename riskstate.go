package paygate

import (
	"context"
	"time"
)

// RiskCounters keep the state of the stateful risk rules — split payments
// within a window and the per-payer, per-terminal and static QR daily
// totals — shared by every replica (docs/routing.md, "Risk rules").
type RiskCounters interface {
	// CountRisk checks one payment against every rule c enables and,
	// unless c.Dry or a declining rule is exceeded, records it, all in one
	// atomic step, so that concurrent payments cannot race past a limit.
	// The tally holds the state before this payment. Returns an error when
	// the state cannot be reached; the caller must not skip the rules.
	CountRisk(ctx context.Context, c RiskCheck) (RiskTally, error)
}

// RiskCheck is one payment as the stateful risk rules see it. A rule whose
// key is empty is off.
type RiskCheck struct {
	MerchantID string
	Amount     int64 // fen
	At         time.Time
	// Day is the calendar day of the daily totals, "20060102" (routing
	// counts China Standard Time days).
	Day string
	// Dry checks without recording (quotes).
	Dry bool

	Split              SplitCheck
	PayerDaily         DailyCheck
	TerminalDaily      DailyCheck
	StaticQRPayerDaily DailyCheck
}

// SplitCheck looks for a payer splitting a payment (拆单) among the payer's
// payments at the merchant within Window (SplitPaymentRule).
type SplitCheck struct {
	PayerKey  string // "": off
	Window    time.Duration
	Tolerance int64 // fen between near-identical amounts
	Threshold int64 // fen
	MinCount  int   // near-identical payments that make a split, this one included; 0: off
	Declines  bool  // a split declines the payment: nothing is recorded
}

// DailyCheck is a daily total of one payer or terminal against its ceiling.
type DailyCheck struct {
	Key      string // payer key or terminal id; "": off
	Max      int64  // fen
	Declines bool   // a payment above Max declines it: nothing is recorded
}

// SplitFinding is what the split payment check found.
type SplitFinding int

// Split findings.
const (
	SplitNone          SplitFinding = iota
	SplitSumCrosses                 // the window's payments at or under the threshold and this one sum above it
	SplitNearIdentical              // this is the MinCount-th payment within Tolerance of each other
)

// RiskTally is the state a payment was checked against, before it.
type RiskTally struct {
	Split       SplitFinding
	WindowCount int64 // the payer's payments in the window (at most the 64 most recent)
	WindowSum   int64 // their sum, of those at or under the threshold
	NearCount   int64 // those within Tolerance of this payment

	PayerDaily         DailyTally
	TerminalDaily      DailyTally
	StaticQRPayerDaily DailyTally
}

// DailyTally is a daily total before a payment, and whether the payment
// takes it above the ceiling.
type DailyTally struct {
	Total int64
	Over  bool
}
