package gateway

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/internal/apijson"
)

// QRCodeRequest is the body of POST /v1/qr_codes (docs/cashier.md).
type QRCodeRequest struct {
	TerminalID  string `json:"terminal_id"`
	StoreName   string `json:"store_name"`
	Amount      *int64 `json:"amount"`
	Description string `json:"description"`
}

// Lengths of a static code's texts: they are shown on a phone.
const (
	maxStoreName   = 64
	maxDescription = 256
)

// newCode returns a static code's URL token: 18 random bytes (144 bits),
// URL-safe base64 without padding (24 characters).
func newCode() (string, error) {
	var b [18]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// checkText checks a string shown to payers: valid UTF-8, at most max
// characters, no control characters.
func checkText(param, v string, max int) error {
	if err := checkLen(param, v, max); err != nil {
		return err
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0x2028 || r == 0x2029 {
			return paygate.ParamErrorf(paygate.EPARAMINVALID, param, "%s must not hold control characters", param)
		}
	}
	return nil
}

// staticQRLimit is what one payer may pay through a merchant's static
// codes per day: the merchant's declining static QR rule, else the
// cashier's default (0: none).
func (k *Cashier) staticQRLimit(m *paygate.Merchant) int64 {
	if m.Risk != nil {
		if l := m.Risk.StaticQRPayerDaily; l != nil && l.Max > 0 && (l.Action == "" || l.Action == paygate.RiskDecline) {
			return l.Max
		}
		return 0
	}
	return k.DefaultStaticQRLimit
}

// validate checks a code request against the merchant's limits.
func (in *QRCodeRequest) validate(k *Cashier, m *paygate.Merchant) error {
	if in.StoreName == "" {
		return paygate.ParamErrorf(paygate.EPARAMMISSING, "store_name", "store_name is required")
	}
	if err := checkText("store_name", in.StoreName, maxStoreName); err != nil {
		return err
	}
	if err := checkText("description", in.Description, maxDescription); err != nil {
		return err
	}
	if in.TerminalID != "" && !terminalPattern.MatchString(in.TerminalID) {
		return paygate.ParamErrorf(paygate.EPARAMINVALID, "terminal_id", "terminal_id must be 1-32 letters, digits, '_' or '-'")
	}
	if in.Amount != nil {
		a := *in.Amount
		if a <= 0 {
			return paygate.ParamErrorf(paygate.EAMOUNTINVALID, "amount", "amount must be a positive integer number of fen")
		}
		if limit := m.Limit(); a > limit {
			return paygate.ParamErrorf(paygate.EAMOUNTTOOLARGE, "amount", "amount exceeds the single-payment limit of %d", limit)
		}
		if limit := k.staticQRLimit(m); limit > 0 && a > limit {
			return paygate.ParamErrorf(paygate.EAMOUNTTOOLARGE, "amount",
				"a static QR code takes at most %d per payer per day; a fixed amount above it could never be paid", limit)
		}
	}
	return nil
}

// withURLs fills a code's URL and printable image URL.
func (k *Cashier) withURLs(q *paygate.QRCode) apijson.QRCode {
	q.URL = k.PublicURL + "/qr/" + q.Code
	q.PNGURL = q.URL + "/code.png"
	return apijson.QRCode{QRCode: q}
}

func (s *Server) createQRCode(c *gin.Context) {
	if !s.merchantOnly(c, "create static QR codes") {
		return
	}
	var in QRCodeRequest
	if !s.decodeBody(c, &in) {
		return
	}
	m, ok := s.merchant(c)
	if !ok {
		return
	}
	k := s.deps.Cashier
	if err := in.validate(k, m); err != nil {
		s.writeError(c, err)
		return
	}
	if in.TerminalID != "" {
		if err := s.checkTerminal(c, m.ID, in.TerminalID); err != nil {
			s.writeError(c, err)
			return
		}
	}
	code, err := newCode()
	if err != nil {
		s.writeError(c, err)
		return
	}
	q := &paygate.QRCode{MerchantID: m.ID, Code: code, TerminalID: in.TerminalID, StoreName: in.StoreName,
		Amount: in.Amount, Description: in.Description, Active: true, CreatedAt: s.now()}
	if err := k.Codes.CreateQRCode(c.Request.Context(), q); err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusCreated, k.withURLs(q))
}

// checkTerminal accepts an active terminal of the merchant, as orders do
// (payments.Payments.Terminal; docs/terminals.md, "Terminal binding").
func (s *Server) checkTerminal(c *gin.Context, merchantID, terminalID string) error {
	if s.deps.Payments == nil {
		return nil
	}
	_, err := s.deps.Payments.Terminal(c.Request.Context(), merchantID, terminalID)
	return err
}

func (s *Server) getQRCode(c *gin.Context) {
	if !s.merchantOnly(c, "read static QR codes") {
		return
	}
	k := s.deps.Cashier
	q, err := k.Codes.QRCode(c.Request.Context(), apiKey(c).MerchantID, c.Param("id"))
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, k.withURLs(q))
}

var listQRCodeParams = map[string]bool{"cursor": true, "limit": true}

func (s *Server) listQRCodes(c *gin.Context) {
	if !s.merchantOnly(c, "list static QR codes") {
		return
	}
	q := c.Request.URL.Query()
	for name := range q {
		if !listQRCodeParams[name] {
			s.writeError(c, paygate.ParamErrorf(paygate.EUNKNOWNPARAM, name, "unknown query parameter %q", truncate(name, 32)))
			return
		}
	}
	limit, err := parseLimit(q.Get("limit"))
	if err != nil {
		s.writeError(c, err)
		return
	}
	k := s.deps.Cashier
	codes, next, err := k.Codes.QRCodes(c.Request.Context(), paygate.QRCodeFilter{
		MerchantID: apiKey(c).MerchantID, Cursor: q.Get("cursor"), Limit: limit})
	if err != nil {
		s.writeError(c, err)
		return
	}
	data := make([]apijson.QRCode, len(codes))
	for i, qc := range codes {
		data[i] = k.withURLs(qc)
	}
	c.JSON(http.StatusOK, newList(data, next))
}

func (s *Server) deactivateQRCode(c *gin.Context) {
	if !s.merchantOnly(c, "deactivate static QR codes") || !s.emptyBody(c) {
		return
	}
	k := s.deps.Cashier
	q, err := k.Codes.DeactivateQRCode(c.Request.Context(), apiKey(c).MerchantID, c.Param("id"), s.now())
	if err != nil {
		s.writeError(c, err)
		return
	}
	k.cache.forget(q.Code)
	c.JSON(http.StatusOK, k.withURLs(q))
}
