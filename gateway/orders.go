package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/internal/apijson"
	"github.com/paygate-cn/paygate/payments"
)

// OrderRequest is the body of POST /v1/orders (openapi.json).
type OrderRequest struct {
	MerchantOrderNo string            `json:"merchant_order_no"`
	Amount          *int64            `json:"amount"`
	Currency        string            `json:"currency"`
	Subject         string            `json:"subject" input:"text"`
	Method          string            `json:"method"`
	AuthCode        string            `json:"auth_code"`
	Channel         *string           `json:"channel"`
	Card            *CardRequest      `json:"card"`
	TerminalID      string            `json:"terminal_id"`
	Location        *paygate.Location `json:"location"`
	Capture         string            `json:"capture"`
	ExpiresIn       *int              `json:"expires_in"`
	WaitSeconds     *int              `json:"wait_seconds"`
	NotifyURL       string            `json:"notify_url"`
	Metadata        map[string]string `json:"metadata" input:"text"`
	PayerID         string            `json:"payer_id"`
	ClientIP        string            `json:"client_ip"`

	// start is the payment the request asks for, filled in by validation
	// (its Source and QRCodeID mark a payment through a static QR code:
	// set by the cashier, never by the API).
	start payments.StartRequest
}

// CardRequest is the card of a card-present order as the API takes it: the
// JSON form of paygate.CardInput, to which it converts without a copy.
type CardRequest struct {
	EntryMode string `json:"entry_mode"`
	Type      string `json:"type"`
	Network   string `json:"network"`
	EMV       string `json:"emv"`
	Token     string `json:"token"`
}

var (
	merchantNoPattern = regexp.MustCompile(`^[A-Za-z0-9_\-]{1,64}$`)
	regionPattern     = regexp.MustCompile(`^[0-9]{6}$`)
	terminalPattern   = regexp.MustCompile(`^[A-Za-z0-9_\-]{1,32}$`)
)

func checkLen(param, v string, max int) error {
	if utf8.RuneCountInString(v) > max {
		return paygate.ParamErrorf(paygate.ESTRINGTOOLONG, param, "%s is longer than %d characters", param, max)
	}
	if !utf8.ValidString(v) {
		return paygate.ParamErrorf(paygate.EPARAMINVALID, param, "%s is not valid UTF-8", param)
	}
	return nil
}

// validate checks every field and derives the typed values; it touches
// nothing, so a rejected request leaves nothing behind.
//
// A quote (quote true) describes a payment for its price: it is checked
// alike, but needs neither merchant_order_no nor the parameters of the
// method's flow (payer_id, client_ip, terminal_id, card data).
func (in *OrderRequest) validate(m *paygate.Merchant, rules []paygate.AuthCodeRule, quote bool) error {
	if in.MerchantOrderNo == "" {
		return paygate.ParamErrorf(paygate.EPARAMMISSING, "merchant_order_no", "merchant_order_no is required")
	}
	if err := checkLen("merchant_order_no", in.MerchantOrderNo, 64); err != nil {
		return err
	}
	if !merchantNoPattern.MatchString(in.MerchantOrderNo) {
		return paygate.ParamErrorf(paygate.EPARAMINVALID, "merchant_order_no", "merchant_order_no may hold only letters, digits, '_' and '-'")
	}
	if in.Amount == nil {
		return paygate.ParamErrorf(paygate.EPARAMMISSING, "amount", "amount is required (integer fen)")
	}
	in.start.Amount = *in.Amount
	if in.start.Amount <= 0 {
		return paygate.ParamErrorf(paygate.EAMOUNTINVALID, "amount", "amount must be a positive integer number of fen")
	}
	if limit := m.Limit(); in.start.Amount > limit {
		return paygate.ParamErrorf(paygate.EAMOUNTTOOLARGE, "amount", "amount exceeds the single-payment limit of %d", limit)
	}
	if in.Currency != "" && in.Currency != paygate.Currency {
		return paygate.ParamErrorf(paygate.EPARAMINVALID, "currency", "currency must be CNY")
	}
	if in.Subject == "" {
		return paygate.ParamErrorf(paygate.EPARAMMISSING, "subject", "subject is required")
	}
	if err := checkLen("subject", in.Subject, 128); err != nil {
		return err
	}
	in.start.Method = paygate.Method(in.Method)
	if in.Method == "" {
		return paygate.ParamErrorf(paygate.EPARAMMISSING, "method", "method is required")
	}
	if !in.start.Method.Valid() {
		return paygate.ParamErrorf(paygate.EUNSUPPORTED, "method", "unknown method %q", truncate(in.Method, 32))
	}
	if in.Channel != nil {
		if !validKind(*in.Channel) {
			return paygate.ParamErrorf(paygate.EUNKNOWNCHANNEL, "channel", "unknown channel %q", truncate(*in.Channel, 32))
		}
		in.start.Channel = *in.Channel
	}
	if err := checkLen("auth_code", in.AuthCode, 32); err != nil {
		return err
	}
	switch in.start.Method {
	case paygate.MethodAuthCode:
		if in.AuthCode == "" {
			return paygate.ParamErrorf(paygate.EPARAMMISSING, "auth_code", "auth_code is required for method auth_code")
		}
		kind, ok := paygate.DetectAuthCode(rules, in.AuthCode)
		if !ok {
			return paygate.ParamErrorf(paygate.EUNSUPPORTEDAUTH, "auth_code", "the payment code is not one of a supported wallet")
		}
		if in.start.Channel != "" && in.start.Channel != kind {
			return paygate.ParamErrorf(paygate.EPARAMINVALID, "channel", "channel %s does not match the payment code, which is %s", in.start.Channel, kind)
		}
		in.start.Channel = kind
	case paygate.MethodCard:
		if in.Card == nil {
			return paygate.ParamErrorf(paygate.EPARAMMISSING, "card", "card is required for method card")
		}
		if in.start.Channel != "" {
			return paygate.ParamErrorf(paygate.EPARAMINVALID, "channel", "channel must be null for card payments: routing chooses the acquirer")
		}
	default:
		if in.start.Channel == "" {
			return paygate.ParamErrorf(paygate.EPARAMMISSING, "channel", "channel is required for method %s", in.start.Method)
		}
	}
	if in.start.Method != paygate.MethodAuthCode && in.AuthCode != "" {
		return paygate.ParamErrorf(paygate.EPARAMINVALID, "auth_code", "auth_code is only for method auth_code")
	}
	if in.start.Method != paygate.MethodCard && in.Card != nil {
		return paygate.ParamErrorf(paygate.EPARAMINVALID, "card", "card is only for method card")
	}
	if err := in.checkFlow(quote); err != nil {
		return err
	}
	if in.TerminalID != "" && !terminalPattern.MatchString(in.TerminalID) {
		return paygate.ParamErrorf(paygate.EPARAMINVALID, "terminal_id", "terminal_id must be 1-32 letters, digits, '_' or '-'")
	}
	if in.Location != nil && !regionPattern.MatchString(in.Location.RegionCode) {
		return paygate.ParamErrorf(paygate.EPARAMINVALID, "location.region_code", "location.region_code must be a 6-digit division code")
	}
	switch in.Capture {
	case "":
		in.Capture = paygate.CaptureAutomatic
	case paygate.CaptureAutomatic:
	case paygate.CaptureManual:
		if in.start.Method != paygate.MethodCard {
			return paygate.ParamErrorf(paygate.EPARAMINVALID, "capture", "capture manual is only for card payments")
		}
	default:
		return paygate.ParamErrorf(paygate.EPARAMINVALID, "capture", "capture must be automatic or manual")
	}
	expiresIn := 900
	if in.start.Method == paygate.MethodAuthCode {
		expiresIn = 60 // the B-scan-C payment window (README, "wait_seconds and the payment window")
	}
	if in.ExpiresIn != nil {
		if *in.ExpiresIn < 60 || *in.ExpiresIn > 86400 {
			return paygate.ParamErrorf(paygate.EPARAMINVALID, "expires_in", "expires_in must be 60-86400 seconds")
		}
		expiresIn = *in.ExpiresIn
	}
	waitSeconds := 30
	if in.WaitSeconds != nil {
		if *in.WaitSeconds < 0 || *in.WaitSeconds > 120 {
			return paygate.ParamErrorf(paygate.EPARAMINVALID, "wait_seconds", "wait_seconds must be 0-120")
		}
		waitSeconds = *in.WaitSeconds
	}
	if len(in.Metadata) > 20 {
		return paygate.ParamErrorf(paygate.EPARAMINVALID, "metadata", "metadata holds at most 20 keys")
	}
	for k, v := range in.Metadata {
		if k == "" || utf8.RuneCountInString(k) > 40 {
			return paygate.ParamErrorf(paygate.ESTRINGTOOLONG, "metadata", "metadata keys must be 1-40 characters")
		}
		if err := checkLen("metadata."+k, v, 500); err != nil {
			return err
		}
	}
	if !validPayerID(in.PayerID) {
		return paygate.ParamErrorf(paygate.EPARAMINVALID, "payer_id",
			"payer_id is at most 64 letters, digits, '_' or '-' (an openid, buyer id, UnionPay user id or wallet id)")
	}
	if err := checkLen("client_ip", in.ClientIP, 45); err != nil {
		return err
	}
	if in.ClientIP != "" {
		if ip, err := netip.ParseAddr(in.ClientIP); err != nil || ip.Zone() != "" {
			return paygate.ParamErrorf(paygate.EPARAMINVALID, "client_ip", "client_ip must be an IPv4 or IPv6 address")
		}
	}
	st := &in.start
	st.MerchantOrderNo, st.Subject, st.AuthCode = in.MerchantOrderNo, in.Subject, in.AuthCode
	st.Card = (*paygate.CardInput)(in.Card)
	st.TerminalID, st.Location, st.Capture = in.TerminalID, in.Location, in.Capture
	st.ExpiresIn, st.Wait = time.Duration(expiresIn)*time.Second, time.Duration(waitSeconds)*time.Second
	st.NotifyURL, st.Metadata, st.PayerID, st.ClientIP = in.NotifyURL, in.Metadata, in.PayerID, in.ClientIP
	return nil
}

// checkFlow checks the method/channel combination against what the
// channel kind implements (paygate.ChannelKinds) and, unless quote, that
// the request carries every parameter the flow needs. When routing chooses
// the channel (card), every kind offering the method is checked.
func (in *OrderRequest) checkFlow(quote bool) error {
	kinds := paygate.KindsFor(in.start.Method)
	if in.start.Channel != "" {
		if _, ok := paygate.FlowOf(in.start.Channel, in.start.Method); !ok {
			return paygate.ParamErrorf(paygate.EUNSUPPORTED, "method", "channel %s does not offer method %s (it offers %s)",
				in.start.Channel, in.start.Method, offered(in.start.Channel))
		}
		kinds = []string{in.start.Channel}
	}
	if len(kinds) == 0 {
		return paygate.ParamErrorf(paygate.EUNSUPPORTED, "method", "no channel offers method %s", in.start.Method)
	}
	if quote {
		return nil
	}
	for _, k := range kinds {
		f, _ := paygate.FlowOf(k, in.start.Method)
		for _, p := range f.Requires {
			if in.has(p) {
				continue
			}
			if in.start.Channel == "" {
				return paygate.ParamErrorf(paygate.EPARAMMISSING, p, "%s is required for method %s", p, in.start.Method)
			}
			return paygate.ParamErrorf(paygate.EPARAMMISSING, p, "%s is required for method %s on channel %s", p, in.start.Method, in.start.Channel)
		}
	}
	return nil
}

// has reports whether the request carries flow parameter p.
func (in *OrderRequest) has(p string) bool {
	switch p {
	case paygate.ParamAuthCode:
		return in.AuthCode != ""
	case paygate.ParamCard:
		return in.Card != nil
	case paygate.ParamTerminalID:
		return in.TerminalID != ""
	case paygate.ParamPayerID:
		return in.PayerID != ""
	case paygate.ParamClientIP:
		return in.ClientIP != ""
	}
	return false
}

// offered lists the methods a channel kind offers, for messages.
func offered(kind string) string {
	c, _ := paygate.CapabilitiesOf(kind)
	var b strings.Builder
	for i, f := range c.Flows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(string(f.Method))
	}
	return b.String()
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func validKind(k string) bool {
	_, ok := paygate.CapabilitiesOf(k)
	return ok
}

func (s *Server) merchant(c *gin.Context) (*paygate.Merchant, bool) {
	m, err := s.deps.Directory.Merchant(c.Request.Context(), apiKey(c).MerchantID)
	if err != nil {
		s.writeError(c, err)
		return nil, false
	}
	return m, true
}

// orderRequest reads, decodes and validates an order body, binding a
// terminal key to its terminal. Orders and quotes share it so that they
// decide on the same input; for a quote merchant_order_no may be left out
// (and payments.Quote takes a card described without card data). The card
// itself is read by the payments package.
func (s *Server) orderRequest(c *gin.Context, quote bool) (*OrderRequest, *paygate.Merchant, error) {
	body, ok := s.readBody(c)
	if !ok {
		return nil, nil, errAnswered
	}
	var in OrderRequest
	if err := decodeStrict(body, &in); err != nil {
		return nil, nil, err
	}
	m, err := s.deps.Directory.Merchant(c.Request.Context(), apiKey(c).MerchantID)
	if err != nil {
		return nil, nil, err
	}
	if key := apiKey(c); key.TerminalID != "" {
		if in.TerminalID != "" && in.TerminalID != key.TerminalID {
			return nil, nil, paygate.ParamErrorf(paygate.EFORBIDDEN, "terminal_id", "a terminal key creates orders for its own terminal only")
		}
		in.TerminalID = key.TerminalID
	}
	if err := s.checkNotifyURL(c, in.NotifyURL); err != nil {
		return nil, nil, err
	}
	if quote && in.MerchantOrderNo == "" {
		in.MerchantOrderNo = "quote"
	}
	if err := in.validate(m, s.deps.AuthCodes, quote); err != nil {
		return nil, nil, err
	}
	return &in, m, nil
}

// errAnswered reports that the request was already answered (readBody
// writes its own error).
var errAnswered = errors.New("gateway: already answered")

// fail answers err unless the request was already answered.
func (s *Server) fail(c *gin.Context, err error) {
	if err != errAnswered {
		s.writeError(c, err)
	}
}

func (s *Server) createOrder(c *gin.Context) {
	in, m, err := s.orderRequest(c, false)
	if err != nil {
		s.fail(c, err)
		return
	}
	o, err := s.deps.Payments.Start(c.Request.Context(), m, &in.start)
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.metrics.Order(o.Provider, o.Method)
	s.writeOrder(c, http.StatusCreated, o)
}

// loadOrder reads an order of the caller's merchant; a terminal key sees
// only its own terminal's orders (others are not found).
func (s *Server) loadOrder(c *gin.Context) (*paygate.Order, bool) {
	key := apiKey(c)
	o, err := s.deps.Orders.MerchantOrder(c.Request.Context(), key.MerchantID, c.Param("id"))
	if err == nil && key.TerminalID != "" && o.TerminalID != key.TerminalID {
		err = paygate.Errorf(paygate.ENOTFOUND, "order %s not found", c.Param("id"))
	}
	if err != nil {
		s.writeError(c, err)
		return nil, false
	}
	return o, true
}

func (s *Server) getOrder(c *gin.Context) {
	if o, ok := s.loadOrder(c); ok {
		s.writeOrder(c, http.StatusOK, o)
	}
}

type listResponse[T any] struct {
	Object     string  `json:"object"`
	Data       []T     `json:"data"`
	NextCursor *string `json:"next_cursor"`
}

func newList[T any](data []T, next string) listResponse[T] {
	l := listResponse[T]{Object: "list", Data: data}
	if data == nil {
		l.Data = []T{}
	}
	if next != "" {
		l.NextCursor = &next
	}
	return l
}

var listOrderParams = map[string]bool{"merchant_order_no": true, "created_from": true, "created_to": true, "status": true, "cursor": true, "limit": true}

func parseLimit(v string) (int, error) {
	if v == "" {
		return 20, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 100 {
		return 0, paygate.ParamErrorf(paygate.EPARAMINVALID, "limit", "limit must be 1-100")
	}
	return n, nil
}

func parseTimeParam(q url.Values, name string) (*time.Time, error) {
	v := q.Get(name)
	if v == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return nil, paygate.ParamErrorf(paygate.EPARAMINVALID, name, "%s must be an RFC 3339 time", name)
	}
	return &t, nil
}

// query returns the request's query parameters, answering 400
// unknown_parameter (and false) when one is not in allowed.
func (s *Server) query(c *gin.Context, allowed map[string]bool) (url.Values, bool) {
	q := c.Request.URL.Query()
	for k := range q {
		if !allowed[k] {
			s.writeError(c, paygate.ParamErrorf(paygate.EUNKNOWNPARAM, k, "unknown query parameter %q", k))
			return nil, false
		}
	}
	return q, true
}

func (s *Server) listOrders(c *gin.Context) {
	q, ok := s.query(c, listOrderParams)
	if !ok {
		return
	}
	key := apiKey(c)
	f := paygate.OrderFilter{MerchantID: key.MerchantID, TerminalID: key.TerminalID,
		MerchantOrderNo: q.Get("merchant_order_no"), Status: paygate.OrderStatus(q.Get("status")), Cursor: q.Get("cursor")}
	if f.Status != "" && !f.Status.Valid() {
		s.writeError(c, paygate.ParamErrorf(paygate.EPARAMINVALID, "status", "unknown status %q", truncate(string(f.Status), 32)))
		return
	}
	var err error
	if f.Limit, err = parseLimit(q.Get("limit")); err == nil {
		if f.CreatedFrom, err = parseTimeParam(q, "created_from"); err == nil {
			f.CreatedTo, err = parseTimeParam(q, "created_to")
		}
	}
	if err != nil {
		s.writeError(c, err)
		return
	}
	orders, next, err := s.deps.Orders.Orders(c.Request.Context(), f)
	if err != nil {
		s.writeError(c, err)
		return
	}
	data := make([]apijson.Order, len(orders))
	for i, o := range orders {
		o.QRPNGURL = s.deps.Cashier.OrderPNGURL(o, s.now())
		data[i] = apijson.Order{Order: o}
	}
	c.JSON(http.StatusOK, newList(data, next))
}

// decodeBody reads the body and decodes it strictly into dst; on failure
// it answers the error itself.
func (s *Server) decodeBody(c *gin.Context, dst any) bool {
	body, ok := s.readBody(c)
	if !ok {
		return false
	}
	if err := decodeStrict(body, dst); err != nil {
		s.writeError(c, err)
		return false
	}
	return true
}

// emptyBody accepts an empty body or {} for action endpoints.
func (s *Server) emptyBody(c *gin.Context) bool {
	body, ok := s.readBody(c)
	if !ok {
		return false
	}
	if len(body) == 0 {
		return true
	}
	var none struct{}
	if err := decodeStrict(body, &none); err != nil {
		s.writeError(c, err)
		return false
	}
	return true
}

func (s *Server) closeOrder(c *gin.Context) {
	if !s.emptyBody(c) {
		return
	}
	o, ok := s.loadOrder(c)
	if !ok {
		return
	}
	o, err := s.deps.Payments.CloseOrder(c.Request.Context(), o)
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.writeOrder(c, http.StatusOK, o)
}

func (s *Server) cancelOrder(c *gin.Context) {
	if !s.emptyBody(c) {
		return
	}
	o, ok := s.loadOrder(c)
	if !ok {
		return
	}
	o, err := s.deps.Payments.Cancel(c.Request.Context(), o)
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.writeOrder(c, http.StatusOK, o)
}

// writeOrder answers with the order object, encoded by the order's own
// encoder (it answers every order request; see apijson.AppendOrder).
func (s *Server) writeOrder(c *gin.Context, status int, o *paygate.Order) {
	o.QRPNGURL = s.deps.Cashier.OrderPNGURL(o, s.now())
	b, err := apijson.AppendOrder(make([]byte, 0, 2048), o)
	if err != nil {
		s.writeError(c, fmt.Errorf("encode order %s: %w", o.ID, err))
		return
	}
	c.Data(status, "application/json; charset=utf-8", b)
}

// validPayerID: the wallets' payer ids (WeChat openid, Alipay buyer id or
// open id, UnionPay user id, e-CNY wallet id) are at most 64 letters,
// digits, '_' or '-' (docs/errors.md); checked before anything is written
// so that a channel never refuses one after the order exists. "" is absent.
func validPayerID(s string) bool {
	if len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
