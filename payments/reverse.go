package payments

import (
	"context"
	"errors"
	"time"

	"github.com/paygate-cn/paygate"
)

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

// CloseOrder closes an unpaid order (README: unpaid only).
func (p *Payments) CloseOrder(ctx context.Context, o *paygate.Order) (*paygate.Order, error) {
	ctx = context.WithoutCancel(ctx)
	if o.Status != paygate.OrderPending {
		return nil, paygate.Errorf(paygate.EINVALIDSTATE, "only pending orders can be closed; this one is %s", o.Status)
	}
	ch, err := p.channel(o.Provider)
	if err != nil {
		return nil, err
	}
	closer, closes := paygate.As[paygate.OrderCloser](ch)
	_, reverses := paygate.As[paygate.Reverser](ch)
	switch {
	case closes:
		err = closer.CloseOrder(ctx, o)
	case reverses:
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
			o2, _, err := p.ApplyResult(ctx, cur, res, paygate.OrderClosed)
			return o2, err
		})
	}
	if err != nil {
		// The close may have failed because the customer just paid: ask.
		if res, qerr := ch.Query(ctx, o); qerr == nil && res.Outcome == paygate.OutcomeSuccess {
			if _, aerr := p.apply(ctx, o, res, paygate.OrderClosed); aerr != nil {
				return nil, aerr
			}
			return nil, paygate.Errorf(paygate.EINVALIDSTATE, "the order was paid and cannot be closed; refund it instead")
		}
		return nil, channelFailure(err)
	}
	o2, applied, err := p.ApplyResult(ctx, o, &paygate.Result{Outcome: paygate.OutcomeClosed}, paygate.OrderClosed)
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
