package alipay

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/go-pay/gopay"
	ali "github.com/go-pay/gopay/alipay"

	"github.com/paygate-cn/paygate"
)

// Trade statuses (alipay.trade.query, notifications).
const (
	tradeWaitBuyerPay = "WAIT_BUYER_PAY"
	tradeSuccess      = "TRADE_SUCCESS"
	tradeFinished     = "TRADE_FINISHED"
	tradeClosed       = "TRADE_CLOSED"
)

// tradeNotExist is the sub_code for a trade Alipay does not know.
const tradeNotExist = "ACQ.TRADE_NOT_EXIST"

// declineCodes maps the sub_codes of final business failures to paygate
// failure codes. A 40004 sub_code not listed is a decline with "declined".
var declineCodes = map[string]string{
	"ACQ.PAYMENT_AUTH_CODE_INVALID":         "invalid_auth_code",
	"ACQ.AUTH_CODE_INVALID":                 "invalid_auth_code",
	"ACQ.BUYER_BALANCE_NOT_ENOUGH":          "insufficient_balance",
	"ACQ.BUYER_BANKCARD_BALANCE_NOT_ENOUGH": "insufficient_balance",
	"ACQ.ERROR_BALANCE_PAYMENT_DISABLE":     "insufficient_balance",
	"ACQ.PAYMENT_REQUEST_HAS_RISK":          "risk_declined",
	"ACQ.BUYER_ENABLE_STATUS_FORBID":        "payer_blocked",
	"ACQ.BUYER_SELLER_EQUAL":                "declined",
	"ACQ.TOTAL_FEE_EXCEED":                  "amount_too_large",
	"ACQ.PULL_MOBILE_CASHIER_FAIL":          "declined",
	"ACQ.TRADE_HAS_CLOSE":                   "order_closed",
	"ACQ.TRADE_BUYER_NOT_MATCH":             "payer_mismatch",
	"ACQ.CONTEXT_INCONSISTENT":              "order_changed",
}

// decline turns a 40004 answer into a declined result.
func decline(st status) *paygate.Result {
	fc := declineCodes[st.SubCode]
	if fc == "" {
		fc = "declined"
	}
	return &paygate.Result{Outcome: paygate.OutcomeDeclined, Failure: &paygate.Failure{
		Code: fc, Message: firstNonEmpty(st.SubMsg, st.Msg), ChannelCode: st.SubCode,
	}}
}

// Pay starts a payment: alipay.trade.pay for a payment code (one call; the
// caller polls Query while the buyer confirms), trade.precreate for a QR,
// trade.create for an in-wallet page (PayerID is the buyer id), wap/page pay
// for h5/web (Credential carries the signed URL the browser opens) and app
// pay (Credential carries the signed order string).
func (c *Client) Pay(ctx context.Context, req *paygate.PaymentRequest) (*paygate.Result, error) {
	biz := make(gopay.BodyMap)
	biz.Set("out_trade_no", req.OrderID).
		Set("total_amount", yuan(req.Amount)).
		Set("subject", req.Subject)
	if req.NotifyURL != "" {
		biz.Set("notify_url", req.NotifyURL)
	}
	if !req.ExpiresAt.IsZero() {
		biz.Set("time_expire", req.ExpiresAt.In(cst).Format(timeLayout))
	}
	if req.TerminalID != "" {
		biz.Set("terminal_id", req.TerminalID)
	}
	switch req.Method {
	case paygate.MethodAuthCode:
		return c.payAuthCode(ctx, biz, req)
	case paygate.MethodQR:
		return c.precreate(ctx, biz)
	case paygate.MethodJSAPI:
		return c.create(ctx, biz, req)
	case paygate.MethodH5, paygate.MethodWeb, paygate.MethodApp:
		return c.pagePay(ctx, biz, req.Method)
	}
	return nil, paygate.ParamErrorf(paygate.EUNSUPPORTED, "method", "alipay does not support method %q", req.Method)
}

type payResponse struct {
	status
	TradeNo     string `json:"trade_no"`
	OutTradeNo  string `json:"out_trade_no"`
	TotalAmount string `json:"total_amount"`
	GmtPayment  string `json:"gmt_payment"`
	BuyerUserID string `json:"buyer_user_id"`
	BuyerOpenID string `json:"buyer_open_id"`
}

func (c *Client) payAuthCode(ctx context.Context, biz gopay.BodyMap, req *paygate.PaymentRequest) (*paygate.Result, error) {
	if req.AuthCode == "" {
		return nil, paygate.ParamErrorf(paygate.EPARAMMISSING, "auth_code", "auth_code is required")
	}
	biz.Set("scene", "bar_code").
		Set("auth_code", req.AuthCode).
		Set("product_code", "FACE_TO_FACE_PAYMENT")
	raw, st, err := c.call(ctx, "pay", "alipay.trade.pay", biz)
	if err != nil {
		return nil, err
	}
	var r payResponse
	if err := decode("pay", c, raw, &r); err != nil {
		return nil, err
	}
	switch st.Code {
	case codeSuccess:
		res := &paygate.Result{
			Outcome:        paygate.OutcomeSuccess,
			ChannelTradeNo: r.TradeNo,
			PaidAt:         parseTime(r.GmtPayment),
			PayerID:        firstNonEmpty(r.BuyerUserID, r.BuyerOpenID),
		}
		if r.TotalAmount != "" {
			amt, err := parseFen(r.TotalAmount)
			if err != nil {
				return nil, &paygate.ChannelError{Provider: c.id, Op: "pay", Message: "malformed total_amount", Err: err}
			}
			res.Amount = amt
		}
		return res, nil
	case codePaying:
		return &paygate.Result{Outcome: paygate.OutcomePending, ChannelTradeNo: r.TradeNo}, nil
	case codeBizFailed:
		if st.SubCode == "ACQ.TRADE_HAS_SUCCESS" {
			// A retry of a paid out_trade_no: not a decline; Query says more.
			return &paygate.Result{Outcome: paygate.OutcomePending, ChannelTradeNo: r.TradeNo}, nil
		}
		return decline(st), nil
	}
	return nil, c.unexpected("pay", st)
}

type precreateResponse struct {
	status
	QRCode string `json:"qr_code"`
}

func (c *Client) precreate(ctx context.Context, biz gopay.BodyMap) (*paygate.Result, error) {
	raw, st, err := c.call(ctx, "pay", "alipay.trade.precreate", biz)
	if err != nil {
		return nil, err
	}
	switch st.Code {
	case codeSuccess:
		var r precreateResponse
		if err := decode("pay", c, raw, &r); err != nil {
			return nil, err
		}
		if r.QRCode == "" {
			return nil, &paygate.ChannelError{Provider: c.id, Op: "pay", Message: "precreate answered no qr_code"}
		}
		return &paygate.Result{Outcome: paygate.OutcomePending, QRCode: r.QRCode}, nil
	case codeBizFailed:
		return decline(st), nil
	}
	return nil, c.unexpected("pay", st)
}

type createResponse struct {
	status
	TradeNo string `json:"trade_no"`
}

func (c *Client) create(ctx context.Context, biz gopay.BodyMap, req *paygate.PaymentRequest) (*paygate.Result, error) {
	if req.PayerID == "" {
		return nil, paygate.ParamErrorf(paygate.EPARAMMISSING, "payer_id", "alipay jsapi needs the buyer id")
	}
	// buyer_id is the 2088-prefixed user id; anything else is an open id.
	if strings.HasPrefix(req.PayerID, "2088") {
		biz.Set("buyer_id", req.PayerID)
	} else {
		biz.Set("buyer_open_id", req.PayerID)
	}
	biz.Set("product_code", "JSAPI_PAY")
	raw, st, err := c.call(ctx, "pay", "alipay.trade.create", biz)
	if err != nil {
		return nil, err
	}
	switch st.Code {
	case codeSuccess:
		var r createResponse
		if err := decode("pay", c, raw, &r); err != nil {
			return nil, err
		}
		cred, _ := json.Marshal(map[string]string{"trade_no": r.TradeNo})
		return &paygate.Result{Outcome: paygate.OutcomePending, ChannelTradeNo: r.TradeNo, Credential: cred}, nil
	case codeBizFailed:
		return decline(st), nil
	}
	return nil, c.unexpected("pay", st)
}

// pagePay signs a wap, page or app pay request locally; nothing is sent to
// Alipay until the browser or app opens it.
func (c *Client) pagePay(ctx context.Context, biz gopay.BodyMap, m paygate.Method) (*paygate.Result, error) {
	var (
		s   string
		err error
		key = "pay_url"
	)
	switch m {
	case paygate.MethodH5:
		biz.Set("product_code", "QUICK_WAP_WAY")
		s, err = c.gp.TradeWapPay(ctx, biz)
	case paygate.MethodWeb:
		biz.Set("product_code", "FAST_INSTANT_TRADE_PAY")
		s, err = c.gp.TradePagePay(ctx, biz)
	default:
		biz.Set("product_code", "QUICK_MSECURITY_PAY")
		s, err = c.gp.TradeAppPay(ctx, biz)
		key = "order_string"
	}
	if err != nil {
		return nil, &paygate.ChannelError{Provider: c.id, Op: "pay", Message: "cannot sign the pay request", Err: err}
	}
	if key == "pay_url" {
		s = c.gatewayURL(s)
	}
	cred, _ := json.Marshal(map[string]string{key: s})
	return &paygate.Result{Outcome: paygate.OutcomePending, Credential: cred}, nil
}

type queryResponse struct {
	status
	TradeNo     string `json:"trade_no"`
	OutTradeNo  string `json:"out_trade_no"`
	TradeStatus string `json:"trade_status"`
	TotalAmount string `json:"total_amount"`
	SendPayDate string `json:"send_pay_date"`
	BuyerUserID string `json:"buyer_user_id"`
	BuyerOpenID string `json:"buyer_open_id"`
}

// Query asks alipay.trade.query for an order's payment.
func (c *Client) Query(ctx context.Context, o *paygate.Order) (*paygate.Result, error) {
	biz := make(gopay.BodyMap)
	biz.Set("out_trade_no", o.ID)
	raw, st, err := c.call(ctx, "query", "alipay.trade.query", biz)
	if err != nil {
		return nil, err
	}
	switch {
	case st.Code == codeBizFailed && st.SubCode == tradeNotExist:
		return &paygate.Result{Outcome: paygate.OutcomeNotFound}, nil
	case st.Code != codeSuccess:
		return nil, c.unexpected("query", st)
	}
	var r queryResponse
	if err := decode("query", c, raw, &r); err != nil {
		return nil, err
	}
	res := &paygate.Result{ChannelTradeNo: r.TradeNo, PayerID: firstNonEmpty(r.BuyerUserID, r.BuyerOpenID)}
	switch r.TradeStatus {
	case tradeSuccess, tradeFinished:
		res.Outcome = paygate.OutcomeSuccess
		res.PaidAt = parseTime(r.SendPayDate)
		amt, err := parseFen(r.TotalAmount)
		if err != nil {
			return nil, &paygate.ChannelError{Provider: c.id, Op: "query", Message: "malformed total_amount", Err: err}
		}
		res.Amount = amt
	case tradeWaitBuyerPay:
		res.Outcome = paygate.OutcomePending
	case tradeClosed:
		res.Outcome = paygate.OutcomeClosed
	default:
		return nil, &paygate.ChannelError{Provider: c.id, Op: "query", Code: r.TradeStatus, Message: "unknown trade_status"}
	}
	return res, nil
}

// Reverse cancels a payment with alipay.trade.cancel: an unpaid trade is
// closed, a paid one refunded in full. Success is OutcomeClosed. Alipay's
// retry_flag=Y (try again) is a *paygate.ChannelError.
func (c *Client) Reverse(ctx context.Context, o *paygate.Order) (*paygate.Result, error) {
	biz := make(gopay.BodyMap)
	biz.Set("out_trade_no", o.ID)
	raw, st, err := c.call(ctx, "reverse", "alipay.trade.cancel", biz)
	if err != nil {
		return nil, err
	}
	var r ali.TradeCancel
	if err := decode("reverse", c, raw, &r); err != nil {
		return nil, err
	}
	switch {
	case st.Code == codeSuccess:
		return &paygate.Result{Outcome: paygate.OutcomeClosed, ChannelTradeNo: r.TradeNo}, nil
	case r.RetryFlag == "Y":
		return nil, c.unexpected("reverse", st)
	case st.Code == codeBizFailed && st.SubCode == tradeNotExist:
		return &paygate.Result{Outcome: paygate.OutcomeNotFound}, nil
	case st.Code == codeBizFailed:
		return decline(st), nil
	}
	return nil, c.unexpected("reverse", st)
}

// CloseOrder closes an unpaid trade with alipay.trade.close. A trade Alipay
// never created (a QR nobody scanned) needs no closing. Returns
// EINVALIDSTATE if the trade is already paid.
func (c *Client) CloseOrder(ctx context.Context, o *paygate.Order) error {
	biz := make(gopay.BodyMap)
	biz.Set("out_trade_no", o.ID)
	_, st, err := c.call(ctx, "close", "alipay.trade.close", biz)
	if err != nil {
		return err
	}
	switch {
	case st.Code == codeSuccess:
		return nil
	case st.Code == codeBizFailed && st.SubCode == tradeNotExist:
		return nil
	case st.Code == codeBizFailed && st.SubCode == "ACQ.TRADE_STATUS_ERROR":
		return paygate.Errorf(paygate.EINVALIDSTATE, "alipay: %s", firstNonEmpty(st.SubMsg, "trade is not open"))
	}
	return c.unexpected("close", st)
}
