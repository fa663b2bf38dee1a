package gateway

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/paygate-cn/paygate"
)

// QuoteResponse is the answer of POST /v1/routes/quote.
type QuoteResponse struct {
	Object    string         `json:"object"`
	Provider  string         `json:"provider"`
	Channel   string         `json:"channel"`
	Fee       int64          `json:"fee"`
	NetAmount int64          `json:"net_amount"`
	Route     *paygate.Route `json:"route"`
}

// quote decides like POST /v1/orders would, with no side effects: nothing
// is stored, no channel is called, no risk counter moves.
//
// It takes the same body as an order. merchant_order_no may be left out;
// a card may be described by entry_mode, type and network alone (no EMV),
// since only routing needs it.
func (s *Server) quote(c *gin.Context) {
	in, m, err := s.orderRequest(c, true)
	if err != nil {
		s.fail(c, err)
		return
	}
	route, err := s.deps.Payments.Quote(c.Request.Context(), m, &in.start)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, QuoteResponse{Object: "quote", Provider: route.Provider, Channel: route.Channel,
		Fee: route.Fee, NetAmount: in.start.Amount - route.Fee, Route: route})
}
