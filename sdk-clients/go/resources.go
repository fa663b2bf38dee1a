package paygate

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"net/url"
)

// RefundParams are the fields of POST /v1/orders/{id}/refunds.
type RefundParams struct {
	MerchantRefundNo string `json:"merchant_refund_no,omitempty"`
	Amount           int64  `json:"amount,omitempty"`
	Reason           string `json:"reason,omitempty"`
}

// RefundService is /v1/refunds.
type RefundService struct{ c *Client }

// Create refunds part or all of a paid order. Refunds of one order never
// sum past its paid amount, even when sent concurrently.
func (s *RefundService) Create(ctx context.Context, orderID string, p *RefundParams, opts ...RequestOption) (*Refund, error) {
	var r Refund
	return &r, s.c.do(ctx, call{method: "POST", path: "/v1/orders/" + url.PathEscape(orderID) + "/refunds", body: p, opts: opts}, &r)
}

// Get returns the refund.
func (s *RefundService) Get(ctx context.Context, id string) (*Refund, error) {
	var r Refund
	return &r, s.c.do(ctx, call{method: "GET", path: "/v1/refunds/" + url.PathEscape(id)}, &r)
}

// EventListParams filter GET /v1/events.
type EventListParams struct {
	OrderID string
	Type    string
	Limit   int
}

// EventService is /v1/events.
type EventService struct{ c *Client }

// List iterates over the merchant's events, newest first, across pages.
func (s *EventService) List(ctx context.Context, p *EventListParams) iter.Seq2[*Event, error] {
	q := url.Values{}
	if p != nil {
		q = values("order_id", p.OrderID, "type", p.Type, "limit", itoa(p.Limit))
	}
	return all[Event](ctx, s.c, "/v1/events", q)
}

// Get returns the event with its delivery status and attempts.
func (s *EventService) Get(ctx context.Context, id string) (*Event, error) {
	var e Event
	return &e, s.c.do(ctx, call{method: "GET", path: "/v1/events/" + url.PathEscape(id)}, &e)
}

// Redeliver sends the event again now.
func (s *EventService) Redeliver(ctx context.Context, id string, opts ...RequestOption) (*Event, error) {
	var e Event
	return &e, s.c.do(ctx, call{method: "POST", path: "/v1/events/" + url.PathEscape(id) + "/redeliver", body: struct{}{}, opts: opts}, &e)
}

// TerminalParams register a POS terminal.
type TerminalParams struct {
	TerminalID string `json:"terminal_id,omitempty"`
	SerialNo   string `json:"serial_no,omitempty"`
	Model      string `json:"model,omitempty"`
	RegionCode string `json:"region_code,omitempty"`
	// ActivationExpiresIn is the activation code's lifetime in seconds.
	ActivationExpiresIn *int `json:"activation_expires_in,omitempty"`
}

// ActivationCodeParams issue a new activation code.
type ActivationCodeParams struct {
	ActivationExpiresIn *int `json:"activation_expires_in,omitempty"`
}

// TerminalService is /v1/terminals.
type TerminalService struct{ c *Client }

// Create registers a terminal; the answer carries its one-time activation code.
func (s *TerminalService) Create(ctx context.Context, p *TerminalParams, opts ...RequestOption) (*Terminal, error) {
	var t Terminal
	return &t, s.c.do(ctx, call{method: "POST", path: "/v1/terminals", body: p, opts: opts}, &t)
}

// Get returns the terminal.
func (s *TerminalService) Get(ctx context.Context, id string) (*Terminal, error) {
	var t Terminal
	return &t, s.c.do(ctx, call{method: "GET", path: "/v1/terminals/" + url.PathEscape(id)}, &t)
}

// Deactivate stops the terminal and its key.
func (s *TerminalService) Deactivate(ctx context.Context, id string, opts ...RequestOption) (*Terminal, error) {
	var t Terminal
	return &t, s.c.do(ctx, call{method: "POST", path: "/v1/terminals/" + url.PathEscape(id) + "/deactivate", body: struct{}{}, opts: opts}, &t)
}

// NewActivationCode issues a new activation code, voiding the previous one.
func (s *TerminalService) NewActivationCode(ctx context.Context, id string, p *ActivationCodeParams, opts ...RequestOption) (*Terminal, error) {
	if p == nil {
		p = &ActivationCodeParams{}
	}
	var t Terminal
	return &t, s.c.do(ctx, call{method: "POST", path: "/v1/terminals/" + url.PathEscape(id) + "/activation_code", body: p, opts: opts}, &t)
}

// Activate exchanges a terminal's activation code for its own key. It needs
// no API key: a client made with NewClient("", "") may call it. Build the
// terminal's client from the answer's KeyID and KeySecret.
func (s *TerminalService) Activate(ctx context.Context, activationCode string, opts ...RequestOption) (*ActivatedTerminal, error) {
	var t ActivatedTerminal
	body := map[string]string{"activation_code": activationCode}
	return &t, s.c.do(ctx, call{method: "POST", path: "/v1/terminals/activate", body: body, opts: opts}, &t)
}

// QRCodeParams create a static cashier code.
type QRCodeParams struct {
	TerminalID  string `json:"terminal_id,omitempty"`
	StoreName   string `json:"store_name,omitempty"`
	Amount      int64  `json:"amount,omitempty"` // a fixed amount in fen; 0: the payer enters it
	Description string `json:"description,omitempty"`
}

// QRCodeService is /v1/qr_codes.
type QRCodeService struct{ c *Client }

// Create creates a static code; print its PNGURL.
func (s *QRCodeService) Create(ctx context.Context, p *QRCodeParams, opts ...RequestOption) (*QRCode, error) {
	var q QRCode
	return &q, s.c.do(ctx, call{method: "POST", path: "/v1/qr_codes", body: p, opts: opts}, &q)
}

// Get returns the code.
func (s *QRCodeService) Get(ctx context.Context, id string) (*QRCode, error) {
	var q QRCode
	return &q, s.c.do(ctx, call{method: "GET", path: "/v1/qr_codes/" + url.PathEscape(id)}, &q)
}

// List iterates over the merchant's codes across pages.
func (s *QRCodeService) List(ctx context.Context, limit int) iter.Seq2[*QRCode, error] {
	return all[QRCode](ctx, s.c, "/v1/qr_codes", values("limit", itoa(limit)))
}

// Deactivate stops the code from taking payments.
func (s *QRCodeService) Deactivate(ctx context.Context, id string, opts ...RequestOption) (*QRCode, error) {
	var q QRCode
	return &q, s.c.do(ctx, call{method: "POST", path: "/v1/qr_codes/" + url.PathEscape(id) + "/deactivate", body: struct{}{}, opts: opts}, &q)
}

// ReconciliationParams start a reconciliation run.
type ReconciliationParams struct {
	Date     string `json:"date"`               // YYYY-MM-DD, a China Standard Time day
	Provider string `json:"provider,omitempty"` // every provider when empty
}

// ReconciliationService is /v1/reconciliations.
type ReconciliationService struct{ c *Client }

// Create runs the reconciliation of a day now. With several providers the
// answer is a list of runs; Create returns them all.
func (s *ReconciliationService) Create(ctx context.Context, p *ReconciliationParams, opts ...RequestOption) ([]*Reconciliation, error) {
	var raw json.RawMessage
	if err := s.c.do(ctx, call{method: "POST", path: "/v1/reconciliations", body: p, opts: opts}, &raw); err != nil {
		return nil, err
	}
	return decodeOneOrList[Reconciliation](raw)
}

// decodeOneOrList reads an object or a list answer.
func decodeOneOrList[T any](raw json.RawMessage) ([]*T, error) {
	var probe struct {
		Object string `json:"object"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, err
	}
	if probe.Object == "list" {
		var l List[T]
		if err := json.Unmarshal(raw, &l); err != nil {
			return nil, err
		}
		return l.Data, nil
	}
	var one T
	if err := json.Unmarshal(raw, &one); err != nil {
		return nil, err
	}
	return []*T{&one}, nil
}

// Get returns the run.
func (s *ReconciliationService) Get(ctx context.Context, id string) (*Reconciliation, error) {
	var r Reconciliation
	return &r, s.c.do(ctx, call{method: "GET", path: "/v1/reconciliations/" + url.PathEscape(id)}, &r)
}

// List iterates over the runs of a day (every day when date is empty).
func (s *ReconciliationService) List(ctx context.Context, date string) iter.Seq2[*Reconciliation, error] {
	return all[Reconciliation](ctx, s.c, "/v1/reconciliations", values("date", date))
}

// Discrepancies iterates over a run's discrepancies.
func (s *ReconciliationService) Discrepancies(ctx context.Context, runID string) iter.Seq2[*Discrepancy, error] {
	return all[Discrepancy](ctx, s.c, "/v1/reconciliations/"+url.PathEscape(runID)+"/discrepancies", url.Values{})
}

// DiscrepancyService is /v1/discrepancies.
type DiscrepancyService struct{ c *Client }

// Resolve accepts a discrepancy with a note saying why.
func (s *DiscrepancyService) Resolve(ctx context.Context, id, note string, opts ...RequestOption) (*Discrepancy, error) {
	var d Discrepancy
	body := map[string]string{"note": note}
	return &d, s.c.do(ctx, call{method: "POST", path: "/v1/discrepancies/" + url.PathEscape(id) + "/resolve", body: body, opts: opts}, &d)
}

// StatementService is /v1/statements.
type StatementService struct{ c *Client }

// Statement is a merchant's day (format json). Amounts in fen.
type Statement struct {
	Object         string                     `json:"object"`
	MerchantID     string                     `json:"merchant_id"`
	Date           string                     `json:"date"`
	Lines          []StatementLine            `json:"lines"`
	Totals         StatementTotals            `json:"totals"`
	ByChannel      map[string]StatementTotals `json:"by_channel"`
	RoutingSavings int64                      `json:"routing_savings"`
}

// StatementLine is one payment or refund of the day.
type StatementLine struct {
	Type            string `json:"type"`
	OrderID         string `json:"order_id"`
	RefundID        string `json:"refund_id"`
	MerchantOrderNo string `json:"merchant_order_no"`
	ChannelTradeNo  string `json:"channel_trade_no"`
	Channel         string `json:"channel"`
	Provider        string `json:"provider"`
	Method          string `json:"method"`
	Rule            string `json:"rule"`
	TerminalID      string `json:"terminal_id"`
	Time            string `json:"time"`
	Amount          int64  `json:"amount"`
	Fee             int64  `json:"fee"`
	NetAmount       int64  `json:"net_amount"`
	Reconciliation  string `json:"reconciliation"`
}

// StatementTotals sum lines.
type StatementTotals struct {
	Count     int64 `json:"count"`
	Amount    int64 `json:"amount"`
	Fee       int64 `json:"fee"`
	NetAmount int64 `json:"net_amount"`
}

// Get returns the day's statement as JSON (date YYYY-MM-DD).
func (s *StatementService) Get(ctx context.Context, date string) (*Statement, error) {
	var st Statement
	return &st, s.c.do(ctx, call{method: "GET", path: "/v1/statements/" + url.PathEscape(date) + "?format=json"}, &st)
}

// Download streams the day's statement as a file, format "csv" or "xlsx";
// the caller closes it.
func (s *StatementService) Download(ctx context.Context, date, format string) (io.ReadCloser, error) {
	if format != "csv" && format != "xlsx" && format != "json" {
		return nil, fmt.Errorf("paygate: statement format %q: want csv, xlsx or json", format)
	}
	resp, _, err := s.c.send(ctx, call{method: "GET", path: "/v1/statements/" + url.PathEscape(date) + "?format=" + format}, true)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}
