package alipay

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/paygate-cn/paygate/channels/sandbox"
)

// result is the code block every response object starts with.
type result struct {
	Code    string `json:"code"`
	Msg     string `json:"msg"`
	SubCode string `json:"sub_code,omitempty"`
	SubMsg  string `json:"sub_msg,omitempty"`
}

var (
	ok          = result{Code: "10000", Msg: "Success"}
	paying      = result{Code: "10003", Msg: "订单创建成功支付处理中"}
	unavailable = result{Code: "20000", Msg: "Service Currently Unavailable", SubCode: "ACQ.SYSTEM_ERROR", SubMsg: "系统错误"}
)

func invalidArgs(subCode, subMsg string) result {
	return result{Code: "40002", Msg: "Invalid Arguments", SubCode: subCode, SubMsg: subMsg}
}

func bizFailed(subCode, subMsg string) result {
	return result{Code: "40004", Msg: "Business Failed", SubCode: subCode, SubMsg: subMsg}
}

var notExist = bizFailed("ACQ.TRADE_NOT_EXIST", "交易不存在")

// request is one verified gateway call.
type request struct {
	method    string
	biz       map[string]any
	notifyURL string
	r         *http.Request
}

func (q *request) str(k string) string {
	switch v := q.biz[k].(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	}
	return ""
}

// params reads a gateway.do request's parameters: the official SDKs put
// the system parameters (app_id, method, sign, ...) in the query string and
// the business ones in the form body, or everything in one of them; the
// signature covers them all. A name given twice with different values is
// refused.
func params(w http.ResponseWriter, r *http.Request) (map[string]string, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		return nil, false
	}
	p := make(map[string]string, len(r.Form))
	for k, vs := range r.Form {
		for _, v := range vs[1:] {
			if v != vs[0] { // the same value in query and body is fine (charset)
				return nil, false
			}
		}
		p[k] = vs[0]
	}
	return p, true
}

// gateway serves gateway.do: verify the app's signature, dispatch on
// method, sign the answer. Page and wap pay open the cashier instead.
func (s *Server) gateway(w http.ResponseWriter, r *http.Request) {
	p, valid := params(w, r)
	if !valid {
		s.write(w, "error_response", invalidArgs("isv.invalid-parameter", "请求参数无效"))
		return
	}
	switch p["method"] {
	case methodPagePay, methodWapPay, methodAppPay:
		s.cashier(w, r, p)
		return
	}
	key := "error_response"
	if m := p["method"]; m != "" {
		key = strings.ReplaceAll(m, ".", "_") + "_response"
	}
	switch {
	case p["app_id"] != s.opts.AppID:
		s.write(w, key, invalidArgs("isv.invalid-app-id", "无效的AppID参数"))
		return
	case p["sign_type"] != "RSA2":
		s.write(w, key, invalidArgs("isv.invalid-signature-type", "无效的签名类型"))
		return
	case !s.verifyApp([]byte(content(p, "sign")), p["sign"]):
		s.write(w, key, invalidArgs("isv.invalid-signature", "验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配"))
		return
	}
	q := &request{method: p["method"], notifyURL: p["notify_url"], r: r}
	if q.notifyURL == "" {
		q.notifyURL = s.opts.NotifyURL
	}
	dec := json.NewDecoder(strings.NewReader(p["biz_content"]))
	dec.UseNumber()
	if err := dec.Decode(&q.biz); err != nil && p["biz_content"] != "" {
		s.write(w, key, invalidArgs("isv.invalid-parameter", "biz_content 无效"))
		return
	}
	switch q.method {
	case "alipay.trade.pay":
		s.tradePay(w, key, q)
	case "alipay.trade.precreate":
		s.write(w, key, s.precreate(q))
	case "alipay.trade.create":
		s.write(w, key, s.create(q))
	case "alipay.trade.query":
		s.write(w, key, s.query(q))
	case "alipay.trade.cancel":
		s.write(w, key, s.cancel(q))
	case "alipay.trade.close":
		s.write(w, key, s.closeTrade(q))
	case "alipay.trade.refund":
		s.write(w, key, s.refund(q))
	case "alipay.trade.fastpay.refund.query":
		s.write(w, key, s.refundQuery(q))
	case "alipay.data.dataservice.bill.downloadurl.query":
		s.write(w, key, s.billURL(q))
	default:
		s.write(w, "error_response", invalidArgs("isv.invalid-method", "不存在的方法名"))
	}
}

// write answers {"<key>": <object>, "sign": "<RSA2 over the object's bytes>"}.
func (s *Server) write(w http.ResponseWriter, key string, obj any) {
	b, err := json.Marshal(obj)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	var out bytes.Buffer
	out.WriteString(`{"`)
	out.WriteString(key)
	out.WriteString(`":`)
	out.Write(b)
	out.WriteString(`,"sign":"`)
	out.WriteString(s.sign(b))
	out.WriteString(`"}`)
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	_, _ = w.Write(out.Bytes())
}

type payAnswer struct {
	result
	TradeNo      string `json:"trade_no,omitempty"`
	OutTradeNo   string `json:"out_trade_no,omitempty"`
	BuyerLogonID string `json:"buyer_logon_id,omitempty"`
	TotalAmount  string `json:"total_amount,omitempty"`
	ReceiptAmt   string `json:"receipt_amount,omitempty"`
	GmtPayment   string `json:"gmt_payment,omitempty"`
	BuyerUserID  string `json:"buyer_user_id,omitempty"`
}

func (t *trade) payAnswer(r result) payAnswer {
	a := payAnswer{result: r, TradeNo: t.TradeNo, OutTradeNo: t.OutTradeNo, BuyerLogonID: t.BuyerLogonID,
		TotalAmount: yuanOf(t.Amount), BuyerUserID: t.BuyerID}
	if t.Status == tradeSuccess {
		a.ReceiptAmt = yuanOf(t.Amount)
		a.GmtPayment = t.Paid.Format(timeLayout)
	}
	return a
}

// tradePay is alipay.trade.pay (bar_code): the scenario comes from the
// payment code's last four digits.
func (s *Server) tradePay(w http.ResponseWriter, key string, q *request) {
	out, code := q.str("out_trade_no"), q.str("auth_code")
	amount, err := fenOf(q.str("total_amount"))
	if out == "" || err != nil || amount <= 0 {
		s.write(w, key, bizFailed("ACQ.INVALID_PARAMETER", "参数无效"))
		return
	}
	if len(code) < 16 || len(code) > 24 || strings.Trim(code, "0123456789") != "" {
		s.write(w, key, bizFailed("ACQ.PAYMENT_AUTH_CODE_INVALID", "支付失败，获取顾客账户信息失败，请顾客刷新付款码后重新收款"))
		return
	}
	s.mu.Lock()
	if t := s.trades[out]; t != nil {
		s.advance(t)
		a := s.answerExisting(t)
		s.mu.Unlock()
		s.write(w, key, a)
		return
	}
	if s.cancelled[out] {
		s.mu.Unlock()
		s.write(w, key, bizFailed("ACQ.TRADE_HAS_CLOSE", "交易已经关闭"))
		return
	}
	sc := sandbox.ScenarioOf(code)
	if sc == sandbox.Decline {
		s.mu.Unlock()
		s.write(w, key, bizFailed("ACQ.BUYER_BALANCE_NOT_ENOUGH", "买家余额不足"))
		return
	}
	t := s.newTrade(out, q.str("subject"), amount, q.notifyURL)
	t.Copies = sc.Copies()
	switch sc {
	case sandbox.ConfirmLater:
		t.ConfirmAt = t.Created.Add(sandbox.ConfirmDelay)
		s.timers.After(sandbox.ConfirmDelay, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.confirm(t)
		})
	case sandbox.NeverConfirm:
	default:
		s.pay(t)
	}
	a := s.answerExisting(t)
	s.mu.Unlock()

	switch sc {
	case sandbox.TimeoutThenSucceed:
		var hang <-chan time.Time
		if s.opts.HangFor > 0 {
			timer := time.NewTimer(s.opts.HangFor)
			defer timer.Stop()
			hang = timer.C
		}
		select {
		case <-q.r.Context().Done():
			return
		case <-s.closed:
			return
		case <-hang:
		}
	case sandbox.ErrorThenSucceed:
		s.write(w, key, unavailable)
		return
	}
	s.write(w, key, a)
}

// answerExisting is what trade.pay answers for a trade. Callers hold s.mu.
func (s *Server) answerExisting(t *trade) any {
	switch t.Status {
	case tradeSuccess:
		return t.payAnswer(ok)
	case waitBuyerPay:
		return t.payAnswer(paying)
	}
	return bizFailed("ACQ.TRADE_HAS_CLOSE", "交易已经关闭")
}

// newTrade records a trade waiting for the buyer. Callers hold s.mu.
func (s *Server) newTrade(out, subject string, amount int64, notifyURL string) *trade {
	t := &trade{
		TradeNo: s.newTradeNo(), OutTradeNo: out, Subject: subject, Amount: amount,
		Status: waitBuyerPay, BuyerID: "2088" + randomDigits(12), BuyerLogonID: "sandbox***@example.com",
		Created: s.now(), NotifyURL: notifyURL, Copies: 1,
	}
	s.trades[out] = t
	s.byTradeNo[t.TradeNo] = t
	return t
}

// pay marks a trade paid and notifies. Callers hold s.mu.
func (s *Server) pay(t *trade) {
	t.Status = tradeSuccess
	t.Paid = s.now()
	s.notify(t, nil)
}

// confirm completes a trade whose buyer confirmed later. Callers hold s.mu.
func (s *Server) confirm(t *trade) {
	if t.Status == waitBuyerPay && !t.ConfirmAt.IsZero() {
		s.pay(t)
	}
}

// advance applies a due confirmation (the timer may not have fired yet
// under an injected clock). Callers hold s.mu.
func (s *Server) advance(t *trade) {
	if t.Status == waitBuyerPay && !t.ConfirmAt.IsZero() && !s.now().Before(t.ConfirmAt) {
		s.confirm(t)
	}
}

func (s *Server) lookup(q *request) *trade {
	if t := s.trades[q.str("out_trade_no")]; t != nil {
		return t
	}
	return s.byTradeNo[q.str("trade_no")]
}

func (s *Server) precreate(q *request) any {
	out := q.str("out_trade_no")
	amount, err := fenOf(q.str("total_amount"))
	if out == "" || err != nil || amount <= 0 {
		return bizFailed("ACQ.INVALID_PARAMETER", "参数无效")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.trades[out] != nil || s.cancelled[out] {
		return bizFailed("ACQ.TRADE_HAS_CLOSE", "交易已经关闭")
	}
	for code, qr := range s.qrs {
		if qr.OutTradeNo == out && !qr.Closed {
			return struct {
				result
				OutTradeNo string `json:"out_trade_no"`
				QRCode     string `json:"qr_code"`
			}{ok, out, code}
		}
	}
	code := "https://qr.alipay.com/bax0" + randomHex(10)
	s.qrs[code] = &qrOrder{OutTradeNo: out, Subject: q.str("subject"), Amount: amount, NotifyURL: q.notifyURL}
	return struct {
		result
		OutTradeNo string `json:"out_trade_no"`
		QRCode     string `json:"qr_code"`
	}{ok, out, code}
}

func (s *Server) create(q *request) any {
	out := q.str("out_trade_no")
	amount, err := fenOf(q.str("total_amount"))
	buyer := q.str("buyer_id") + q.str("buyer_open_id")
	if out == "" || err != nil || amount <= 0 {
		return bizFailed("ACQ.INVALID_PARAMETER", "参数无效")
	}
	if buyer == "" {
		return bizFailed("ACQ.INVALID_PARAMETER", "买家信息缺失")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.trades[out]
	if t == nil {
		if s.cancelled[out] {
			return bizFailed("ACQ.TRADE_HAS_CLOSE", "交易已经关闭")
		}
		t = s.newTrade(out, q.str("subject"), amount, q.notifyURL)
		t.BuyerID = buyer
	}
	return struct {
		result
		TradeNo    string `json:"trade_no"`
		OutTradeNo string `json:"out_trade_no"`
	}{ok, t.TradeNo, out}
}

func (s *Server) query(q *request) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.lookup(q)
	if t == nil {
		return notExist
	}
	s.advance(t)
	a := struct {
		result
		TradeNo      string `json:"trade_no"`
		OutTradeNo   string `json:"out_trade_no"`
		BuyerLogonID string `json:"buyer_logon_id"`
		TradeStatus  string `json:"trade_status"`
		TotalAmount  string `json:"total_amount"`
		BuyerPayAmt  string `json:"buyer_pay_amount,omitempty"`
		ReceiptAmt   string `json:"receipt_amount,omitempty"`
		SendPayDate  string `json:"send_pay_date,omitempty"`
		BuyerUserID  string `json:"buyer_user_id"`
	}{result: ok, TradeNo: t.TradeNo, OutTradeNo: t.OutTradeNo, BuyerLogonID: t.BuyerLogonID,
		TradeStatus: t.Status, TotalAmount: yuanOf(t.Amount), BuyerUserID: t.BuyerID}
	if !t.Paid.IsZero() {
		a.BuyerPayAmt = yuanOf(t.Amount)
		a.ReceiptAmt = yuanOf(t.Amount)
		a.SendPayDate = t.Paid.Format(timeLayout)
	}
	return a
}

// cancel is alipay.trade.cancel: close an unpaid trade, refund a paid one.
// A trade never seen is remembered as cancelled so that a late pay fails.
func (s *Server) cancel(q *request) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := q.str("out_trade_no")
	type answer struct {
		result
		TradeNo    string `json:"trade_no,omitempty"`
		OutTradeNo string `json:"out_trade_no"`
		RetryFlag  string `json:"retry_flag"`
		Action     string `json:"action"`
	}
	t := s.lookup(q)
	if t == nil {
		if out == "" {
			return bizFailed("ACQ.INVALID_PARAMETER", "参数无效")
		}
		s.cancelled[out] = true
		s.closeQR(out)
		return answer{ok, "", out, "N", "close"}
	}
	s.advance(t)
	if t.Refunded > 0 && !t.Cancelled {
		// Alipay refuses to cancel a trade that was refunded, in part or
		// in full (docs/channels/wallets.md, "Refunds and reversals").
		return bizFailed("ACQ.REASON_TRADE_REFUND_FEE_ERR", "退款金额无效")
	}
	action := "close"
	if t.Status == tradeSuccess {
		action = "refund"
		t.Refunds = append(t.Refunds, &refund{OutRequestNo: "", Amount: t.Amount, At: s.now()})
		t.Refunded = t.Amount
	}
	if t.Cancelled {
		action = t.CancelAction
	}
	t.Cancelled, t.CancelAction = true, action
	t.Status = tradeClosed
	return answer{ok, t.TradeNo, t.OutTradeNo, "N", action}
}

// closeQR closes an unscanned QR of out. Callers hold s.mu.
func (s *Server) closeQR(out string) {
	for _, qr := range s.qrs {
		if qr.OutTradeNo == out {
			qr.Closed = true
		}
	}
}

func (s *Server) closeTrade(q *request) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.lookup(q)
	if t == nil {
		out := q.str("out_trade_no")
		if out != "" {
			s.cancelled[out] = true
			s.closeQR(out)
		}
		return notExist
	}
	s.advance(t)
	switch t.Status {
	case tradeSuccess:
		return bizFailed("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
	case waitBuyerPay:
		t.Status = tradeClosed
	}
	return struct {
		result
		TradeNo    string `json:"trade_no"`
		OutTradeNo string `json:"out_trade_no"`
	}{ok, t.TradeNo, t.OutTradeNo}
}

func (s *Server) refund(q *request) any {
	reqNo := q.str("out_request_no")
	amount, err := fenOf(q.str("refund_amount"))
	if err != nil || amount <= 0 {
		return bizFailed("ACQ.INVALID_PARAMETER", "参数无效")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.lookup(q)
	if t == nil {
		return notExist
	}
	s.advance(t)
	if reqNo == "" {
		reqNo = t.OutTradeNo
	}
	type answer struct {
		result
		TradeNo      string `json:"trade_no"`
		OutTradeNo   string `json:"out_trade_no"`
		BuyerLogonID string `json:"buyer_logon_id"`
		FundChange   string `json:"fund_change"`
		RefundFee    string `json:"refund_fee"`
		GmtRefundPay string `json:"gmt_refund_pay"`
		BuyerUserID  string `json:"buyer_user_id"`
	}
	for _, rf := range t.Refunds {
		if rf.OutRequestNo == reqNo {
			return answer{ok, t.TradeNo, t.OutTradeNo, t.BuyerLogonID, "N", yuanOf(t.Refunded), rf.At.Format(timeLayout), t.BuyerID}
		}
	}
	if t.Paid.IsZero() || (t.Status != tradeSuccess) {
		return bizFailed("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
	}
	if t.Refunded+amount > t.Amount {
		return bizFailed("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限")
	}
	rf := &refund{OutRequestNo: reqNo, Amount: amount, At: s.now()}
	t.Refunds = append(t.Refunds, rf)
	t.Refunded += amount
	if t.Refunded == t.Amount {
		t.Status = tradeClosed
	}
	s.notify(t, rf)
	return answer{ok, t.TradeNo, t.OutTradeNo, t.BuyerLogonID, "Y", yuanOf(t.Refunded), rf.At.Format(timeLayout), t.BuyerID}
}

func (s *Server) refundQuery(q *request) any {
	reqNo := q.str("out_request_no")
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.lookup(q)
	if t == nil {
		return notExist
	}
	for _, rf := range t.Refunds {
		if rf.OutRequestNo == reqNo && reqNo != "" {
			return struct {
				result
				TradeNo      string `json:"trade_no"`
				OutTradeNo   string `json:"out_trade_no"`
				OutRequestNo string `json:"out_request_no"`
				TotalAmount  string `json:"total_amount"`
				RefundAmount string `json:"refund_amount"`
				RefundStatus string `json:"refund_status"`
				GmtRefundPay string `json:"gmt_refund_pay"`
			}{ok, t.TradeNo, t.OutTradeNo, reqNo, yuanOf(t.Amount), yuanOf(rf.Amount), "REFUND_SUCCESS", rf.At.Format(timeLayout)}
		}
	}
	return ok // Alipay answers an unknown refund with an empty success
}

func (s *Server) billURL(q *request) any {
	day, err := time.ParseInLocation("2006-01-02", q.str("bill_date"), cst)
	if err != nil || q.str("bill_type") != "trade" {
		return bizFailed("isp.bill_not_exist", "账单不存在")
	}
	r := q.r
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	path, _, _ := strings.Cut(r.RequestURI, "?")
	prefix := strings.TrimSuffix(path, "gateway.do")
	u := scheme + "://" + r.Host + prefix + "bill/download?bill_date=" + day.Format("20060102") + "&downloadFileName=" + s.sellerID + "_" + day.Format("20060102") + ".csv.zip"
	return struct {
		result
		URL string `json:"bill_download_url"`
	}{ok, u}
}

// Books returns what the simulator holds for the trade out_trade_no (see
// sandbox.Books), and false when it has no such trade. A cancel's full
// refund counts as the reversal, not as a refund.
func (s *Server) Books(outTradeNo string) (sandbox.Books, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.trades[outTradeNo]
	if !ok {
		return sandbox.Books{}, false
	}
	s.advance(t)
	var b sandbox.Books
	if !t.Paid.IsZero() {
		b.Paid = t.Amount
	}
	b.Reversed = t.Cancelled
	for _, rf := range t.Refunds {
		if rf.OutRequestNo != "" {
			b.Refunded += rf.Amount
		}
	}
	return b, true
}
