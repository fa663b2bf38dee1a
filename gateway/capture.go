package gateway

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/paygate-cn/paygate"
)

// CaptureRequest is the body of POST /v1/orders/{id}/capture. Amount nil
// captures the whole authorised amount.
type CaptureRequest struct {
	Amount *int64 `json:"amount"`
}

func (s *Server) captureOrder(c *gin.Context) {
	if !s.merchantOnly(c, "capture authorisations") {
		return
	}
	body, ok := s.readBody(c)
	if !ok {
		return
	}
	var in CaptureRequest
	if len(body) > 0 {
		if err := decodeStrict(body, &in); err != nil {
			s.writeError(c, err)
			return
		}
	}
	if in.Amount != nil && *in.Amount <= 0 {
		s.writeError(c, paygate.ParamErrorf(paygate.EAMOUNTINVALID, "amount", "amount must be a positive integer number of fen"))
		return
	}
	o, ok := s.loadOrder(c)
	if !ok {
		return
	}
	amount := o.Amount
	if in.Amount != nil {
		amount = *in.Amount
	}
	m, ok := s.merchant(c)
	if !ok {
		return
	}
	o, err := s.deps.Payments.Capture(c.Request.Context(), m, o, amount)
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.writeOrder(c, http.StatusOK, o)
}
