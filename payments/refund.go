package payments

import (
	"context"
	"time"

	"github.com/paygate-cn/paygate"
)

// RefundRequest is a refund to make, checked by its caller.
type RefundRequest struct {
	MerchantRefundNo string
	Amount           int64 // fen
	Reason           string
}

// Refund creates a refund and asks the channel for it. An unknown channel
// outcome leaves the refund pending; it is resolved by query.
func (p *Payments) Refund(ctx context.Context, o *paygate.Order, in *RefundRequest) (*paygate.Refund, error) {
	ctx = context.WithoutCancel(ctx)
	now := p.now().UTC()
	r := &paygate.Refund{
		ID: paygate.NewID(paygate.PrefixRefund, now), MerchantID: o.MerchantID, OrderID: o.ID,
		MerchantRefundNo: in.MerchantRefundNo, Status: paygate.RefundPending, Amount: in.Amount,
		Currency: paygate.Currency, Reason: in.Reason, Provider: o.Provider, CreatedAt: now, UpdatedAt: now,
	}
	if err := p.Refunds.CreateRefund(ctx, r); err != nil {
		return nil, err
	}
	ch, err := p.channel(o.Provider)
	if err != nil {
		return r, nil
	}
	res, err := ch.Refund(ctx, &paygate.RefundRequest{
		RefundID: r.ID, OrderID: o.ID, ChannelTradeNo: o.ChannelTradeNo, Amount: r.Amount,
		OrderAmount: o.Amount, Reason: r.Reason, NotifyURL: p.CallbackBase + ch.Kind(),
	})
	if err != nil {
		p.log().Warn("refund outcome unknown", "refund", r.ID, "err", err)
		p.goBackground(p.pollInterval(), func(ctx context.Context) {
			if cur, err := p.Refunds.RefundByID(ctx, r.ID); err == nil {
				_ = p.ResolveRefund(ctx, cur)
			}
		})
		return r, nil
	}
	r2, _, err := p.ApplyRefundResult(ctx, o, r, res)
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
	o, err := p.Orders.OrderByID(ctx, r.OrderID)
	if err != nil {
		return err
	}
	ch, err := p.channel(o.Provider)
	if err != nil {
		return err
	}
	res, err := ch.QueryRefund(ctx, r, o)
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
	_, _, err = p.ApplyRefundResult(ctx, o, r, res)
	return err
}
