package ecny

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm2"

	"github.com/paygate-cn/paygate"
)

// DefaultTimeout bounds one call to the bank when the spec sets none.
const DefaultTimeout = 10 * time.Second

// Response size limits (docs §1).
const (
	maxMessage  = 64 << 10
	maxBillBody = 32 << 20
)

// Client is one configured e-CNY provider.
type Client struct {
	id         string
	baseURL    string
	merchantNo string
	key        *sm2.PrivateKey
	bankKey    *ecdsa.PublicKey
	http       *http.Client

	// Now stamps requests; time.Now unless replaced (tests).
	Now paygate.Clock
}

var (
	_ paygate.Channel        = (*Client)(nil)
	_ paygate.Reverser       = (*Client)(nil)
	_ paygate.OrderCloser    = (*Client)(nil)
	_ paygate.CallbackParser = (*Client)(nil)
	_ paygate.BillFetcher    = (*Client)(nil)
)

// CredentialKeys are the credentials of an e-CNY provider (see New).
var CredentialKeys = []paygate.CredentialKey{{Name: "merchant_no"}, {Name: "private_key"}, {Name: "bank_public_key"}}

// New returns a client for spec. Credentials: merchant_no, private_key (the
// merchant's SM2 key, PEM) and bank_public_key (the bank's SM2 public key,
// PEM). Returns EPARAMMISSING or EPARAMINVALID naming the field at fault.
func New(spec paygate.ProviderSpec) (*Client, error) {
	if spec.BaseURL == "" {
		return nil, paygate.ParamErrorf(paygate.EPARAMMISSING, "base_url", "ecny provider %q: base_url is missing", spec.ID)
	}
	cred, err := spec.ReadCredentials(CredentialKeys)
	if err != nil {
		return nil, err
	}
	merchantNo, keyPEM, bankPEM := cred["merchant_no"], cred["private_key"], cred["bank_public_key"]
	key, err := ParsePrivateKey(keyPEM)
	if err != nil {
		// The parse error never includes key material.
		return nil, paygate.ParamErrorf(paygate.EPARAMINVALID, "credentials.private_key", "ecny provider %q: private_key is not an SM2 private key in PEM: %v", spec.ID, err)
	}
	bankKey, err := ParsePublicKey(bankPEM)
	if err != nil {
		return nil, paygate.ParamErrorf(paygate.EPARAMINVALID, "credentials.bank_public_key", "ecny provider %q: bank_public_key is not an SM2 public key in PEM: %v", spec.ID, err)
	}
	timeout := spec.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &Client{
		id:         spec.ID,
		baseURL:    strings.TrimRight(spec.BaseURL, "/"),
		merchantNo: merchantNo,
		key:        key,
		bankKey:    bankKey,
		http:       &http.Client{Timeout: timeout, Transport: pooledTransport()},
		Now:        time.Now,
	}, nil
}

// ID is the configured provider id.
func (c *Client) ID() string { return c.id }

// Kind is paygate.KindECNY.
func (c *Client) Kind() string { return paygate.KindECNY }

// answer is a verified response of the bank.
type answer struct {
	status int
	head   Head
	body   json.RawMessage
}

// call signs and sends one request and verifies the answer. Any answer that
// cannot be trusted (no answer, bad signature, malformed, foreign request id)
// is a *paygate.ChannelError; so is a 5xx. Every other verified answer is
// returned for the operation to classify.
func (c *Client) call(ctx context.Context, op, path string, reqBody any, limit int64) (*answer, error) {
	fail := func(timeout bool, code, msg string, err error) error {
		return &paygate.ChannelError{Provider: c.id, Op: op, Timeout: timeout, Code: code, Message: msg, Err: err}
	}
	body, err := json.Marshal(reqBody)
	if err != nil {
		return nil, fail(false, "", "encode request", err)
	}
	requestID := newRequestID()
	env, err := json.Marshal(Envelope{
		Head: Head{Version: Version, MerchantNo: c.merchantNo, RequestID: requestID,
			Timestamp: BankTime(c.Now()), SignType: SignType},
		Body: body,
	})
	if err != nil {
		return nil, fail(false, "", "encode request", err)
	}
	sig, err := Sign(c.key, SigningBytes(LabelRequest, path, env))
	if err != nil {
		return nil, fail(false, "", "sign request", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.baseURL+path, bytes.NewReader(env))
	if err != nil {
		return nil, fail(false, "", "build request", err)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set(SignatureHeader, sig)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fail(isTimeout(ctx, err), "", "no answer", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fail(isTimeout(ctx, err), "", "reading answer", err)
	}
	if int64(len(raw)) > limit {
		return nil, fail(false, "", fmt.Sprintf("answer larger than %d bytes (HTTP %d)", limit, resp.StatusCode), nil)
	}
	if !Verify(c.bankKey, SigningBytes(LabelResponse, path, raw), resp.Header.Get(SignatureHeader)) {
		return nil, fail(false, "", fmt.Sprintf("answer signature missing or invalid (HTTP %d)", resp.StatusCode), nil)
	}
	var a Envelope
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, fail(false, "", fmt.Sprintf("malformed answer (HTTP %d)", resp.StatusCode), err)
	}
	if a.Head.RequestID != requestID || a.Head.MerchantNo != c.merchantNo {
		return nil, fail(false, a.Head.Code, "answer is for another request or merchant", nil)
	}
	if resp.StatusCode >= 500 || a.Head.Code == CodeSystemError {
		return nil, fail(false, a.Head.Code, fmt.Sprintf("HTTP %d: %s", resp.StatusCode, a.Head.Message), nil)
	}
	if a.Head.Code == "" {
		return nil, fail(false, "", fmt.Sprintf("answer without result code (HTTP %d)", resp.StatusCode), nil)
	}
	return &answer{status: resp.StatusCode, head: a.Head, body: a.Body}, nil
}

// unexpected reports an answer the operation cannot classify.
func (c *Client) unexpected(op string, a *answer) error {
	return &paygate.ChannelError{Provider: c.id, Op: op, Code: a.head.Code,
		Message: fmt.Sprintf("HTTP %d: %s", a.status, a.head.Message)}
}

func isTimeout(ctx context.Context, err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil || (errors.As(err, &ne) && ne.Timeout())
}

func newRequestID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("ecny: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

// declines maps the bank's final refusal codes to paygate failure codes.
var declines = map[string]string{
	CodeInsufficient: "insufficient_balance",
	CodeInvalidCode:  "invalid_auth_code",
	CodeWalletFrozen: "wallet_frozen",
}

func failure(code, message string) *paygate.Failure {
	f := &paygate.Failure{Code: "declined", Message: message, ChannelCode: code}
	if c, ok := declines[code]; ok {
		f.Code = c
	}
	return f
}

// Pay sends a B-scan-C payment (soft wallet code or hard-wallet tap code) or
// creates a dynamic QR.
func (c *Client) Pay(ctx context.Context, req *paygate.PaymentRequest) (*paygate.Result, error) {
	switch req.Method {
	case paygate.MethodAuthCode:
		return c.micropay(ctx, req)
	case paygate.MethodQR:
		return c.precreate(ctx, req)
	case paygate.MethodJSAPI:
		return c.jsapi(ctx, req)
	}
	return nil, paygate.ParamErrorf(paygate.EUNSUPPORTED, "method", "e-CNY does not support method %q", req.Method)
}

// jsapi creates a trade the payer confirms in the e-CNY app that opened
// the merchant's page; the credential is the pay_ref the page hands to the
// app (docs/channels/ecny.md).
func (c *Client) jsapi(ctx context.Context, req *paygate.PaymentRequest) (*paygate.Result, error) {
	if req.PayerID == "" {
		return nil, paygate.ParamErrorf(paygate.EPARAMMISSING, "payer_id", "e-CNY jsapi needs the payer's wallet id")
	}
	body := JSAPIRequest{PrecreateRequest: PrecreateRequest{OutTradeNo: req.OrderID, Amount: req.Amount,
		Currency: paygate.Currency, Subject: req.Subject, NotifyURL: req.NotifyURL}, WalletID: req.PayerID}
	if !req.ExpiresAt.IsZero() {
		body.ExpireTime = BankTime(req.ExpiresAt)
	}
	a, err := c.call(ctx, "pay", PathJSAPI, body, maxMessage)
	if err != nil {
		return nil, err
	}
	if a.head.Code != CodeOK {
		return nil, c.unexpected("pay", a)
	}
	var t Trade
	if err := json.Unmarshal(a.body, &t); err != nil || t.PayRef == "" {
		return nil, &paygate.ChannelError{Provider: c.id, Op: "pay", Message: "jsapi answered no pay_ref", Err: err}
	}
	r, err := c.classifyTrade("pay", &t)
	if err != nil {
		return nil, err
	}
	r.Credential, _ = json.Marshal(map[string]string{"pay_ref": t.PayRef})
	return r, nil
}

func (c *Client) micropay(ctx context.Context, req *paygate.PaymentRequest) (*paygate.Result, error) {
	a, err := c.call(ctx, "pay", PathMicropay, MicropayRequest{
		OutTradeNo: req.OrderID, Amount: req.Amount, Currency: paygate.Currency,
		Subject: req.Subject, AuthCode: req.AuthCode, WalletType: WalletTypeOf(req.AuthCode),
		TerminalID: req.TerminalID, NotifyURL: req.NotifyURL,
	}, maxMessage)
	if err != nil {
		return nil, err
	}
	switch a.head.Code {
	case CodeOK:
		return c.tradeResult("pay", a)
	case CodeInsufficient, CodeInvalidCode, CodeWalletFrozen:
		return &paygate.Result{Outcome: paygate.OutcomeDeclined, Failure: failure(a.head.Code, a.head.Message)}, nil
	}
	return nil, c.unexpected("pay", a)
}

func (c *Client) precreate(ctx context.Context, req *paygate.PaymentRequest) (*paygate.Result, error) {
	body := PrecreateRequest{OutTradeNo: req.OrderID, Amount: req.Amount, Currency: paygate.Currency,
		Subject: req.Subject, NotifyURL: req.NotifyURL}
	if !req.ExpiresAt.IsZero() {
		body.ExpireTime = BankTime(req.ExpiresAt)
	}
	a, err := c.call(ctx, "pay", PathPrecreate, body, maxMessage)
	if err != nil {
		return nil, err
	}
	if a.head.Code != CodeOK {
		return nil, c.unexpected("pay", a)
	}
	return c.tradeResult("pay", a)
}

// Query asks for an order's trade: not found → OutcomeNotFound, closed or
// cancelled → OutcomeClosed.
func (c *Client) Query(ctx context.Context, o *paygate.Order) (*paygate.Result, error) {
	a, err := c.call(ctx, "query", PathQuery, TradeRef{OutTradeNo: o.ID}, maxMessage)
	if err != nil {
		return nil, err
	}
	switch a.head.Code {
	case CodeOK:
		return c.tradeResult("query", a)
	case CodeNotFound:
		return &paygate.Result{Outcome: paygate.OutcomeNotFound}, nil
	}
	return nil, c.unexpected("query", a)
}

// Reverse cancels (撤销) the order's trade, paid or not. A cancelled trade is
// OutcomeClosed; a trade the bank never saw is OutcomeNotFound; one that can
// no longer be cancelled (refunded, another day) is OutcomeDeclined.
func (c *Client) Reverse(ctx context.Context, o *paygate.Order) (*paygate.Result, error) {
	a, err := c.call(ctx, "reverse", PathCancel, TradeRef{OutTradeNo: o.ID}, maxMessage)
	if err != nil {
		return nil, err
	}
	switch a.head.Code {
	case CodeOK:
		r, err := c.tradeResult("reverse", a)
		if err != nil {
			return nil, err
		}
		if r.Outcome != paygate.OutcomeClosed {
			return nil, &paygate.ChannelError{Provider: c.id, Op: "reverse", Message: "cancel answered with a trade that is not revoked"}
		}
		return r, nil
	case CodeNotFound:
		return &paygate.Result{Outcome: paygate.OutcomeNotFound}, nil
	case CodeInvalidState:
		return &paygate.Result{Outcome: paygate.OutcomeDeclined,
			Failure: &paygate.Failure{Code: "invalid_state", Message: a.head.Message, ChannelCode: a.head.Code}}, nil
	}
	return nil, c.unexpected("reverse", a)
}

// CloseOrder closes an unpaid trade. Returns EINVALIDSTATE if the trade was
// paid; a trade the bank never saw needs no closing.
func (c *Client) CloseOrder(ctx context.Context, o *paygate.Order) error {
	a, err := c.call(ctx, "close", PathClose, TradeRef{OutTradeNo: o.ID}, maxMessage)
	if err != nil {
		return err
	}
	switch a.head.Code {
	case CodeOK, CodeNotFound:
		return nil
	case CodeInvalidState:
		return paygate.Errorf(paygate.EINVALIDSTATE, "e-CNY trade of order %s cannot be closed: %s", o.ID, a.head.Message)
	}
	return c.unexpected("close", a)
}

// tradeResult classifies a trade body.
func (c *Client) tradeResult(op string, a *answer) (*paygate.Result, error) {
	var t Trade
	if err := json.Unmarshal(a.body, &t); err != nil || t.TradeStatus == "" {
		return nil, &paygate.ChannelError{Provider: c.id, Op: op, Code: a.head.Code, Message: "malformed trade", Err: err}
	}
	return c.classifyTrade(op, &t)
}

func (c *Client) classifyTrade(op string, t *Trade) (*paygate.Result, error) {
	r := &paygate.Result{ChannelTradeNo: t.TradeNo, Amount: t.Amount, QRCode: t.CodeURL}
	if t.WalletID != "" {
		r.PayerID = paygate.MaskCode(t.WalletID)
	}
	switch t.TradeStatus {
	case TradeSuccess:
		r.Outcome = paygate.OutcomeSuccess
		if t.PaidAt != "" {
			at, err := time.Parse(TimeLayout, t.PaidAt)
			if err != nil {
				return nil, &paygate.ChannelError{Provider: c.id, Op: op, Message: "malformed paid_at", Err: err}
			}
			r.PaidAt = &at
		}
	case TradePaying, TradeNotPay:
		r.Outcome = paygate.OutcomePending
	case TradeClosed, TradeRevoked:
		r.Outcome = paygate.OutcomeClosed
	case TradeFailed:
		r.Outcome = paygate.OutcomeDeclined
		r.Failure = failure(t.FailCode, t.FailMessage)
	default:
		return nil, &paygate.ChannelError{Provider: c.id, Op: op, Message: fmt.Sprintf("unknown trade_status %q", t.TradeStatus)}
	}
	return r, nil
}

// Refund asks the bank to refund part or all of a paid trade.
func (c *Client) Refund(ctx context.Context, req *paygate.RefundRequest) (*paygate.RefundResult, error) {
	a, err := c.call(ctx, "refund", PathRefund, RefundApply{
		OutTradeNo: req.OrderID, OutRefundNo: req.RefundID, RefundAmount: req.Amount,
		Reason: req.Reason, NotifyURL: req.NotifyURL,
	}, maxMessage)
	if err != nil {
		return nil, err
	}
	return c.refundResult("refund", a)
}

// QueryRefund asks for a refund's state.
func (c *Client) QueryRefund(ctx context.Context, r *paygate.Refund, o *paygate.Order) (*paygate.RefundResult, error) {
	a, err := c.call(ctx, "query_refund", PathRefundQuery, RefundRef{OutRefundNo: r.ID}, maxMessage)
	if err != nil {
		return nil, err
	}
	return c.refundResult("query_refund", a)
}

func (c *Client) refundResult(op string, a *answer) (*paygate.RefundResult, error) {
	switch a.head.Code {
	case CodeOK:
		var ri RefundInfo
		if err := json.Unmarshal(a.body, &ri); err != nil || ri.RefundStatus == "" {
			return nil, &paygate.ChannelError{Provider: c.id, Op: op, Message: "malformed refund", Err: err}
		}
		return c.classifyRefund(op, &ri)
	case CodeNotFound:
		return &paygate.RefundResult{Outcome: paygate.OutcomeNotFound}, nil
	case CodeRefundExceeds:
		return &paygate.RefundResult{Outcome: paygate.OutcomeDeclined,
			Failure: &paygate.Failure{Code: "refund_exceeds_amount", Message: a.head.Message, ChannelCode: a.head.Code}}, nil
	case CodeInvalidState:
		return &paygate.RefundResult{Outcome: paygate.OutcomeDeclined,
			Failure: &paygate.Failure{Code: "invalid_state", Message: a.head.Message, ChannelCode: a.head.Code}}, nil
	}
	return nil, c.unexpected(op, a)
}

func (c *Client) classifyRefund(op string, ri *RefundInfo) (*paygate.RefundResult, error) {
	r := &paygate.RefundResult{ChannelRefundNo: ri.RefundNo, Amount: ri.RefundAmount}
	switch ri.RefundStatus {
	case RefundSuccess:
		r.Outcome = paygate.OutcomeSuccess
		if ri.SuccessTime != "" {
			at, err := time.Parse(TimeLayout, ri.SuccessTime)
			if err != nil {
				return nil, &paygate.ChannelError{Provider: c.id, Op: op, Message: "malformed success_time", Err: err}
			}
			r.At = &at
		}
	case RefundProcessing:
		r.Outcome = paygate.OutcomePending
	case RefundFail:
		r.Outcome = paygate.OutcomeDeclined
		r.Failure = failure(ri.FailCode, ri.FailMessage)
	default:
		return nil, &paygate.ChannelError{Provider: c.id, Op: op, Message: fmt.Sprintf("unknown refund_status %q", ri.RefundStatus)}
	}
	return r, nil
}

// pooledTransport keeps enough idle connections per host for concurrent
// calls: the default transport keeps 2, so under load most requests would
// open (and, over TLS, handshake) a new connection.
func pooledTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 64
	return t
}
