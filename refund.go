package paygate

import (
	"context"
	"time"
)

// RefundStatus is the state of a refund.
type RefundStatus string

const (
	RefundPending   RefundStatus = "pending"
	RefundSucceeded RefundStatus = "succeeded"
	RefundFailed    RefundStatus = "failed"
)

// Refund returns part or all of a paid order's amount to the payer.
type Refund struct {
	ID               string
	MerchantID       string
	OrderID          string
	MerchantRefundNo string
	Status           RefundStatus
	Amount           int64
	Currency         string
	Reason           string
	Provider         string
	ChannelRefundNo  string
	Failure          *Failure
	CreatedAt        time.Time
	UpdatedAt        time.Time
	SucceededAt      *time.Time
}

// RefundUpdate is a compare-and-set moving a pending refund to a final
// status. On success the order's refunded amount and status follow in the
// same transaction; on failure the amount reserved on the order is released.
type RefundUpdate struct {
	RefundID        string
	To              RefundStatus // RefundSucceeded or RefundFailed
	ChannelRefundNo *string
	Failure         *Failure
	At              time.Time
	// Events are written to the outbox only if the update applied. The store
	// fills Data for events whose Data is nil: the refund, or (type order.*)
	// the order as it is after the update; an order.* event is retyped to
	// the order's status after the update (partially_refunded or refunded).
	Events []*Event
}

// RefundStore persists refunds.
type RefundStore interface {
	// CreateRefund inserts a pending refund and reserves its amount on the
	// order, atomically: concurrent refunds can never reserve more than the
	// order's amount.
	// Returns ENOTFOUND if the order does not exist for r.MerchantID,
	// EINVALIDSTATE if the order is not paid, EREFUNDEXCEEDS if the amount
	// would exceed what remains, EDUPREFUNDNO if r.MerchantRefundNo was used.
	CreateRefund(ctx context.Context, r *Refund) error

	// MerchantRefund returns one of merchantID's refunds by id.
	// Returns ENOTFOUND if it does not exist or belongs to another merchant.
	MerchantRefund(ctx context.Context, merchantID, id string) (*Refund, error)

	// RefundByID returns a refund by id, whichever merchant's it is (for
	// callbacks, background jobs and reconciliation).
	// Returns ENOTFOUND if it does not exist.
	RefundByID(ctx context.Context, id string) (*Refund, error)

	// RefundsOfOrder returns an order's refunds, oldest first.
	RefundsOfOrder(ctx context.Context, orderID string) ([]*Refund, error)

	// UpdateRefund applies u if the refund is still pending and returns the
	// refund afterwards and whether the update applied.
	// Returns ENOTFOUND if the refund does not exist.
	UpdateRefund(ctx context.Context, u RefundUpdate) (r *Refund, applied bool, err error)

	// PendingRefunds returns up to limit pending refunds created before
	// `before`, oldest first.
	PendingRefunds(ctx context.Context, before time.Time, limit int) ([]*Refund, error)
}
