package wechat

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/paygate-cn/paygate/channels/sandbox"
)

type refund struct {
	refundID    string
	outRefundNo string
	trade       *trade
	amount      int64
	reason      string
	status      string
	createdAt   time.Time
	successAt   time.Time
}

// refundJSON is a refund as WeChat shows it.
func (s *Server) refundJSON(f *refund) map[string]any {
	m := map[string]any{
		"refund_id":             f.refundID,
		"out_refund_no":         f.outRefundNo,
		"transaction_id":        f.trade.transactionID,
		"out_trade_no":          f.trade.outTradeNo,
		"channel":               "ORIGINAL",
		"user_received_account": "支付用户零钱",
		"create_time":           s.timeString(f.createdAt),
		"status":                f.status,
		"funds_account":         "AVAILABLE",
		"amount": map[string]any{
			"total": f.trade.total, "refund": f.amount, "payer_total": f.trade.total, "payer_refund": f.amount,
			"settlement_total": f.trade.total, "settlement_refund": f.amount, "discount_refund": 0,
			"currency": "CNY", "refund_fee": 0, "from": []any{},
		},
	}
	if !f.successAt.IsZero() {
		m["success_time"] = s.timeString(f.successAt)
	}
	return m
}

// createRefund serves POST /v3/refund/domestic/refunds. The answer says
// PROCESSING; the refund then succeeds (at once, or after
// Options.RefundDelay) and REFUND.SUCCESS is sent.
func (s *Server) createRefund(w http.ResponseWriter, r *http.Request) {
	var in struct {
		TransactionID string `json:"transaction_id"`
		OutTradeNo    string `json:"out_trade_no"`
		OutRefundNo   string `json:"out_refund_no"`
		Reason        string `json:"reason"`
		NotifyURL     string `json:"notify_url"`
		Amount        struct {
			Refund   int64  `json:"refund"`
			Total    int64  `json:"total"`
			Currency string `json:"currency"`
		} `json:"amount"`
	}
	if err := json.Unmarshal(requestBody(r), &in); err != nil {
		s.reply(w, http.StatusBadRequest, errBody("PARAM_ERROR", "请求体不是有效的JSON"))
		return
	}
	if in.OutRefundNo == "" || len(in.OutRefundNo) > 64 || in.Amount.Refund <= 0 {
		s.reply(w, http.StatusBadRequest, errBody("PARAM_ERROR", "out_refund_no 或 amount 无效"))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.refunds[in.OutRefundNo]; ok {
		s.reply(w, http.StatusOK, s.refundJSON(f))
		return
	}
	t := s.trades[in.OutTradeNo]
	if t == nil && in.TransactionID != "" {
		for _, c := range s.trades {
			if c.transactionID == in.TransactionID {
				t = c
			}
		}
	}
	if t == nil {
		s.reply(w, http.StatusNotFound, errBody("RESOURCE_NOT_EXISTS", "订单不存在"))
		return
	}
	s.settleLocked(t)
	switch {
	case t.state != stateSuccess && t.state != stateRefund:
		s.reply(w, http.StatusBadRequest, errBody("INVALID_REQUEST", "订单未支付，不可退款"))
		return
	case in.Amount.Total != t.total:
		s.reply(w, http.StatusBadRequest, errBody("PARAM_ERROR", "订单金额与原订单不一致"))
		return
	case t.refunded+in.Amount.Refund > t.total:
		s.reply(w, http.StatusBadRequest, errBody("INVALID_REQUEST", "申请退款金额超过订单可退金额"))
		return
	}
	f := &refund{
		refundID: "50" + randomDigits(27), outRefundNo: in.OutRefundNo, trade: t,
		amount: in.Amount.Refund, reason: in.Reason, status: "PROCESSING", createdAt: s.now(),
	}
	s.refunds[f.outRefundNo] = f
	t.refunded += f.amount
	answer := s.refundJSON(f)

	url := in.NotifyURL
	if url == "" {
		url = s.opts.NotifyURL
	}
	succeed := func() {
		f.status, f.successAt = "SUCCESS", s.now()
		t.state, t.stateDesc = stateRefund, "转入退款"
		s.notify(url, "REFUND.SUCCESS", "退款成功", "refund", s.refundNotice(f), 1)
	}
	if s.opts.RefundDelay > 0 {
		s.timers.After(s.opts.RefundDelay, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			succeed()
		})
	} else {
		succeed()
	}
	s.reply(w, http.StatusOK, answer)
}

// refundNotice is the resource of f's REFUND.SUCCESS notification.
func (s *Server) refundNotice(f *refund) map[string]any {
	t := f.trade
	return map[string]any{
		"mchid": t.mchid, "out_trade_no": t.outTradeNo, "transaction_id": t.transactionID,
		"out_refund_no": f.outRefundNo, "refund_id": f.refundID, "refund_status": f.status,
		"success_time": s.timeString(f.successAt), "user_received_account": "支付用户零钱",
		"amount": map[string]any{"total": t.total, "refund": f.amount, "payer_total": t.total, "payer_refund": f.amount},
	}
}

// RefundNotice returns the resource the REFUND.SUCCESS notification of the
// refund out_refund_no carries (decrypted), as it is sent when the refund
// succeeds, now for one still processing; ok is false for an unknown
// refund. A test aid, with SignRefundNotice.
func (s *Server) RefundNotice(outRefundNo string) (resource map[string]any, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.refunds[outRefundNo]
	if !ok {
		return nil, false
	}
	done := *f
	if done.successAt.IsZero() {
		done.status, done.successAt = "SUCCESS", s.now()
	}
	return s.refundNotice(&done), true
}

// SignRefundNotice returns the headers and body of a REFUND.SUCCESS
// notification of resource, encrypted and signed as the simulator's own
// are. A test aid, like SignNotice.
func (s *Server) SignRefundNotice(resource map[string]any) (http.Header, []byte) {
	body := s.notification("REFUND.SUCCESS", "退款成功", "refund", resource)
	h := s.sign(body)
	h.Set("Content-Type", "application/json")
	return h, body
}

// SetRefundDelay makes refunds requested from now on stay PROCESSING for d
// (answer and queries) before they succeed and are notified; 0, the
// default, succeeds them at once (the answer still says PROCESSING).
func (s *Server) SetRefundDelay(d time.Duration) {
	s.mu.Lock()
	s.opts.RefundDelay = d
	s.mu.Unlock()
}

// queryRefund serves GET /v3/refund/domestic/refunds/{no}.
func (s *Server) queryRefund(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.refunds[r.PathValue("no")]
	if !ok {
		s.reply(w, http.StatusNotFound, errBody("RESOURCE_NOT_EXISTS", "退款单不存在"))
		return
	}
	s.reply(w, http.StatusOK, s.refundJSON(f))
}

// Books returns what the simulator holds for the trade out_trade_no (see
// sandbox.Books), and false when it has no such trade.
func (s *Server) Books(outTradeNo string) (sandbox.Books, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.trades[outTradeNo]
	if !ok {
		return sandbox.Books{}, false
	}
	s.settleLocked(t)
	var b sandbox.Books
	if !t.successAt.IsZero() {
		b.Paid = t.total
	}
	b.Reversed = t.state == stateRevoked
	for _, f := range s.refunds {
		if f.trade == t && f.status == "SUCCESS" {
			b.Refunded += f.amount
		}
	}
	return b, true
}
