package apijson

import (
	"encoding/json"
	"time"

	"github.com/paygate-cn/paygate"
)

// The objects below are encoded by encoding/json from a mirror of the
// domain type that carries the API's field names. A mirror has the domain
// type's fields in the same order with the same types, so a pointer to the
// domain value converts to a pointer to its mirror for free, and a field
// added to the domain type without its API name breaks the build here
// instead of appearing under a Go name in the API.

// Order is an order in the API's form for encoding/json (list elements);
// a single order is answered with AppendOrder.
type Order struct{ *paygate.Order }

// MarshalJSON encodes the API's order object.
func (o Order) MarshalJSON() ([]byte, error) {
	return AppendOrder(make([]byte, 0, 2048), o.Order)
}

// Refund is a refund in the API's form.
type Refund struct{ *paygate.Refund }

type refund struct {
	ID               string               `json:"id"`
	MerchantID       string               `json:"merchant_id"`
	OrderID          string               `json:"order_id"`
	MerchantRefundNo string               `json:"merchant_refund_no"`
	Status           paygate.RefundStatus `json:"status"`
	Amount           int64                `json:"amount"`
	Currency         string               `json:"currency"`
	Reason           string               `json:"reason"`
	Provider         string               `json:"provider"`
	ChannelRefundNo  string               `json:"channel_refund_no"`
	Failure          *paygate.Failure     `json:"failure"`
	CreatedAt        time.Time            `json:"created_at"`
	UpdatedAt        time.Time            `json:"updated_at"`
	SucceededAt      *time.Time           `json:"succeeded_at"`
}

// MarshalJSON encodes the API's refund object, with "object": "refund".
func (r Refund) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Object string `json:"object"`
		*refund
	}{"refund", (*refund)(r.Refund)})
}

// Event is a webhook event in the API's form: what a webhook carries and
// the events endpoints list.
type Event struct{ *paygate.Event }

type event struct {
	ID         string          `json:"id"`
	MerchantID string          `json:"-"`
	Type       string          `json:"type"`
	OrderID    string          `json:"-"`
	RefundID   string          `json:"-"`
	NotifyURL  string          `json:"-"`
	CreatedAt  time.Time       `json:"created_at"`
	Data       json.RawMessage `json:"data"`
}

// MarshalJSON encodes the API's event object, with "object": "event".
func (e Event) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Object string `json:"object"`
		*event
	}{"event", (*event)(e.Event)})
}

// EventDelivery is GET /v1/events/{id}: the event as webhooks carry it,
// plus its delivery status and attempts.
type EventDelivery struct {
	Event    *paygate.Event
	Status   string
	Attempts []paygate.DeliveryAttempt
}

type deliveryAttempt struct {
	Attempt         int       `json:"attempt"`
	At              time.Time `json:"at"`
	StatusCode      int       `json:"status_code"` // 0 when no HTTP answer came
	LatencyMS       int64     `json:"latency_ms"`
	Error           string    `json:"error,omitempty"`
	ResponseExcerpt string    `json:"response_excerpt,omitempty"`
}

// MarshalJSON encodes the event object with delivery_status and attempts.
func (d EventDelivery) MarshalJSON() ([]byte, error) {
	var attempts []deliveryAttempt
	if d.Attempts != nil {
		attempts = make([]deliveryAttempt, len(d.Attempts))
		for i := range d.Attempts {
			attempts[i] = deliveryAttempt(d.Attempts[i])
		}
	}
	return json.Marshal(struct {
		Object string `json:"object"`
		*event
		DeliveryStatus string            `json:"delivery_status"`
		Attempts       []deliveryAttempt `json:"attempts"`
	}{"event", (*event)(d.Event), d.Status, attempts})
}

// QRCode is a static cashier code in the API's form (the qr_code object).
type QRCode struct{ *paygate.QRCode }

type qrCode struct {
	ID            string     `json:"id"`
	MerchantID    string     `json:"merchant_id"`
	Code          string     `json:"-"`
	TerminalID    string     `json:"terminal_id"`
	StoreName     string     `json:"store_name"`
	Amount        *int64     `json:"amount"`
	Description   string     `json:"description"`
	Active        bool       `json:"active"`
	URL           string     `json:"url"`
	PNGURL        string     `json:"png_url"`
	CreatedAt     time.Time  `json:"created_at"`
	DeactivatedAt *time.Time `json:"deactivated_at"`
}

// MarshalJSON encodes the API's qr_code object, with "object": "qr_code".
func (q QRCode) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Object string `json:"object"`
		*qrCode
	}{"qr_code", (*qrCode)(q.QRCode)})
}

// Terminal is a POS terminal in the API's form (the terminal object).
type Terminal struct{ *paygate.Terminal }

type terminal struct {
	ID                     string     `json:"id"`
	MerchantID             string     `json:"merchant_id"`
	TerminalID             string     `json:"terminal_id"`
	SerialNo               string     `json:"serial_no"`
	Model                  string     `json:"model"`
	RegionCode             string     `json:"region_code"`
	Status                 string     `json:"status"`
	KeyID                  string     `json:"key_id,omitempty"`
	CreatedAt              time.Time  `json:"created_at"`
	ActivatedAt            *time.Time `json:"activated_at"`
	DeactivatedAt          *time.Time `json:"deactivated_at"`
	ActivationCode         string     `json:"activation_code,omitempty"`
	ActivationExpiresAt    *time.Time `json:"activation_expires_at,omitempty"`
	ActivationCodeWithheld bool       `json:"activation_code_withheld,omitempty"`
}

// MarshalJSON encodes the API's terminal object, with "object": "terminal".
func (t Terminal) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Object string `json:"object"`
		*terminal
	}{"terminal", (*terminal)(t.Terminal)})
}
