package alipay

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/paygate-cn/paygate/channels/sandbox"
)

// notify sends a trade_status_sync notification for t (a refund's when rf
// is set) through the notifier. Every copy and retry carries the same
// notify_id and signature, as Alipay's do. Callers hold s.mu.
func (s *Server) notify(t *trade, rf *refund) {
	if t.NotifyURL == "" {
		return
	}
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
	copies := t.Copies
	if rf != nil {
		p["refund_fee"] = yuanOf(t.Refunded)
		p["gmt_refund"] = rf.At.Format("2006-01-02 15:04:05.000")
		p["out_biz_no"] = rf.OutRequestNo
		copies = 1
	}
	p["sign_type"] = "RSA2"
	p["sign"] = s.sign([]byte(content(p, "sign", "sign_type")))
	form := make(url.Values, len(p))
	for k, v := range p {
		form.Set(k, v)
	}
	body := form.Encode()
	target := t.NotifyURL
	s.notifier.Send(sandbox.Delivery{
		Build: func(ctx context.Context) (*http.Request, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(body))
			if err != nil {
				return nil, err
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
			return req, nil
		},
		Accepted: func(status int, b []byte) bool { return string(b) == "success" },
		Copies:   copies,
	})
}
