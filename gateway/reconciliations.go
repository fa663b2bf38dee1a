package gateway

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/reconcile"
)

// Reconciliations serve the reconciliation and statement endpoints
// (docs/reconciliation.md). A run covers a provider's whole bill; a
// merchant sees its own share of it: its counts, its discrepancies.
type Reconciliations struct {
	Store paygate.ReconciliationStore
	// Run reconciles day now for the providers allow accepts, and returns
	// the runs made.
	Run func(ctx context.Context, day string, allow func(provider string) bool) ([]*paygate.Reconciliation, error)
	// Providers lists the providers whose bills are reconciled.
	Providers func() []string
}

// reconciliationJSON is the API's reconciliation object.
type reconciliationJSON struct {
	Object     string                         `json:"object"`
	ID         string                         `json:"id"`
	Provider   string                         `json:"provider"`
	Date       string                         `json:"date"`
	Status     paygate.RunStatus              `json:"status"`
	Failure    *string                        `json:"failure"`
	Paygate    paygate.ReconTotals            `json:"paygate"`
	Channel    paygate.ReconTotals            `json:"channel"`
	Outcomes   map[paygate.ReconOutcome]int64 `json:"outcomes"`
	BillSHA1   *string                        `json:"bill_sha1"`
	StartedAt  time.Time                      `json:"started_at"`
	FinishedAt *time.Time                     `json:"finished_at"`
}

func optionalString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func reconciliationOut(r *paygate.Reconciliation) reconciliationJSON {
	out := reconciliationJSON{Object: "reconciliation", ID: r.ID, Provider: r.Provider, Date: r.Date, Status: r.Status,
		Failure: optionalString(r.Failure), Paygate: r.Paygate, Channel: r.Channel,
		Outcomes: make(map[paygate.ReconOutcome]int64, len(paygate.ReconOutcomes)), BillSHA1: optionalString(r.BillSHA1),
		StartedAt: r.StartedAt, FinishedAt: r.FinishedAt}
	for _, o := range paygate.ReconOutcomes {
		out.Outcomes[o] = r.Outcomes[o]
	}
	return out
}

// discrepancyJSON is the API's discrepancy object.
type discrepancyJSON struct {
	Object     string                 `json:"object"`
	ID         string                 `json:"id"`
	Run        string                 `json:"reconciliation"`
	Provider   string                 `json:"provider"`
	Date       string                 `json:"date"`
	Outcome    paygate.ReconOutcome   `json:"outcome"`
	OrderID    *string                `json:"order_id"`
	RefundID   *string                `json:"refund_id"`
	Paygate    *paygate.ReconSnapshot `json:"paygate"`
	Channel    *paygate.ReconSnapshot `json:"channel"`
	Resolution paygate.Resolution     `json:"resolution"`
	Note       *string                `json:"note"`
	CreatedAt  time.Time              `json:"created_at"`
	ResolvedAt *time.Time             `json:"resolved_at"`
}

func discrepancyOut(d *paygate.Discrepancy) discrepancyJSON {
	return discrepancyJSON{Object: "discrepancy", ID: d.ID, Run: d.RunID, Provider: d.Provider, Date: d.Date,
		Outcome: d.Outcome, OrderID: optionalString(d.OrderID), RefundID: optionalString(d.RefundID),
		Paygate: d.Paygate, Channel: d.Channel, Resolution: d.Resolution, Note: optionalString(d.Note),
		CreatedAt: d.CreatedAt, ResolvedAt: d.ResolvedAt}
}

// ReconciliationRequest is POST /v1/reconciliations.
type ReconciliationRequest struct {
	Date     string  `json:"date"`
	Provider *string `json:"provider"`
}

// ResolveRequest is POST /v1/discrepancies/{id}/resolve.
type ResolveRequest struct {
	Note string `json:"note"`
}

// maxNote bounds a resolution note (characters).
const maxNote = 1000

// merchantProviders returns the reconciled providers the merchant uses.
func (s *Server) merchantProviders(m *paygate.Merchant) []string {
	var out []string
	for _, p := range s.deps.Reconciliations.Providers() {
		if m.Enabled(p) {
			out = append(out, p)
		}
	}
	return out
}

func (s *Server) createReconciliation(c *gin.Context) {
	if !s.merchantOnly(c, "run reconciliations") {
		return
	}
	body, ok := s.readBody(c)
	if !ok {
		return
	}
	var in ReconciliationRequest
	if err := decodeStrict(body, &in); err != nil {
		s.writeError(c, err)
		return
	}
	if in.Date == "" {
		s.writeError(c, paygate.ParamErrorf(paygate.EPARAMMISSING, "date", "date is required"))
		return
	}
	if _, err := paygate.ParseDay(in.Date); err != nil {
		s.writeError(c, err)
		return
	}
	m, ok := s.merchant(c)
	if !ok {
		return
	}
	mine := s.merchantProviders(m)
	allowed := map[string]bool{}
	for _, p := range mine {
		allowed[p] = true
	}
	if in.Provider != nil {
		if !allowed[*in.Provider] {
			s.writeError(c, paygate.ParamErrorf(paygate.EPARAMINVALID, "provider", "provider %q is not one of yours with bills", *in.Provider))
			return
		}
		allowed = map[string]bool{*in.Provider: true}
	}
	ctx := c.Request.Context()
	runs, err := s.deps.Reconciliations.Run(ctx, in.Date, func(p string) bool { return allowed[p] })
	if err != nil && len(runs) == 0 {
		var notReady *reconcile.NotReadyError
		var perr *paygate.Error
		switch {
		case errors.As(err, &notReady):
			err = paygate.Errorf(paygate.EBILLNOTREADY, "%s", notReady.Error())
		case !errors.As(err, &perr):
			s.log.Warn("reconciliation: bill fetch failed", "date", in.Date, "err", err)
			err = paygate.Errorf(paygate.ECHANNEL, "the channel's bill could not be fetched; try again later")
		}
		s.writeError(c, err)
		return
	}
	out := make([]reconciliationJSON, 0, len(runs))
	for _, r := range runs {
		// The merchant's share of the run just made.
		if mr, err := s.deps.Reconciliations.Store.Reconciliation(ctx, m.ID, r.ID); err == nil {
			r = mr
		}
		out = append(out, reconciliationOut(r))
	}
	c.JSON(http.StatusCreated, newList(out, ""))
}

var listReconciliationParams = map[string]bool{"date": true}

func (s *Server) listReconciliations(c *gin.Context) {
	if !s.merchantOnly(c, "read reconciliations") {
		return
	}
	q, ok := s.query(c, listReconciliationParams)
	if !ok {
		return
	}
	day := q.Get("date")
	if day == "" {
		s.writeError(c, paygate.ParamErrorf(paygate.EPARAMMISSING, "date", "date is required"))
		return
	}
	if _, err := paygate.ParseDay(day); err != nil {
		s.writeError(c, err)
		return
	}
	m, ok := s.merchant(c)
	if !ok {
		return
	}
	runs, err := s.deps.Reconciliations.Store.Reconciliations(c.Request.Context(), m.ID, day, s.merchantProviders(m))
	if err != nil {
		s.writeError(c, err)
		return
	}
	out := make([]reconciliationJSON, 0, len(runs))
	for _, r := range runs {
		out = append(out, reconciliationOut(r))
	}
	c.JSON(http.StatusOK, newList(out, ""))
}

// loadRun reads a run of a provider the merchant uses; others are 404.
func (s *Server) loadRun(c *gin.Context) (*paygate.Merchant, *paygate.Reconciliation, bool) {
	if !s.merchantOnly(c, "read reconciliations") {
		return nil, nil, false
	}
	m, ok := s.merchant(c)
	if !ok {
		return nil, nil, false
	}
	id := c.Param("id")
	r, err := s.deps.Reconciliations.Store.Reconciliation(c.Request.Context(), m.ID, id)
	if err == nil && !m.Enabled(r.Provider) {
		err = paygate.Errorf(paygate.ENOTFOUND, "no such reconciliation: %s", id)
	}
	if err != nil {
		s.writeError(c, err)
		return nil, nil, false
	}
	return m, r, true
}

func (s *Server) getReconciliation(c *gin.Context) {
	if _, r, ok := s.loadRun(c); ok {
		c.JSON(http.StatusOK, reconciliationOut(r))
	}
}

var listDiscrepancyParams = map[string]bool{"cursor": true, "limit": true}

func (s *Server) listDiscrepancies(c *gin.Context) {
	q, ok := s.query(c, listDiscrepancyParams)
	if !ok {
		return
	}
	limit, err := parseLimit(q.Get("limit"))
	if err != nil {
		s.writeError(c, err)
		return
	}
	m, r, ok := s.loadRun(c)
	if !ok {
		return
	}
	ds, next, err := s.deps.Reconciliations.Store.Discrepancies(c.Request.Context(), paygate.DiscrepancyFilter{
		RunID: r.ID, MerchantID: m.ID, Cursor: q.Get("cursor"), Limit: limit})
	if err != nil {
		s.writeError(c, err)
		return
	}
	out := make([]discrepancyJSON, 0, len(ds))
	for _, d := range ds {
		out = append(out, discrepancyOut(d))
	}
	c.JSON(http.StatusOK, newList(out, next))
}

func (s *Server) resolveDiscrepancy(c *gin.Context) {
	if !s.merchantOnly(c, "resolve discrepancies") {
		return
	}
	body, ok := s.readBody(c)
	if !ok {
		return
	}
	var in ResolveRequest
	if err := decodeStrict(body, &in); err != nil {
		s.writeError(c, err)
		return
	}
	if in.Note == "" {
		s.writeError(c, paygate.ParamErrorf(paygate.EPARAMMISSING, "note", "note is required: say why the discrepancy is accepted"))
		return
	}
	if err := checkLen("note", in.Note, maxNote); err != nil {
		s.writeError(c, err)
		return
	}
	d, err := s.deps.Reconciliations.Store.ResolveDiscrepancy(c.Request.Context(), apiKey(c).MerchantID, c.Param("id"), in.Note)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, discrepancyOut(d))
}

var statementParams = map[string]bool{"format": true}

// getStatement streams the merchant's statement of a day. Errors found
// before the first byte is written are answered as usual; the statement
// itself is streamed, never built in memory.
func (s *Server) getStatement(c *gin.Context) {
	if !s.merchantOnly(c, "read statements") {
		return
	}
	q, ok := s.query(c, statementParams)
	if !ok {
		return
	}
	day := c.Param("date")
	if _, err := paygate.ParseDay(day); err != nil {
		s.writeError(c, err)
		return
	}
	format := q.Get("format")
	if format == "" {
		format = reconcile.FormatJSON
	}
	if format != reconcile.FormatCSV && format != reconcile.FormatXLSX && format != reconcile.FormatJSON {
		s.writeError(c, paygate.ParamErrorf(paygate.EPARAMINVALID, "format", "format must be csv, xlsx or json"))
		return
	}
	merchantID := apiKey(c).MerchantID
	c.Header("Content-Type", reconcile.ContentType(format))
	if format != reconcile.FormatJSON {
		c.Header("Content-Disposition", `attachment; filename="statement-`+merchantID+"-"+day+"."+format+`"`)
	}
	c.Status(http.StatusOK)
	if err := reconcile.WriteStatement(c.Request.Context(), s.deps.Reconciliations.Store, c.Writer, merchantID, day, format); err != nil {
		// Headers are gone: the truncated body is the only signal left.
		s.log.Error("statement", "merchant", merchantID, "date", day, "err", err)
	}
}
