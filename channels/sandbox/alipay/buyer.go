package alipay

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"time"

	"github.com/paygate-cn/paygate/channels/sandbox"
)

type scanRequest struct {
	QRCode    string `json:"qr_code"`
	PayerCode string `json:"payer_code"`
	TradeNo   string `json:"trade_no"`
}

type scanAnswer struct {
	TradeNo     string `json:"trade_no"`
	OutTradeNo  string `json:"out_trade_no"`
	TradeStatus string `json:"trade_status"`
}

// scan simulates a buyer: scanning a precreated QR (payer_code's last four
// digits choose the scenario, as for a payment code) or confirming a trade
// made by trade.create or wap/page pay.
func (s *Server) scan(w http.ResponseWriter, r *http.Request) {
	var req scanRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || (req.QRCode == "") == (req.TradeNo == "") {
		jsonError(w, http.StatusBadRequest, "give exactly one of qr_code and trade_no")
		return
	}
	sc := sandbox.ScenarioOf(req.PayerCode)
	s.mu.Lock()
	defer s.mu.Unlock()
	var t *trade
	if req.TradeNo != "" {
		t = s.byTradeNo[req.TradeNo]
		if t == nil {
			jsonError(w, http.StatusNotFound, "no such trade")
			return
		}
		if t.Status != waitBuyerPay {
			jsonError(w, http.StatusConflict, "trade is "+t.Status)
			return
		}
	} else {
		qr := s.qrs[req.QRCode]
		switch {
		case qr == nil:
			jsonError(w, http.StatusNotFound, "no such qr_code")
			return
		case qr.Closed || s.cancelled[qr.OutTradeNo]:
			jsonError(w, http.StatusConflict, "order is closed")
			return
		case s.trades[qr.OutTradeNo] != nil:
			jsonError(w, http.StatusConflict, "qr_code already scanned")
			return
		}
		if sc == sandbox.Decline {
			jsonError(w, http.StatusPaymentRequired, "insufficient balance")
			return
		}
		t = s.newTrade(qr.OutTradeNo, qr.Subject, qr.Amount, qr.NotifyURL)
	}
	if sc == sandbox.Decline {
		jsonError(w, http.StatusPaymentRequired, "insufficient balance")
		return
	}
	t.Copies = sc.Copies()
	switch sc {
	case sandbox.ConfirmLater:
		t.ConfirmAt = s.now().Add(sandbox.ConfirmDelay)
		s.timers = append(s.timers, time.AfterFunc(sandbox.ConfirmDelay, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.confirm(t)
		}))
	case sandbox.NeverConfirm:
	default:
		s.pay(t)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(scanAnswer{t.TradeNo, t.OutTradeNo, t.Status})
}

func jsonError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// cashier serves GET gateway.do, what a browser opens for wap or page pay:
// it checks the signature, creates the trade waiting for the buyer and
// shows a page naming the trade_no that POST scan confirms.
func (s *Server) cashier(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p := make(map[string]string, len(q))
	for k, vs := range q {
		p[k] = vs[0]
	}
	if p["app_id"] != s.opts.AppID || !s.verifyApp([]byte(content(p, "sign")), p["sign"]) {
		http.Error(w, "isv.invalid-signature", http.StatusBadRequest)
		return
	}
	var biz map[string]any
	if err := json.Unmarshal([]byte(p["biz_content"]), &biz); err != nil {
		http.Error(w, "isv.invalid-parameter", http.StatusBadRequest)
		return
	}
	str := func(k string) string { v, _ := biz[k].(string); return v }
	amount, err := fenOf(str("total_amount"))
	if err != nil || str("out_trade_no") == "" {
		http.Error(w, "ACQ.INVALID_PARAMETER", http.StatusBadRequest)
		return
	}
	notifyURL := p["notify_url"]
	if notifyURL == "" {
		notifyURL = s.opts.NotifyURL
	}
	s.mu.Lock()
	t := s.trades[str("out_trade_no")]
	if t == nil {
		t = s.newTrade(str("out_trade_no"), str("subject"), amount, notifyURL)
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, "<!doctype html><title>Alipay sandbox cashier</title><p>%s</p><p>¥%s</p><p data-trade-no=%q>trade_no %s</p>",
		html.EscapeString(t.Subject), yuanOf(t.Amount), t.TradeNo, t.TradeNo)
}
