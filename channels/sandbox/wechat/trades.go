package wechat

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/paygate-cn/paygate/channels/sandbox"
)

// beijing is WeChat's time zone.
var beijing = time.FixedZone("CST", 8*3600)

// Trade states.
const (
	stateSuccess    = "SUCCESS"
	stateRefund     = "REFUND"
	stateNotPay     = "NOTPAY"
	stateClosed     = "CLOSED"
	stateRevoked    = "REVOKED"
	stateUserPaying = "USERPAYING"
	statePayError   = "PAYERROR"
)

type trade struct {
	appid, mchid  string
	outTradeNo    string
	transactionID string
	tradeType     string // MICROPAY, NATIVE, JSAPI, MWEB, APP
	state         string
	stateDesc     string
	description   string
	attach        string
	openid        string
	notifyURL     string
	code          string // code_url, prepay_id or h5_url
	total         int64
	refunded      int64
	createdAt     time.Time
	successAt     time.Time
	confirmAt     time.Time // 1111: when the customer confirms
	scenario      sandbox.Scenario
}

type amountIn struct {
	Total    int64  `json:"total"`
	Currency string `json:"currency"`
}

type orderIn struct {
	AppID       string   `json:"appid"`
	MchID       string   `json:"mchid"`
	Description string   `json:"description"`
	OutTradeNo  string   `json:"out_trade_no"`
	Attach      string   `json:"attach"`
	NotifyURL   string   `json:"notify_url"`
	TimeExpire  string   `json:"time_expire"`
	Amount      amountIn `json:"amount"`
	Payer       struct {
		AuthCode string `json:"auth_code"`
		OpenID   string `json:"openid"`
	} `json:"payer"`
	SceneInfo struct {
		PayerClientIP string `json:"payer_client_ip"`
		H5Info        *struct {
			Type string `json:"type"`
		} `json:"h5_info"`
	} `json:"scene_info"`
}

func (s *Server) newTransactionID() string { return "4200" + randomDigits(24) }
func newOpenID() string                    { return "oUpF8u" + randomString(22) }

func (s *Server) timeString(t time.Time) string { return t.In(beijing).Format(time.RFC3339) }

// settleLocked applies what time has done to a trade (1111 confirmations).
func (s *Server) settleLocked(t *trade) {
	if t.state == stateUserPaying && !t.confirmAt.IsZero() && !s.now().Before(t.confirmAt) {
		s.paidLocked(t, 1)
	}
}

// paidLocked marks a trade paid and sends its notification.
func (s *Server) paidLocked(t *trade, copies int) {
	t.state, t.stateDesc = stateSuccess, "支付成功"
	t.successAt = s.now()
	if t.openid == "" {
		t.openid = newOpenID()
	}
	if t.transactionID == "" {
		t.transactionID = s.newTransactionID()
	}
	url := t.notifyURL
	if url == "" {
		url = s.opts.NotifyURL
	}
	s.notify(url, "TRANSACTION.SUCCESS", "支付成功", "transaction", s.tradeJSON(t), copies)
}

// tradeJSON is a trade as WeChat shows it (query answer, notify resource).
func (s *Server) tradeJSON(t *trade) map[string]any {
	m := map[string]any{
		"appid":            t.appid,
		"mchid":            t.mchid,
		"out_trade_no":     t.outTradeNo,
		"trade_type":       t.tradeType,
		"trade_state":      t.state,
		"trade_state_desc": t.stateDesc,
		"attach":           t.attach,
		"amount":           map[string]any{"total": t.total, "currency": "CNY"},
	}
	if t.transactionID != "" {
		m["transaction_id"] = t.transactionID
	}
	if t.openid != "" {
		m["payer"] = map[string]any{"openid": t.openid}
	}
	if !t.successAt.IsZero() {
		m["success_time"] = s.timeString(t.successAt)
		m["bank_type"] = "OTHERS"
		m["amount"] = map[string]any{"total": t.total, "payer_total": t.total, "currency": "CNY", "payer_currency": "CNY"}
	}
	return m
}

func decodeOrder(w http.ResponseWriter, r *http.Request, s *Server) (*orderIn, bool) {
	var in orderIn
	if err := json.Unmarshal(requestBody(r), &in); err != nil {
		s.reply(w, http.StatusBadRequest, errBody("PARAM_ERROR", "请求体不是有效的JSON"))
		return nil, false
	}
	switch {
	case in.AppID != s.opts.AppID || in.MchID != s.opts.MchID:
		s.reply(w, http.StatusBadRequest, errBody("APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配"))
	case in.OutTradeNo == "" || len(in.OutTradeNo) > 32:
		s.reply(w, http.StatusBadRequest, errBody("PARAM_ERROR", "out_trade_no 无效"))
	case in.Description == "":
		s.reply(w, http.StatusBadRequest, errBody("PARAM_ERROR", "description 缺失"))
	case in.Amount.Total <= 0 || (in.Amount.Currency != "" && in.Amount.Currency != "CNY"):
		s.reply(w, http.StatusBadRequest, errBody("PARAM_ERROR", "amount 无效"))
	default:
		return &in, true
	}
	return nil, false
}

// codePay serves POST /v3/pay/transactions/codepay.
func (s *Server) codePay(w http.ResponseWriter, r *http.Request) {
	in, ok := decodeOrder(w, r, s)
	if !ok {
		return
	}
	if in.Payer.AuthCode == "" {
		s.reply(w, http.StatusBadRequest, errBody("PARAM_ERROR", "payer.auth_code 缺失"))
		return
	}
	s.mu.Lock()
	if t, ok := s.trades[in.OutTradeNo]; ok {
		if t.tradeType != "MICROPAY" {
			s.mu.Unlock()
			s.reply(w, http.StatusBadRequest, errBody("OUT_TRADE_NO_USED", "商户订单号重复"))
			return
		}
		s.settleLocked(t)
		status, body := s.codePayAnswer(t)
		s.mu.Unlock()
		s.reply(w, status, body)
		return
	}
	t := &trade{
		appid: in.AppID, mchid: in.MchID, outTradeNo: in.OutTradeNo, tradeType: "MICROPAY",
		description: in.Description, attach: in.Attach, total: in.Amount.Total,
		createdAt: s.now(), scenario: sandbox.ScenarioOf(in.Payer.AuthCode),
		transactionID: s.newTransactionID(), openid: newOpenID(),
	}
	s.trades[t.outTradeNo] = t
	switch t.scenario {
	case sandbox.ConfirmLater:
		t.state, t.stateDesc = stateUserPaying, "用户支付中"
		t.confirmAt = s.now().Add(sandbox.ConfirmDelay)
		s.timers.After(sandbox.ConfirmDelay, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if t.state == stateUserPaying {
				s.paidLocked(t, 1)
			}
		})
	case sandbox.NeverConfirm:
		t.state, t.stateDesc = stateUserPaying, "用户支付中"
	case sandbox.Decline:
		t.state, t.stateDesc = statePayError, "余额不足"
	default:
		s.paidLocked(t, t.scenario.Copies())
	}
	status, body := s.codePayAnswer(t)
	s.mu.Unlock()

	switch t.scenario {
	case sandbox.TimeoutThenSucceed:
		timer := time.NewTimer(s.opts.HangFor)
		defer timer.Stop()
		select {
		case <-r.Context().Done():
		case <-timer.C:
		case <-s.done:
		}
		panic(http.ErrAbortHandler) // drop the connection: no answer at all
	case sandbox.ErrorThenSucceed:
		s.reply(w, http.StatusInternalServerError, errBody("SYSTEM_ERROR", "系统错误"))
		return
	}
	s.reply(w, status, body)
}

// codePayAnswer is the codepay answer for a trade's current state.
func (s *Server) codePayAnswer(t *trade) (int, any) {
	switch t.state {
	case stateSuccess, stateRefund:
		return http.StatusOK, s.tradeJSON(t)
	case stateUserPaying:
		return http.StatusAccepted, errBody("USERPAYING", "用户支付中，需要输入密码")
	case statePayError:
		return http.StatusForbidden, errBody("NOTENOUGH", "用户账户余额不足")
	}
	return http.StatusBadRequest, errBody("ORDER_CLOSED", "订单已关闭或已撤销")
}

// prepay serves native, jsapi, h5 and app orders.
func (s *Server) prepay(w http.ResponseWriter, r *http.Request) {
	kinds := map[string]string{"native": "NATIVE", "jsapi": "JSAPI", "h5": "MWEB", "app": "APP"}
	tradeType, ok := kinds[r.PathValue("kind")]
	if !ok {
		s.reply(w, http.StatusNotFound, errBody("NOT_FOUND", "无效的请求路径"))
		return
	}
	in, ok := decodeOrder(w, r, s)
	if !ok {
		return
	}
	switch {
	case tradeType == "JSAPI" && in.Payer.OpenID == "":
		s.reply(w, http.StatusBadRequest, errBody("PARAM_ERROR", "payer.openid 缺失"))
		return
	case tradeType == "MWEB" && (in.SceneInfo.PayerClientIP == "" || in.SceneInfo.H5Info == nil):
		s.reply(w, http.StatusBadRequest, errBody("PARAM_ERROR", "scene_info 缺失"))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, exists := s.trades[in.OutTradeNo]
	if exists {
		if t.tradeType != tradeType || t.total != in.Amount.Total {
			s.reply(w, http.StatusBadRequest, errBody("INVALID_REQUEST", "商户订单号重复"))
			return
		}
		if t.state == stateSuccess || t.state == stateRefund {
			s.reply(w, http.StatusBadRequest, errBody("ORDERPAID", "该订单已支付"))
			return
		}
		if t.state != stateNotPay {
			s.reply(w, http.StatusBadRequest, errBody("ORDER_CLOSED", "订单已关闭"))
			return
		}
	} else {
		t = &trade{
			appid: in.AppID, mchid: in.MchID, outTradeNo: in.OutTradeNo, tradeType: tradeType,
			state: stateNotPay, stateDesc: "订单未支付", description: in.Description, attach: in.Attach,
			notifyURL: in.NotifyURL, total: in.Amount.Total, createdAt: s.now(), openid: in.Payer.OpenID,
		}
		prepayID := "wx" + s.now().In(beijing).Format("02150405") + randomString(24)
		switch tradeType {
		case "NATIVE":
			t.code = "weixin://wxpay/bizpayurl?pr=" + randomString(7)
		case "MWEB":
			t.code = "https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=" + prepayID + "&package=" + randomDigits(10)
			if s.opts.BaseURL != "" {
				// the sandbox's own wallet page stands in for WeChat's
				t.code = strings.TrimRight(s.opts.BaseURL, "/") + "/confirm?ref=" + prepayID
			}
			s.codes[prepayID] = t.outTradeNo
		default:
			t.code = prepayID
		}
		s.trades[t.outTradeNo] = t
		s.codes[t.code] = t.outTradeNo
	}
	switch tradeType {
	case "NATIVE":
		s.reply(w, http.StatusOK, map[string]string{"code_url": t.code})
	case "MWEB":
		s.reply(w, http.StatusOK, map[string]string{"h5_url": t.code})
	default:
		s.reply(w, http.StatusOK, map[string]string{"prepay_id": t.code})
	}
}

// query serves GET /v3/pay/transactions/out-trade-no/{no}?mchid=.
func (s *Server) query(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("mchid") != s.opts.MchID {
		s.reply(w, http.StatusBadRequest, errBody("PARAM_ERROR", "mchid 无效"))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.trades[r.PathValue("no")]
	if !ok {
		s.reply(w, http.StatusNotFound, errBody("ORDER_NOT_EXIST", "订单不存在"))
		return
	}
	s.settleLocked(t)
	s.reply(w, http.StatusOK, s.tradeJSON(t))
}

// reverse serves POST /v3/pay/transactions/out-trade-no/{no}/reverse.
func (s *Server) reverse(w http.ResponseWriter, r *http.Request) {
	var in struct {
		AppID string `json:"appid"`
		MchID string `json:"mchid"`
	}
	if json.Unmarshal(requestBody(r), &in) != nil || in.AppID != s.opts.AppID || in.MchID != s.opts.MchID {
		s.reply(w, http.StatusBadRequest, errBody("PARAM_ERROR", "appid 或 mchid 无效"))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.trades[r.PathValue("no")]
	if !ok {
		s.reply(w, http.StatusNotFound, errBody("ORDER_NOT_EXIST", "订单不存在"))
		return
	}
	if t.tradeType != "MICROPAY" {
		s.reply(w, http.StatusBadRequest, errBody("INVALID_REQUEST", "仅付款码支付订单可撤销"))
		return
	}
	s.settleLocked(t)
	if t.refunded > 0 {
		s.reply(w, http.StatusBadRequest, errBody("INVALID_REQUEST", "订单已退款，不可撤销"))
		return
	}
	t.state, t.stateDesc = stateRevoked, "已撤销"
	t.confirmAt = time.Time{}
	s.reply(w, http.StatusOK, map[string]string{"appid": t.appid, "mchid": t.mchid, "out_trade_no": t.outTradeNo})
}

// closeOrder serves POST /v3/pay/transactions/out-trade-no/{no}/close.
func (s *Server) closeOrder(w http.ResponseWriter, r *http.Request) {
	var in struct {
		MchID string `json:"mchid"`
	}
	if json.Unmarshal(requestBody(r), &in) != nil || in.MchID != s.opts.MchID {
		s.reply(w, http.StatusBadRequest, errBody("PARAM_ERROR", "mchid 无效"))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.trades[r.PathValue("no")]
	if !ok {
		s.reply(w, http.StatusNotFound, errBody("ORDER_NOT_EXIST", "订单不存在"))
		return
	}
	s.settleLocked(t)
	switch t.state {
	case stateSuccess, stateRefund:
		s.reply(w, http.StatusBadRequest, errBody("ORDERPAID", "订单已支付"))
		return
	case stateNotPay, stateUserPaying, statePayError:
		t.state, t.stateDesc = stateClosed, "订单已关闭"
		t.confirmAt = time.Time{}
	}
	s.reply(w, http.StatusNoContent, nil)
}

// scan simulates a customer paying an order's QR code or prepay.
func (s *Server) scan(w http.ResponseWriter, r *http.Request) {
	var in struct {
		QRCode    string `json:"qr_code"`
		PrepayID  string `json:"prepay_id"`
		H5URL     string `json:"h5_url"`
		PayerCode string `json:"payer_code"`
		OpenID    string `json:"openid"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&in); err != nil {
		s.reply(w, http.StatusBadRequest, errBody("PARAM_ERROR", "请求体不是有效的JSON"))
		return
	}
	code := in.QRCode + in.PrepayID + in.H5URL
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.trades[s.codes[code]]
	if !ok || code == "" {
		s.reply(w, http.StatusNotFound, errBody("ORDER_NOT_EXIST", "二维码无效"))
		return
	}
	if t.state != stateNotPay {
		s.reply(w, http.StatusConflict, errBody("INVALID_REQUEST", "订单状态为 "+t.state))
		return
	}
	sc := sandbox.ScenarioOf(in.PayerCode)
	if sc == sandbox.Decline {
		s.reply(w, http.StatusPaymentRequired, errBody("NOTENOUGH", "用户账户余额不足"))
		return
	}
	if in.OpenID != "" {
		t.openid = in.OpenID
	}
	s.paidLocked(t, sc.Copies())
	s.reply(w, http.StatusOK, map[string]string{
		"out_trade_no": t.outTradeNo, "transaction_id": t.transactionID, "trade_state": t.state,
	})
}
