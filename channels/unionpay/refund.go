package unionpay

import (
	"context"
	"strconv"

	"github.com/paygate-cn/paygate"
)

// Refund sends a refund (txnType 04) of a paid consume named by its queryId.
// A refund answered 00 is accepted; the client queries once at once.
func (c *Client) Refund(ctx context.Context, req *paygate.RefundRequest) (*paygate.RefundResult, error) {
	if req.Amount <= 0 {
		return nil, paygate.ParamErrorf(paygate.EAMOUNTINVALID, "amount", "amount must be a positive number of fen")
	}
	if _, kind, ok := FromOrderID(ToOrderID(req.RefundID)); !ok || kind != upRefund {
		return nil, paygate.ParamErrorf(paygate.EPARAMINVALID, "refund_id", "refund id %q cannot be a UnionPay orderId", req.RefundID)
	}
	if req.ChannelTradeNo == "" {
		return nil, paygate.Errorf(paygate.EINVALIDSTATE, "the order has no UnionPay queryId to refund")
	}
	f := c.fields(TxnRefund, SubNone, BizGeneral)
	f["orderId"] = ToOrderID(req.RefundID)
	f["txnTime"] = txnTimeOf(req.RefundID, c.now())
	f["txnAmt"] = strconv.FormatInt(req.Amount, 10)
	f["currencyCode"] = CurrencyCNY
	f["origQryId"] = req.ChannelTradeNo
	f["backUrl"] = c.backURLFor(req.NotifyURL)
	ans, err := c.call(ctx, "refund", PathBackTrans, f)
	if err != nil {
		return nil, err
	}
	switch code := ans["respCode"]; {
	case code == RespSuccess || code == RespAccepted:
		r, err := c.queryRefund(ctx, "refund", req.RefundID, f["txnTime"])
		if err != nil || r.Outcome == paygate.OutcomeNotFound {
			return &paygate.RefundResult{Outcome: paygate.OutcomePending, ChannelRefundNo: ans["queryId"]}, nil
		}
		return r, nil
	case unknownCode(code):
		return nil, &paygate.ChannelError{Provider: c.id, Op: "refund", Code: code, Message: ans["respMsg"]}
	default:
		return &paygate.RefundResult{Outcome: paygate.OutcomeDeclined, Failure: failureOf(code, ans["respMsg"])}, nil
	}
}

// QueryRefund asks for a refund by its own orderId and txnTime.
func (c *Client) QueryRefund(ctx context.Context, r *paygate.Refund, o *paygate.Order) (*paygate.RefundResult, error) {
	return c.queryRefund(ctx, "query_refund", r.ID, txnTimeOf(r.ID, r.CreatedAt))
}

func (c *Client) queryRefund(ctx context.Context, op, id, txnTime string) (*paygate.RefundResult, error) {
	ans, err := c.queryRaw(ctx, op, id, txnTime)
	if err != nil {
		return nil, err
	}
	if ans == nil {
		return &paygate.RefundResult{Outcome: paygate.OutcomeNotFound}, nil
	}
	rr := &paygate.RefundResult{ChannelRefundNo: ans["queryId"]}
	switch oc := ans["origRespCode"]; {
	case oc == RespSuccess:
		rr.Outcome = paygate.OutcomeSuccess
		rr.Amount, _ = strconv.ParseInt(ans["txnAmt"], 10, 64)
		if t, ok := traceTime(ans["traceTime"], ans["txnTime"]); ok {
			rr.At = &t
		}
	case oc == RespTimeout || oc == RespUnknown || oc == RespAccepted:
		rr.Outcome = paygate.OutcomePending
	case oc == "":
		return nil, &paygate.ChannelError{Provider: c.id, Op: op, Message: "query answer without origRespCode"}
	default:
		rr.Outcome = paygate.OutcomeDeclined
		rr.Failure = failureOf(oc, ans["origRespMsg"])
	}
	return rr, nil
}
