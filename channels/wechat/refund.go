package wechat

import (
	"context"
	"net/http"

	"github.com/go-pay/gopay"
	v3 "github.com/go-pay/gopay/wechat/v3"

	"github.com/paygate-cn/paygate"
)

// Refund states (status / refund_status).
const (
	refundSuccess    = "SUCCESS"
	refundProcessing = "PROCESSING"
	refundAbnormal   = "ABNORMAL"
	refundClosed     = "CLOSED"
)

// Refund asks WeChat to refund part or all of a paid order; out_refund_no is
// our refund id.
func (c *Client) Refund(ctx context.Context, req *paygate.RefundRequest) (*paygate.RefundResult, error) {
	bm := gopay.BodyMap{
		"out_trade_no":  req.OrderID,
		"out_refund_no": req.RefundID,
		"amount": gopay.BodyMap{
			"refund":   req.Amount,
			"total":    req.OrderAmount,
			"currency": paygate.Currency,
		},
	}
	if req.ChannelTradeNo != "" {
		bm["transaction_id"] = req.ChannelTradeNo
	}
	if req.Reason != "" {
		bm["reason"] = req.Reason
	}
	if req.NotifyURL != "" {
		bm["notify_url"] = req.NotifyURL
	}
	ctx, cancel := c.callCtx(ctx)
	defer cancel()
	rsp, err := c.wx.V3Refund(ctx, bm)
	if err != nil {
		return nil, c.transportError(ctx, "refund", err)
	}
	if rsp.Code == v3.Success {
		r := rsp.Response
		return c.refundResult("refund", r.Status, r.RefundId, r.SuccessTime, r.Amount)
	}
	return c.refundRefused("refund", rsp.Code, rsp.ErrResponse, rsp.SignInfo)
}

// refundRefused classifies an error answer to a refund call: a signed 4xx
// refuses the refund for good (nothing moved), 404 says the order is unknown.
func (c *Client) refundRefused(op string, status int, er v3.ErrResponse, si *v3.SignInfo) (*paygate.RefundResult, error) {
	if c.signedAnswer(si) {
		switch {
		case status == http.StatusNotFound:
			return &paygate.RefundResult{Outcome: paygate.OutcomeNotFound}, nil
		case status >= 400 && status < 500 && status != http.StatusTooManyRequests && status != http.StatusUnauthorized:
			return &paygate.RefundResult{Outcome: paygate.OutcomeDeclined, Failure: &paygate.Failure{
				Code: "refund_declined", Message: er.Message, ChannelCode: er.Code,
			}}, nil
		}
	}
	return nil, c.errorAnswer(op, status, er, si)
}

func (c *Client) refundResult(op, status, refundID, successTime string, amt *v3.RefundOrderAmount) (*paygate.RefundResult, error) {
	r := &paygate.RefundResult{ChannelRefundNo: refundID}
	if amt != nil {
		r.Amount = int64(amt.Refund)
	}
	switch status {
	case refundSuccess:
		r.Outcome = paygate.OutcomeSuccess
		r.At = parseTime(successTime)
	case refundProcessing:
		r.Outcome = paygate.OutcomePending
	case refundAbnormal, refundClosed:
		r.Outcome = paygate.OutcomeDeclined
		r.Failure = &paygate.Failure{Code: "refund_failed", Message: "refund " + status, ChannelCode: status}
	default:
		return nil, &paygate.ChannelError{Provider: c.id, Op: op, Code: status, Message: "unknown refund status"}
	}
	return r, nil
}

// QueryRefund asks for a refund's state by out_refund_no.
func (c *Client) QueryRefund(ctx context.Context, r *paygate.Refund, o *paygate.Order) (*paygate.RefundResult, error) {
	ctx, cancel := c.callCtx(ctx)
	defer cancel()
	rsp, err := c.wx.V3RefundQuery(ctx, r.ID, nil)
	if err != nil {
		return nil, c.transportError(ctx, "query_refund", err)
	}
	if rsp.Code == v3.Success {
		q := rsp.Response
		return c.refundResult("query_refund", q.Status, q.RefundId, q.SuccessTime, q.Amount)
	}
	if rsp.Code == http.StatusNotFound && c.signedAnswer(rsp.SignInfo) {
		return &paygate.RefundResult{Outcome: paygate.OutcomeNotFound}, nil
	}
	return nil, c.errorAnswer("query_refund", rsp.Code, rsp.ErrResponse, rsp.SignInfo)
}
