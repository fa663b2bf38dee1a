package paygate

import (
	"context"
	"encoding/json"
	"time"
)

// OrderStatus is the state of an order: the API's status values
// (openapi.json); CanTransition holds the allowed moves.
type OrderStatus string

const (
	OrderPending           OrderStatus = "pending"
	OrderAuthorized        OrderStatus = "authorized" // card pre-auth held, awaiting capture
	OrderSucceeded         OrderStatus = "succeeded"
	OrderFailed            OrderStatus = "failed"
	OrderClosed            OrderStatus = "closed"   // expired or closed unpaid
	OrderReversed          OrderStatus = "reversed" // cancelled / voided (撤销/冲正)
	OrderPartiallyRefunded OrderStatus = "partially_refunded"
	OrderRefunded          OrderStatus = "refunded"
)

// Valid reports whether s is a known status.
func (s OrderStatus) Valid() bool {
	_, ok := orderTransitions[s]
	return ok
}

// Final reports whether no payment outcome can change s any more
// (refunds still can move a paid order).
func (s OrderStatus) Final() bool {
	return s != OrderPending && s != OrderAuthorized
}

// Paid reports whether money was taken for an order in status s.
func (s OrderStatus) Paid() bool {
	return s == OrderSucceeded || s == OrderPartiallyRefunded || s == OrderRefunded
}

// orderTransitions lists, for each status, the statuses it may move to.
//
// A channel success is the truth about money: it moves a closed or failed
// order to succeeded (a late success is recorded, never dropped). A reversed
// order stays reversed: the reversal returned the money.
var orderTransitions = map[OrderStatus][]OrderStatus{
	OrderPending:           {OrderSucceeded, OrderFailed, OrderClosed, OrderReversed, OrderAuthorized},
	OrderAuthorized:        {OrderSucceeded, OrderReversed, OrderClosed},
	OrderSucceeded:         {OrderPartiallyRefunded, OrderRefunded, OrderReversed},
	OrderPartiallyRefunded: {OrderPartiallyRefunded, OrderRefunded},
	OrderFailed:            {OrderSucceeded},
	OrderClosed:            {OrderSucceeded},
	OrderReversed:          {},
	OrderRefunded:          {},
}

// CanTransition reports whether an order may move from one status to another.
func CanTransition(from, to OrderStatus) bool {
	for _, s := range orderTransitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// SourcesOf returns every status from which an order may move to `to`;
// stores use it as the expected-state set of a compare-and-set.
func SourcesOf(to OrderStatus) []OrderStatus {
	var from []OrderStatus
	for _, s := range []OrderStatus{OrderPending, OrderAuthorized, OrderSucceeded,
		OrderPartiallyRefunded, OrderFailed, OrderClosed, OrderReversed, OrderRefunded} {
		if CanTransition(s, to) {
			from = append(from, s)
		}
	}
	return from
}

// Method is how the customer pays.
type Method string

const (
	MethodAuthCode Method = "auth_code" // B-scan-C: the POS scanned the customer's payment code
	MethodQR       Method = "qr"        // C-scan-B: the customer scans a dynamic QR
	MethodCard     Method = "card"      // card present: tap, chip or swipe
	MethodJSAPI    Method = "jsapi"     // in-wallet web page (WeChat JSAPI, Alipay JSAPI)
	MethodH5       Method = "h5"        // mobile browser page
	MethodApp      Method = "app"       // merchant app
	MethodWeb      Method = "web"       // desktop web page
)

// Valid reports whether m is a known method.
func (m Method) Valid() bool {
	switch m {
	case MethodAuthCode, MethodQR, MethodCard, MethodJSAPI, MethodH5, MethodApp, MethodWeb:
		return true
	}
	return false
}

// Capture modes for card orders.
const (
	CaptureAutomatic = "automatic"
	CaptureManual    = "manual"
)

// Order is one payment attempt of a merchant. The API's order object is
// written by internal/apijson.
type Order struct {
	ID              string
	MerchantID      string
	MerchantOrderNo string
	Status          OrderStatus
	Amount          int64
	Currency        string
	Subject         string
	Method          Method
	Channel         string // channel kind: wechat, alipay, unionpay, ecny, acquirer
	Provider        string // configured provider id
	ChannelTradeNo  string
	Fee             int64
	NetAmount       int64
	Route           *Route
	QRCode          *string
	// QRPNGURL serves QRCode as a PNG while the order can be paid; it is
	// made by the gateway (an unguessable URL), not stored.
	QRPNGURL         *string
	Credential       json.RawMessage
	Card             *CardInfo
	TerminalID       string
	Location         *Location
	Capture          string
	AuthorizedAmount int64
	RefundedAmount   int64
	Failure          *Failure
	NotifyURL        string
	PayerID          string
	// Source is SourceStaticQR for a payment through a static QR code
	// (QRCodeID names it); empty for orders created through the API.
	Source    string
	QRCodeID  string
	CreatedAt time.Time
	UpdatedAt time.Time
	PaidAt    *time.Time
	ExpiresAt time.Time
	Metadata  map[string]string

	// RefundReserved is the sum of pending and succeeded refunds; a new
	// refund is accepted only while RefundReserved+amount <= Amount.
	RefundReserved int64
	// AuthCodeMasked keeps the scanned payment code masked (first 4, last 4)
	// for support; the full code is single-use and never stored.
	AuthCodeMasked string
	// ChannelRef is the channel's own reference for the payment, allocated
	// and stored before the request is sent (see ReferenceAllocator).
	ChannelRef string
	// ReversingUntil is set while a reversal (cancel, void) is in flight:
	// the time its claim lapses. Refunds are refused while it is set, and
	// a reversal is started only while RefundReserved is 0 (README,
	// "Refunds and reversals").
	ReversingUntil *time.Time
}

// Failure explains why an order or refund failed.
type Failure struct {
	Code    string `json:"code"`    // paygate's code, e.g. "insufficient_balance", "declined"
	Message string `json:"message"` // human-readable, from the channel where it gave one
	// ChannelCode is the channel's own code (WeChat err_code, ISO 8583 field 39, ...).
	ChannelCode string `json:"channel_code,omitempty"`
}

// Location is where the POS reports the payment was taken.
type Location struct {
	RegionCode string `json:"region_code"` // GB/T 2260 administrative division code, 6 digits
}

// OrderUpdate is a compare-and-set on an order: it applies only if the order
// is currently in one of From. Nil fields are left unchanged.
type OrderUpdate struct {
	OrderID string
	From    []OrderStatus // expected current statuses; empty means SourcesOf(To)
	To      OrderStatus

	ChannelTradeNo *string
	PaidAt         *time.Time
	Failure        *Failure
	QRCode         *string
	Credential     json.RawMessage
	PayerID        *string
	Amount         *int64 // capture of a pre-authorisation for less than authorised
	// AuthorizedAmount is set when a pre-authorisation succeeds.
	AuthorizedAmount *int64
	Fee              *int64
	NetAmount        *int64
	// Route re-assigns the order to another provider before anything was
	// sent to the first (fallback): provider, channel, route, fee and net
	// amount all follow it.
	Route *Route
	// ChannelRef replaces the channel's reference (a fallback provider
	// allocates its own before anything is sent to it).
	ChannelRef *string

	// Event, when set, is written to the outbox in the same transaction as
	// the update, and only if the update applied.
	Event *Event

	// Expect, when set, is the caller's fresh read of the order. A store
	// may then apply the update and write the event in one statement,
	// conditioned on the order still being exactly that read; otherwise it
	// applies the update as usual. The outcome is the same either way.
	Expect *Order
}

// OrderFilter selects orders of one merchant for listing.
type OrderFilter struct {
	MerchantID      string
	TerminalID      string // set for terminal keys: only that terminal's orders
	MerchantOrderNo string
	Status          OrderStatus
	CreatedFrom     *time.Time
	CreatedTo       *time.Time
	Cursor          string // opaque, from a previous page's next cursor
	Limit           int    // 1..100
}

// OrderStore persists orders. Every method is scoped by merchant where it
// reads, so one merchant can never see another's orders.
type OrderStore interface {
	// CreateOrder inserts a new order.
	// Returns EDUPORDERNO if the merchant already used o.MerchantOrderNo.
	CreateOrder(ctx context.Context, o *Order) error

	// MerchantOrder returns one of merchantID's orders by id: the read an
	// API request makes for its merchant.
	// Returns ENOTFOUND if it does not exist or belongs to another merchant.
	MerchantOrder(ctx context.Context, merchantID, id string) (*Order, error)

	// OrderByID returns an order by id, whichever merchant's it is: the
	// read of callbacks, background jobs and reconciliation, which act for
	// paygate itself. Returns ENOTFOUND if it does not exist.
	OrderByID(ctx context.Context, id string) (*Order, error)

	// OrderByMerchantNo returns the order with the merchant's own number.
	// Returns ENOTFOUND if there is none.
	OrderByMerchantNo(ctx context.Context, merchantID, merchantOrderNo string) (*Order, error)

	// Orders lists orders newest first and returns the cursor of the next
	// page ("" when there is none). Returns EPARAMINVALID for a bad cursor.
	Orders(ctx context.Context, f OrderFilter) ([]*Order, string, error)

	// UpdateOrder applies u as a compare-and-set and returns the order as it
	// is afterwards and whether the update applied. When the order is not in
	// one of u.From it returns the current order and applied=false, nil error.
	// Returns ENOTFOUND if the order does not exist.
	UpdateOrder(ctx context.Context, u OrderUpdate) (o *Order, applied bool, err error)

	// PendingOrders returns up to limit orders in status pending or
	// authorized created before `before`, oldest first, for background
	// resolution.
	PendingOrders(ctx context.Context, before time.Time, limit int) ([]*Order, error)

	// BeginReversal claims the order for a reversal until `until`, as a
	// compare-and-set: only while the order is pending, authorized or
	// succeeded, nothing is reserved for refunds, and no other reversal's
	// claim is current. It returns the order (afterwards, or as it is when
	// the claim was refused) and whether the claim was made. While claimed,
	// no refund can be reserved; an update to OrderReversed requires that
	// nothing is reserved for refunds and ends the claim.
	BeginReversal(ctx context.Context, orderID string, until time.Time) (o *Order, claimed bool, err error)

	// EndReversal releases the claim made with `until` when the reversal
	// definitively did not happen (the channel refused it, or the payment
	// stands). A claim made since by another reversal is left alone.
	EndReversal(ctx context.Context, orderID string, until time.Time) error
}
