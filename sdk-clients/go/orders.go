package paygate

import (
	"context"
	"iter"
	"net/url"
	"time"
)

// OrderParams are the fields of POST /v1/orders. Which ones a payment needs
// depends on Method: auth_code needs AuthCode, qr and the e-commerce
// methods need Channel, jsapi needs PayerID, h5 needs ClientIP, card needs
// TerminalID and Card.
type OrderParams struct {
	MerchantOrderNo string            `json:"merchant_order_no,omitempty"`
	Amount          int64             `json:"amount,omitempty"`
	Currency        string            `json:"currency,omitempty"`
	Subject         string            `json:"subject,omitempty"`
	Method          string            `json:"method,omitempty"`
	AuthCode        string            `json:"auth_code,omitempty"`
	Channel         string            `json:"channel,omitempty"`
	Card            *CardParams       `json:"card,omitempty"`
	TerminalID      string            `json:"terminal_id,omitempty"`
	Location        *Location         `json:"location,omitempty"`
	Capture         string            `json:"capture,omitempty"`
	ExpiresIn       int               `json:"expires_in,omitempty"`
	WaitSeconds     *int              `json:"wait_seconds,omitempty"`
	NotifyURL       string            `json:"notify_url,omitempty"`
	Metadata        map[string]string `json:"metadata,omitempty"`
	PayerID         string            `json:"payer_id,omitempty"`
	ClientIP        string            `json:"client_ip,omitempty"`
}

// CardParams is the card of a card-present order: EMV TLV in hex (EMV) or a
// token.
type CardParams struct {
	EntryMode string `json:"entry_mode,omitempty"`
	Type      string `json:"type,omitempty"`
	Network   string `json:"network,omitempty"`
	EMV       string `json:"emv,omitempty"`
	Token     string `json:"token,omitempty"`
}

// OrderListParams filter GET /v1/orders.
type OrderListParams struct {
	MerchantOrderNo string
	Status          string
	CreatedFrom     time.Time
	CreatedTo       time.Time
	// Limit is the page size (the gateway's default when 0).
	Limit int
}

func (p *OrderListParams) values() url.Values {
	if p == nil {
		return url.Values{}
	}
	return values("merchant_order_no", p.MerchantOrderNo, "status", p.Status,
		"created_from", formatTime(p.CreatedFrom), "created_to", formatTime(p.CreatedTo), "limit", itoa(p.Limit))
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339Nano)
}

// CaptureParams complete a card pre-authorisation.
type CaptureParams struct {
	Amount int64 `json:"amount,omitempty"`
}

// OrderService is /v1/orders.
type OrderService struct{ c *Client }

// Create creates an order and drives its payment. An auth_code order's
// answer waits up to WaitSeconds for the customer.
func (s *OrderService) Create(ctx context.Context, p *OrderParams, opts ...RequestOption) (*Order, error) {
	var o Order
	return &o, s.c.do(ctx, call{method: "POST", path: "/v1/orders", body: p, opts: opts}, &o)
}

// Get returns the order.
func (s *OrderService) Get(ctx context.Context, id string) (*Order, error) {
	var o Order
	return &o, s.c.do(ctx, call{method: "GET", path: "/v1/orders/" + url.PathEscape(id)}, &o)
}

// GetByMerchantOrderNo returns the order with that merchant order number.
// Returns an *Error with status 404 when there is none.
func (s *OrderService) GetByMerchantOrderNo(ctx context.Context, no string) (*Order, error) {
	l, err := page[Order](ctx, s.c, "/v1/orders", values("merchant_order_no", no))
	if err != nil {
		return nil, err
	}
	if len(l.Data) == 0 {
		return nil, &Error{Status: 404, Code: "not_found", Message: "no order with merchant_order_no " + no}
	}
	return l.Data[0], nil
}

// List iterates over the orders matching p, newest first, across pages.
func (s *OrderService) List(ctx context.Context, p *OrderListParams) iter.Seq2[*Order, error] {
	return all[Order](ctx, s.c, "/v1/orders", p.values())
}

// ListPage returns one page; set cursor from the previous page's NextCursor.
func (s *OrderService) ListPage(ctx context.Context, p *OrderListParams, cursor string) (*List[Order], error) {
	q := p.values()
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	return page[Order](ctx, s.c, "/v1/orders", q)
}

// Close closes an unpaid order.
func (s *OrderService) Close(ctx context.Context, id string, opts ...RequestOption) (*Order, error) {
	return s.action(ctx, id, "close", nil, opts)
}

// Cancel reverses an order of the same day, paid or not.
func (s *OrderService) Cancel(ctx context.Context, id string, opts ...RequestOption) (*Order, error) {
	return s.action(ctx, id, "cancel", nil, opts)
}

// Capture completes a card pre-authorisation for p.Amount (the authorised
// amount when nil or 0).
func (s *OrderService) Capture(ctx context.Context, id string, p *CaptureParams, opts ...RequestOption) (*Order, error) {
	return s.action(ctx, id, "capture", p, opts)
}

func (s *OrderService) action(ctx context.Context, id, verb string, body any, opts []RequestOption) (*Order, error) {
	if body == nil {
		body = struct{}{}
	}
	var o Order
	return &o, s.c.do(ctx, call{method: "POST", path: "/v1/orders/" + url.PathEscape(id) + "/" + verb, body: body, opts: opts}, &o)
}

// RouteService is /v1/routes.
type RouteService struct{ c *Client }

// Quote answers which provider would take the payment, at what fee, and
// why; nothing is written.
func (s *RouteService) Quote(ctx context.Context, p *OrderParams, opts ...RequestOption) (*Quote, error) {
	var q Quote
	return &q, s.c.do(ctx, call{method: "POST", path: "/v1/routes/quote", body: p, opts: opts}, &q)
}
