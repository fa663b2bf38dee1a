package payments

import (
	"context"

	"github.com/paygate-cn/paygate"
)

// ApplyResult moves o according to r. closedAs is the status an
// OutcomeClosed answer means for this call: OrderReversed after a reversal,
// OrderClosed otherwise. Pending and not-found outcomes change nothing.
//
// A success moves the order to succeeded from pending, authorized, closed or
// failed: a success is the truth about money and is never dropped. A success
// reporting an amount other than the order's is refused with EINVALID and
// changes nothing.
//
// Every path that learns a channel's answer — the synchronous one, a
// callback, a query, a reconciliation repair — applies it here; the store's
// compare-and-set makes each transition happen once however they race.
//
// It returns the order as it is afterwards and whether this call changed it.
func (p *Payments) ApplyResult(ctx context.Context, o *paygate.Order, r *paygate.Result, closedAs paygate.OrderStatus) (*paygate.Order, bool, error) {
	u := paygate.OrderUpdate{OrderID: o.ID}
	switch r.Outcome {
	case paygate.OutcomeSuccess:
		if r.Amount != 0 && r.Amount != o.Amount {
			return o, false, paygate.Errorf(paygate.EINVALID,
				"channel reports amount %d for order %s of amount %d", r.Amount, o.ID, o.Amount)
		}
		u.To = paygate.OrderSucceeded
		paid := p.Now().UTC()
		if r.PaidAt != nil {
			paid = r.PaidAt.UTC()
		}
		u.PaidAt = &paid
	case paygate.OutcomeAuthorized:
		u.To = paygate.OrderAuthorized
		u.From = []paygate.OrderStatus{paygate.OrderPending}
		// The authorised amount exists once the issuer approved it; a
		// declined or unanswered pre-authorisation never shows one.
		authorized := o.Amount
		if r.Amount != 0 {
			authorized = r.Amount
		}
		u.AuthorizedAmount = &authorized
	case paygate.OutcomeDeclined:
		u.To = paygate.OrderFailed
		u.From = []paygate.OrderStatus{paygate.OrderPending}
		u.Failure = r.Failure
		if u.Failure == nil {
			u.Failure = &paygate.Failure{Code: "declined", Message: "declined by the channel"}
		}
	case paygate.OutcomeClosed:
		u.To = closedAs
		if closedAs == paygate.OrderClosed {
			u.From = []paygate.OrderStatus{paygate.OrderPending, paygate.OrderAuthorized}
		}
	default:
		return o, false, nil
	}
	if r.ChannelTradeNo != "" {
		u.ChannelTradeNo = &r.ChannelTradeNo
	}
	if r.PayerID != "" {
		u.PayerID = &r.PayerID
	}
	// A result the order already reflects (a duplicate or late callback
	// read after the transition) needs no write: the read is the truth,
	// since a paid order never becomes unpaid by a channel's result.
	if o.Status == u.To && u.To != paygate.OrderPending || u.To == paygate.OrderSucceeded && o.Status.Paid() {
		p.Recent.Remember(o)
		return o, false, nil
	}
	u.Event = &paygate.Event{Type: paygate.OrderEventType(u.To), NotifyURL: o.NotifyURL}
	u.Expect = o
	o2, applied, err := p.Orders.UpdateOrder(ctx, u)
	if err == nil {
		p.Recent.Remember(o2)
	}
	return o2, applied, err
}

// ApplyRefundResult finishes a pending refund according to r. A success
// reporting an amount other than the refund's, or a cumulative refunded
// total (RefundedTotal) that cannot include this refund — below its amount,
// or above the order's pending and succeeded refunds together — is refused
// with EINVALID and changes nothing.
func (p *Payments) ApplyRefundResult(ctx context.Context, o *paygate.Order, ref *paygate.Refund, r *paygate.RefundResult) (*paygate.Refund, bool, error) {
	u := paygate.RefundUpdate{RefundID: ref.ID, At: p.Now().UTC()}
	if r.At != nil {
		u.At = r.At.UTC()
	}
	if r.ChannelRefundNo != "" {
		u.ChannelRefundNo = &r.ChannelRefundNo
	}
	switch r.Outcome {
	case paygate.OutcomeSuccess:
		if r.Amount != 0 && r.Amount != ref.Amount {
			return ref, false, paygate.Errorf(paygate.EINVALID,
				"channel reports refund amount %d for refund %s of amount %d", r.Amount, ref.ID, ref.Amount)
		}
		// The channel's total counts refunds in its own order, so only its
		// bounds are known: this refund at least, every refund not failed
		// at most (RefundReserved includes this one, pending or not).
		if r.RefundedTotal != 0 && (r.RefundedTotal < ref.Amount || r.RefundedTotal > o.RefundReserved) {
			return ref, false, paygate.Errorf(paygate.EINVALID,
				"channel reports %d refunded in total with refund %s of amount %d; the order has %d in refunds",
				r.RefundedTotal, ref.ID, ref.Amount, o.RefundReserved)
		}
		u.To = paygate.RefundSucceeded
		// The store types the order event from the order's status after
		// this very update (partially_refunded or refunded): o may be stale
		// when refunds finish concurrently.
		u.Events = []*paygate.Event{
			{Type: paygate.EventRefundSucceeded, NotifyURL: o.NotifyURL},
			{Type: paygate.EventOrderPartiallyRefunded, NotifyURL: o.NotifyURL},
		}
	case paygate.OutcomeDeclined:
		u.To = paygate.RefundFailed
		u.Failure = r.Failure
		if u.Failure == nil {
			u.Failure = &paygate.Failure{Code: "declined", Message: "refund declined by the channel"}
		}
		u.Events = []*paygate.Event{{Type: paygate.EventRefundFailed, NotifyURL: o.NotifyURL}}
	default:
		return ref, false, nil
	}
	for _, e := range u.Events {
		e.MerchantID, e.OrderID, e.RefundID = ref.MerchantID, ref.OrderID, ref.ID
	}
	return p.Refunds.UpdateRefund(ctx, u)
}
