package alipay

import (
	"context"

	"github.com/go-pay/gopay"

	"github.com/paygate-cn/paygate"
)

type refundResponse struct {
	status
	TradeNo      string `json:"trade_no"`
	FundChange   string `json:"fund_change"`
	RefundFee    string `json:"refund_fee"` // the trade's cumulative refunded amount
	GmtRefundPay string `json:"gmt_refund_pay"`
}

// Refund asks alipay.trade.refund to refund req.Amount of an order, with
// out_request_no = req.RefundID so that a retry is the same refund. Alipay
// answers a refund synchronously: 10000 is success. It has no refund
// number of its own; ChannelRefundNo is the trade_no.
func (c *Client) Refund(ctx context.Context, req *paygate.RefundRequest) (*paygate.RefundResult, error) {
	biz := make(gopay.BodyMap)
	biz.Set("out_trade_no", req.OrderID).
		Set("refund_amount", yuan(req.Amount)).
		Set("out_request_no", req.RefundID)
	if req.Reason != "" {
		biz.Set("refund_reason", req.Reason)
	}
	raw, st, err := c.call(ctx, "refund", "alipay.trade.refund", biz)
	if err != nil {
		return nil, err
	}
	switch {
	case st.Code == codeSuccess:
		var r refundResponse
		if err := decode("refund", c, raw, &r); err != nil {
			return nil, err
		}
		return &paygate.RefundResult{
			Outcome:         paygate.OutcomeSuccess,
			ChannelRefundNo: r.TradeNo,
			Amount:          req.Amount,
			At:              parseTime(r.GmtRefundPay),
		}, nil
	case st.Code == codeBizFailed && st.SubCode == tradeNotExist:
		return &paygate.RefundResult{Outcome: paygate.OutcomeNotFound}, nil
	case st.Code == codeBizFailed:
		d := decline(st)
		return &paygate.RefundResult{Outcome: paygate.OutcomeDeclined, Failure: d.Failure}, nil
	}
	return nil, c.unexpected("refund", st)
}

type refundQueryResponse struct {
	status
	TradeNo      string `json:"trade_no"`
	OutRequestNo string `json:"out_request_no"`
	RefundAmount string `json:"refund_amount"`
	RefundStatus string `json:"refund_status"`
	GmtRefundPay string `json:"gmt_refund_pay"`
}

// QueryRefund asks alipay.trade.fastpay.refund.query about one refund.
// REFUND_SUCCESS is success; Alipay answers an unknown out_request_no with
// 10000 and no refund fields, which is not_found.
func (c *Client) QueryRefund(ctx context.Context, r *paygate.Refund, o *paygate.Order) (*paygate.RefundResult, error) {
	biz := make(gopay.BodyMap)
	biz.Set("out_trade_no", o.ID).
		Set("out_request_no", r.ID).
		Set("query_options", []string{"gmt_refund_pay"})
	raw, st, err := c.call(ctx, "query_refund", "alipay.trade.fastpay.refund.query", biz)
	if err != nil {
		return nil, err
	}
	switch {
	case st.Code == codeBizFailed && st.SubCode == tradeNotExist:
		return &paygate.RefundResult{Outcome: paygate.OutcomeNotFound}, nil
	case st.Code != codeSuccess:
		return nil, c.unexpected("query_refund", st)
	}
	var q refundQueryResponse
	if err := decode("query_refund", c, raw, &q); err != nil {
		return nil, err
	}
	if q.OutRequestNo == "" && q.RefundAmount == "" {
		return &paygate.RefundResult{Outcome: paygate.OutcomeNotFound}, nil
	}
	res := &paygate.RefundResult{ChannelRefundNo: q.TradeNo, At: parseTime(q.GmtRefundPay)}
	if q.RefundAmount != "" {
		amt, err := parseFen(q.RefundAmount)
		if err != nil {
			return nil, &paygate.ChannelError{Provider: c.id, Op: "query_refund", Message: "malformed refund_amount", Err: err}
		}
		res.Amount = amt
	}
	switch q.RefundStatus {
	case "REFUND_SUCCESS":
		res.Outcome = paygate.OutcomeSuccess
	case "":
		// Older answers omit refund_status: a listed refund succeeded.
		res.Outcome = paygate.OutcomeSuccess
	default:
		res.Outcome = paygate.OutcomePending
	}
	return res, nil
}
