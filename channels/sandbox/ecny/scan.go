package ecny

import (
	"encoding/json"
	"io"
	"net/http"

	api "github.com/paygate-cn/paygate/channels/ecny"
	"github.com/paygate-cn/paygate/channels/sandbox"
)

// scanRequest is a simulated payer scanning a dynamic QR code.
type scanRequest struct {
	QRCode    string `json:"qr_code"`
	PayerCode string `json:"payer_code"`
}

type scanAnswer struct {
	TradeStatus string `json:"trade_status,omitempty"`
	TradeNo     string `json:"trade_no,omitempty"`
	Error       string `json:"error,omitempty"`
}

// scan pays a NOTPAY trade as the payer's wallet would. payer_code, when
// given, chooses the scenario by its last four digits.
func (s *Server) scan(w http.ResponseWriter, r *http.Request) {
	answer := func(status int, a scanAnswer) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(a)
	}
	var req scanRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || req.QRCode == "" {
		answer(http.StatusBadRequest, scanAnswer{Error: "body must be {\"qr_code\": \"...\", \"payer_code\": \"optional\"}"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, exists := s.byCode[req.QRCode]
	if !exists {
		answer(http.StatusNotFound, scanAnswer{Error: "unknown qr_code"})
		return
	}
	s.settle(t)
	if t.TradeStatus != api.TradeNotPay {
		answer(http.StatusConflict, scanAnswer{TradeStatus: t.TradeStatus, TradeNo: t.TradeNo, Error: "trade is not awaiting payment"})
		return
	}
	payer := req.PayerCode
	if payer == "" {
		payer = "01" + randomDigits(17)
	}
	t.scenario = sandbox.ScenarioOf(payer)
	t.WalletType = api.WalletTypeOf(payer)
	t.WalletID = walletID(t.WalletType, payer)
	switch t.scenario {
	case sandbox.Decline:
		// The wallet refuses; the QR stays payable by another wallet.
		answer(http.StatusPaymentRequired, scanAnswer{TradeStatus: t.TradeStatus, TradeNo: t.TradeNo, Error: "insufficient wallet balance"})
		return
	case sandbox.ConfirmLater:
		t.TradeStatus = api.TradePaying
		t.created = s.now() // the confirmation delay runs from the scan
		s.confirmLater(t)
	case sandbox.NeverConfirm:
		t.TradeStatus = api.TradePaying
	default:
		s.succeed(t, s.now())
	}
	answer(http.StatusOK, scanAnswer{TradeStatus: t.TradeStatus, TradeNo: t.TradeNo})
}

func randomDigits(n int) string {
	h := randomHex(n)
	d := make([]byte, n)
	for i := range d {
		d[i] = '0' + h[i]%10
	}
	return string(d)
}
