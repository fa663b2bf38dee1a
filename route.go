package paygate

import (
	"context"

	"github.com/shopspring/decimal"
)

// Route is the routing decision recorded on every order and returned by
// quotes: the chosen provider and every candidate with its fee and reason.
type Route struct {
	Provider   string           `json:"provider"`
	Channel    string           `json:"channel"`
	FeeRate    decimal.Decimal  `json:"fee_rate"`
	FeeCap     *int64           `json:"fee_cap"`
	Fee        int64            `json:"fee"`
	Rule       string           `json:"rule"`
	Candidates []RouteCandidate `json:"candidates"`
	Risk       []RiskDecision   `json:"risk,omitempty"`
}

// RouteCandidate is one provider considered for a payment.
type RouteCandidate struct {
	Provider string `json:"provider"`
	Channel  string `json:"channel"`
	Fee      int64  `json:"fee"`
	Rule     string `json:"rule,omitempty"`
	Eligible bool   `json:"eligible"`
	Reason   string `json:"reason"`
	// FeeRate and FeeCap (fen, 0 = none) are the matched rule's terms, so
	// that a caller falling back to this candidate can record them.
	FeeRate decimal.Decimal `json:"fee_rate"`
	FeeCap  int64           `json:"fee_cap,omitempty"`
}

// RiskDecision explains what a risk rule decided about a payment.
type RiskDecision struct {
	Rule   string `json:"rule"`
	Action string `json:"action"` // "decline", "standard_rate", "flag" or "pass"
	Reason string `json:"reason"`
}

// RouteRequest is what routing decides on.
type RouteRequest struct {
	Merchant   *Merchant
	Amount     int64
	Method     Method
	Channel    string    // requested or detected channel kind; "" = any
	Card       *CardInfo // card payments
	TerminalID string
	// TerminalRegion is the terminal's registered region (6-digit division
	// code); a Location outside it follows the merchant's region policy.
	TerminalRegion string
	Location       *Location
	// PayerKey identifies the payer or card for risk rules (card
	// fingerprint, payer id); "" when unknown.
	PayerKey string
	// StaticQR is set for payments through the aggregated static QR.
	StaticQR bool
}

// Router picks the provider for a payment.
type Router interface {
	// Quote decides without side effects.
	// Returns ENOROUTE if no provider may take the payment.
	Quote(ctx context.Context, req *RouteRequest) (*Route, error)

	// Route decides for a real payment, recording risk state (counters,
	// windows). Returns ENOROUTE, or ERISKDECLINED when a risk rule declines.
	Route(ctx context.Context, req *RouteRequest) (*Route, error)
}

// RiskDeclined is the error of a payment the risk rules refused. Rule
// names the rule that declined it (as in Route.Risk); it unwraps to the
// *Error the API shows (ERISKDECLINED or ELOCATIONMISMATCH), so callers
// that show their own text (the cashier page) can tell the rules apart
// without reading messages.
type RiskDeclined struct {
	Rule string
	Err  *Error
}

func (e *RiskDeclined) Error() string { return e.Err.Error() }

// Unwrap returns the API error.
func (e *RiskDeclined) Unwrap() error { return e.Err }
