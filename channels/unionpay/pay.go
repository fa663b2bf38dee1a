package unionpay

import (
	"context"
	"encoding/json"
	"html"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/paygate-cn/paygate"
)

// Pay starts a payment:
//   - auth_code (B-scan-C): consume 01/06 with the payer's payment code
//     (19 digits starting 62) in qrNo;
//   - qr (C-scan-B): QR apply 01/07, answered with the qrCode to show;
//   - card with entry mode contactless (QuickPass 闪付): consume 01/01 with
//     the PAN encrypted in accNo and the EMV data in cardTransData;
//   - jsapi (in the UnionPay app, UPSDK): in-app consume 01/01 bizType
//     000201 with the payer's user id, answered with the tn the page pays;
//   - h5 and web: the front-end consume form the payer's browser posts.
//
// A consume answered 00 is only accepted: the client queries once at once,
// and reports pending when the platform has no result yet.
func (c *Client) Pay(ctx context.Context, req *paygate.PaymentRequest) (*paygate.Result, error) {
	if req.Amount <= 0 {
		return nil, paygate.ParamErrorf(paygate.EAMOUNTINVALID, "amount", "amount must be a positive number of fen")
	}
	if _, kind, ok := FromOrderID(ToOrderID(req.OrderID)); !ok || kind != upOrder {
		return nil, paygate.ParamErrorf(paygate.EPARAMINVALID, "order_id", "order id %q cannot be a UnionPay orderId", req.OrderID)
	}
	var f map[string]string
	switch req.Method {
	case paygate.MethodAuthCode:
		if ch, ok := paygate.DetectAuthCode(paygate.DefaultAuthCodeRules, req.AuthCode); !ok || ch != paygate.KindUnionPay {
			return nil, paygate.ParamErrorf(paygate.EUNSUPPORTEDAUTH, "auth_code", "not a UnionPay payment code")
		}
		f = c.fields(TxnConsume, SubQRConsume, BizGeneral)
		f["qrNo"] = req.AuthCode
	case paygate.MethodQR:
		f = c.fields(TxnConsume, SubQRApply, BizGeneral)
	case paygate.MethodCard:
		var err error
		if f, err = c.cardFields(req); err != nil {
			return nil, err
		}
	case paygate.MethodJSAPI:
		if req.PayerID == "" {
			return nil, paygate.ParamErrorf(paygate.EPARAMMISSING, "payer_id", "UnionPay jsapi needs the payer's UnionPay user id")
		}
		if len(req.PayerID) > 64 || strings.Trim(req.PayerID, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-") != "" {
			return nil, paygate.ParamErrorf(paygate.EPARAMINVALID, "payer_id", "a UnionPay user id is at most 64 letters, digits, '_' or '-'")
		}
		f = c.fields(TxnConsume, SubCard, BizB2C)
		f["reserved"] = "{userId=" + req.PayerID + "}"
	case paygate.MethodH5, paygate.MethodWeb:
		return c.frontConsume(req)
	default:
		return nil, paygate.ParamErrorf(paygate.EUNSUPPORTED, "method", "UnionPay provider does not take method %q", req.Method)
	}
	f["orderId"] = ToOrderID(req.OrderID)
	f["txnTime"] = txnTimeOf(req.OrderID, c.now())
	f["txnAmt"] = strconv.FormatInt(req.Amount, 10)
	f["currencyCode"] = CurrencyCNY
	f["backUrl"] = c.backURLFor(req.NotifyURL)
	f["termId"] = termID(req.TerminalID)
	if req.Subject != "" && req.Method == paygate.MethodQR {
		f["orderDesc"] = truncRunes(req.Subject, 32)
	}
	if req.Method == paygate.MethodQR && !req.ExpiresAt.IsZero() {
		// acp has no close for a QR nobody scanned: the code stops taking
		// payments when the order's window ends (docs/channels/unionpay.md).
		f["payTimeout"] = req.ExpiresAt.In(shanghai).Format(txnTimeLayout)
	}

	path := PathBackTrans
	if req.Method == paygate.MethodJSAPI {
		path = PathAppTrans
	}
	ans, err := c.call(ctx, "pay", path, f)
	if err != nil {
		return nil, err
	}
	code := ans["respCode"]
	switch {
	case code == RespSuccess && req.Method == paygate.MethodJSAPI:
		if ans["tn"] == "" {
			return nil, &paygate.ChannelError{Provider: c.id, Op: "pay", Code: code, Message: "in-app consume answered without tn"}
		}
		cred, _ := json.Marshal(map[string]string{"tn": ans["tn"]})
		return &paygate.Result{Outcome: paygate.OutcomePending, Credential: cred}, nil
	case code == RespSuccess && req.Method == paygate.MethodQR:
		if ans["qrCode"] == "" {
			return nil, &paygate.ChannelError{Provider: c.id, Op: "pay", Code: code, Message: "QR apply answered without qrCode"}
		}
		return &paygate.Result{Outcome: paygate.OutcomePending, QRCode: ans["qrCode"]}, nil
	case code == RespSuccess || code == RespAccepted:
		pending := &paygate.Result{Outcome: paygate.OutcomePending, ChannelTradeNo: ans["queryId"]}
		r, err := c.query(ctx, "pay", req.OrderID, f["txnTime"])
		if err != nil || r.Outcome == paygate.OutcomeNotFound {
			return pending, nil // accepted; the result comes by notify or a later query
		}
		return r, nil
	case unknownCode(code):
		return nil, &paygate.ChannelError{Provider: c.id, Op: "pay", Code: code, Message: ans["respMsg"]}
	default:
		return &paygate.Result{Outcome: paygate.OutcomeDeclined, Failure: failureOf(code, ans["respMsg"])}, nil
	}
}

// frontConsume signs a front-end consume (h5: channelType 08, web: 07)
// for the payer's browser to post to the platform: the credential is that
// form, ready to submit (docs/channels/unionpay.md). Nothing is sent from
// here; the platform's notify to backUrl, or a query, gives the outcome.
func (c *Client) frontConsume(req *paygate.PaymentRequest) (*paygate.Result, error) {
	f := c.fields(TxnConsume, SubCard, BizB2C)
	if req.Method == paygate.MethodWeb {
		f["channelType"] = ChannelWeb
	}
	f["orderId"] = ToOrderID(req.OrderID)
	f["txnTime"] = txnTimeOf(req.OrderID, c.now())
	f["txnAmt"] = strconv.FormatInt(req.Amount, 10)
	f["currencyCode"] = CurrencyCNY
	f["backUrl"] = c.backURLFor(req.NotifyURL)
	f["frontUrl"] = c.frontURLFor(f["backUrl"])
	if !req.ExpiresAt.IsZero() {
		f["payTimeout"] = req.ExpiresAt.In(shanghai).Format(txnTimeLayout)
	}
	for k, v := range f {
		if v == "" {
			delete(f, k)
		}
	}
	if err := Sign(f, c.key); err != nil {
		return nil, &paygate.ChannelError{Provider: c.id, Op: "pay", Message: "signing failed", Err: err}
	}
	action := c.base + PathFrontTrans
	cred, err := json.Marshal(map[string]any{"form": FrontForm(action, f), "action": action, "fields": f})
	if err != nil {
		return nil, err
	}
	return &paygate.Result{Outcome: paygate.OutcomePending, Credential: cred}, nil
}

// frontURLFor is where the payer's browser returns after a front-end
// consume: front_url, else the gateway's own origin (taken from backUrl).
func (c *Client) frontURLFor(backURL string) string {
	if c.frontURL != "" {
		return c.frontURL
	}
	if u, err := url.Parse(backURL); err == nil && u.Host != "" {
		return u.Scheme + "://" + u.Host + "/"
	}
	return ""
}

// FrontForm is an HTML page that posts fields to action at once (the
// form a front-end consume hands to the payer's browser); it works without
// script too, by its submit button.
func FrontForm(action string, fields map[string]string) string {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(`<!doctype html><html lang=zh-CN><head><meta charset=utf-8><title>银联支付</title></head><body onload="document.forms[0].submit()">`)
	b.WriteString(`<form id=pay_form method=post action="` + html.EscapeString(action) + `">`)
	for _, k := range keys {
		b.WriteString(`<input type=hidden name="` + html.EscapeString(k) + `" value="` + html.EscapeString(fields[k]) + `">`)
	}
	b.WriteString(`<noscript><button type=submit>前往银联支付</button></noscript></form></body></html>`)
	return b.String()
}

// cardFields builds a QuickPass contactless consume. The PAN travels only
// encrypted under the platform's key (encryptCertId names it); it is never
// logged, and errors name it masked.
func (c *Client) cardFields(req *paygate.PaymentRequest) (map[string]string, error) {
	if req.CardInfo == nil || req.CardInfo.EntryMode != paygate.EntryContactless {
		return nil, paygate.ParamErrorf(paygate.EUNSUPPORTED, "card.entry_mode", "UnionPay provider takes contactless (QuickPass) cards only")
	}
	if req.CardInfo.Network != "" && req.CardInfo.Network != paygate.NetworkUnionPay {
		return nil, paygate.ParamErrorf(paygate.EUNSUPPORTED, "card.network", "UnionPay provider takes UnionPay cards only")
	}
	cd := req.Card
	if cd == nil || cd.PAN == "" {
		return nil, paygate.ParamErrorf(paygate.EPARAMMISSING, "card", "card data is missing")
	}
	if n := len(cd.PAN); n < 13 || n > 19 || strings.Trim(cd.PAN, "0123456789") != "" {
		return nil, paygate.ParamErrorf(paygate.EPARAMINVALID, "card", "card number %s is not valid", paygate.MaskPAN(cd.PAN))
	}
	if cd.Expiry != "" && (len(cd.Expiry) != 4 || strings.Trim(cd.Expiry, "0123456789") != "") {
		return nil, paygate.ParamErrorf(paygate.EPARAMINVALID, "card", "card expiry must be YYMM")
	}
	enc, err := EncryptPAN(cd.PAN, c.upKey)
	if err != nil {
		return nil, &paygate.ChannelError{Provider: c.id, Op: "pay", Message: "card encryption failed"}
	}
	f := c.fields(TxnConsume, SubCard, BizGeneral)
	f["accNo"] = enc
	f["encryptCertId"] = c.upCertID
	f["cardTransData"] = cardTransData(cd)
	return f, nil
}

// cardTransData is the composite card-present field: POS entry mode 07
// (contactless IC, PBOC), the EMV data as upper-case hex, and the expiry.
func cardTransData(cd *paygate.CardData) string {
	parts := []string{"POSentryModeCode=072"}
	if len(cd.EMV) > 0 {
		parts = append(parts, "ICCardData="+strings.ToUpper(hexString(cd.EMV)))
	}
	if cd.Expiry != "" {
		parts = append(parts, "cardExpireDate="+cd.Expiry)
	}
	return "{" + strings.Join(parts, "&") + "}"
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 2*len(b))
	for i, x := range b {
		out[2*i], out[2*i+1] = digits[x>>4], digits[x&15]
	}
	return string(out)
}

// Query asks for an order's consume (or QR apply) by orderId and txnTime.
func (c *Client) Query(ctx context.Context, o *paygate.Order) (*paygate.Result, error) {
	return c.query(ctx, "query", o.ID, txnTimeOf(o.ID, o.CreatedAt))
}

func (c *Client) query(ctx context.Context, op, id, txnTime string) (*paygate.Result, error) {
	ans, err := c.queryRaw(ctx, op, id, txnTime)
	if err != nil || ans == nil {
		if err == nil {
			return &paygate.Result{Outcome: paygate.OutcomeNotFound}, nil
		}
		return nil, err
	}
	r := &paygate.Result{ChannelTradeNo: ans["queryId"]}
	switch oc := ans["origRespCode"]; {
	case oc == RespSuccess:
		r.Outcome = paygate.OutcomeSuccess
		amt, err := strconv.ParseInt(ans["txnAmt"], 10, 64)
		if err != nil || amt <= 0 {
			return nil, &paygate.ChannelError{Provider: c.id, Op: op, Message: "query answer without a valid txnAmt"}
		}
		r.Amount = amt
		if t, ok := traceTime(ans["traceTime"], ans["txnTime"]); ok {
			r.PaidAt = &t
		}
	case oc == RespTimeout || oc == RespUnknown || oc == RespAccepted:
		r.Outcome = paygate.OutcomePending
	case oc == RespAlreadyUndone:
		r.Outcome = paygate.OutcomeClosed
	case oc == "":
		return nil, &paygate.ChannelError{Provider: c.id, Op: op, Message: "query answer without origRespCode"}
	default:
		r.Outcome = paygate.OutcomeDeclined
		r.Failure = failureOf(oc, ans["origRespMsg"])
	}
	return r, nil
}

// queryRaw runs queryTrans.do; a nil answer with a nil error means the
// platform has no such transaction (respCode 34).
func (c *Client) queryRaw(ctx context.Context, op, id, txnTime string) (map[string]string, error) {
	f := c.fields(TxnQuery, SubNone, BizGeneral)
	f["orderId"] = ToOrderID(id)
	f["txnTime"] = txnTime
	ans, err := c.call(ctx, op, PathQuery, f)
	if err != nil {
		return nil, err
	}
	switch code := ans["respCode"]; code {
	case RespSuccess:
		return ans, nil
	case RespNoSuchTxn:
		return nil, nil
	default: // the query itself failed: nothing is known about the payment
		return nil, &paygate.ChannelError{Provider: c.id, Op: op, Code: code, Message: ans["respMsg"]}
	}
}

// Reverse undoes a consume (txnType 31, same day). A payment never taken or
// already undone also ends closed.
func (c *Client) Reverse(ctx context.Context, o *paygate.Order) (*paygate.Result, error) {
	qid := o.ChannelTradeNo
	if qid == "" {
		ans, err := c.queryRaw(ctx, "reverse", o.ID, txnTimeOf(o.ID, o.CreatedAt))
		if err != nil {
			return nil, err
		}
		if ans == nil || ans["queryId"] == "" { // the platform never took it
			if o.Method == paygate.MethodQR && !o.ExpiresAt.IsZero() && c.now().Before(o.ExpiresAt) {
				// Nothing can withdraw the code before its payTimeout: it
				// could still be paid (docs/channels/unionpay.md).
				return nil, paygate.Errorf(paygate.EINVALIDSTATE,
					"a UnionPay QR code cannot be withdrawn before its payment window ends at %s; it closes then",
					o.ExpiresAt.UTC().Format(time.RFC3339))
			}
			return &paygate.Result{Outcome: paygate.OutcomeClosed}, nil
		}
		qid = ans["queryId"]
	}
	f := c.fields(TxnUndo, SubNone, BizGeneral)
	f["orderId"] = undoOrderID(o.ID)
	f["txnTime"] = c.nowTxnTime()
	f["txnAmt"] = strconv.FormatInt(o.Amount, 10)
	f["currencyCode"] = CurrencyCNY
	f["origQryId"] = qid
	f["backUrl"] = c.backURL
	ans, err := c.call(ctx, "reverse", PathBackTrans, f)
	if err != nil {
		return nil, err
	}
	switch code := ans["respCode"]; {
	case code == RespSuccess || code == RespAlreadyUndone:
		return &paygate.Result{Outcome: paygate.OutcomeClosed, ChannelTradeNo: qid}, nil
	case unknownCode(code) || code == RespAccepted:
		return nil, &paygate.ChannelError{Provider: c.id, Op: "reverse", Code: code, Message: ans["respMsg"]}
	default:
		return &paygate.Result{Outcome: paygate.OutcomeDeclined, ChannelTradeNo: qid, Failure: failureOf(code, ans["respMsg"])}, nil
	}
}

// traceTime reads traceTime (MMDDhhmmss, Beijing time) taking the year from
// txnTime (yyyyMMddHHmmss), across a new year if need be.
func traceTime(mmdd, txnTime string) (time.Time, bool) {
	if len(mmdd) != 10 || len(txnTime) < 4 {
		return time.Time{}, false
	}
	year, err := strconv.Atoi(txnTime[:4])
	if err != nil {
		return time.Time{}, false
	}
	t, err := time.ParseInLocation("2006"+"0102150405", strconv.Itoa(year)+mmdd, shanghai)
	if err != nil {
		return time.Time{}, false
	}
	if txnTime[4:6] == "12" && mmdd[:2] == "01" {
		t = t.AddDate(1, 0, 0)
	}
	return t, true
}

func termID(s string) string {
	if len(s) > 8 {
		s = s[len(s)-8:]
	}
	if !alnum(s) {
		return ""
	}
	return s
}

func truncRunes(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		r = r[:n]
	}
	return string(r)
}
