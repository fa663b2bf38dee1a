package gateway

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/internal/apijson"
	"github.com/paygate-cn/paygate/payments"
)

// RefundRequest is the body of POST /v1/orders/{id}/refunds.
type RefundRequest struct {
	MerchantRefundNo string `json:"merchant_refund_no"`
	Amount           *int64 `json:"amount"`
	Reason           string `json:"reason" input:"text"`
}

func (s *Server) createRefund(c *gin.Context) {
	body, ok := s.readBody(c)
	if !ok {
		return
	}
	var in RefundRequest
	if err := decodeStrict(body, &in); err != nil {
		s.writeError(c, err)
		return
	}
	if apiKey(c).TerminalID != "" {
		s.writeError(c, paygate.Errorf(paygate.EFORBIDDEN, "terminal keys cannot refund; use a merchant key"))
		return
	}
	switch {
	case in.MerchantRefundNo == "":
		s.writeError(c, paygate.ParamErrorf(paygate.EPARAMMISSING, "merchant_refund_no", "merchant_refund_no is required"))
		return
	case len(in.MerchantRefundNo) > 64 || !merchantNoPattern.MatchString(in.MerchantRefundNo):
		s.writeError(c, paygate.ParamErrorf(paygate.EPARAMINVALID, "merchant_refund_no", "merchant_refund_no must be 1-64 letters, digits, '_' or '-'"))
		return
	case in.Amount == nil:
		s.writeError(c, paygate.ParamErrorf(paygate.EPARAMMISSING, "amount", "amount is required (integer fen)"))
		return
	case *in.Amount <= 0:
		s.writeError(c, paygate.ParamErrorf(paygate.EAMOUNTINVALID, "amount", "amount must be a positive integer number of fen"))
		return
	}
	if err := checkLen("reason", in.Reason, 80); err != nil {
		s.writeError(c, err)
		return
	}
	o, ok := s.loadOrder(c)
	if !ok {
		return
	}
	if *in.Amount > o.Amount {
		s.writeError(c, paygate.ParamErrorf(paygate.EREFUNDEXCEEDS, "amount", "amount %d exceeds the order amount %d", *in.Amount, o.Amount))
		return
	}
	r, err := s.deps.Payments.Refund(c.Request.Context(), o,
		&payments.RefundRequest{MerchantRefundNo: in.MerchantRefundNo, Amount: *in.Amount, Reason: in.Reason})
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusCreated, apijson.Refund{Refund: r})
}

func (s *Server) getRefund(c *gin.Context) {
	key := apiKey(c)
	if key.TerminalID != "" {
		s.writeError(c, paygate.Errorf(paygate.EFORBIDDEN, "terminal keys cannot read refunds"))
		return
	}
	r, err := s.deps.Refunds.MerchantRefund(c.Request.Context(), key.MerchantID, c.Param("id"))
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, apijson.Refund{Refund: r})
}
