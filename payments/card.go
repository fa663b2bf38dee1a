package payments

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/paygate-cn/paygate"
)

// cardReversalWait bounds how long a card payment whose answer never came
// waits for its reversal to be acknowledged before answering the POS; the
// reversal itself goes on until acknowledged.
const cardReversalWait = 20 * time.Second

// preAuthChannel makes sure a capture-manual payment goes to a provider
// that can pre-authorise: a cheaper one that cannot (QuickPass consume) is
// passed over, and the route records why.
func (p *Payments) preAuthChannel(route *paygate.Route, ch paygate.Channel) (paygate.Channel, error) {
	for {
		if _, ok := paygate.As[paygate.PreAuthorizer](ch); ok {
			return ch, nil
		}
		if p.Fallback == nil || !p.Fallback(route, route.Provider, "provider cannot pre-authorise (capture manual)") {
			return nil, paygate.ParamErrorf(paygate.ENOROUTE, "capture", "no provider can pre-authorise this card")
		}
		next, err := p.channel(route.Provider)
		if err != nil {
			return nil, err
		}
		ch = next
	}
}

// reverseUnanswered ends a card payment whose answer never came (or came
// unverifiable): the acquirer reverses it (0400, repeated until
// acknowledged), so the order ends reversed now instead of waiting for
// background resolution. If the acknowledgement takes longer than
// cardReversalWait the order stays pending and background resolution
// finishes it with the same reversal.
func (p *Payments) reverseUnanswered(ctx context.Context, ch paygate.Channel, o *paygate.Order) (*paygate.Order, error) {
	rctx, cancel := context.WithTimeout(ctx, cardReversalWait)
	defer cancel()
	o2, err := p.reverseOrder(rctx, ch, o)
	if err != nil {
		p.log().Warn("card reversal not yet acknowledged; background resolution retries", "order", o.ID, "err", err)
		p.resolveLater(o.ID, p.pollInterval())
		return p.Orders.OrderByID(ctx, o.ID)
	}
	return o2, nil
}

// cancelCard cancels a card order: an authorisation is released (pre-auth
// cancel), a same-day sale is voided where the channel can void, and
// anything else (a pending payment, a channel without void) is reversed.
// Callers hold the order's reversal claim (underReversal).
func (p *Payments) cancelCard(ctx context.Context, ch paygate.Channel, o *paygate.Order) (*paygate.Order, error) {
	var res *paygate.Result
	var err error
	switch v, canVoid := paygate.As[paygate.Voider](ch); {
	case o.Status == paygate.OrderAuthorized:
		pa, ok := paygate.As[paygate.PreAuthorizer](ch)
		if !ok {
			return nil, paygate.Errorf(paygate.EINVALIDSTATE, "provider %s cannot release authorisations", ch.ID())
		}
		res, err = pa.VoidAuthorization(ctx, o)
	case o.Status == paygate.OrderSucceeded && canVoid:
		res, err = v.Void(ctx, o)
	default:
		return p.reverseAtChannel(ctx, ch, o)
	}
	var ce *paygate.ChannelError
	if errors.As(err, &ce) && ce.Timeout && ce.Op == "void" {
		// The acquirer client reversed the unanswered void: the sale
		// stands at the host, as it does in the order.
		return nil, paygate.Errorf(paygate.ECHANNELTIMEOUT,
			"the acquirer did not answer the void; the void was reversed, so the payment stands: cancel again or refund it")
	}
	if err != nil {
		return nil, channelFailure(err)
	}
	if res.Outcome != paygate.OutcomeClosed {
		msg := "the channel refused to cancel the payment"
		if res.Failure != nil {
			msg += " (" + res.Failure.ChannelCode + " " + res.Failure.Message + ")"
		}
		return nil, paygate.Errorf(paygate.EINVALIDSTATE, "%s; refund it instead", msg)
	}
	return p.apply(ctx, o, res, paygate.OrderReversed)
}

// Capture completes a pre-authorisation for amount (at most the authorised
// amount): the order becomes succeeded with the captured amount, its fee
// recomputed on that amount at the route's rate. A capture whose answer
// never came leaves the order authorized; repeating it is safe (the
// completion is an advice the acquirer answers once).
func (p *Payments) Capture(ctx context.Context, m *paygate.Merchant, o *paygate.Order, amount int64) (*paygate.Order, error) {
	ctx = context.WithoutCancel(ctx)
	if o.Status != paygate.OrderAuthorized {
		return nil, paygate.Errorf(paygate.EINVALIDSTATE, "only authorized orders can be captured; this one is %s", o.Status)
	}
	authorized := o.AuthorizedAmount
	if authorized == 0 {
		authorized = o.Amount
	}
	if amount > authorized {
		return nil, paygate.ParamErrorf(paygate.ECAPTUREEXCEEDS, "amount", "capture of %d exceeds the authorised %d", amount, authorized)
	}
	ch, err := p.channel(o.Provider)
	if err != nil {
		return nil, err
	}
	pa, ok := paygate.As[paygate.PreAuthorizer](ch)
	if !ok {
		return nil, paygate.Errorf(paygate.EINVALIDSTATE, "provider %s cannot capture", ch.ID())
	}
	res, err := pa.Capture(ctx, o, amount)
	if err != nil {
		return nil, channelFailure(err)
	}
	if res.Outcome != paygate.OutcomeSuccess {
		msg := "the acquirer refused the capture"
		if res.Failure != nil {
			msg += " (" + res.Failure.ChannelCode + " " + res.Failure.Message + ")"
		}
		return nil, paygate.Errorf(paygate.EINVALIDSTATE, "%s", msg)
	}
	route := p.captureRoute(ctx, m, o, amount)
	fee := o.Fee
	if route != nil {
		fee = route.Fee
	}
	net := amount - fee
	paid := p.now().UTC()
	if res.PaidAt != nil {
		paid = res.PaidAt.UTC()
	}
	u := paygate.OrderUpdate{
		OrderID: o.ID, From: []paygate.OrderStatus{paygate.OrderAuthorized}, To: paygate.OrderSucceeded,
		Amount: &amount, Fee: &fee, NetAmount: &net, PaidAt: &paid, Route: route,
		Event: &paygate.Event{Type: paygate.OrderEventType(paygate.OrderSucceeded), NotifyURL: o.NotifyURL},
	}
	if res.ChannelTradeNo != "" {
		u.ChannelTradeNo = &res.ChannelTradeNo
	}
	o2, applied, err := p.Orders.UpdateOrder(ctx, u)
	if err != nil {
		return nil, err
	}
	if !applied && !(o2.Status == paygate.OrderSucceeded && o2.Amount == amount) {
		return nil, paygate.Errorf(paygate.EINVALIDSTATE, "the order became %s while it was captured", o2.Status)
	}
	return o2, nil
}

// captureRoute is the order's route with its fee for the captured amount.
// The provider is fixed (it holds the authorisation), but the fee rule is
// picked again for the amount actually charged, as for a sale of that
// amount: a capture below a rule's threshold gets that rule's rate. A route
// whose rate a risk rule set (standard_rate) keeps its rate, as does one
// the fee rules can no longer price (the rule was removed, say). Nil when
// the order has no route.
func (p *Payments) captureRoute(ctx context.Context, m *paygate.Merchant, o *paygate.Order, amount int64) *paygate.Route {
	if o.Route == nil {
		return nil
	}
	r := *o.Route
	r.Fee = paygate.Fee(amount, r.FeeRate, 0, feeCap(r.FeeCap))
	if m == nil || p.Router == nil || slices.ContainsFunc(r.Risk, func(d paygate.RiskDecision) bool { return d.Action == paygate.RiskStandardRate }) {
		return &r
	}
	q, err := p.Router.Quote(ctx, &paygate.RouteRequest{Merchant: m, Amount: amount, Method: o.Method, Channel: o.Channel,
		Card: o.Card, TerminalID: o.TerminalID, Location: o.Location})
	if err != nil {
		p.log().Warn("capture fee: quote failed; the authorisation's rate applies", "order", o.ID, "err", err)
		return &r
	}
	for _, c := range q.Candidates {
		if c.Provider == o.Provider && c.Eligible {
			r.Rule, r.FeeRate, r.Fee, r.FeeCap = c.Rule, c.FeeRate, c.Fee, nil
			if c.FeeCap > 0 {
				fc := c.FeeCap
				r.FeeCap = &fc
			}
			r.Candidates = q.Candidates
			return &r
		}
	}
	return &r
}

func feeCap(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}
