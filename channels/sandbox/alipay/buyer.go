package alipay

import (
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"

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
		s.timers.After(sandbox.ConfirmDelay, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.confirm(t)
		})
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

// Page and wap pay, which a browser opens.
const (
	methodPagePay = "alipay.trade.page.pay"
	methodWapPay  = "alipay.trade.wap.pay"
	// the app's order string, which the Alipay app hands to Alipay: the
	// sandbox takes it posted to gateway.do and shows the same page
	methodAppPay = "alipay.trade.app.pay"
)

// cashier serves alipay.trade.page.pay and wap.pay (GET or POST
// gateway.do, as the browser opens the signed URL or submits the signed
// form): it checks the signature, creates the trade waiting for the buyer
// and shows the wallet confirm page of its trade_no; confirming pays, and
// the browser goes back to the request's return_url.
func (s *Server) cashier(w http.ResponseWriter, r *http.Request, p map[string]string) {
	if p["app_id"] != s.opts.AppID || p["sign_type"] != "RSA2" || !s.verifyApp([]byte(content(p, "sign")), p["sign"]) {
		cashierError(w, "isv.invalid-signature", "验签出错")
		return
	}
	var biz map[string]any
	if err := json.Unmarshal([]byte(p["biz_content"]), &biz); err != nil {
		cashierError(w, "isv.invalid-parameter", "biz_content 无效")
		return
	}
	str := func(k string) string { v, _ := biz[k].(string); return v }
	amount, err := fenOf(str("total_amount"))
	out := str("out_trade_no")
	if err != nil || amount <= 0 || out == "" || str("subject") == "" {
		cashierError(w, "ACQ.INVALID_PARAMETER", "参数无效")
		return
	}
	want := map[string]string{methodPagePay: "FAST_INSTANT_TRADE_PAY", methodWapPay: "QUICK_WAP_WAY",
		methodAppPay: "QUICK_MSECURITY_PAY"}[p["method"]]
	if pc := str("product_code"); pc != "" && pc != want {
		cashierError(w, "ACQ.PRODUCT_CODE_ERROR", "product_code 与接口不符")
		return
	}
	notifyURL := p["notify_url"]
	if notifyURL == "" {
		notifyURL = s.opts.NotifyURL
	}
	s.mu.Lock()
	t := s.trades[out]
	switch {
	case t == nil && s.cancelled[out]:
		s.mu.Unlock()
		cashierError(w, "ACQ.TRADE_HAS_CLOSE", "交易已经关闭")
		return
	case t == nil:
		t = s.newTrade(out, str("subject"), amount, notifyURL)
	case t.Amount != amount:
		s.mu.Unlock()
		cashierError(w, "ACQ.TRADE_HAS_EXIST", "交易信息被篡改")
		return
	}
	t.ReturnURL = p["return_url"]
	tradeNo := t.TradeNo
	s.mu.Unlock()
	s.confirmPage().Render(w, tradeNo, p["return_url"])
}

func cashierError(w http.ResponseWriter, code, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusBadRequest)
	fmt.Fprintf(w, "<!doctype html><html lang=zh-CN><meta charset=utf-8><title>支付宝 · 沙箱</title><p id=error data-code=%q>%s：%s</p></html>",
		code, html.EscapeString(code), html.EscapeString(msg))
}

func (s *Server) confirmPage() *sandbox.ConfirmPage {
	return &sandbox.ConfirmPage{Wallet: sandbox.LockedWallet{Mu: &s.mu, Find: s.confirmable}, Title: "支付宝",
		AllowReturn: sandbox.LoopbackOrOrigins(s.opts.ReturnOrigins...)}
}

// confirmable describes a trade (ref: its trade_no, from trade.create or
// the page/wap cashier) for the confirm page and returns how to pay it;
// called with s.mu held.
func (s *Server) confirmable(ref string) (sandbox.ConfirmInfo, func(), error) {
	t := s.byTradeNo[ref]
	if t == nil || ref == "" {
		return sandbox.ConfirmInfo{}, nil, sandbox.ErrUnknownRef
	}
	s.advance(t)
	info := sandbox.ConfirmInfo{Subject: t.Subject, Amount: t.Amount, ReturnURL: t.ReturnURL}
	if t.Status != waitBuyerPay {
		return info, nil, errors.New("交易状态为 " + t.Status)
	}
	return info, func() { t.Copies = 1; s.pay(t) }, nil
}
