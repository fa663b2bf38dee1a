package ecny

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/paygate-cn/paygate"
)

// MaxNotifySize is the largest notification accepted (docs §7).
const MaxNotifySize = 64 << 10

// ParseCallback verifies a bank notification and returns it. The
// notification's identity is head.notify_id. Returns EINVALIDSIG for a
// missing or wrong signature, EINVALID for an oversized or malformed
// notification or one addressed to another merchant.
func (c *Client) ParseCallback(ctx context.Context, header http.Header, body []byte) (*paygate.Notification, error) {
	if len(body) > MaxNotifySize {
		return nil, paygate.Errorf(paygate.EINVALID, "e-CNY notification larger than %d bytes", MaxNotifySize)
	}
	if !Verify(c.bankKey, SigningBytes(LabelNotify, NotifyPath, body), header.Get(SignatureHeader)) {
		return nil, paygate.Errorf(paygate.EINVALIDSIG, "e-CNY notification signature missing or invalid")
	}
	var env Envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, paygate.Errorf(paygate.EINVALID, "malformed e-CNY notification: %v", err)
	}
	h := env.Head
	switch {
	case h.NotifyID == "":
		return nil, paygate.Errorf(paygate.EINVALID, "e-CNY notification without notify_id")
	case h.SignType != SignType:
		return nil, paygate.Errorf(paygate.EINVALID, "e-CNY notification sign_type %q", h.SignType)
	case h.MerchantNo != c.merchantNo:
		return nil, paygate.Errorf(paygate.EINVALID, "e-CNY notification for another merchant")
	}
	n := &paygate.Notification{ID: h.NotifyID, Provider: c.id}
	switch h.NotifyType {
	case NotifyTradeSuccess:
		var t Trade
		if err := json.Unmarshal(env.Body, &t); err != nil || t.OutTradeNo == "" {
			return nil, paygate.Errorf(paygate.EINVALID, "malformed e-CNY trade notification")
		}
		r, err := c.classifyTrade("notify", &t)
		if err != nil {
			return nil, paygate.Errorf(paygate.EINVALID, "malformed e-CNY trade notification: %v", err)
		}
		n.OrderID, n.Result = t.OutTradeNo, r
	case NotifyRefundSuccess:
		var ri RefundInfo
		if err := json.Unmarshal(env.Body, &ri); err != nil || ri.OutRefundNo == "" {
			return nil, paygate.Errorf(paygate.EINVALID, "malformed e-CNY refund notification")
		}
		r, err := c.classifyRefund("notify", &ri)
		if err != nil {
			return nil, paygate.Errorf(paygate.EINVALID, "malformed e-CNY refund notification: %v", err)
		}
		n.RefundID, n.Refund = ri.OutRefundNo, r
	default:
		return nil, paygate.Errorf(paygate.EINVALID, "unknown e-CNY notify_type %q", h.NotifyType)
	}
	return n, nil
}

// CallbackReply is the acknowledgement the bank expects: 200
// {"code":"SUCCESS"}. A rejected notification gets 400 (500 when the error
// is ours, so the bank retries) with {"code":"FAIL"}.
func (c *Client) CallbackReply(err error) (status int, contentType string, body []byte) {
	const ct = "application/json; charset=utf-8"
	if err == nil {
		return http.StatusOK, ct, []byte(`{"code":"SUCCESS"}`)
	}
	status = http.StatusBadRequest
	code := paygate.ErrorCode(err)
	if code == paygate.EINTERNAL || code == paygate.EUNAVAILABLE {
		status = http.StatusInternalServerError
	}
	b, _ := json.Marshal(map[string]string{"code": "FAIL", "message": code})
	return status, ct, b
}
