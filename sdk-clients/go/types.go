package paygate

import (
	"encoding/json"
	"time"
)

// Order is a payment (object "order"). Amounts are in fen.
type Order struct {
	Object           string            `json:"object"`
	ID               string            `json:"id"`
	MerchantID       string            `json:"merchant_id"`
	MerchantOrderNo  string            `json:"merchant_order_no"`
	Status           string            `json:"status"`
	Amount           int64             `json:"amount"`
	Currency         string            `json:"currency"`
	Subject          string            `json:"subject"`
	Method           string            `json:"method"`
	Channel          string            `json:"channel"`
	Provider         string            `json:"provider"`
	ChannelTradeNo   string            `json:"channel_trade_no"`
	Fee              int64             `json:"fee"`
	NetAmount        int64             `json:"net_amount"`
	Route            *Route            `json:"route"`
	QRCode           *string           `json:"qr_code"`
	QRPNGURL         *string           `json:"qr_png_url,omitempty"`
	Source           string            `json:"source,omitempty"`     // "static_qr" for cashier payments
	QRCodeID         string            `json:"qr_code_id,omitempty"` // the static code paid through
	Credential       json.RawMessage   `json:"credential"`
	Card             *Card             `json:"card,omitempty"`
	TerminalID       string            `json:"terminal_id,omitempty"`
	Location         *Location         `json:"location,omitempty"`
	Capture          string            `json:"capture,omitempty"`
	AuthorizedAmount int64             `json:"authorized_amount,omitempty"`
	RefundedAmount   int64             `json:"refunded_amount"`
	Failure          *Failure          `json:"failure"`
	NotifyURL        string            `json:"notify_url,omitempty"`
	PayerID          string            `json:"payer_id,omitempty"`
	CreatedAt        time.Time         `json:"created_at"`
	UpdatedAt        time.Time         `json:"updated_at"`
	PaidAt           *time.Time        `json:"paid_at"`
	ExpiresAt        *time.Time        `json:"expires_at"`
	Metadata         map[string]string `json:"metadata"`
}

// Card is the masked card of a card-present order.
type Card struct {
	EntryMode string `json:"entry_mode,omitempty"`
	Type      string `json:"type,omitempty"`
	Network   string `json:"network,omitempty"`
	BIN       string `json:"bin,omitempty"` // first 6 digits
	Last4     string `json:"last4,omitempty"`
}

// Location is where a card-present payment was taken.
type Location struct {
	RegionCode string `json:"region_code"`
}

// Failure says why an order or refund failed.
type Failure struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Route is the routing decision: the provider, its fee and every candidate.
type Route struct {
	Provider   string           `json:"provider"`
	Channel    string           `json:"channel"`
	FeeRate    string           `json:"fee_rate"` // a decimal, e.g. "0.0038"
	FeeCap     *int64           `json:"fee_cap"`
	Fee        int64            `json:"fee"`
	Rule       string           `json:"rule"`
	Candidates []RouteCandidate `json:"candidates"`
	Risk       []RiskDecision   `json:"risk,omitempty"`
}

// RouteCandidate is one provider that was considered.
type RouteCandidate struct {
	Provider string `json:"provider"`
	Channel  string `json:"channel"`
	Fee      int64  `json:"fee"`
	Rule     string `json:"rule,omitempty"`
	Eligible bool   `json:"eligible"`
	Reason   string `json:"reason"`
}

// RiskDecision is one risk rule's verdict on a payment.
type RiskDecision struct {
	Rule   string `json:"rule"`
	Action string `json:"action"`
	Reason string `json:"reason"`
}

// Quote is POST /v1/routes/quote's answer.
type Quote struct {
	Object    string `json:"object"`
	Provider  string `json:"provider"`
	Channel   string `json:"channel"`
	Fee       int64  `json:"fee"`
	NetAmount int64  `json:"net_amount"`
	Route     *Route `json:"route"`
}

// Refund is a refund of an order (object "refund").
type Refund struct {
	Object           string     `json:"object"`
	ID               string     `json:"id"`
	MerchantID       string     `json:"merchant_id"`
	OrderID          string     `json:"order_id"`
	MerchantRefundNo string     `json:"merchant_refund_no"`
	Status           string     `json:"status"`
	Amount           int64      `json:"amount"`
	Currency         string     `json:"currency"`
	Reason           string     `json:"reason"`
	Provider         string     `json:"provider"`
	ChannelRefundNo  string     `json:"channel_refund_no"`
	Failure          *Failure   `json:"failure"`
	CreatedAt        time.Time  `json:"created_at"`
	UpdatedAt        time.Time  `json:"updated_at"`
	SucceededAt      *time.Time `json:"succeeded_at"`
}

// Event is a webhook event (object "event"). Data.Object is the order or
// refund as it was when the event was written; decode it with Order() or
// Refund().
type Event struct {
	Object         string            `json:"object"`
	ID             string            `json:"id"`
	Type           string            `json:"type"`
	CreatedAt      time.Time         `json:"created_at"`
	Data           EventData         `json:"data"`
	DeliveryStatus string            `json:"delivery_status,omitempty"`
	Attempts       []DeliveryAttempt `json:"attempts,omitempty"`
}

// EventData carries the event's object.
type EventData struct {
	Object json.RawMessage `json:"object"`
}

// Order decodes the event's object as an order (order.* events).
func (e *Event) Order() (*Order, error) {
	var o Order
	if err := json.Unmarshal(e.Data.Object, &o); err != nil {
		return nil, err
	}
	return &o, nil
}

// Refund decodes the event's object as a refund (refund.* events).
func (e *Event) Refund() (*Refund, error) {
	var r Refund
	if err := json.Unmarshal(e.Data.Object, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// DeliveryAttempt is one try to deliver an event.
type DeliveryAttempt struct {
	Attempt         int       `json:"attempt"`
	At              time.Time `json:"at"`
	StatusCode      int       `json:"status_code"` // 0 when no HTTP answer came
	LatencyMS       int64     `json:"latency_ms"`
	Error           string    `json:"error,omitempty"`
	ResponseExcerpt string    `json:"response_excerpt,omitempty"`
}

// Terminal is a registered POS terminal (object "terminal").
type Terminal struct {
	Object              string     `json:"object"`
	ID                  string     `json:"id"`
	MerchantID          string     `json:"merchant_id"`
	TerminalID          string     `json:"terminal_id"`
	SerialNo            string     `json:"serial_no"`
	Model               string     `json:"model"`
	RegionCode          string     `json:"region_code"`
	Status              string     `json:"status"`
	KeyID               string     `json:"key_id,omitempty"`
	CreatedAt           time.Time  `json:"created_at"`
	ActivatedAt         *time.Time `json:"activated_at"`
	DeactivatedAt       *time.Time `json:"deactivated_at"`
	ActivationCode      string     `json:"activation_code,omitempty"`
	ActivationExpiresAt *time.Time `json:"activation_expires_at,omitempty"`
}

// ActivatedTerminal is what activation answers: the terminal with its own
// API key (KeyID, KeySecret). The secret is shown once: keep it on the
// terminal.
type ActivatedTerminal struct {
	Terminal
	KeySecret string `json:"key_secret"`
}

// QRCode is a printed static cashier code (object "qr_code").
type QRCode struct {
	Object        string     `json:"object"`
	ID            string     `json:"id"`
	MerchantID    string     `json:"merchant_id"`
	URL           string     `json:"url"`
	PNGURL        string     `json:"png_url"`
	StoreName     string     `json:"store_name"`
	TerminalID    string     `json:"terminal_id"`
	Amount        *int64     `json:"amount"` // fixed amount in fen; nil: the payer enters it
	Description   string     `json:"description"`
	Active        bool       `json:"active"`
	CreatedAt     time.Time  `json:"created_at"`
	DeactivatedAt *time.Time `json:"deactivated_at"`
}

// Reconciliation is one run of a provider's day (object "reconciliation").
type Reconciliation struct {
	Object     string           `json:"object"`
	ID         string           `json:"id"`
	Provider   string           `json:"provider"`
	Date       string           `json:"date"`
	Status     string           `json:"status"`
	Failure    *Failure         `json:"failure"`
	Paygate    ReconcileSide    `json:"paygate"`
	Channel    ReconcileSide    `json:"channel"`
	Outcomes   map[string]int64 `json:"outcomes"`
	BillSHA1   string           `json:"bill_sha1"`
	StartedAt  *time.Time       `json:"started_at"`
	FinishedAt *time.Time       `json:"finished_at"`
}

// ReconcileSide is one side's count and sum (fen).
type ReconcileSide struct {
	Count  int64 `json:"count"`
	Amount int64 `json:"amount"`
}

// Discrepancy is a bill line and a paygate record that did not match.
type Discrepancy struct {
	Object     string          `json:"object"`
	ID         string          `json:"id"`
	Outcome    string          `json:"outcome"`
	OrderID    string          `json:"order_id"`
	RefundID   string          `json:"refund_id"`
	Paygate    json.RawMessage `json:"paygate"`
	Channel    json.RawMessage `json:"channel"`
	Resolution string          `json:"resolution"`
	Note       string          `json:"note"`
}
