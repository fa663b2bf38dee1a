package unionpay

import (
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"strconv"

	"github.com/paygate-cn/paygate/channels/sandbox"
	up "github.com/paygate-cn/paygate/channels/unionpay"
)

// handleAppTrans is the in-app (UPSDK) consume: txnType 01, bizType 000201,
// the payer's user id in reserved={userId=...}. The answer carries the tn
// the wallet pays; the payment is made on the confirm page (ref = tn).
func (s *Server) handleAppTrans(w http.ResponseWriter, r *http.Request) {
	f, ok := s.request(w, r)
	if !ok {
		return
	}
	t, code := s.onlineConsume(f)
	if code != up.RespSuccess {
		s.answer(w, f, code, nil)
		return
	}
	s.answer(w, f, up.RespSuccess, map[string]string{"tn": t.tn})
}

// handleFrontTrans is the front-end consume the payer's browser posts
// (h5: channelType 08, web: 07): it checks the signature and shows the
// confirm page of the new transaction; confirming pays (notify to backUrl)
// and sends the browser to frontUrl.
func (s *Server) handleFrontTrans(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, up.MaxMessage+1))
	if err != nil {
		frontError(w, up.RespFormat)
		return
	}
	f, err := up.ParseForm(string(body))
	switch {
	case err != nil:
		frontError(w, up.RespFormat)
		return
	case f["certId"] != s.merCertID || up.Verify(f, &s.merKey.PublicKey) != nil:
		frontError(w, up.RespBadSignature)
		return
	case f["version"] != up.Version || f["signMethod"] != up.SignMethod || f["merId"] != s.opts.MerID:
		frontError(w, up.RespFormat)
		return
	case f["frontUrl"] == "" || (f["channelType"] != up.ChannelPOS && f["channelType"] != up.ChannelWeb):
		frontError(w, up.RespMissingField)
		return
	}
	t, code := s.onlineConsume(f)
	if code != up.RespSuccess {
		frontError(w, code)
		return
	}
	page := s.confirmPage()
	page.Action = "../../confirm" // from gateway/api/frontTransReq.do
	page.Render(w, t.tn, f["frontUrl"])
}

// onlineConsume records an in-app or front-end consume awaiting the payer.
func (s *Server) onlineConsume(f map[string]string) (*txn, string) {
	for _, k := range []string{"orderId", "txnTime", "txnAmt", "backUrl"} {
		if f[k] == "" {
			return nil, up.RespMissingField
		}
	}
	amt, err := strconv.ParseInt(f["txnAmt"], 10, 64)
	switch {
	case err != nil || amt <= 0 || len(f["orderId"]) < 8 || len(f["orderId"]) > 40 || f["currencyCode"] != up.CurrencyCNY:
		return nil, up.RespFormat
	case f["txnType"] != up.TxnConsume || f["txnSubType"] != up.SubCard || f["bizType"] != up.BizB2C:
		return nil, up.RespFormat
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if prev, dup := s.txns[f["orderId"]]; dup {
		// the same order posted again (a reloaded page) shows the same tn
		if prev.tn != "" && prev.amount == amt && prev.txnTime == f["txnTime"] {
			return prev, up.RespSuccess
		}
		return nil, up.RespDuplicate
	}
	t := &txn{orderID: f["orderId"], txnType: f["txnType"], txnSubType: f["txnSubType"], bizType: f["bizType"],
		txnTime: f["txnTime"], amount: amt, backURL: f["backUrl"], termID: f["termId"], state: up.RespAccepted,
		frontURL: f["frontUrl"], subject: f["orderDesc"]}
	t.tn = s.now().In(cst).Format("20060102150405") + randDigits(7)
	s.txns[t.orderID], s.tns[t.tn] = t, t
	return t, up.RespSuccess
}

func frontError(w http.ResponseWriter, code string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusBadRequest)
	fmt.Fprintf(w, "<!doctype html><html lang=zh-CN><meta charset=utf-8><title>银联 · 沙箱</title><p id=error data-code=%q>%s</p></html>",
		code, html.EscapeString(respMsg(code)))
}

// handleResult is the sandbox's default frontUrl: where the payer's
// browser lands after a front-end consume when the merchant set none.
func (s *Server) handleResult(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	io.WriteString(w, "<!doctype html><html lang=zh-CN><meta charset=utf-8><title>银联 · 沙箱</title><p>支付流程已结束，请返回商户查看结果。</p></html>")
}

func (s *Server) confirmPage() *sandbox.ConfirmPage {
	return &sandbox.ConfirmPage{Wallet: sandbox.LockedWallet{Mu: &s.mu, Find: s.confirmable}, Title: "云闪付",
		AllowReturn: sandbox.LoopbackOrOrigins(s.opts.ReturnOrigins...)}
}

// confirmable describes an in-app or front-end consume (ref: its tn) for
// the confirm page and returns how to pay it; called with s.mu held.
func (s *Server) confirmable(ref string) (sandbox.ConfirmInfo, func(), error) {
	t := s.tns[ref]
	if t == nil || ref == "" {
		return sandbox.ConfirmInfo{}, nil, sandbox.ErrUnknownRef
	}
	info := sandbox.ConfirmInfo{Subject: t.subject, Amount: t.amount, ReturnURL: t.frontURL}
	if t.state != up.RespAccepted || t.queryID != "" {
		return info, nil, errors.New("交易状态为 " + respMsg(t.state))
	}
	return info, func() {
		now := s.now()
		t.queryID, t.traceNo = s.nextIDs(now)
		t.traceAt = now
		t.card = "6216****0000"
		s.byQID[t.queryID] = t
		s.succeed(t, now)
	}, nil
}
