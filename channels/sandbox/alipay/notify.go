package alipay

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/paygate-cn/paygate/channels/sandbox"
)

// notify sends a trade_status_sync notification for t (a refund's when rf
// is set) through the notifier. Every copy and retry carries the same
// notify_id and signature, as Alipay's do. Callers hold s.mu.
func (s *Server) notify(t *trade, rf *refund) {
	if t.NotifyURL == "" {
		return
	}
	p := s.noticeParams(t, rf)
	copies := t.Copies
	if rf != nil {
		copies = 1
	}
	// Signed once, on first delivery, outside s.mu: an RSA signature under
	// the simulator's one lock would serialise every payment behind it.
	var once sync.Once
	var body string
	target := t.NotifyURL
	s.notifier.Send(sandbox.Delivery{
		Build: func(ctx context.Context) (*http.Request, error) {
			once.Do(func() { body = s.signNotice(p) })
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(body))
			if err != nil {
				return nil, err
			}
			req.Header.Set("Content-Type", noticeContentType)
			return req, nil
		},
		Accepted: func(status int, b []byte) bool { return string(b) == "success" },
		Copies:   copies,
	})
}

const noticeContentType = "application/x-www-form-urlencoded; charset=utf-8"

// noticeParams are the parameters of t's notification, unsigned.
func (s *Server) noticeParams(t *trade, rf *refund) map[string]string {
	now := s.now()
	p := map[string]string{
		"notify_id":      randomHex(16),
		"notify_time":    now.Format(timeLayout),
		"notify_type":    "trade_status_sync",
		"app_id":         s.opts.AppID,
		"auth_app_id":    s.opts.AppID,
		"charset":        "utf-8",
		"version":        "1.0",
		"trade_no":       t.TradeNo,
		"out_trade_no":   t.OutTradeNo,
		"total_amount":   yuanOf(t.Amount),
		"trade_status":   t.Status,
		"gmt_create":     t.Created.Format(timeLayout),
		"buyer_id":       t.BuyerID,
		"buyer_logon_id": t.BuyerLogonID,
		"seller_id":      s.sellerID,
		"subject":        t.Subject,
	}
	if !t.Paid.IsZero() {
		p["gmt_payment"] = t.Paid.Format(timeLayout)
		p["receipt_amount"] = yuanOf(t.Amount)
		p["buyer_pay_amount"] = yuanOf(t.Amount)
	}
	if rf != nil {
		p["refund_fee"] = yuanOf(t.Refunded)
		p["gmt_refund"] = rf.At.Format("2006-01-02 15:04:05.000")
		p["out_biz_no"] = rf.OutRequestNo
	}
	return p
}

// signNotice signs p (RSA2 over every parameter but sign and sign_type) and
// form-encodes it.
func (s *Server) signNotice(p map[string]string) string {
	p["sign_type"] = "RSA2"
	p["sign"] = s.sign([]byte(content(p, "sign", "sign_type")))
	form := make(url.Values, len(p))
	for k, v := range p {
		form.Set(k, v)
	}
	return form.Encode()
}

// TradeNotice returns the parameters of the payment notification of the
// trade out_trade_no as it would be sent now, unsigned; ok is false for an
// unknown trade. A test aid, with SignNotice.
func (s *Server) TradeNotice(outTradeNo string) (params map[string]any, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.trades[outTradeNo]
	if t == nil {
		return nil, false
	}
	params = map[string]any{}
	for k, v := range s.noticeParams(t, nil) {
		params[k] = v
	}
	return params, true
}

// SignNotice returns the headers and body of a notification of params
// (values are formatted with fmt's %v), signed as the simulator's own are.
// A test aid: with params edited, it crafts callbacks that are correctly
// signed yet wrong (another amount, another app).
func (s *Server) SignNotice(params map[string]any) (http.Header, []byte) {
	p := make(map[string]string, len(params))
	for k, v := range params {
		p[k] = fmt.Sprint(v)
	}
	h := http.Header{}
	h.Set("Content-Type", noticeContentType)
	return h, []byte(s.signNotice(p))
}

// RefundNotice returns the parameters of the refund notification of the
// refund out_request_no (out_biz_no in the notification) as it would be
// sent now, unsigned; ok is false for an unknown refund. refund_fee is the
// trade's cumulative refunded amount, as Alipay sends it. A test aid, with
// SignRefundNotice.
func (s *Server) RefundNotice(outRequestNo string) (params map[string]any, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.trades {
		for _, rf := range t.Refunds {
			if rf.OutRequestNo == outRequestNo && outRequestNo != "" {
				params = map[string]any{}
				for k, v := range s.noticeParams(t, rf) {
					params[k] = v
				}
				return params, true
			}
		}
	}
	return nil, false
}

// SignRefundNotice returns the headers and body of a refund notification
// of params, signed as the simulator's own are. Alipay's refund and payment
// notifications share one format (trade_status_sync), so this is
// SignNotice; a test aid like it.
func (s *Server) SignRefundNotice(params map[string]any) (http.Header, []byte) {
	return s.SignNotice(params)
}
