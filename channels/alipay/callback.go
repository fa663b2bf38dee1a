package alipay

import (
	"context"
	"net/http"
	"net/url"

	"github.com/paygate-cn/paygate"
)

// MaxCallbackBytes bounds a notification body.
const MaxCallbackBytes = 64 << 10

// ParseCallback verifies and reads an asynchronous notification: a
// form-encoded POST signed with RSA2 over the sorted parameters except sign
// and sign_type. Returns EINVALIDSIG for a bad signature or a notification
// for another app_id, EINVALID for a malformed one.
//
// A notification carrying refund fields (out_biz_no, refund_fee or
// gmt_refund) reports a refund: RefundID is out_biz_no (our out_request_no)
// and Refund.Amount is left 0, because refund_fee is the trade's cumulative
// refunded total, not this refund's amount; it is Refund.RefundedTotal, for
// the applier to check against the order. Any other is a payment.
func (c *Client) ParseCallback(ctx context.Context, header http.Header, body []byte) (*paygate.Notification, error) {
	if len(body) > MaxCallbackBytes {
		return nil, paygate.Errorf(paygate.EINVALID, "alipay notification exceeds %d bytes", MaxCallbackBytes)
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, paygate.Errorf(paygate.EINVALID, "alipay notification is not form-encoded")
	}
	p := make(map[string]string, len(form))
	for k, vs := range form {
		if len(vs) != 1 {
			return nil, paygate.Errorf(paygate.EINVALID, "alipay notification repeats %q", k)
		}
		p[k] = vs[0]
	}
	if p["sign"] == "" {
		return nil, paygate.Errorf(paygate.EINVALIDSIG, "alipay notification is not signed")
	}
	if st := p["sign_type"]; st != "RSA2" {
		return nil, paygate.Errorf(paygate.EINVALIDSIG, "alipay notification sign_type %q is not RSA2", st)
	}
	if err := verifyRSA2(c.pub, []byte(signContent(p)), p["sign"]); err != nil {
		return nil, paygate.Errorf(paygate.EINVALIDSIG, "alipay notification signature does not verify")
	}
	if p["app_id"] != c.appID {
		return nil, paygate.Errorf(paygate.EINVALIDSIG, "alipay notification is for another app_id")
	}
	if p["notify_id"] == "" {
		return nil, paygate.Errorf(paygate.EINVALID, "alipay notification has no notify_id")
	}
	n := &paygate.Notification{ID: p["notify_id"], Provider: c.id}

	if p["out_biz_no"] != "" || p["refund_fee"] != "" || p["gmt_refund"] != "" {
		if p["out_biz_no"] == "" {
			return nil, paygate.Errorf(paygate.EINVALID, "alipay refund notification has no out_biz_no")
		}
		var total int64
		if p["refund_fee"] != "" {
			var err error
			if total, err = parseFen(p["refund_fee"]); err != nil || total <= 0 {
				return nil, paygate.Errorf(paygate.EINVALID, "alipay notification refund_fee is malformed")
			}
		}
		n.RefundID = p["out_biz_no"]
		n.Refund = &paygate.RefundResult{
			Outcome:         paygate.OutcomeSuccess,
			ChannelRefundNo: p["trade_no"],
			RefundedTotal:   total,
			At:              parseTime(p["gmt_refund"]),
		}
		return n, nil
	}

	if p["out_trade_no"] == "" {
		return nil, paygate.Errorf(paygate.EINVALID, "alipay notification has no out_trade_no")
	}
	n.OrderID = p["out_trade_no"]
	res := &paygate.Result{ChannelTradeNo: p["trade_no"], PayerID: firstNonEmpty(p["buyer_id"], p["buyer_open_id"])}
	switch p["trade_status"] {
	case tradeSuccess, tradeFinished:
		amt, err := parseFen(p["total_amount"])
		if err != nil || amt <= 0 {
			return nil, paygate.Errorf(paygate.EINVALID, "alipay notification total_amount is malformed")
		}
		res.Outcome = paygate.OutcomeSuccess
		res.Amount = amt
		res.PaidAt = parseTime(p["gmt_payment"])
	case tradeClosed:
		res.Outcome = paygate.OutcomeClosed
	case tradeWaitBuyerPay:
		res.Outcome = paygate.OutcomePending
	default:
		return nil, paygate.Errorf(paygate.EINVALID, "alipay notification trade_status %q is unknown", p["trade_status"])
	}
	n.Result = res
	return n, nil
}

// CallbackReply answers a notification: Alipay stops retrying only on the
// exact body "success"; anything else, "fail" included, makes it retry.
func (c *Client) CallbackReply(err error) (int, string, []byte) {
	if err != nil {
		return http.StatusOK, "text/plain", []byte("fail")
	}
	return http.StatusOK, "text/plain", []byte("success")
}
