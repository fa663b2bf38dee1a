package paygate

import (
	"context"
	"time"
)

// Delivery states of an event in the outbox.
const (
	DeliveryPending   = "pending"   // not delivered yet; retried on the schedule
	DeliveryDelivered = "delivered" // a 2xx answer was received
	DeliveryFailed    = "failed"    // the schedule ran out; only a redelivery sends it again
)

// DeliveryAttempt is one POST of an event to the merchant.
type DeliveryAttempt struct {
	Attempt    int
	At         time.Time
	StatusCode int // 0 when no HTTP answer came
	LatencyMS  int64
	Error      string
	// ResponseExcerpt is the start of the answer's body (at most 1 KiB).
	ResponseExcerpt string
}

// EventDelivery is an event's delivery state and its attempts, oldest first.
type EventDelivery struct {
	Status        string
	Attempts      int
	NextAttemptAt time.Time
	DeliveredAt   *time.Time
	Log           []DeliveryAttempt
}

// ClaimedEvent is an event leased to one dispatcher until LeaseUntil.
type ClaimedEvent struct {
	Event      *Event
	Attempts   int // attempts made before this claim
	LeaseUntil time.Time
}

// DeliveryOutcome is what a dispatcher records after handling a claim.
type DeliveryOutcome struct {
	// Attempt is the POST made; nil when none was (no URL to send to),
	// which postpones the event to Next without counting an attempt.
	Attempt   *DeliveryAttempt
	Delivered bool
	// Next is when to try again; zero (and not delivered) marks the event
	// failed.
	Next time.Time
}

// EventClaimFilter narrows which due events a dispatcher claims.
type EventClaimFilter struct {
	// Deliverable, when non-nil, restricts claims to events that carry
	// their order's notify_url or belong to one of these merchants (those
	// with a webhook URL and secret): events nobody can receive yet stay
	// pending, untouched, instead of being claimed and put back.
	Deliverable []string
	// SkipMerchants and SkipURLs leave out events bound for destinations
	// the dispatcher has enough work for: events without a notify_url of
	// SkipMerchants, and events whose notify_url is one of SkipURLs.
	SkipMerchants []string
	SkipURLs      []string
}

// Backlog is the work waiting in the background queues, for monitoring.
type Backlog struct {
	// PendingEvents are events not delivered yet (due or waiting for a
	// retry); DueEvents those whose next attempt is due now.
	PendingEvents, DueEvents int64
	// OldestPendingEvent is when the oldest pending event was created
	// (zero when there is none).
	OldestPendingEvent time.Time
	// PendingOrders are orders whose outcome is not known yet.
	PendingOrders int64
}

// Outbox is the delivery side of the event store, shared by every replica.
type Outbox interface {
	// ClaimEvents leases up to limit pending events that are due and pass
	// f, so that no other dispatcher takes them until the lease ends. A
	// claim whose holder dies comes back when the lease ends.
	ClaimEvents(ctx context.Context, limit int, lease time.Duration, f EventClaimFilter) ([]*ClaimedEvent, error)

	// RecordDelivery logs o.Attempt and moves the event on, if c is still
	// the event's current claim. It reports whether it was.
	RecordDelivery(ctx context.Context, c *ClaimedEvent, o DeliveryOutcome) (bool, error)

	// RenewClaim extends c to until, if c is still the event's current
	// claim (nobody claimed it since), and reports whether it was. On
	// success c.LeaseUntil is until.
	RenewClaim(ctx context.Context, c *ClaimedEvent, until time.Time) (bool, error)

	// EventDelivery returns the delivery state of one of merchantID's
	// events. Returns ENOTFOUND if the event does not exist or belongs to
	// another merchant.
	EventDelivery(ctx context.Context, merchantID, id string) (*EventDelivery, error)

	// Redeliver makes an event due now again, whatever its state.
	// Returns ENOTFOUND if it does not exist for merchantID.
	Redeliver(ctx context.Context, merchantID, id string) (*Event, error)
}

// PendingClaimer leases orders and refunds whose outcome is still unknown
// to one resolver at a time, so that replicas never query one twice at once.
type PendingClaimer interface {
	// ClaimPendingOrders leases up to limit pending orders created before
	// `before` and not leased now, oldest first.
	ClaimPendingOrders(ctx context.Context, before time.Time, lease time.Duration, limit int) ([]*Order, error)
	// ClaimPendingRefunds does the same for pending refunds.
	ClaimPendingRefunds(ctx context.Context, before time.Time, lease time.Duration, limit int) ([]*Refund, error)
}
