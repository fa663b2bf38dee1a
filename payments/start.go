package payments

import (
	"context"
	"errors"
	"time"
	"unicode/utf8"

	"github.com/paygate-cn/paygate"
)

// StartRequest is a payment to start. Its caller has checked it (the API
// checks every field before anything is written; docs/errors.md): Start
// checks only what needs the merchant's data — the card, the terminal, the
// route.
type StartRequest struct {
	MerchantOrderNo string
	Amount          int64 // fen
	Subject         string
	Method          paygate.Method
	// Channel is the channel kind; "" lets routing choose (card payments).
	Channel string
	// AuthCode is the customer's payment code (B-scan-C).
	AuthCode string
	// Card is the card of a card payment, turned into card data by
	// ParseCard. A quote may describe it without card data (entry mode,
	// type and network alone).
	Card       *paygate.CardInput
	TerminalID string
	Location   *paygate.Location
	Capture    string // paygate.CaptureAutomatic or paygate.CaptureManual
	// ExpiresIn is how long the order may be paid.
	ExpiresIn time.Duration
	// Wait bounds how long Start waits for a final outcome while a
	// B-scan-C customer confirms (README, "wait_seconds and the payment
	// window").
	Wait      time.Duration
	NotifyURL string
	Metadata  map[string]string
	PayerID   string
	ClientIP  string
	// Source and QRCodeID mark a payment through a static QR code (the
	// cashier page).
	Source   string
	QRCodeID string
}

// payerKey is who pays, for the risk rules: the card's fingerprint or the
// payer id.
func payerKey(in *StartRequest, card *paygate.CardInfo) string {
	if card != nil && card.Fingerprint != "" {
		return "card:" + card.Fingerprint
	}
	if in.PayerID != "" {
		return "payer:" + in.PayerID
	}
	return ""
}

// parseCard reads a card payment's card. Other methods have none.
func (p *Payments) parseCard(in *StartRequest) (*paygate.CardData, *paygate.CardInfo, error) {
	if in.Method != paygate.MethodCard {
		return nil, nil, nil
	}
	if p.ParseCard == nil {
		return nil, nil, paygate.ParamErrorf(paygate.EUNSUPPORTED, "method", "card payments are not enabled")
	}
	return p.ParseCard(in.Card)
}

// Start creates an order from a checked request and drives it as far as
// the channel allows within the request: a final outcome, a QR code or
// wallet credential, or pending while the outcome is unknown.
func (p *Payments) Start(ctx context.Context, m *paygate.Merchant, in *StartRequest) (*paygate.Order, error) {
	cardData, cardInfo, err := p.parseCard(in)
	if err != nil {
		return nil, err
	}
	// A client that goes away must not abandon a payment halfway: from here
	// on the work runs to its end.
	ctx = context.WithoutCancel(ctx)
	now := p.now().UTC()

	rreq, err := p.routeRequest(ctx, m, in, cardInfo)
	if err != nil {
		return nil, err
	}
	route, err := p.Router.Route(ctx, rreq)
	if err != nil {
		return nil, err
	}
	ch, err := p.channel(route.Provider)
	if err != nil {
		return nil, err
	}
	if in.Capture == paygate.CaptureManual {
		if ch, err = p.preAuthChannel(route, ch); err != nil {
			return nil, err
		}
	}

	o := &paygate.Order{
		ID:              paygate.NewID(paygate.PrefixOrder, now),
		MerchantID:      m.ID,
		MerchantOrderNo: in.MerchantOrderNo,
		Status:          paygate.OrderPending,
		Amount:          in.Amount,
		Currency:        paygate.Currency,
		Subject:         in.Subject,
		Method:          in.Method,
		Channel:         route.Channel,
		Provider:        route.Provider,
		Fee:             route.Fee,
		NetAmount:       in.Amount - route.Fee,
		Route:           route,
		Card:            cardInfo,
		TerminalID:      in.TerminalID,
		Location:        in.Location,
		Capture:         in.Capture,
		NotifyURL:       in.NotifyURL,
		PayerID:         in.PayerID,
		Source:          in.Source,
		QRCodeID:        in.QRCodeID,
		CreatedAt:       now,
		UpdatedAt:       now,
		ExpiresAt:       now.Add(in.ExpiresIn),
		Metadata:        in.Metadata,
		AuthCodeMasked:  paygate.MaskCode(in.AuthCode),
	}
	if o.Metadata == nil {
		o.Metadata = map[string]string{}
	}
	// A reference the channel needs to refer to this payment later (a
	// card sale's STAN) is stored with the order before anything is sent.
	o.ChannelRef = paygate.NewChannelReference(ch)
	if err := p.Orders.CreateOrder(ctx, o); err != nil {
		return nil, err
	}

	req := &paygate.PaymentRequest{
		OrderID: o.ID, Amount: o.Amount, Subject: o.Subject, Method: o.Method,
		AuthCode: in.AuthCode, Card: cardData, CardInfo: cardInfo, Capture: o.Capture,
		Merchant: m, TerminalID: o.TerminalID, PayerID: in.PayerID, ClientIP: in.ClientIP,
		ExpiresAt: o.ExpiresAt, NotifyURL: p.CallbackBase + ch.Kind(), ChannelRef: o.ChannelRef,
	}
	res, err := ch.Pay(ctx, req)
	// A provider that refused before sending anything (circuit open) hands
	// the payment to the next eligible candidate; the order records why.
	for err != nil && paygate.ErrorCode(err) == paygate.ECHANNELUNAVAILABLE && p.Fallback != nil &&
		p.Fallback(route, route.Provider, paygate.ErrorMessage(err)) {
		next, cerr := p.channel(route.Provider)
		if cerr != nil {
			err = cerr
			break
		}
		ref := paygate.NewChannelReference(next)
		o, _, err = p.Orders.UpdateOrder(ctx, paygate.OrderUpdate{OrderID: o.ID,
			From: []paygate.OrderStatus{paygate.OrderPending}, To: paygate.OrderPending, Route: route, ChannelRef: &ref})
		if err != nil {
			return nil, err
		}
		ch = next
		req.NotifyURL = p.CallbackBase + ch.Kind()
		req.ChannelRef = ref
		res, err = ch.Pay(ctx, req)
	}

	deadline := now.Add(in.Wait)
	switch {
	case err != nil:
		var ce *paygate.ChannelError
		if !errors.As(err, &ce) {
			// Nothing reached the channel (circuit open, bad local state):
			// the order fails now, with the reason.
			f := &paygate.Failure{Code: paygate.ErrorCode(err), Message: paygate.ErrorMessage(err)}
			return p.apply(ctx, o, &paygate.Result{Outcome: paygate.OutcomeDeclined, Failure: f}, paygate.OrderClosed)
		}
		p.log().Warn("channel outcome unknown", "order", o.ID, "provider", ch.ID(), "err", err)
		if o.Method == paygate.MethodCard {
			// A card payment without a verified answer is first asked
			// about where the channel can be asked (QuickPass): a system
			// error may hide a payment that went through (README, scenario
			// 5555). One still unknown, or on a channel without a query
			// (ISO 8583 acquirers), is reversed now (0400).
			if res, qerr := ch.Query(ctx, o); qerr == nil {
				switch res.Outcome {
				case paygate.OutcomeSuccess, paygate.OutcomeDeclined, paygate.OutcomeAuthorized:
					return p.apply(ctx, o, res, paygate.OrderClosed)
				}
			}
			return p.reverseUnanswered(ctx, ch, o)
		}
		if ce.Timeout || o.Method != paygate.MethodAuthCode {
			// No answer: the order stays pending and is resolved by query
			// (or reversed) in the background.
			p.resolveLater(o.ID, p.pollInterval())
			return o, nil
		}
		return p.waitForCustomer(ctx, ch, o, deadline, false)
	case res.Outcome == paygate.OutcomePending && o.Method == paygate.MethodAuthCode:
		return p.waitForCustomer(ctx, ch, o, deadline, true)
	case res.Outcome == paygate.OutcomePending:
		// QR or in-wallet: keep the code or credential; the callback (or a
		// query) finishes the order.
		u := paygate.OrderUpdate{OrderID: o.ID, From: []paygate.OrderStatus{paygate.OrderPending}, To: paygate.OrderPending}
		if res.QRCode != "" {
			u.QRCode = &res.QRCode
		}
		if len(res.Credential) > 0 {
			u.Credential = res.Credential
		}
		if res.ChannelTradeNo != "" {
			u.ChannelTradeNo = &res.ChannelTradeNo
		}
		o2, _, err := p.Orders.UpdateOrder(ctx, u)
		return o2, err
	default:
		return p.apply(ctx, o, res, paygate.OrderClosed)
	}
}

// routeRequest is what routing decides on for a payment; quotes and orders
// share it so that they decide alike.
func (p *Payments) routeRequest(ctx context.Context, m *paygate.Merchant, in *StartRequest, card *paygate.CardInfo) (*paygate.RouteRequest, error) {
	rreq := &paygate.RouteRequest{
		Merchant: m, Amount: in.Amount, Method: in.Method, Channel: in.Channel,
		Card: card, TerminalID: in.TerminalID, Location: in.Location, PayerKey: payerKey(in, card),
		StaticQR: in.Source == paygate.SourceStaticQR,
	}
	if p.Terminals != nil && in.TerminalID != "" {
		t, err := p.Terminal(ctx, m.ID, in.TerminalID)
		if err != nil {
			return nil, err
		}
		rreq.TerminalRegion = t.RegionCode
	}
	return rreq, nil
}

// Terminal returns the merchant's active terminal terminalID, the one a
// payment (or a static QR code) naming it is bound to (docs/terminals.md,
// "Terminal binding"). Returns ETERMINALUNKNOWN if the merchant has no
// such terminal (another merchant's is unknown too), ETERMINALINACTIVE if
// it is pending activation or deactivated. Without Terminals every
// terminal id is taken: it returns nil and no error.
func (p *Payments) Terminal(ctx context.Context, merchantID, terminalID string) (*paygate.Terminal, error) {
	if p.Terminals == nil {
		return nil, nil
	}
	t, err := p.Terminals.TerminalByNumber(ctx, merchantID, terminalID)
	switch {
	case paygate.ErrorCode(err) == paygate.ENOTFOUND:
		return nil, paygate.ParamErrorf(paygate.ETERMINALUNKNOWN, "terminal_id", "terminal_id %s is not a terminal of this merchant", terminalID)
	case err != nil:
		return nil, err
	case t.MerchantID != "" && t.MerchantID != merchantID:
		return nil, paygate.ParamErrorf(paygate.ETERMINALUNKNOWN, "terminal_id", "terminal_id %s is not a terminal of this merchant", terminalID)
	case t.Status != paygate.TerminalActive:
		return nil, paygate.ParamErrorf(paygate.ETERMINALINACTIVE, "terminal_id", "terminal %s is %s and takes no payments", terminalID, t.Status)
	}
	return t, nil
}

// Quote answers which provider would take the payment, at what fee, and
// why, without side effects: nothing is stored, no channel is called, no
// risk counter moves. Its card may be described without card data.
func (p *Payments) Quote(ctx context.Context, m *paygate.Merchant, in *StartRequest) (*paygate.Route, error) {
	var card *paygate.CardInfo
	var err error
	if in.Method == paygate.MethodCard && in.Card != nil && in.Card.EMV == "" && in.Card.Token == "" {
		card, err = describedCard(in.Card)
	} else {
		_, card, err = p.parseCard(in)
	}
	if err != nil {
		return nil, err
	}
	rreq, err := p.routeRequest(ctx, m, in, card)
	if err != nil {
		return nil, err
	}
	return p.Router.Quote(ctx, rreq)
}

// describedCard takes a card described without card data (quotes only).
func describedCard(in *paygate.CardInput) (*paygate.CardInfo, error) {
	switch in.EntryMode {
	case paygate.EntryContactless, paygate.EntryChip, paygate.EntrySwipe:
	default:
		return nil, paygate.ParamErrorf(paygate.EPARAMINVALID, "card.entry_mode", "card.entry_mode must be contactless, chip or swipe")
	}
	switch in.Type {
	case paygate.CardCredit, paygate.CardDebit:
	default:
		return nil, paygate.ParamErrorf(paygate.EPARAMINVALID, "card.type", "card.type must be credit or debit when no card data is given")
	}
	network := in.Network
	if network == "" {
		network = paygate.NetworkUnionPay
	}
	if utf8.RuneCountInString(network) > 16 {
		return nil, paygate.ParamErrorf(paygate.ESTRINGTOOLONG, "card.network", "card.network is longer than 16 characters")
	}
	if !utf8.ValidString(network) {
		return nil, paygate.ParamErrorf(paygate.EPARAMINVALID, "card.network", "card.network is not valid UTF-8")
	}
	return &paygate.CardInfo{EntryMode: in.EntryMode, Type: in.Type, Network: network}, nil
}

// waitForCustomer polls a B-scan-C payment while the customer confirms in
// the wallet (WeChat USERPAYING, Alipay WAIT_BUYER_PAY, ...). The wait
// bounds only the answer (README, "wait_seconds and the payment window"):
// an order still undecided when it ends stays pending and is followed in
// the background, and is reversed only when its payment window ends
// unpaid. A wait reaching the window's end reverses it at once.
func (p *Payments) waitForCustomer(ctx context.Context, ch paygate.Channel, o *paygate.Order, deadline time.Time, knownPending bool) (*paygate.Order, error) {
	windowEnd := p.windowEnd(o)
	if windowEnd.Before(deadline) {
		deadline = windowEnd
	}
	for {
		wait := p.pollInterval()
		if left := deadline.Sub(p.now()); left < wait {
			wait = left
		}
		if wait <= 0 {
			break
		}
		time.Sleep(wait)
		res, err := ch.Query(ctx, o)
		if err != nil {
			knownPending = false
			continue
		}
		switch res.Outcome {
		case paygate.OutcomeSuccess, paygate.OutcomeDeclined, paygate.OutcomeClosed, paygate.OutcomeAuthorized:
			return p.apply(ctx, o, res, paygate.OrderClosed)
		case paygate.OutcomePending:
			knownPending = true
		case paygate.OutcomeNotFound:
			knownPending = false
		}
		// An order finished meanwhile (a callback, a cancel) ends the wait.
		if cur, err := p.Orders.OrderByID(ctx, o.ID); err == nil && cur.Status != paygate.OrderPending {
			return cur, nil
		}
	}
	if !knownPending || p.now().Before(windowEnd) {
		p.followUntilWindowEnd(o.ID)
		return p.Orders.OrderByID(ctx, o.ID)
	}
	o2, err := p.reverseOrder(ctx, ch, o)
	if err != nil {
		p.log().Warn("reversal at the window's end failed; background resolution retries", "order", o.ID, "err", err)
		p.followUntilWindowEnd(o.ID)
		return p.Orders.OrderByID(ctx, o.ID)
	}
	return o2, nil
}
