package paygate

import (
	"context"
	"encoding/json"
	"time"
)

// Event types. Each order or refund state change produces exactly one.
const (
	EventOrderSucceeded         = "order.succeeded"
	EventOrderFailed            = "order.failed"
	EventOrderClosed            = "order.closed"
	EventOrderReversed          = "order.reversed"
	EventOrderAuthorized        = "order.authorized"
	EventOrderPartiallyRefunded = "order.partially_refunded"
	EventOrderRefunded          = "order.refunded"
	EventRefundSucceeded        = "refund.succeeded"
	EventRefundFailed           = "refund.failed"
)

// OrderEventType returns the event type for an order entering status s.
func OrderEventType(s OrderStatus) string {
	return "order." + string(s)
}

// Event is a merchant webhook event, written to the outbox in the same
// transaction as the state change it reports.
type Event struct {
	ID         string
	MerchantID string
	Type       string
	OrderID    string
	RefundID   string
	NotifyURL  string // the order's notify_url, overriding the merchant's default
	CreatedAt  time.Time
	// Data is {"object": <the order or refund as it was after the change>}.
	Data json.RawMessage
}

// EventFilter selects a merchant's events.
type EventFilter struct {
	MerchantID string
	OrderID    string
	Type       string
	Cursor     string
	Limit      int
}

// EventStore reads the outbox.
type EventStore interface {
	// Event returns one of merchantID's events by id.
	// Returns ENOTFOUND if it does not exist or belongs to another merchant.
	Event(ctx context.Context, merchantID, id string) (*Event, error)

	// Events lists events newest first with the next page's cursor.
	Events(ctx context.Context, f EventFilter) ([]*Event, string, error)
}
