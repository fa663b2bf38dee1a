package payments

import (
	"context"
	"time"

	"github.com/paygate-cn/paygate"
)

// followUntilWindowEnd polls a pending B-scan-C order in the background
// every poll interval until it is final: a channel answer settles it, and
// Resolve reverses it once its payment window has ended. It gives up
// after the window's end plus the reversal lease and a few polls, and
// leaves the rest to the periodic resolution of pending orders.
func (p *Payments) followUntilWindowEnd(orderID string) {
	p.goBackground(p.pollInterval(), func(ctx context.Context) {
		var giveUp time.Time
		for {
			o, err := p.Orders.OrderByID(ctx, orderID)
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

// resolveLater schedules one background resolution of an order.
func (p *Payments) resolveLater(orderID string, delay time.Duration) {
	p.goBackground(delay, func(ctx context.Context) {
		o, err := p.Orders.OrderByID(ctx, orderID)
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
	res, qerr := ch.Query(ctx, o)
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
		if cl, ok := paygate.As[paygate.OrderCloser](ch); ok {
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
