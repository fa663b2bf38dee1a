package ecny

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm3"

	api "github.com/paygate-cn/paygate/channels/ecny"
	"github.com/paygate-cn/paygate/channels/sandbox"
)

var (
	outNoPattern    = regexp.MustCompile(`^[0-9A-Za-z_-]{1,32}$`)
	refundNoPattern = regexp.MustCompile(`^[0-9A-Za-z_-]{1,64}$`)
	codePattern     = regexp.MustCompile(`^01[0-9]{17}$`)
)

func (s *Server) micropay(body json.RawMessage) reply {
	var req api.MicropayRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return malformed("body is not a micropay request")
	}
	if !outNoPattern.MatchString(req.OutTradeNo) || req.Amount <= 0 || req.Currency != "CNY" ||
		len([]rune(req.Subject)) > 128 || req.AuthCode == "" {
		return malformed("out_trade_no, amount, currency, subject or auth_code missing or invalid")
	}
	if req.WalletType != api.WalletTypeOf(req.AuthCode) {
		return malformed("wallet_type does not match the payment code")
	}
	if !codePattern.MatchString(req.AuthCode) {
		return business(api.CodeInvalidCode, "payment code invalid or expired", nil)
	}

	s.mu.Lock()
	if t, exists := s.trades[req.OutTradeNo]; exists {
		defer s.mu.Unlock()
		if t.authCode != req.AuthCode || t.Amount != req.Amount {
			return business(api.CodeDuplicateTradeNo, "out_trade_no already used with other parameters", nil)
		}
		s.settle(t)
		return tradeReply(t)
	}
	now := s.now()
	t := &trade{
		Trade: api.Trade{
			OutTradeNo: req.OutTradeNo, Amount: req.Amount, Currency: req.Currency,
			WalletType: req.WalletType, WalletID: walletID(req.WalletType, req.AuthCode),
		},
		seq: s.nextSeq(), scenario: sandbox.ScenarioOf(req.AuthCode), authCode: req.AuthCode,
		notifyURL: req.NotifyURL, created: now,
	}
	t.TradeNo = fmt.Sprintf("E%s%010d", dayOf(now), t.seq)
	s.trades[t.OutTradeNo] = t
	switch t.scenario {
	case sandbox.Decline:
		t.TradeStatus, t.FailCode, t.FailMessage = api.TradeFailed, api.CodeInsufficient, "insufficient wallet balance"
	case sandbox.ConfirmLater:
		t.TradeStatus = api.TradePaying
		s.confirmLater(t)
	case sandbox.NeverConfirm:
		t.TradeStatus = api.TradePaying
	default:
		s.succeed(t, now)
	}
	rep := tradeReply(t)
	switch t.scenario {
	case sandbox.TimeoutThenSucceed:
		rep = reply{hang: true}
	case sandbox.ErrorThenSucceed:
		rep = fail(http.StatusInternalServerError, api.CodeSystemError, "system busy, query later")
	}
	s.mu.Unlock()
	return rep
}

// tradeReply answers a micropay with a trade; a refused payment carries its
// code in the head too (a query answers 0000 with the FAILED trade).
func tradeReply(t *trade) reply {
	body := t.Trade
	if t.TradeStatus == api.TradeFailed {
		return business(t.FailCode, t.FailMessage, body)
	}
	return ok(body)
}

// walletID derives a stable 16-digit wallet id from the payment code.
func walletID(walletType, code string) string {
	sum := sm3.Sum([]byte(code))
	id := []byte("0021")
	if walletType == api.WalletHard {
		id = []byte("0031")
	}
	for _, b := range sum[:12] {
		id = append(id, '0'+b%10)
	}
	return string(id)
}

// succeed marks t paid and notifies; call with s.mu held.
func (s *Server) succeed(t *trade, at time.Time) {
	t.TradeStatus = api.TradeSuccess
	t.paidAt = at
	t.PaidAt = api.BankTime(at)
	s.notify(api.NotifyTradeSuccess, t.Trade, t.notifyURL, t.scenario.Copies())
}

// confirmLater lets the payer confirm after sandbox.ConfirmDelay; call with
// s.mu held.
func (s *Server) confirmLater(t *trade) {
	s.timers.After(sandbox.ConfirmDelay, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if t.TradeStatus == api.TradePaying {
			s.succeed(t, s.now())
		}
	})
}

// settle applies what time has decided: a 1111 payer confirmed, a QR
// expired. Call with s.mu held.
func (s *Server) settle(t *trade) {
	now := s.now()
	switch {
	case t.TradeStatus == api.TradePaying && t.scenario == sandbox.ConfirmLater && !now.Before(t.created.Add(sandbox.ConfirmDelay)):
		s.succeed(t, now)
	case t.TradeStatus == api.TradeNotPay && !t.expires.IsZero() && now.After(t.expires):
		t.TradeStatus = api.TradeClosed
	}
}

func (s *Server) precreate(body json.RawMessage) reply {
	var req api.PrecreateRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return malformed("body is not a precreate request")
	}
	return s.unpaid(req, func(t *trade) string {
		t.CodeURL = "https://qr.ecny.example/c/" + randomHex(12)
		return t.CodeURL
	})
}

// jsapi creates a trade the payer confirms in the app (the confirm page,
// by pay_ref).
func (s *Server) jsapi(body json.RawMessage) reply {
	var req api.JSAPIRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return malformed("body is not a jsapi request")
	}
	if req.WalletID == "" || len(req.WalletID) > 64 || strings.Trim(req.WalletID, idChars) != "" {
		return malformed("wallet_id missing or invalid")
	}
	return s.unpaid(req.PrecreateRequest, func(t *trade) string {
		t.PayRef, t.WalletType, t.WalletID = "EP"+randomHex(16), api.WalletSoft, req.WalletID
		return t.PayRef
	})
}

// unpaid creates a NOTPAY trade (precreate, jsapi); code sets what the
// payer pays it by (code_url or pay_ref) and returns it. A repeated request
// answers the existing trade when it is of the same kind and amount.
func (s *Server) unpaid(req api.PrecreateRequest, code func(*trade) string) reply {
	if !outNoPattern.MatchString(req.OutTradeNo) || req.Amount <= 0 || req.Currency != "CNY" || len([]rune(req.Subject)) > 128 {
		return malformed("out_trade_no, amount, currency or subject missing or invalid")
	}
	var expires time.Time
	if req.ExpireTime != "" {
		var err error
		if expires, err = time.Parse(api.TimeLayout, req.ExpireTime); err != nil {
			return malformed("expire_time is not RFC 3339")
		}
	}
	now := s.now()
	t := &trade{
		Trade:     api.Trade{OutTradeNo: req.OutTradeNo, Amount: req.Amount, Currency: req.Currency, TradeStatus: api.TradeNotPay},
		notifyURL: req.NotifyURL, created: now, expires: expires, subject: req.Subject,
	}
	ref := code(t)
	s.mu.Lock()
	defer s.mu.Unlock()
	if prev, exists := s.trades[req.OutTradeNo]; exists {
		if (prev.CodeURL == "") != (t.CodeURL == "") || (prev.PayRef == "") != (t.PayRef == "") || prev.Amount != req.Amount {
			return business(api.CodeDuplicateTradeNo, "out_trade_no already used with other parameters", nil)
		}
		s.settle(prev)
		return tradeReply(prev)
	}
	t.seq = s.nextSeq()
	t.TradeNo = fmt.Sprintf("E%s%010d", dayOf(now), t.seq)
	s.trades[t.OutTradeNo] = t
	s.byCode[ref] = t
	return ok(t.Trade)
}

// lookup decodes a TradeRef and finds its trade; call with s.mu held.
func (s *Server) lookup(body json.RawMessage) (*trade, *reply) {
	var ref api.TradeRef
	if err := json.Unmarshal(body, &ref); err != nil || ref.OutTradeNo == "" {
		r := malformed("out_trade_no missing")
		return nil, &r
	}
	t, exists := s.trades[ref.OutTradeNo]
	if !exists {
		r := business(api.CodeNotFound, "trade not found", nil)
		return nil, &r
	}
	s.settle(t)
	return t, nil
}

func (s *Server) query(body json.RawMessage) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, rep := s.lookup(body)
	if rep != nil {
		return *rep
	}
	return ok(t.Trade)
}

func (s *Server) cancel(body json.RawMessage) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, rep := s.lookup(body)
	if rep != nil {
		return *rep
	}
	now := s.now()
	switch t.TradeStatus {
	case api.TradeRevoked:
	case api.TradeSuccess:
		if t.refunded > 0 || dayOf(t.paidAt) != dayOf(now) {
			return business(api.CodeInvalidState, "a refunded trade or one of another day cannot be cancelled", nil)
		}
		t.revokedAt = now
		t.TradeStatus = api.TradeRevoked
	default:
		t.TradeStatus = api.TradeRevoked
	}
	return ok(t.Trade)
}

func (s *Server) closeTrade(body json.RawMessage) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, rep := s.lookup(body)
	if rep != nil {
		return *rep
	}
	switch t.TradeStatus {
	case api.TradeSuccess:
		return business(api.CodeInvalidState, "a paid trade cannot be closed", nil)
	case api.TradeNotPay, api.TradePaying, api.TradeFailed:
		t.TradeStatus = api.TradeClosed
	}
	return ok(t.Trade)
}

func (s *Server) refund(body json.RawMessage) reply {
	var req api.RefundApply
	if err := json.Unmarshal(body, &req); err != nil {
		return malformed("body is not a refund request")
	}
	if req.OutTradeNo == "" || !refundNoPattern.MatchString(req.OutRefundNo) || req.RefundAmount <= 0 {
		return malformed("out_trade_no, out_refund_no or refund_amount missing or invalid")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if rf, exists := s.refunds[req.OutRefundNo]; exists {
		if rf.OutTradeNo != req.OutTradeNo || rf.RefundAmount != req.RefundAmount {
			return malformed("out_refund_no already used with other parameters")
		}
		return ok(rf.RefundInfo)
	}
	t, exists := s.trades[req.OutTradeNo]
	if !exists {
		return business(api.CodeNotFound, "trade not found", nil)
	}
	s.settle(t)
	if t.TradeStatus != api.TradeSuccess {
		return business(api.CodeInvalidState, "only a paid trade can be refunded", nil)
	}
	if t.refunded+req.RefundAmount > t.Amount {
		return business(api.CodeRefundExceeds, "refunds would exceed the trade amount", nil)
	}
	now := s.now()
	rf := &refund{seq: s.nextSeq(), at: now, t: t}
	rf.RefundInfo = api.RefundInfo{
		OutTradeNo: t.OutTradeNo, TradeNo: t.TradeNo, OutRefundNo: req.OutRefundNo,
		RefundNo: fmt.Sprintf("R%s%010d", dayOf(now), rf.seq), RefundAmount: req.RefundAmount,
		RefundStatus: api.RefundProcessing,
	}
	t.refunded += req.RefundAmount
	s.refunds[rf.OutRefundNo] = rf
	url := req.NotifyURL
	if url == "" {
		url = t.notifyURL
	}
	if s.opts.RefundDelay > 0 {
		s.timers.After(s.opts.RefundDelay, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.refunded(rf, s.now(), url)
		})
		return ok(rf.RefundInfo)
	}
	s.refunded(rf, now, url)
	return ok(rf.RefundInfo)
}

// refunded completes a processing refund and notifies; call with s.mu held.
func (s *Server) refunded(rf *refund, at time.Time, url string) {
	rf.at = at
	rf.RefundStatus, rf.SuccessTime = api.RefundSuccess, api.BankTime(at)
	s.notify(api.NotifyRefundSuccess, rf.RefundInfo, url, 1)
}

func (s *Server) refundQuery(body json.RawMessage) reply {
	var ref api.RefundRef
	if err := json.Unmarshal(body, &ref); err != nil || ref.OutRefundNo == "" {
		return malformed("out_refund_no missing")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rf, exists := s.refunds[ref.OutRefundNo]
	if !exists {
		return business(api.CodeNotFound, "refund not found", nil)
	}
	return ok(rf.RefundInfo)
}

// Books returns what the bank holds for the trade out_trade_no (see
// sandbox.Books), and false when it has no such trade.
func (s *Server) Books(outTradeNo string) (sandbox.Books, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.trades[outTradeNo]
	if !ok {
		return sandbox.Books{}, false
	}
	s.settle(t)
	var b sandbox.Books
	if !t.paidAt.IsZero() {
		b.Paid = t.Amount
	}
	b.Reversed = t.TradeStatus == api.TradeRevoked
	for _, rf := range s.refunds {
		if rf.t == t && rf.RefundStatus == api.RefundSuccess {
			b.Refunded += rf.RefundAmount
		}
	}
	return b, true
}
