package gateway

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/callbacks"
)

// Payments drives orders and refunds through their channels. It is the one
// place that calls channels for the API; callbacks and background resolution
// apply their answers through the same callbacks.Applier.
type Payments struct {
	Orders    paygate.OrderStore
	Refunds   paygate.RefundStore
	Applier   *callbacks.Applier
	Router    paygate.Router
	Channels  map[string]paygate.Channel // by provider id
	AuthCodes []paygate.AuthCodeRule
	// CallbackBase is the public URL channels call back, without the
	// trailing kind: "https://gw.example/callbacks/".
	CallbackBase string
	Now          paygate.Clock
	// PollInterval is the pause between queries while a customer confirms
	// a B-scan-C payment (default 2 s).
	PollInterval time.Duration
	// PaymentWindow, when set, shortens the payment window of B-scan-C
	// orders (their expires_at otherwise) and bounds how long a card
	// payment whose outcome is unknown may stay unresolved before
	// background resolution reverses it (default 2 min for cards).
	PaymentWindow time.Duration
	// ReversalLease is how long a reversal's claim on an order holds
	// before another reversal may take it over (default 1 min); see
	// README, "Refunds and reversals".
	ReversalLease time.Duration
	// ParseCard turns card input into card data; nil means card payments
	// are not accepted.
	ParseCard func(in *paygate.CardInput) (*paygate.CardData, *paygate.CardInfo, error)
	// Terminal finds a merchant's terminal by its terminal id: one of the
	// configuration (active) or one registered through the API. Returns
	// ENOTFOUND if the merchant has none. An order naming a terminal is
	// taken only from an active terminal of its merchant (docs/terminals.md);
	// nil leaves terminal_id unchecked.
	Terminal func(ctx context.Context, merchantID, terminalID string) (*paygate.Terminal, error)
	// Fallback moves a route to its next eligible candidate when the chosen
	// provider refused before anything was sent (circuit open); it reports
	// whether there was one. Nil disables fallback.
	Fallback func(route *paygate.Route, failed, reason string) bool
	Logger   *slog.Logger

	observe func(provider, op, outcome string, d time.Duration)
	bg      sync.WaitGroup
	bgOnce  sync.Once
	bgCtx   context.Context
	bgStop  context.CancelFunc
}

func (p *Payments) now() time.Time { return p.Now() }

func (p *Payments) log() *slog.Logger {
	if p.Logger == nil {
		return slog.Default()
	}
	return p.Logger
}

func (p *Payments) pollInterval() time.Duration {
	if p.PollInterval <= 0 {
		return 2 * time.Second
	}
	return p.PollInterval
}

func (p *Payments) paymentWindow() time.Duration {
	if p.PaymentWindow <= 0 {
		return 2 * time.Minute
	}
	return p.PaymentWindow
}

// windowEnd is when an order's payment window ends: a B-scan-C order may
// be paid until its expires_at (README, "wait_seconds and the payment
// window"), a card payment whose outcome is unknown until paymentWindow
// after its creation.
func (p *Payments) windowEnd(o *paygate.Order) time.Time {
	if o.Method == paygate.MethodAuthCode && !o.ExpiresAt.IsZero() {
		end := o.ExpiresAt
		if p.PaymentWindow > 0 && o.CreatedAt.Add(p.PaymentWindow).Before(end) {
			end = o.CreatedAt.Add(p.PaymentWindow)
		}
		return end
	}
	return o.CreatedAt.Add(p.paymentWindow())
}

func (p *Payments) reversalLease() time.Duration {
	if p.ReversalLease <= 0 {
		return time.Minute
	}
	return p.ReversalLease
}

// Close waits for background work started by requests.
func (p *Payments) Close() {
	p.background()
	p.bgStop()
	p.bg.Wait()
}

func (p *Payments) background() context.Context {
	p.bgOnce.Do(func() { p.bgCtx, p.bgStop = context.WithCancel(context.Background()) })
	return p.bgCtx
}

// goBackground runs f after delay unless Payments is closing.
func (p *Payments) goBackground(delay time.Duration, f func(ctx context.Context)) {
	ctx := p.background()
	p.bg.Add(1)
	go func() {
		defer p.bg.Done()
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		f(ctx)
	}()
}

func (p *Payments) channel(providerID string) (paygate.Channel, error) {
	ch, ok := p.Channels[providerID]
	if !ok {
		return nil, paygate.Errorf(paygate.ECHANNELUNAVAILABLE, "provider %q is not configured", providerID)
	}
	return ch, nil
}

// call runs one channel operation and records its latency and outcome.
func call[T any](p *Payments, provider, op string, f func() (T, error), outcome func(T) string) (T, error) {
	start := time.Now()
	v, err := f()
	if p.observe != nil {
		o := "error"
		var ce *paygate.ChannelError
		switch {
		case errors.As(err, &ce) && ce.Timeout:
			o = "timeout"
		case err == nil:
			o = outcome(v)
		}
		p.observe(provider, op, o, time.Since(start))
	}
	return v, err
}

func resultOutcome(r *paygate.Result) string { return string(r.Outcome) }

func (p *Payments) pay(ctx context.Context, ch paygate.Channel, req *paygate.PaymentRequest) (*paygate.Result, error) {
	return call(p, ch.ID(), "pay", func() (*paygate.Result, error) { return ch.Pay(ctx, req) }, resultOutcome)
}

func (p *Payments) query(ctx context.Context, ch paygate.Channel, o *paygate.Order) (*paygate.Result, error) {
	return call(p, ch.ID(), "query", func() (*paygate.Result, error) { return ch.Query(ctx, o) }, resultOutcome)
}

func (p *Payments) reverse(ctx context.Context, ch paygate.Channel, o *paygate.Order) (*paygate.Result, error) {
	rv, ok := ch.(paygate.Reverser)
	if !ok {
		return nil, paygate.Errorf(paygate.EINVALIDSTATE, "provider %s cannot reverse payments", ch.ID())
	}
	return call(p, ch.ID(), "reverse", func() (*paygate.Result, error) { return rv.Reverse(ctx, o) }, resultOutcome)
}

// Start creates an order from a validated request and drives it as far as
// the channel allows within the request: a final outcome, a QR code or
// wallet credential, or pending while the outcome is unknown.
func (p *Payments) Start(ctx context.Context, m *paygate.Merchant, in *OrderRequest) (*paygate.Order, error) {
	// A client that goes away must not abandon a payment halfway: from here
	// on the work runs to its end.
	ctx = context.WithoutCancel(ctx)
	now := p.now().UTC()

	rreq, err := p.routeRequest(ctx, m, in)
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
		Amount:          in.amount,
		Currency:        paygate.Currency,
		Subject:         in.Subject,
		Method:          in.method,
		Channel:         route.Channel,
		Provider:        route.Provider,
		Fee:             route.Fee,
		NetAmount:       in.amount - route.Fee,
		Route:           route,
		Card:            in.cardInfo,
		TerminalID:      in.TerminalID,
		Location:        in.Location,
		Capture:         in.Capture,
		NotifyURL:       in.NotifyURL,
		PayerID:         in.PayerID,
		Source:          in.source,
		QRCodeID:        in.qrCodeID,
		CreatedAt:       now,
		UpdatedAt:       now,
		ExpiresAt:       now.Add(time.Duration(in.expiresIn) * time.Second),
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
		AuthCode: in.AuthCode, Card: in.cardData, CardInfo: in.cardInfo, Capture: o.Capture,
		Merchant: m, TerminalID: o.TerminalID, PayerID: in.PayerID, ClientIP: in.ClientIP,
		ExpiresAt: o.ExpiresAt, NotifyURL: p.CallbackBase + ch.Kind(), ChannelRef: o.ChannelRef,
	}
	res, err := p.pay(ctx, ch, req)
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
		res, err = p.pay(ctx, ch, req)
	}
	in.cardData = nil // the card is needed for this one call only

	deadline := now.Add(time.Duration(in.waitSeconds) * time.Second)
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
			if res, qerr := p.query(ctx, ch, o); qerr == nil {
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

// routeRequest is what routing decides on for an order request; quotes
// and orders share it so that they decide alike.
func (p *Payments) routeRequest(ctx context.Context, m *paygate.Merchant, in *OrderRequest) (*paygate.RouteRequest, error) {
	rreq := &paygate.RouteRequest{
		Merchant: m, Amount: in.amount, Method: in.method, Channel: in.channel,
		Card: in.cardInfo, TerminalID: in.TerminalID, Location: in.Location, PayerKey: in.payerKey(),
		StaticQR: in.source == paygate.SourceStaticQR,
	}
	if p.Terminal != nil && in.TerminalID != "" {
		t, err := p.boundTerminal(ctx, m.ID, in.TerminalID)
		if err != nil {
			return nil, err
		}
		rreq.TerminalRegion = t.RegionCode
	}
	return rreq, nil
}

// boundTerminal returns the merchant's active terminal terminalID.
// Returns ETERMINALUNKNOWN if the merchant has no such terminal (another
// merchant's is unknown too), ETERMINALINACTIVE if it is pending
// activation or deactivated.
func (p *Payments) boundTerminal(ctx context.Context, merchantID, terminalID string) (*paygate.Terminal, error) {
	t, err := p.Terminal(ctx, merchantID, terminalID)
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
// why, without side effects.
func (p *Payments) Quote(ctx context.Context, m *paygate.Merchant, in *OrderRequest) (*paygate.Route, error) {
	rreq, err := p.routeRequest(ctx, m, in)
	if err != nil {
		return nil, err
	}
	return p.Router.Quote(ctx, rreq)
}

func (p *Payments) apply(ctx context.Context, o *paygate.Order, r *paygate.Result, closedAs paygate.OrderStatus) (*paygate.Order, error) {
	o2, _, err := p.Applier.ApplyResult(ctx, o, r, closedAs)
	return o2, err
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
		res, err := p.query(ctx, ch, o)
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
		if cur, err := p.Orders.Order(ctx, "", o.ID); err == nil && cur.Status != paygate.OrderPending {
			return cur, nil
		}
	}
	if !knownPending || p.now().Before(windowEnd) {
		p.followUntilWindowEnd(o.ID)
		return p.Orders.Order(ctx, "", o.ID)
	}
	o2, err := p.reverseOrder(ctx, ch, o)
	if err != nil {
		p.log().Warn("reversal at the window's end failed; background resolution retries", "order", o.ID, "err", err)
		p.followUntilWindowEnd(o.ID)
		return p.Orders.Order(ctx, "", o.ID)
	}
	return o2, nil
}

// followUntilWindowEnd polls a pending B-scan-C order in the background
// every poll interval until it is final: a channel answer settles it, and
// Resolve reverses it once its payment window has ended. It gives up
// after the window's end plus the reversal lease and a few polls, and
// leaves the rest to the periodic resolution of pending orders.
func (p *Payments) followUntilWindowEnd(orderID string) {
	p.goBackground(p.pollInterval(), func(ctx context.Context) {
		var giveUp time.Time
		for {
			o, err := p.Orders.Order(ctx, "", orderID)
			if err != nil || o.Status != paygate.OrderPending {
				return
			}
			if giveUp.IsZero() {
				giveUp = p.windowEnd(o).Add(p.reversalLease() + 10*p.pollInterval())
			}
			o2, err := p.Resolve(ctx, o)
			if err != nil {
				p.log().Warn("background resolution failed", "order", orderID, "err", err)
			}
			if o2 != nil && o2.Status != paygate.OrderPending || p.now().After(giveUp) {
				return
			}
			t := time.NewTimer(p.pollInterval())
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	})
}

// reverseOrder reverses a payment at the channel under the order's
// reversal claim (see underReversal).
func (p *Payments) reverseOrder(ctx context.Context, ch paygate.Channel, o *paygate.Order) (*paygate.Order, error) {
	return p.underReversal(ctx, o, func(cur *paygate.Order) (*paygate.Order, error) {
		return p.reverseAtChannel(ctx, ch, cur)
	})
}

// underReversal runs a reversal (cancel, void, 撤销/冲正) of o at the
// channel while holding the order's reversal claim (README, "Refunds and
// reversals"): the claim is a compare-and-set that requires no refund
// reserved, and refunds are refused while it is held, so the channel never
// sees a reversal and a refund of one payment both. The claim ends with
// the reversal recorded, or is released when the channel definitively did
// not reverse (it refused, or the payment stands); when the outcome is
// unknown it stays, refunds stay refused, and a later reversal (a retried
// cancel, background resolution) takes it over after the lease.
func (p *Payments) underReversal(ctx context.Context, o *paygate.Order, reverse func(cur *paygate.Order) (*paygate.Order, error)) (*paygate.Order, error) {
	until := p.now().Add(p.reversalLease())
	cur, claimed, err := p.Orders.BeginReversal(ctx, o.ID, until)
	if err != nil {
		return nil, err
	}
	if !claimed {
		switch {
		case cur.Status == paygate.OrderReversed:
			return cur, nil
		case cur.RefundReserved > 0:
			return nil, paygate.Errorf(paygate.EINVALIDSTATE, "an order with refunds cannot be cancelled; refund the rest instead")
		case cur.ReversingUntil != nil && (!cur.Status.Final() || cur.Status == paygate.OrderSucceeded):
			return nil, paygate.Errorf(paygate.EINVALIDSTATE, "a reversal of this order is in progress; retry after %s",
				cur.ReversingUntil.UTC().Format(time.RFC3339))
		default:
			return nil, paygate.Errorf(paygate.EINVALIDSTATE, "a %s order cannot be cancelled", cur.Status)
		}
	}
	o2, err := reverse(cur)
	var ce *paygate.ChannelError
	if (err == nil && o2.Status != paygate.OrderReversed) || (err != nil && !errors.As(err, &ce)) {
		if rerr := p.Orders.EndReversal(context.WithoutCancel(ctx), o.ID, until); rerr != nil {
			p.log().Warn("release of a reversal claim failed; it lapses", "order", o.ID, "err", rerr)
		}
	}
	return o2, err
}

// reverseAtChannel reverses a payment at the channel and records the
// outcome: reversed when the channel confirms, or — if the channel answers
// that the payment succeeded after all and cannot be reversed — that
// success. Callers hold the order's reversal claim.
func (p *Payments) reverseAtChannel(ctx context.Context, ch paygate.Channel, o *paygate.Order) (*paygate.Order, error) {
	res, err := p.reverse(ctx, ch, o)
	if err != nil {
		return nil, err
	}
	if res.Outcome == paygate.OutcomeClosed {
		return p.apply(ctx, o, res, paygate.OrderReversed)
	}
	if res.Outcome == paygate.OutcomeSuccess {
		return p.apply(ctx, o, res, paygate.OrderClosed)
	}
	return nil, paygate.Errorf(paygate.ECHANNEL, "provider %s did not reverse the payment (%s)", ch.ID(), res.Outcome)
}

// resolveLater schedules one background resolution of an order.
func (p *Payments) resolveLater(orderID string, delay time.Duration) {
	p.goBackground(delay, func(ctx context.Context) {
		o, err := p.Orders.Order(ctx, "", orderID)
		if err != nil {
			return
		}
		if _, err := p.Resolve(ctx, o); err != nil {
			p.log().Warn("background resolution failed", "order", orderID, "err", err)
		}
	})
}

// Resolve settles a pending order whose outcome is unknown: it queries the
// channel and applies a final answer; a B-scan-C order still unresolved
// after the payment window is reversed; a QR or in-wallet order past its
// expiry is closed at the channel.
func (p *Payments) Resolve(ctx context.Context, o *paygate.Order) (*paygate.Order, error) {
	if o.Status != paygate.OrderPending {
		return o, nil
	}
	ch, err := p.channel(o.Provider)
	if err != nil {
		return o, err
	}
	res, qerr := p.query(ctx, ch, o)
	if qerr == nil {
		switch res.Outcome {
		case paygate.OutcomeSuccess, paygate.OutcomeDeclined, paygate.OutcomeClosed, paygate.OutcomeAuthorized:
			return p.apply(ctx, o, res, paygate.OrderClosed)
		}
	}
	now := p.now()
	switch {
	case o.Method == paygate.MethodAuthCode || o.Method == paygate.MethodCard:
		if now.Before(p.windowEnd(o)) {
			// Still inside the window: the customer may yet pay (or the
			// channel did not answer); a later pass asks again.
			return o, qerr
		}
		return p.reverseOrder(ctx, ch, o)
	case now.After(o.ExpiresAt):
		if cl, ok := ch.(paygate.OrderCloser); ok {
			if err := cl.CloseOrder(ctx, o); err != nil {
				return o, err
			}
		}
		return p.apply(ctx, o, &paygate.Result{Outcome: paygate.OutcomeClosed}, paygate.OrderClosed)
	}
	return o, qerr
}

// ResolvePending queries the channel for pending orders and refunds older
// than minAge (lost callbacks), oldest first, at most limit of each. When
// the store can claim them (paygate.PendingClaimer) each is leased for
// lease, so that replicas running this job never query one order at once
// and an order is queried again only after its lease; otherwise (a store
// without claims, one process) it reads them plainly.
func (p *Payments) ResolvePending(ctx context.Context, minAge, lease time.Duration, limit int) (int, error) {
	before := p.now().Add(-minAge)
	claimer, claims := p.Orders.(paygate.PendingClaimer)
	var orders []*paygate.Order
	var err error
	if claims {
		orders, err = claimer.ClaimPendingOrders(ctx, before, lease, limit)
	} else {
		orders, err = p.Orders.PendingOrders(ctx, before, limit)
	}
	if err != nil {
		return 0, err
	}
	for _, o := range orders {
		if _, err := p.Resolve(ctx, o); err != nil {
			p.log().Warn("resolve pending order", "order", o.ID, "err", err)
		}
	}
	var refunds []*paygate.Refund
	if claims {
		refunds, err = claimer.ClaimPendingRefunds(ctx, before, lease, limit)
	} else {
		refunds, err = p.Refunds.PendingRefunds(ctx, before, limit)
	}
	if err != nil {
		return len(orders), err
	}
	for _, r := range refunds {
		if err := p.ResolveRefund(ctx, r); err != nil {
			p.log().Warn("resolve pending refund", "refund", r.ID, "err", err)
		}
	}
	return len(orders) + len(refunds), nil
}

// Close closes an unpaid order (DESIGN §3: unpaid only).
func (p *Payments) CloseOrder(ctx context.Context, o *paygate.Order) (*paygate.Order, error) {
	ctx = context.WithoutCancel(ctx)
	if o.Status != paygate.OrderPending {
		return nil, paygate.Errorf(paygate.EINVALIDSTATE, "only pending orders can be closed; this one is %s", o.Status)
	}
	ch, err := p.channel(o.Provider)
	if err != nil {
		return nil, err
	}
	switch c := ch.(type) {
	case paygate.OrderCloser:
		start := time.Now()
		err = c.CloseOrder(ctx, o)
		if p.observe != nil {
			p.observe(ch.ID(), "close", map[bool]string{true: "error", false: "closed"}[err != nil], time.Since(start))
		}
	case paygate.Reverser:
		// Closing by reversal (UnionPay undo) is a reversal like any
		// other: under the order's claim, so that it and a refund exclude
		// each other (README, "Refunds and reversals").
		_, err = p.underReversal(ctx, o, func(cur *paygate.Order) (*paygate.Order, error) {
			res, err := p.reverse(ctx, ch, cur)
			if err != nil {
				return nil, err
			}
			if res.Outcome != paygate.OutcomeClosed {
				return nil, paygate.Errorf(paygate.ECHANNEL, "provider %s did not close the payment (%s)", ch.ID(), res.Outcome)
			}
			o2, _, err := p.Applier.ApplyResult(ctx, cur, res, paygate.OrderClosed)
			return o2, err
		})
	}
	if err != nil {
		// The close may have failed because the customer just paid: ask.
		if res, qerr := p.query(ctx, ch, o); qerr == nil && res.Outcome == paygate.OutcomeSuccess {
			if _, aerr := p.apply(ctx, o, res, paygate.OrderClosed); aerr != nil {
				return nil, aerr
			}
			return nil, paygate.Errorf(paygate.EINVALIDSTATE, "the order was paid and cannot be closed; refund it instead")
		}
		return nil, channelFailure(err)
	}
	o2, applied, err := p.Applier.ApplyResult(ctx, o, &paygate.Result{Outcome: paygate.OutcomeClosed}, paygate.OrderClosed)
	if err != nil {
		return nil, err
	}
	if !applied && o2.Status != paygate.OrderClosed {
		return nil, paygate.Errorf(paygate.EINVALIDSTATE, "the order became %s and cannot be closed", o2.Status)
	}
	return o2, nil
}

// Cancel reverses a same-day order, paid or not (撤销/冲正).
func (p *Payments) Cancel(ctx context.Context, o *paygate.Order) (*paygate.Order, error) {
	ctx = context.WithoutCancel(ctx)
	switch o.Status {
	case paygate.OrderPending, paygate.OrderSucceeded, paygate.OrderAuthorized:
	case paygate.OrderReversed:
		return o, nil
	default:
		return nil, paygate.Errorf(paygate.EINVALIDSTATE, "a %s order cannot be cancelled", o.Status)
	}
	if !sameDay(o.CreatedAt, p.now()) {
		return nil, paygate.Errorf(paygate.EINVALIDSTATE, "only orders of the same day (Asia/Shanghai) can be cancelled; refund it instead")
	}
	ch, err := p.channel(o.Provider)
	if err != nil {
		return nil, err
	}
	reverse := p.reverseAtChannel
	if o.Method == paygate.MethodCard {
		reverse = p.cancelCard
	}
	// Whether refunds exclude the cancel is decided by the claim, on the
	// order as it is now, not on o as it was read (README, "Refunds and
	// reversals").
	o2, err := p.underReversal(ctx, o, func(cur *paygate.Order) (*paygate.Order, error) {
		return reverse(ctx, ch, cur)
	})
	if err != nil {
		return nil, channelFailure(err)
	}
	if o2.Status != paygate.OrderReversed {
		return nil, paygate.Errorf(paygate.EINVALIDSTATE, "the order is %s and could not be reversed", o2.Status)
	}
	return o2, nil
}

var shanghai = time.FixedZone("CST", 8*3600)

func sameDay(a, b time.Time) bool {
	ya, ma, da := a.In(shanghai).Date()
	yb, mb, db := b.In(shanghai).Date()
	return ya == yb && ma == mb && da == db
}

// channelFailure turns an unknown channel outcome into the API's 502/504.
func channelFailure(err error) error {
	var ce *paygate.ChannelError
	if errors.As(err, &ce) {
		if ce.Timeout {
			return paygate.Errorf(paygate.ECHANNELTIMEOUT, "the channel did not answer in time; retry")
		}
		return paygate.Errorf(paygate.ECHANNEL, "the channel answered with an error (%s); retry", ce.Code)
	}
	return err
}

// Refund creates a refund and asks the channel for it. An unknown channel
// outcome leaves the refund pending; it is resolved by query.
func (p *Payments) Refund(ctx context.Context, o *paygate.Order, in *RefundRequest) (*paygate.Refund, error) {
	ctx = context.WithoutCancel(ctx)
	now := p.now().UTC()
	r := &paygate.Refund{
		ID: paygate.NewID(paygate.PrefixRefund, now), MerchantID: o.MerchantID, OrderID: o.ID,
		MerchantRefundNo: in.MerchantRefundNo, Status: paygate.RefundPending, Amount: *in.Amount,
		Currency: paygate.Currency, Reason: in.Reason, Provider: o.Provider, CreatedAt: now, UpdatedAt: now,
	}
	if err := p.Refunds.CreateRefund(ctx, r); err != nil {
		return nil, err
	}
	ch, err := p.channel(o.Provider)
	if err != nil {
		return r, nil
	}
	res, err := call(p, ch.ID(), "refund", func() (*paygate.RefundResult, error) {
		return ch.Refund(ctx, &paygate.RefundRequest{
			RefundID: r.ID, OrderID: o.ID, ChannelTradeNo: o.ChannelTradeNo, Amount: r.Amount,
			OrderAmount: o.Amount, Reason: r.Reason, NotifyURL: p.CallbackBase + ch.Kind(),
		})
	}, func(r *paygate.RefundResult) string { return string(r.Outcome) })
	if err != nil {
		p.log().Warn("refund outcome unknown", "refund", r.ID, "err", err)
		p.goBackground(p.pollInterval(), func(ctx context.Context) {
			if cur, err := p.Refunds.Refund(ctx, "", r.ID); err == nil {
				_ = p.ResolveRefund(ctx, cur)
			}
		})
		return r, nil
	}
	r2, _, err := p.Applier.ApplyRefundResult(ctx, o, r, res)
	return r2, err
}

// refundLostAfter is how old a pending refund must be before a channel
// that has no record of it is believed: longer than any channel call, so
// that the refund's own request cannot still be in flight (README,
// "Refunds and reversals").
const refundLostAfter = 2 * time.Minute

// ResolveRefund queries a pending refund and applies a final answer.
func (p *Payments) ResolveRefund(ctx context.Context, r *paygate.Refund) error {
	if r.Status != paygate.RefundPending {
		return nil
	}
	o, err := p.Orders.Order(ctx, "", r.OrderID)
	if err != nil {
		return err
	}
	ch, err := p.channel(o.Provider)
	if err != nil {
		return err
	}
	res, err := call(p, ch.ID(), "refund_query", func() (*paygate.RefundResult, error) {
		return ch.QueryRefund(ctx, r, o)
	}, func(r *paygate.RefundResult) string { return string(r.Outcome) })
	if err != nil {
		return err
	}
	if res.Outcome == paygate.OutcomeNotFound {
		if p.now().Sub(r.CreatedAt) < refundLostAfter {
			// Its request may still be on its way to the channel (a
			// query can overtake it): not knowing it yet proves nothing.
			return nil
		}
		// The channel never received it: nothing will be refunded.
		res = &paygate.RefundResult{Outcome: paygate.OutcomeDeclined, Failure: &paygate.Failure{Code: "not_found_at_channel", Message: "the channel has no record of this refund"}}
	}
	_, _, err = p.Applier.ApplyRefundResult(ctx, o, r, res)
	return err
}
