package unionpay

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/channels/sandbox"
	up "github.com/paygate-cn/paygate/channels/unionpay"
	"github.com/shopspring/decimal"
)

var respMsgs = map[string]string{
	up.RespSuccess:        "成功[0000000]",
	up.RespUnknown:        "交易状态未明，请查询对账结果",
	up.RespAccepted:       "交易已受理，请稍后查询交易结果",
	up.RespFormat:         "报文格式错误",
	up.RespBadSignature:   "验证签名失败",
	up.RespDuplicate:      "重复交易",
	up.RespMissingField:   "报文交易要素缺失",
	up.RespAmountLimit:    "交易金额超限",
	up.RespNoSuchTxn:      "查无此交易",
	up.RespOrigBadState:   "原交易不存在或状态不正确",
	up.RespOrigMismatch:   "与原交易信息不符",
	up.RespAlreadyUndone:  "原交易已被成功退货或已被成功撤销",
	up.RespBadNumber:      "输入号码错误或暂未开通此项业务",
	up.RespInsufficient:   "卡上的余额不足",
	up.RespFileNotPresent: "文件不存在",
}

// request reads and verifies a merchant request. On failure it has already
// answered with the platform's error code.
func (s *Server) request(w http.ResponseWriter, r *http.Request) (map[string]string, bool) {
	body, err := io.ReadAll(io.LimitReader(r.Body, up.MaxMessage+1))
	if err != nil {
		http.Error(w, "read error", http.StatusBadRequest)
		return nil, false
	}
	f, err := up.ParseForm(string(body))
	if err != nil {
		s.answer(w, map[string]string{}, up.RespFormat, nil)
		return nil, false
	}
	if f["certId"] != s.merCertID || up.Verify(f, &s.merKey.PublicKey) != nil {
		s.answer(w, f, up.RespBadSignature, nil)
		return nil, false
	}
	for _, k := range []string{"version", "encoding", "signMethod", "merId", "txnType", "txnSubType", "bizType", "accessType"} {
		if f[k] == "" {
			s.answer(w, f, up.RespMissingField, nil)
			return nil, false
		}
	}
	if f["version"] != up.Version || f["signMethod"] != up.SignMethod || f["merId"] != s.opts.MerID {
		s.answer(w, f, up.RespFormat, nil)
		return nil, false
	}
	return f, true
}

// answer writes a signed synchronous answer echoing the request's keys.
func (s *Server) answer(w http.ResponseWriter, req map[string]string, code string, extra map[string]string) {
	a := map[string]string{
		"version": up.Version, "encoding": up.Encoding, "signMethod": up.SignMethod,
		"certId": s.upCertID, "respCode": code, "respMsg": respMsg(code),
	}
	for _, k := range []string{"merId", "orderId", "txnType", "txnSubType", "bizType", "accessType", "txnTime"} {
		if v := req[k]; v != "" {
			a[k] = v
		}
	}
	for k, v := range extra {
		if v != "" {
			a[k] = v
		}
	}
	if err := up.Sign(a, s.upKey); err != nil {
		http.Error(w, "sign error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain;charset=UTF-8")
	io.WriteString(w, up.EncodeMessage(a))
}

func respMsg(code string) string {
	if m, ok := respMsgs[code]; ok {
		return m
	}
	return "交易失败"
}

func (s *Server) handleBackTrans(w http.ResponseWriter, r *http.Request) {
	f, ok := s.request(w, r)
	if !ok {
		return
	}
	for _, k := range []string{"orderId", "txnTime", "txnAmt"} {
		if f[k] == "" {
			s.answer(w, f, up.RespMissingField, nil)
			return
		}
	}
	amt, err := strconv.ParseInt(f["txnAmt"], 10, 64)
	if err != nil || amt <= 0 || len(f["orderId"]) < 8 || len(f["orderId"]) > 40 {
		s.answer(w, f, up.RespFormat, nil)
		return
	}
	switch f["txnType"] + "/" + f["txnSubType"] {
	case up.TxnConsume + "/" + up.SubQRConsume, up.TxnConsume + "/" + up.SubCard:
		s.consume(w, r, f, amt)
	case up.TxnConsume + "/" + up.SubQRApply:
		s.applyQR(w, f, amt)
	case up.TxnUndo + "/" + up.SubNone:
		s.undo(w, f, amt)
	case up.TxnRefund + "/" + up.SubNone:
		s.refund(w, f, amt)
	default:
		s.answer(w, f, up.RespFormat, nil)
	}
}

func (s *Server) consume(w http.ResponseWriter, r *http.Request, f map[string]string, amt int64) {
	var code, shown string
	if f["txnSubType"] == up.SubQRConsume {
		code = f["qrNo"]
		if ch, ok := paygate.DetectAuthCode(paygate.DefaultAuthCodeRules, code); !ok || ch != paygate.KindUnionPay {
			s.answer(w, f, up.RespBadNumber, nil)
			return
		}
		shown = paygate.MaskCode(code)
	} else {
		if f["encryptCertId"] != s.upCertID || !strings.HasPrefix(f["cardTransData"], "{") {
			s.answer(w, f, up.RespFormat, nil)
			return
		}
		pan, err := up.DecryptPAN(f["accNo"], s.upKey)
		if err != nil || len(pan) < 13 || len(pan) > 19 || strings.Trim(pan, "0123456789") != "" {
			s.answer(w, f, up.RespInvalidCard, nil)
			return
		}
		code, shown = pan, paygate.MaskPAN(pan)
	}
	if f["currencyCode"] != up.CurrencyCNY {
		s.answer(w, f, up.RespFormat, nil)
		return
	}
	now := s.now()
	s.mu.Lock()
	if _, dup := s.txns[f["orderId"]]; dup {
		s.mu.Unlock()
		s.answer(w, f, up.RespDuplicate, nil)
		return
	}
	t := &txn{orderID: f["orderId"], txnType: f["txnType"], txnSubType: f["txnSubType"], bizType: f["bizType"],
		txnTime: f["txnTime"], amount: amt, backURL: f["backUrl"], card: shown, termID: f["termId"],
		scenario: sandbox.ScenarioOf(code), state: up.RespAccepted}
	t.queryID, t.traceNo = s.nextIDs(now)
	t.traceAt = now
	s.txns[t.orderID], s.byQID[t.queryID] = t, t
	first := !s.seen[code]
	s.seen[code] = true
	respCode := up.RespSuccess
	hang := false
	switch t.scenario {
	case sandbox.ConfirmLater:
		t.confirmAt = now.Add(sandbox.ConfirmDelay)
		s.timers.After(sandbox.ConfirmDelay, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.settle(t)
		})
	case sandbox.NeverConfirm:
	case sandbox.Decline:
		t.state, respCode = up.RespInsufficient, up.RespInsufficient
	case sandbox.TimeoutThenSucceed:
		s.succeed(t, now)
		hang = first
	case sandbox.ErrorThenSucceed:
		s.succeed(t, now)
		if first {
			respCode = up.RespUnknown
		}
	default:
		s.succeed(t, now)
	}
	s.mu.Unlock()
	if hang {
		tm := time.NewTimer(s.opts.HangFor)
		defer tm.Stop()
		select {
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		case <-tm.C:
		}
	}
	extra := map[string]string{"queryId": t.queryID, "txnAmt": f["txnAmt"], "currencyCode": up.CurrencyCNY}
	if respCode != up.RespSuccess && respCode != up.RespUnknown {
		extra["queryId"] = ""
	}
	s.answer(w, f, respCode, extra)
}

func (s *Server) applyQR(w http.ResponseWriter, f map[string]string, amt int64) {
	s.mu.Lock()
	if _, dup := s.txns[f["orderId"]]; dup {
		s.mu.Unlock()
		s.answer(w, f, up.RespDuplicate, nil)
		return
	}
	t := &txn{orderID: f["orderId"], txnType: f["txnType"], txnSubType: f["txnSubType"], bizType: f["bizType"],
		txnTime: f["txnTime"], amount: amt, backURL: f["backUrl"], termID: f["termId"], state: up.RespAccepted}
	if v := f["payTimeout"]; v != "" {
		at, err := time.ParseInLocation("20060102150405", v, cst)
		if err != nil {
			s.mu.Unlock()
			s.answer(w, f, up.RespFormat, nil)
			return
		}
		t.payTimeout = at
	}
	qr := "https://qr.95516.com/00010000/01" + randDigits(20)
	s.txns[t.orderID], s.qrs[qr] = t, t
	s.mu.Unlock()
	s.answer(w, f, up.RespSuccess, map[string]string{"qrCode": qr})
}

func (s *Server) undo(w http.ResponseWriter, f map[string]string, amt int64) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if prev, dup := s.txns[f["orderId"]]; dup {
		if prev.txnType == up.TxnUndo {
			s.answer(w, f, up.RespSuccess, map[string]string{"queryId": prev.queryID, "origQryId": prev.orig.queryID})
		} else {
			s.answer(w, f, up.RespDuplicate, nil)
		}
		return
	}
	orig := s.byQID[f["origQryId"]]
	switch {
	case orig == nil || orig.txnType != up.TxnConsume:
		s.answer(w, f, up.RespOrigBadState, nil)
		return
	case orig.amount != amt:
		s.answer(w, f, up.RespOrigMismatch, nil)
		return
	case orig.state == up.RespAlreadyUndone:
		s.answer(w, f, up.RespAlreadyUndone, nil)
		return
	case orig.refunded > 0:
		s.answer(w, f, up.RespOrigBadState, nil)
		return
	}
	s.settle(orig)
	if orig.state != up.RespSuccess && orig.state != up.RespAccepted {
		s.answer(w, f, up.RespOrigBadState, nil)
		return
	}
	t := &txn{orderID: f["orderId"], txnType: up.TxnUndo, txnSubType: up.SubNone, bizType: f["bizType"],
		txnTime: f["txnTime"], amount: amt, backURL: f["backUrl"], orig: orig, state: up.RespSuccess, card: orig.card, termID: orig.termID}
	t.queryID, t.traceNo = s.nextIDs(now)
	t.traceAt = now
	s.txns[t.orderID], s.byQID[t.queryID] = t, t
	if orig.state == up.RespSuccess { // money moves back
		t.fee = orig.fee
		s.record(t, up.ZMCodeUndo, now)
	}
	orig.state = up.RespAlreadyUndone
	s.notify(t, 1)
	s.answer(w, f, up.RespSuccess, map[string]string{"queryId": t.queryID, "origQryId": orig.queryID, "txnAmt": f["txnAmt"]})
}

func (s *Server) refund(w http.ResponseWriter, f map[string]string, amt int64) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.txns[f["orderId"]]; dup {
		s.answer(w, f, up.RespDuplicate, nil)
		return
	}
	orig := s.byQID[f["origQryId"]]
	if orig == nil || orig.txnType != up.TxnConsume {
		s.answer(w, f, up.RespOrigBadState, nil)
		return
	}
	s.settle(orig)
	if orig.state != up.RespSuccess {
		s.answer(w, f, up.RespOrigBadState, nil)
		return
	}
	if orig.refunded+amt > orig.amount {
		s.answer(w, f, up.RespAmountLimit, nil)
		return
	}
	orig.refunded += amt
	t := &txn{orderID: f["orderId"], txnType: up.TxnRefund, txnSubType: up.SubNone, bizType: f["bizType"],
		txnTime: f["txnTime"], amount: amt, backURL: f["backUrl"], orig: orig, state: up.RespAccepted, card: orig.card, termID: orig.termID}
	t.queryID, t.traceNo = s.nextIDs(now)
	t.traceAt = now
	// The fee comes back in proportion to what has been refunded, after
	// the refunds before this one (paygate.ReturnedFee).
	t.fee = paygate.ReturnedFee(orig.fee, orig.amount, orig.refunded-amt, amt)
	s.txns[t.orderID], s.byQID[t.queryID] = t, t
	// 00 to a refund means accepted; the outcome is the notify (and the
	// query's origRespCode), at once or after Options.RefundDelay.
	if s.opts.RefundDelay > 0 {
		s.timers.After(s.opts.RefundDelay, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.refunded(t, s.now())
		})
	} else {
		s.refunded(t, now)
	}
	s.answer(w, f, up.RespSuccess, map[string]string{"queryId": t.queryID, "origQryId": orig.queryID, "txnAmt": f["txnAmt"]})
}

func (s *Server) handleQuery(w http.ResponseWriter, r *http.Request) {
	f, ok := s.request(w, r)
	if !ok {
		return
	}
	if f["orderId"] == "" || f["txnTime"] == "" {
		s.answer(w, f, up.RespMissingField, nil)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.txns[f["orderId"]]
	if t == nil || t.txnTime != f["txnTime"] {
		s.answer(w, f, up.RespNoSuchTxn, nil)
		return
	}
	s.settle(t)
	extra := map[string]string{
		"origRespCode": t.state, "origRespMsg": respMsg(t.state),
		"txnAmt": strconv.FormatInt(t.amount, 10), "currencyCode": up.CurrencyCNY,
	}
	if t.queryID != "" {
		extra["queryId"], extra["traceNo"] = t.queryID, t.traceNo
		extra["traceTime"] = t.traceAt.In(cst).Format("0102150405")
		extra["settleDate"] = t.traceAt.In(cst).Format("0102")
	}
	if t.orig != nil {
		extra["origQryId"] = t.orig.queryID
	}
	// the answer is about the queried transaction, not the query
	a := map[string]string{"orderId": f["orderId"], "txnTime": f["txnTime"], "merId": f["merId"],
		"txnType": f["txnType"], "txnSubType": f["txnSubType"], "bizType": f["bizType"], "accessType": f["accessType"]}
	s.answer(w, a, up.RespSuccess, extra)
}

func (s *Server) handleFile(w http.ResponseWriter, r *http.Request) {
	f, ok := s.request(w, r)
	if !ok {
		return
	}
	md := f["settleDate"]
	if len(md) != 4 || f["fileType"] != "00" || f["txnType"] != up.TxnFile {
		s.answer(w, f, up.RespFormat, nil)
		return
	}
	// the latest day, today or before, whose MMDD is settleDate
	day := s.now().In(cst)
	for i := 0; i < 366 && day.Format("0102") != md; i++ {
		day = day.AddDate(0, 0, -1)
	}
	data, _ := s.ZM(day)
	if day.Format("0102") != md || len(data) == 0 {
		s.answer(w, f, up.RespFileNotPresent, nil)
		return
	}
	content, err := up.PackFiles(map[string][]byte{
		up.ZMFileName(day, s.opts.MerID):                       data,
		"INN" + day.Format("060102") + "88ZME_" + s.opts.MerID: s.ZME(day),
	})
	if err != nil {
		http.Error(w, "pack error", http.StatusInternalServerError)
		return
	}
	s.answer(w, f, up.RespSuccess, map[string]string{
		"fileContent": content, "fileName": s.opts.MerID + "_" + day.Format("20060102") + ".zip", "fileType": "00", "settleDate": md,
	})
}

// handleScan is the payer scanning a C-scan-B code:
// {"qr_code": "...", "payer_code": "optional, chooses the scenario"}.
func (s *Server) handleScan(w http.ResponseWriter, r *http.Request) {
	var in struct {
		QRCode    string `json:"qr_code"`
		PayerCode string `json:"payer_code"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil || in.QRCode == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body must be {\"qr_code\": \"...\"}"})
		return
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.qrs[in.QRCode]
	if t == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "unknown qr_code"})
		return
	}
	if t.state != up.RespAccepted {
		writeJSON(w, http.StatusConflict, map[string]string{"error": "qr_code already used", "state": t.state})
		return
	}
	if !t.payTimeout.IsZero() && now.After(t.payTimeout) {
		// The wallet refuses a code past the payTimeout its order gave.
		writeJSON(w, http.StatusConflict, map[string]string{"error": "qr_code expired", "pay_timeout": t.payTimeout.Format(time.RFC3339)})
		return
	}
	t.scenario = sandbox.ScenarioOf(in.PayerCode)
	if in.PayerCode != "" {
		t.card = paygate.MaskCode(in.PayerCode)
	}
	t.queryID, t.traceNo = s.nextIDs(now)
	t.traceAt = now
	s.byQID[t.queryID] = t
	if t.scenario == sandbox.Decline {
		t.state = up.RespInsufficient
		writeJSON(w, http.StatusOK, map[string]string{"result": "declined", "resp_code": t.state})
		return
	}
	s.succeed(t, now)
	writeJSON(w, http.StatusOK, map[string]string{"result": "paid", "query_id": t.queryID})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// settle moves a ConfirmLater payment to success once its delay is over.
// Called with s.mu held.
func (s *Server) settle(t *txn) {
	if t.state == up.RespAccepted && t.scenario == sandbox.ConfirmLater && !t.confirmAt.IsZero() && !s.now().Before(t.confirmAt) {
		s.succeed(t, s.now())
	}
}

// succeed marks a consume paid, books it and notifies. Called with s.mu held.
func (s *Server) succeed(t *txn, now time.Time) {
	t.state = up.RespSuccess
	t.traceAt = now
	t.fee = feeOf(t.amount)
	s.record(t, up.ZMCodeConsume, now)
	s.notify(t, t.scenario.Copies())
}

// refunded completes an accepted refund: books it and notifies. Called
// with s.mu held.
func (s *Server) refunded(t *txn, now time.Time) {
	t.state, t.traceAt = up.RespSuccess, now
	s.record(t, up.ZMCodeRefund, now)
	s.notify(t, 1)
}

// feeOf is the sandbox's merchant discount: 0.38% up to 1000.00 CNY,
// 0.60% above (docs/routing.md's QuickPass rule, credit rate above the limit).
func feeOf(amount int64) int64 {
	rate := decimal.RequireFromString("0.0038")
	if amount > 100000 {
		rate = decimal.RequireFromString("0.006")
	}
	return paygate.Fee(amount, rate, 0, 0)
}

// record books a settled transaction for the ZM file. Called with s.mu held.
func (s *Server) record(t *txn, code string, now time.Time) {
	row := up.ZMRow{
		TxnCode: code, AcqInsCode: "48020000", TraceNo: t.traceNo,
		TransTime: now.In(cst).Format("0102150405"), CardNo: t.card, Amount: t.amount,
		QueryID: t.queryID, OrderID: t.orderID, TxnType: t.txnType, TxnSubType: t.txnSubType,
		BizType: t.bizType, MerID: s.opts.MerID, TermID: t.termID,
		Fee: t.fee, Settle: t.amount - t.fee,
	}
	if t.orig != nil { // money goes back: fee returned, settlement debited
		row.Fee, row.Settle = -t.fee, -(t.amount - t.fee)
		row.OrigQueryID, row.OrigOrderID = t.orig.queryID, t.orig.orderID
		row.OrigTraceNo, row.OrigTime = t.orig.traceNo, t.orig.traceAt.In(cst).Format("0102150405")
	}
	row.Net = row.Settle
	s.ledger = append(s.ledger, ledgerEntry{at: now, row: row})
}

// notify sends the signed backUrl notify of t. Called with s.mu held.
func (s *Server) notify(t *txn, copies int) {
	target := t.backURL
	if target == "" {
		target = s.opts.NotifyURL
	}
	if target == "" || s.closed {
		return
	}
	f := s.noticeFields(t)
	// Signed on first delivery, outside s.mu: an RSA signature under the
	// simulator's one lock would serialise every payment behind it.
	var once sync.Once
	var body string
	var signErr error
	s.notifier.Send(sandbox.Delivery{
		Build: func(ctx context.Context) (*http.Request, error) {
			once.Do(func() {
				if signErr = up.Sign(f, s.upKey); signErr == nil {
					body = up.EncodeForm(f)
				}
			})
			if signErr != nil {
				return nil, signErr
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(body))
			if err != nil {
				return nil, err
			}
			req.Header.Set("Content-Type", noticeContentType)
			return req, nil
		},
		Accepted: func(status int, _ []byte) bool { return status == http.StatusOK },
		Copies:   copies,
	})
}

const noticeContentType = "application/x-www-form-urlencoded;charset=UTF-8"

// noticeFields are the fields of t's notify, unsigned.
func (s *Server) noticeFields(t *txn) map[string]string {
	f := map[string]string{
		"version": up.Version, "encoding": up.Encoding, "signMethod": up.SignMethod, "certId": s.upCertID,
		"merId": s.opts.MerID, "orderId": t.orderID, "txnType": t.txnType, "txnSubType": t.txnSubType,
		"bizType": t.bizType, "accessType": up.AccessDirect, "txnTime": t.txnTime,
		"txnAmt": strconv.FormatInt(t.amount, 10), "currencyCode": up.CurrencyCNY,
		"queryId": t.queryID, "respCode": t.state, "respMsg": respMsg(t.state),
		"traceNo": t.traceNo, "traceTime": t.traceAt.In(cst).Format("0102150405"),
		"settleAmt": strconv.FormatInt(t.amount, 10), "settleCurrencyCode": up.CurrencyCNY,
		"settleDate": t.traceAt.In(cst).Format("0102"),
	}
	if t.orig != nil {
		f["origQryId"] = t.orig.queryID
	}
	if t.card != "" {
		f["accNo"] = t.card
	}
	return f
}

// TradeNotice returns the fields of the notify of the transaction orderId as
// it would be sent now, unsigned; ok is false for an unknown orderId. A test
// aid, with SignNotice.
func (s *Server) TradeNotice(orderID string) (fields map[string]any, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.txns[orderID]
	if t == nil {
		return nil, false
	}
	fields = map[string]any{}
	for k, v := range s.noticeFields(t) {
		fields[k] = v
	}
	return fields, true
}

// RefundNotice returns the fields of the notify (txnType 04) of the refund
// orderId as it is sent when the refund succeeds, now for one still
// processing; ok is false for an unknown orderId or one that is not a
// refund. A test aid, with SignRefundNotice.
func (s *Server) RefundNotice(orderID string) (fields map[string]any, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.txns[orderID]
	if t == nil || t.txnType != up.TxnRefund {
		return nil, false
	}
	done := *t
	if done.state != up.RespSuccess {
		done.state, done.traceAt = up.RespSuccess, s.now()
	}
	fields = map[string]any{}
	for k, v := range s.noticeFields(&done) {
		fields[k] = v
	}
	return fields, true
}

// SignRefundNotice returns the headers and body of a refund notify of
// fields, signed as the simulator's own are. Refund and payment notifies
// share one format, so this is SignNotice; a test aid like it.
func (s *Server) SignRefundNotice(fields map[string]any) (http.Header, []byte) {
	return s.SignNotice(fields)
}

// SetRefundDelay makes refunds accepted from now on stay processing
// (origRespCode 05 in a query) for d before they succeed and are notified;
// 0, the default, succeeds them at once.
func (s *Server) SetRefundDelay(d time.Duration) {
	s.mu.Lock()
	s.opts.RefundDelay = d
	s.mu.Unlock()
}

// SignNotice returns the headers and body of a notify of fields (values are
// formatted with fmt's %v), signed with the platform's certificate as the
// simulator's own are. A test aid: with fields edited, it crafts notifies
// that are correctly signed yet wrong (another amount, another merchant).
func (s *Server) SignNotice(fields map[string]any) (http.Header, []byte) {
	f := make(map[string]string, len(fields))
	for k, v := range fields {
		f[k] = fmt.Sprint(v)
	}
	if err := up.Sign(f, s.upKey); err != nil {
		panic("unionpay sandbox: signing failed: " + err.Error())
	}
	h := http.Header{}
	h.Set("Content-Type", noticeContentType)
	return h, []byte(up.EncodeForm(f))
}

// ZM is the day's (Beijing time) INN{yyMMdd}88ZM file of what was settled,
// adjusted by the adjustments waiting for the day (docs/reconciliation.md).
// A payment an adjustment marks reversed is written as its undo; a line
// marked failed is left out (the ZM file lists settled transactions).
func (s *Server) ZM(day time.Time) ([]byte, error) {
	start, end := sandbox.DayRange(day)
	s.mu.Lock()
	for _, t := range s.txns {
		s.settle(t) // the day is closed: due confirmations happen first
	}
	var lines []sandbox.BillLine
	for _, e := range s.ledger {
		if e.at.Before(start) || !e.at.Before(end) {
			continue
		}
		r := e.row
		l := sandbox.BillLine{At: e.at, OutTradeNo: r.OrderID, Amount: r.Amount, Fee: max(r.Fee, -r.Fee),
			Status: sandbox.BillSucceeded, Data: r}
		switch r.TxnType {
		case up.TxnRefund:
			l.Refund, l.OutTradeNo, l.OutRefundNo = true, r.OrigOrderID, r.OrderID
		case up.TxnUndo:
			l.OutTradeNo, l.Status = r.OrigOrderID, sandbox.BillReversed
		}
		lines = append(lines, l)
	}
	s.mu.Unlock()
	lines = s.adjust.Apply(day, lines, func() string { return "ord" + randomAlnum(24) })
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].At.Before(lines[j].At) })
	rows := make([]up.ZMRow, 0, len(lines))
	for _, l := range lines {
		r, ok := l.Data.(up.ZMRow)
		if !ok { // a trade added by an adjustment
			s.mu.Lock()
			qid, trace := s.nextIDs(l.At)
			s.mu.Unlock()
			r = up.ZMRow{TxnCode: up.ZMCodeConsume, AcqInsCode: "48020000", TraceNo: trace, CardNo: "6216********0018",
				QueryID: qid, OrderID: l.OutTradeNo, TxnType: up.TxnConsume, TxnSubType: up.SubQRConsume,
				BizType: up.BizGeneral, MerID: s.opts.MerID, TermID: "T0001"}
		}
		if l.Status == sandbox.BillFailed {
			continue
		}
		if r.TxnType == up.TxnConsume && l.Status == sandbox.BillReversed {
			// written as the consume's undo
			orig := r
			r.TxnCode, r.TxnType, r.TxnSubType = up.ZMCodeUndo, up.TxnUndo, up.SubNone
			r.OrigQueryID, r.OrigOrderID, r.OrigTraceNo = orig.QueryID, orig.OrderID, orig.TraceNo
			r.OrigTime = orig.TransTime
			r.OrderID = "rev" + strings.TrimPrefix(orig.OrderID, "ord")
		}
		r.TransTime = l.At.In(cst).Format("0102150405")
		r.Amount, r.Fee, r.Settle = l.Amount, l.Fee, l.Amount-l.Fee
		if r.TxnType != up.TxnConsume { // money goes back: fee returned, settlement debited
			r.Fee, r.Settle = -r.Fee, -r.Settle
		}
		r.Net = r.Settle
		rows = append(rows, r)
	}
	return up.AppendZM(nil, rows), nil
}

// Books returns what the platform holds for the consume orderId (see
// sandbox.Books), and false when it has no such transaction.
func (s *Server) Books(orderID string) (sandbox.Books, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.txns[orderID]
	if !ok || t.txnType != up.TxnConsume {
		return sandbox.Books{}, false
	}
	s.settle(t)
	var b sandbox.Books
	if t.state == up.RespSuccess || t.state == up.RespAlreadyUndone && t.fee > 0 {
		b.Paid = t.amount
	}
	b.Reversed = t.state == up.RespAlreadyUndone
	for _, r := range s.txns {
		if r.orig == t && r.txnType == up.TxnRefund && r.state == up.RespSuccess {
			b.Refunded += r.amount
		}
	}
	return b, true
}

// ZME is the day's error file (差错): the simulator makes no errors, so
// it is empty; it is in the archive as the platform's always is.
func (s *Server) ZME(time.Time) []byte { return nil }

// AdjustBill queues an adjustment of the next ZM file of its day (tests
// and demos; also POST /bill_adjustments).
func (s *Server) AdjustBill(adj sandbox.BillAdjustment) error { return s.adjust.Add(adj) }

func randomAlnum(n int) string {
	const alnum = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alnum[int(b[i])%len(alnum)]
	}
	return string(b)
}
