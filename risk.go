package paygate

import "time"

// Risk actions.
const (
	RiskDecline      = "decline"       // refuse the payment: ERISKDECLINED
	RiskStandardRate = "standard_rate" // take it, but without the reduced (0.38%) rate
	RiskFlag         = "flag"          // take it and record the finding
)

// RiskRules are a merchant's risk controls (docs/routing.md). Zero values disable
// a rule; routing applies DefaultRiskRules where a merchant sets none.
type RiskRules struct {
	// SplitPayment detects one card or payer splitting a payment (拆单).
	SplitPayment *SplitPaymentRule
	// Per-payment, per-card/payer-per-day and per-terminal-per-day limits, fen.
	PerPayment       *Limit
	PerPayerDaily    *Limit
	PerTerminalDaily *Limit
	// StaticQRPayerDaily limits what one payer pays through the static
	// (aggregated) QR in a day: 50000 fen by PBOC 银发〔2017〕296号.
	StaticQRPayerDaily *Limit
	// RegionPolicy is what happens when a terminal reports a region other
	// than its registered one: "decline" or "flag".
	RegionPolicy string
}

// Limit is a ceiling in fen with the action taken above it.
type Limit struct {
	Max    int64
	Action string
}

// SplitPaymentRule: payments by one card or payer at one merchant within
// Window that are near-identical (within Tolerance fen of each other) or
// whose sum crosses Threshold while each stays at or under it.
type SplitPaymentRule struct {
	Window    time.Duration
	Tolerance int64
	Threshold int64  // default 100000 (1000.00 CNY)
	MinCount  int    // payments in the window before it triggers
	Action    string // standard_rate or decline
}
