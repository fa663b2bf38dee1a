package wechat

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/go-pay/gopay"
	v3 "github.com/go-pay/gopay/wechat/v3"

	"github.com/paygate-cn/paygate"
)

// declineCodes are the codepay error codes that refuse a payment for good,
// mapped to paygate's failure codes. Anything not listed is an unknown
// outcome: the caller queries.
var declineCodes = map[string]string{
	"NOTENOUGH":               "insufficient_balance",
	"AUTHCODEEXPIRE":          "invalid_auth_code",
	"AUTH_CODE_EXPIRE":        "invalid_auth_code",
	"AUTH_CODE_INVALID":       "invalid_auth_code",
	"AUTH_CODE_ERROR":         "invalid_auth_code",
	"INVALID_AUTH_CODE":       "invalid_auth_code",
	"TRADE_ERROR":             "declined",
	"BUYER_MISMATCH":          "declined",
	"PAYER_ACCOUNT_ABNORMAL":  "declined",
	"RULE_LIMIT":              "declined",
	"NO_AUTH":                 "declined",
	"OUT_TRADE_NO_USED":       "declined",
	"ORDER_CLOSED":            "declined",
	"PARAM_ERROR":             "declined",
	"APPID_MCHID_NOT_MATCH":   "declined",
	"MCH_NOT_EXISTS":          "declined",
	"ACCOUNT_ERROR":           "declined",
	"NOT_SUPPORT_PAYER_TRADE": "declined",
}

// Trade states (trade_state).
const (
	stateSuccess    = "SUCCESS"
	stateRefund     = "REFUND"
	stateNotPay     = "NOTPAY"
	stateClosed     = "CLOSED"
	stateRevoked    = "REVOKED"
	stateUserPaying = "USERPAYING"
	statePayError   = "PAYERROR"
)

// Pay starts a payment: codepay for auth_code, native for qr, and a prepay
// for jsapi, h5 and app.
func (c *Client) Pay(ctx context.Context, req *paygate.PaymentRequest) (*paygate.Result, error) {
	switch req.Method {
	case paygate.MethodAuthCode:
		return c.codePay(ctx, req)
	case paygate.MethodQR:
		return c.native(ctx, req)
	case paygate.MethodJSAPI, paygate.MethodH5, paygate.MethodApp:
		return c.prepay(ctx, req)
	}
	return nil, paygate.ParamErrorf(paygate.EUNSUPPORTED, "method", "wechat does not support method %q", req.Method)
}

func (c *Client) amount(req *paygate.PaymentRequest) gopay.BodyMap {
	return gopay.BodyMap{"total": req.Amount, "currency": paygate.Currency}
}

func (c *Client) codePay(ctx context.Context, req *paygate.PaymentRequest) (*paygate.Result, error) {
	if req.AuthCode == "" {
		return nil, paygate.ParamErrorf(paygate.EPARAMMISSING, "auth_code", "auth_code is required")
	}
	storeID := req.TerminalID
	if req.Merchant != nil && req.Merchant.ID != "" {
		storeID = req.Merchant.ID
	}
	bm := gopay.BodyMap{
		"appid":        c.appid,
		"mchid":        c.mchid,
		"description":  req.Subject,
		"out_trade_no": req.OrderID,
		"payer":        gopay.BodyMap{"auth_code": req.AuthCode},
		"amount":       c.amount(req),
	}
	scene := gopay.BodyMap{"store_info": gopay.BodyMap{"out_id": storeID}}
	if req.TerminalID != "" {
		scene["device_id"] = req.TerminalID
	}
	bm["scene_info"] = scene
	ctx, cancel := c.callCtx(ctx)
	defer cancel()
	rsp, err := c.wx.V3TransactionCodePay(ctx, bm)
	if err != nil {
		return nil, c.transportError(ctx, "pay", err)
	}
	switch {
	case rsp.Code == v3.Success:
		return c.tradeResult("pay", rsp.Response.TradeState, rsp.Response.TradeStateDesc, rsp.Response.TransactionId,
			rsp.Response.SuccessTime, rsp.Response.Amount, rsp.Response.Payer)
	case rsp.Code == http.StatusAccepted && rsp.ErrResponse.Code == stateUserPaying:
		if !c.signedAnswer(rsp.SignInfo) {
			return nil, c.errorAnswer("pay", rsp.Code, rsp.ErrResponse, rsp.SignInfo)
		}
		return &paygate.Result{Outcome: paygate.OutcomePending}, nil
	case rsp.Code >= 400 && rsp.Code < 500 && rsp.Code != http.StatusTooManyRequests:
		if code, ok := declineCodes[rsp.ErrResponse.Code]; ok && c.signedAnswer(rsp.SignInfo) {
			return &paygate.Result{Outcome: paygate.OutcomeDeclined, Failure: &paygate.Failure{
				Code: code, Message: rsp.ErrResponse.Message, ChannelCode: rsp.ErrResponse.Code,
			}}, nil
		}
	}
	return nil, c.errorAnswer("pay", rsp.Code, rsp.ErrResponse, rsp.SignInfo)
}

func (c *Client) orderBody(req *paygate.PaymentRequest) gopay.BodyMap {
	bm := gopay.BodyMap{
		"appid":        c.appid,
		"mchid":        c.mchid,
		"description":  req.Subject,
		"out_trade_no": req.OrderID,
		"notify_url":   req.NotifyURL,
		"amount":       c.amount(req),
	}
	if !req.ExpiresAt.IsZero() {
		bm["time_expire"] = req.ExpiresAt.Format(time.RFC3339)
	}
	return bm
}

func (c *Client) native(ctx context.Context, req *paygate.PaymentRequest) (*paygate.Result, error) {
	bm := c.orderBody(req)
	if req.ClientIP != "" {
		bm["scene_info"] = gopay.BodyMap{"payer_client_ip": req.ClientIP}
	}
	ctx, cancel := c.callCtx(ctx)
	defer cancel()
	rsp, err := c.wx.V3TransactionNative(ctx, bm)
	if err != nil {
		return nil, c.transportError(ctx, "pay", err)
	}
	if rsp.Code != v3.Success {
		return c.prepayRefused(rsp.Code, rsp.ErrResponse, rsp.SignInfo)
	}
	if rsp.Response.CodeUrl == "" {
		return nil, &paygate.ChannelError{Provider: c.id, Op: "pay", Message: "answer without code_url"}
	}
	return &paygate.Result{Outcome: paygate.OutcomePending, QRCode: rsp.Response.CodeUrl}, nil
}

// prepayRefused classifies a refused prepay: no money can have moved, so a
// signed 4xx is a decline; anything else is unknown.
func (c *Client) prepayRefused(status int, er v3.ErrResponse, si *v3.SignInfo) (*paygate.Result, error) {
	if status >= 400 && status < 500 && status != http.StatusTooManyRequests && c.signedAnswer(si) {
		return &paygate.Result{Outcome: paygate.OutcomeDeclined, Failure: &paygate.Failure{
			Code: "declined", Message: er.Message, ChannelCode: er.Code,
		}}, nil
	}
	return nil, c.errorAnswer("pay", status, er, si)
}

func (c *Client) prepay(ctx context.Context, req *paygate.PaymentRequest) (*paygate.Result, error) {
	bm := c.orderBody(req)
	ctx, cancel := c.callCtx(ctx)
	defer cancel()
	var (
		cred any
		err  error
	)
	switch req.Method {
	case paygate.MethodJSAPI:
		if req.PayerID == "" {
			return nil, paygate.ParamErrorf(paygate.EPARAMMISSING, "payer_id", "jsapi needs the payer's openid")
		}
		bm["payer"] = gopay.BodyMap{"openid": req.PayerID}
		var rsp *v3.PrepayRsp
		if rsp, err = c.wx.V3TransactionJsapi(ctx, bm); err != nil {
			break
		}
		if rsp.Code != v3.Success {
			return c.prepayRefused(rsp.Code, rsp.ErrResponse, rsp.SignInfo)
		}
		cred, err = c.wx.PaySignOfJSAPI(c.appid, rsp.Response.PrepayId)
		if err != nil {
			return nil, &paygate.ChannelError{Provider: c.id, Op: "pay", Message: "signing jsapi parameters failed"}
		}
	case paygate.MethodH5:
		ip := req.ClientIP
		if ip == "" {
			return nil, paygate.ParamErrorf(paygate.EPARAMMISSING, "client_ip", "h5 needs the payer's IP address")
		}
		bm["scene_info"] = gopay.BodyMap{"payer_client_ip": ip, "h5_info": gopay.BodyMap{"type": "Wap"}}
		var rsp *v3.H5Rsp
		if rsp, err = c.wx.V3TransactionH5(ctx, bm); err != nil {
			break
		}
		if rsp.Code != v3.Success {
			return c.prepayRefused(rsp.Code, rsp.ErrResponse, rsp.SignInfo)
		}
		cred = map[string]string{"h5_url": rsp.Response.H5Url}
	case paygate.MethodApp:
		var rsp *v3.PrepayRsp
		if rsp, err = c.wx.V3TransactionApp(ctx, bm); err != nil {
			break
		}
		if rsp.Code != v3.Success {
			return c.prepayRefused(rsp.Code, rsp.ErrResponse, rsp.SignInfo)
		}
		cred, err = c.wx.PaySignOfApp(c.appid, rsp.Response.PrepayId)
		if err != nil {
			return nil, &paygate.ChannelError{Provider: c.id, Op: "pay", Message: "signing app parameters failed"}
		}
	}
	if err != nil {
		return nil, c.transportError(ctx, "pay", err)
	}
	raw, err := json.Marshal(cred)
	if err != nil {
		return nil, err
	}
	return &paygate.Result{Outcome: paygate.OutcomePending, Credential: raw}, nil
}

// tradeResult classifies a trade_state.
func (c *Client) tradeResult(op, state, desc, txID, successTime string, amt *v3.Amount, payer *v3.Payer) (*paygate.Result, error) {
	r := &paygate.Result{ChannelTradeNo: txID}
	if amt != nil {
		r.Amount = int64(amt.Total)
	}
	if payer != nil {
		r.PayerID = payer.Openid
	}
	switch state {
	case stateSuccess, stateRefund:
		r.Outcome = paygate.OutcomeSuccess
		r.PaidAt = parseTime(successTime)
	case stateNotPay, stateUserPaying:
		r.Outcome = paygate.OutcomePending
	case stateClosed, stateRevoked:
		r.Outcome = paygate.OutcomeClosed
	case statePayError:
		r.Outcome = paygate.OutcomeDeclined
		r.Failure = &paygate.Failure{Code: "declined", Message: desc, ChannelCode: state}
	default:
		return nil, &paygate.ChannelError{Provider: c.id, Op: op, Code: state, Message: "unknown trade_state"}
	}
	return r, nil
}

// Query asks for the state of an order by out_trade_no.
func (c *Client) Query(ctx context.Context, o *paygate.Order) (*paygate.Result, error) {
	ctx, cancel := c.callCtx(ctx)
	defer cancel()
	rsp, err := c.wx.V3TransactionQueryOrder(ctx, v3.OutTradeNo, o.ID)
	if err != nil {
		return nil, c.transportError(ctx, "query", err)
	}
	if rsp.Code == v3.Success {
		q := rsp.Response
		return c.tradeResult("query", q.TradeState, q.TradeStateDesc, q.TransactionId, q.SuccessTime, q.Amount, q.Payer)
	}
	if rsp.Code == http.StatusNotFound && c.signedAnswer(rsp.SignInfo) {
		return &paygate.Result{Outcome: paygate.OutcomeNotFound}, nil
	}
	return nil, c.errorAnswer("query", rsp.Code, rsp.ErrResponse, rsp.SignInfo)
}

// Reverse cancels a payment-code order, paid or not. It returns
// OutcomeClosed when WeChat reversed it, OutcomeNotFound when WeChat has no
// such order, and a ChannelError when the reversal must be retried.
//
// WeChat reverses only payment-code (MICROPAY) orders; any other order is
// closed instead while unpaid, and one already paid is reported as the
// success it is (it can only be refunded).
func (c *Client) Reverse(ctx context.Context, o *paygate.Order) (*paygate.Result, error) {
	if o.Method != paygate.MethodAuthCode {
		return c.closeForReverse(ctx, o)
	}
	ctx, cancel := c.callCtx(ctx)
	defer cancel()
	rsp, err := c.wx.V3TransactionCodePayReverse(ctx, o.ID, gopay.BodyMap{"appid": c.appid, "mchid": c.mchid})
	if err != nil {
		return nil, c.transportError(ctx, "reverse", err)
	}
	if rsp.Code == v3.Success {
		return &paygate.Result{Outcome: paygate.OutcomeClosed, ChannelTradeNo: o.ChannelTradeNo}, nil
	}
	if rsp.Code == http.StatusNotFound && c.signedAnswer(rsp.SignInfo) {
		return &paygate.Result{Outcome: paygate.OutcomeNotFound}, nil
	}
	return nil, c.errorAnswer("reverse", rsp.Code, rsp.ErrResponse, rsp.SignInfo)
}

// closeForReverse is Reverse for orders WeChat cannot reverse.
func (c *Client) closeForReverse(ctx context.Context, o *paygate.Order) (*paygate.Result, error) {
	err := c.CloseOrder(ctx, o)
	switch paygate.ErrorCode(err) {
	case "":
		return &paygate.Result{Outcome: paygate.OutcomeClosed, ChannelTradeNo: o.ChannelTradeNo}, nil
	case paygate.ENOTFOUND:
		return &paygate.Result{Outcome: paygate.OutcomeNotFound}, nil
	case paygate.EINVALIDSTATE:
		return c.Query(ctx, o)
	}
	return nil, err
}

// CloseOrder closes an unpaid order. Returns ENOTFOUND if WeChat has no such
// order and EINVALIDSTATE if it is already paid.
func (c *Client) CloseOrder(ctx context.Context, o *paygate.Order) error {
	ctx, cancel := c.callCtx(ctx)
	defer cancel()
	rsp, err := c.wx.V3TransactionCloseOrder(ctx, o.ID)
	if err != nil {
		return c.transportError(ctx, "close", err)
	}
	if rsp.Code == v3.Success {
		return nil
	}
	if c.signedAnswer(rsp.SignInfo) {
		switch {
		case rsp.Code == http.StatusNotFound:
			return paygate.Errorf(paygate.ENOTFOUND, "wechat has no order %s", o.ID)
		case rsp.ErrResponse.Code == "ORDERPAID" || rsp.ErrResponse.Code == "ORDER_PAID":
			return paygate.Errorf(paygate.EINVALIDSTATE, "order %s is already paid at wechat", o.ID)
		}
	}
	return c.errorAnswer("close", rsp.Code, rsp.ErrResponse, rsp.SignInfo)
}
