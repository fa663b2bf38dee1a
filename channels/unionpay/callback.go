package unionpay

import (
	"context"
	"net/http"
	"strconv"

	"github.com/paygate-cn/paygate"
)

// ParseCallback verifies a backUrl notify (form-encoded, signed by the
// platform with the certificate unionpay_cert_id names) and classifies it.
// Forged or tampered: EINVALIDSIG. Malformed, oversized (> 64 KiB), for
// another merchant, or about an order paygate did not make: EINVALID.
//
// The notification's identity is queryId:txnType:respCode: the platform
// repeats a notify with the same fields until it is acknowledged.
func (c *Client) ParseCallback(ctx context.Context, header http.Header, body []byte) (*paygate.Notification, error) {
	if len(body) > MaxMessage {
		return nil, paygate.Errorf(paygate.EINVALID, "notify body exceeds %d bytes", MaxMessage)
	}
	m, err := ParseForm(string(body))
	if err != nil {
		return nil, paygate.Errorf(paygate.EINVALID, "malformed notify: %v", err)
	}
	if err := c.verify(m); err != nil {
		return nil, paygate.Errorf(paygate.EINVALIDSIG, "notify failed verification: %v", err)
	}
	for _, k := range []string{"merId", "orderId", "txnType", "respCode", "queryId", "txnAmt"} {
		if m[k] == "" {
			return nil, paygate.Errorf(paygate.EINVALID, "notify without %s", k)
		}
	}
	if m["merId"] != c.merID {
		return nil, paygate.Errorf(paygate.EINVALID, "notify is for another merchant")
	}
	amt, err := strconv.ParseInt(m["txnAmt"], 10, 64)
	if err != nil || amt <= 0 {
		return nil, paygate.Errorf(paygate.EINVALID, "notify txnAmt is not a positive number of fen")
	}
	id, kind, ok := FromOrderID(m["orderId"])
	if !ok {
		return nil, paygate.Errorf(paygate.EINVALID, "notify orderId is not one of ours")
	}
	code := m["respCode"]
	n := &paygate.Notification{ID: m["queryId"] + ":" + m["txnType"] + ":" + code, Provider: c.id}
	var at *paygate.Result
	switch {
	case m["txnType"] == TxnConsume && kind == upOrder:
		at = &paygate.Result{ChannelTradeNo: m["queryId"]}
		switch {
		case code == RespSuccess:
			at.Outcome, at.Amount = paygate.OutcomeSuccess, amt
			if t, ok := traceTime(m["traceTime"], m["txnTime"]); ok {
				at.PaidAt = &t
			}
		case unknownCode(code) || code == RespAccepted:
			at.Outcome = paygate.OutcomePending
		default:
			at.Outcome, at.Failure = paygate.OutcomeDeclined, failureOf(code, m["respMsg"])
		}
		n.OrderID, n.Result = id, at
	case m["txnType"] == TxnUndo && kind == upUndo:
		// An undo is only ever asked for by Reverse, whose answer (or, when
		// that answer is lost, the retried Reverse: respCode 12, already
		// undone) records the order as reversed. Applying the notify would
		// race that answer and could record the order as merely closed, so
		// it is acknowledged and carries no result, whatever its respCode.
		n.OrderID = id
	case m["txnType"] == TxnRefund && kind == upRefund:
		rr := &paygate.RefundResult{ChannelRefundNo: m["queryId"]}
		switch {
		case code == RespSuccess:
			rr.Outcome, rr.Amount = paygate.OutcomeSuccess, amt
			if t, ok := traceTime(m["traceTime"], m["txnTime"]); ok {
				rr.At = &t
			}
		case unknownCode(code) || code == RespAccepted:
			rr.Outcome = paygate.OutcomePending
		default:
			rr.Outcome, rr.Failure = paygate.OutcomeDeclined, failureOf(code, m["respMsg"])
		}
		n.RefundID, n.Refund = id, rr
	default:
		return nil, paygate.Errorf(paygate.EINVALID, "notify txnType %q does not fit orderId", truncate(m["txnType"]))
	}
	return n, nil
}

// CallbackReply acknowledges a notify: the platform wants HTTP 200; any
// other status makes it deliver again.
func (c *Client) CallbackReply(err error) (int, string, []byte) {
	if err != nil {
		return http.StatusBadRequest, "text/plain; charset=utf-8", []byte("fail")
	}
	return http.StatusOK, "text/plain; charset=utf-8", []byte("ok")
}
