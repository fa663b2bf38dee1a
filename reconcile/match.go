package reconcile

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/paygate-cn/paygate"
)

// DefaultMargin is how far around midnight paygate's side of a day is read,
// so that a transaction the channel booked on the neighbouring day is
// matched there instead of being called missing (docs/reconciliation.md).
const DefaultMargin = 15 * time.Minute

// Applier applies a channel's result the way a callback does (the same
// compare-and-set, the same events); *payments.Payments is one.
type Applier interface {
	ApplyResult(ctx context.Context, o *paygate.Order, r *paygate.Result, closedAs paygate.OrderStatus) (*paygate.Order, bool, error)
	ApplyRefundResult(ctx context.Context, o *paygate.Order, ref *paygate.Refund, r *paygate.RefundResult) (*paygate.Refund, bool, error)
}

// Matcher reconciles one provider's bill for one day against paygate.
type Matcher struct {
	Store   paygate.ReconciliationStore
	Orders  paygate.OrderStore
	Refunds paygate.RefundStore
	// Applier repairs what the channel settled and paygate does not show
	// yet; nil records such lines as open discrepancies.
	Applier Applier
	// Margin around midnight (DefaultMargin when 0).
	Margin time.Duration
	// Holder names this process in the runs it starts; Lease is how long
	// a run is vouched for between renewals (DefaultRunLease when 0).
	Holder string
	Lease  time.Duration
	Now    paygate.Clock
	// KeepsFees reports whether a provider's channel keeps its fee when a
	// payment is refunded (card acquirers: KeepsFees): its refund lines
	// are then expected to return none. nil: every channel returns the
	// fee in proportion (paygate.ReturnedFee).
	KeepsFees func(provider string) bool
}

// refuseWhileRunning answers EINVALIDSTATE when a run of provider and
// day holds a valid lease. It only reads: the start of a run decides
// again, atomically.
func (m *Matcher) refuseWhileRunning(ctx context.Context, provider, day string) error {
	runs, err := m.Store.Reconciliations(ctx, "", day, []string{provider})
	if err != nil {
		return err
	}
	now := m.now()
	for _, r := range runs {
		if r.Provider == provider && r.Status == paygate.RunRunning && r.LeaseUntil.After(now) {
			return paygate.Errorf(paygate.EINVALIDSTATE, "a reconciliation of %s for %s is already running", provider, day)
		}
	}
	return nil
}

func (m *Matcher) now() time.Time {
	if m.Now == nil {
		return time.Now()
	}
	return m.Now()
}

// KeepsFees reports whether channels of a kind keep their fee when a
// payment is refunded. Card acquirers do: their settlement file lists a
// refund with no fee (docs/reconciliation.md, "Fee audit"); the wallets,
// UnionPay and e-CNY return it in proportion.
func KeepsFees(kind string) bool { return kind == paygate.KindAcquirer }

// BillError is a bill that could not be read; the run failed and recorded
// nothing. It wraps the reader's error (a *ParseError for a bad file).
type BillError struct{ Err error }

func (e *BillError) Error() string { return "bill: " + e.Err.Error() }
func (e *BillError) Unwrap() error { return e.Err }

// Run reconciles the bill read by bill (whose raw bytes hash to sha1) for
// provider and day (YYYY-MM-DD, China Standard Time). It records a run:
// succeeded with every outcome, or failed with nothing but the failure.
// A bill that cannot be read fails the run with a *BillError.
func (m *Matcher) Run(ctx context.Context, provider, day string, bill BillReader, sha1 string) (*paygate.Reconciliation, error) {
	start, err := paygate.ParseDay(day)
	if err != nil {
		return nil, err
	}
	lease := m.Lease
	if lease <= 0 {
		lease = DefaultRunLease
	}
	run := &paygate.Reconciliation{Provider: provider, Date: day, BillSHA1: sha1,
		Holder: m.Holder, LeaseUntil: m.now().Add(lease)}
	if err := m.Store.StartReconciliation(ctx, run); err != nil {
		return nil, err
	}
	// The run is renewed while it works; a run that lost its lease (failed
	// as abandoned after a stall longer than the lease, another run now
	// speaks for the day) stops and records nothing.
	renew := func(ctx context.Context) (bool, error) {
		err := m.Store.RenewReconciliation(ctx, run.ID, run.Holder, m.now().Add(lease))
		if runLeaseLost(err) {
			return false, nil
		}
		return err == nil, err
	}
	ctx, stop := keepLease(ctx, lease, renew)
	defer stop()
	res, err := m.match(ctx, run, start, bill)
	if err == nil {
		// Repairs change orders: they are applied only while the run
		// still holds the day.
		if held, rerr := renew(ctx); rerr != nil {
			err = rerr
		} else if !held {
			err = ErrLeaseLost
		}
	}
	if err == nil {
		m.repair(ctx, res)
		err = m.Store.FinishReconciliation(ctx, run, res.merchants, res.discrepancies, res.crossed)
	}
	if err != nil {
		if cause := context.Cause(ctx); errors.Is(cause, ErrLeaseLost) {
			err = cause
		}
		if ferr := m.Store.FailReconciliation(context.WithoutCancel(ctx), run.ID, err.Error()); ferr != nil {
			return nil, errors.Join(err, ferr)
		}
		run.Status, run.Failure = paygate.RunFailed, err.Error()
		return run, err
	}
	return run, nil
}

// result is what matching found: counts, and the discrepancies (the only
// lines it keeps).
type result struct {
	run *paygate.Reconciliation
	// keepsFees: the provider's refunds return no fee.
	keepsFees     bool
	merchants     map[string]*paygate.ReconCounts
	discrepancies []*paygate.Discrepancy
	crossed       []string
	// repairs are the discrepancies a repair may settle, with their line.
	repairs []repair
}

type repair struct {
	d    *paygate.Discrepancy
	line Line
}

func (r *result) counts(merchant string) *paygate.ReconCounts {
	c := r.merchants[merchant]
	if c == nil {
		c = &paygate.ReconCounts{}
		r.merchants[merchant] = c
	}
	return c
}

// outcome counts one outcome for the run and the merchant, and keeps it
// as a discrepancy unless it matched.
func (r *result) outcome(d *paygate.Discrepancy) {
	r.run.Count(d.Outcome)
	r.counts(d.MerchantID).Count(d.Outcome)
	if d.Outcome != paygate.ReconMatched {
		r.discrepancies = append(r.discrepancies, d)
	}
}

// signed is a transaction's effect on the merchant's money.
func signed(refund bool, amount int64) int64 {
	if refund {
		return -amount
	}
	return amount
}

func (m *Matcher) match(ctx context.Context, run *paygate.Reconciliation, start time.Time, bill BillReader) (*result, error) {
	margin := m.Margin
	if margin <= 0 {
		margin = DefaultMargin
	}
	end := start.AddDate(0, 0, 1)
	x := newIndex()
	inDay := func(t time.Time) bool { return !t.Before(start) && t.Before(end) }
	err := m.Store.ReconTxns(ctx, run.Provider, start.Add(-margin), end.Add(margin), func(t *paygate.ReconTxn) error {
		x.add(t)
		return nil
	})
	if err != nil {
		return nil, err
	}
	res := &result{run: run, merchants: map[string]*paygate.ReconCounts{},
		keepsFees: m.KeepsFees != nil && m.KeepsFees(run.Provider)}
	// Paygate's side of the day: every transaction that succeeded in it.
	for i := 0; i < x.n; i++ {
		e := x.at(uint32(i))
		if t := e.time(); inDay(t) {
			amount := e.amount
			if statuses[e.status] == string(paygate.OrderReversed) {
				amount = 0
			}
			run.Paygate.Add(signed(e.refund(), amount))
			res.counts(x.merchants[e.merchant]).Paygate.Add(signed(e.refund(), amount))
		}
	}

	var unmatched []Line
	paidLines := map[uint32]Line{}
	for {
		l, err := bill.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, &BillError{Err: err}
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		i, ok := x.findLine(&l)
		if ok && x.reversalPair(i, &l) {
			e := x.at(i)
			merchant := x.merchants[e.merchant]
			run.Channel.Add(lineEffect(&l))
			res.counts(merchant).Channel.Add(lineEffect(&l))
			if l.Status == StatusSucceeded {
				paidLines[i] = l
			} else {
				res.outcome(&paygate.Discrepancy{Outcome: paygate.ReconMatched, MerchantID: merchant})
			}
			continue
		}
		if !ok || x.at(i).flags&flagSeen != 0 {
			unmatched = append(unmatched, l)
			continue
		}
		e := x.at(i)
		e.flags |= flagSeen
		merchant := x.merchants[e.merchant]
		lineAmount := lineEffect(&l)
		run.Channel.Add(lineAmount)
		res.counts(merchant).Channel.Add(lineAmount)
		if t := e.time(); !inDay(t) {
			res.crossed = append(res.crossed, txnKey(e.refund(), x.str(e.rec, strOrderID), x.str(e.rec, strRefundID)))
		}
		res.classify(&l, merchant, statuses[e.status], e.amount, res.fee(e), true, e.refund(), func() *paygate.ReconSnapshot { return res.snapshot(x, e) })
	}

	// Reversed payments: a reversal line settles the pair; a payment line
	// alone says the channel kept money paygate holds as returned.
	for i, l := range paidLines {
		e := x.at(i)
		merchant := x.merchants[e.merchant]
		if e.flags&flagReversedLine != 0 {
			res.outcome(&paygate.Discrepancy{Outcome: paygate.ReconMatched, MerchantID: merchant})
			continue
		}
		res.classify(&l, merchant, statuses[e.status], e.amount, e.fee, true, false, func() *paygate.ReconSnapshot { return x.snapshot(e) })
	}

	for _, l := range unmatched {
		run.Channel.Add(lineEffect(&l))
		if err := m.lookup(ctx, res, l); err != nil {
			return nil, err
		}
	}

	// What paygate recorded in the day and the bill does not show.
	for i := 0; i < x.n; i++ {
		e := x.at(uint32(i))
		t := e.time()
		if e.flags&flagSeen != 0 || !inDay(t) || statuses[e.status] == string(paygate.OrderReversed) {
			continue
		}
		key := txnKey(e.refund(), x.str(e.rec, strOrderID), x.str(e.rec, strRefundID))
		if t.Before(start.Add(margin)) || !t.Before(end.Add(-margin)) {
			crossed, err := m.Store.Crossed(ctx, run.Provider, key)
			if err != nil {
				return nil, err
			}
			if crossed {
				continue
			}
		}
		d := &paygate.Discrepancy{Outcome: paygate.ReconMissingAtChannel, MerchantID: x.merchants[e.merchant],
			OrderID: clone(x.str(e.rec, strOrderID)), Paygate: res.snapshot(x, e)}
		if e.refund() {
			d.RefundID = clone(x.str(e.rec, strRefundID))
		}
		res.outcome(d)
	}
	return res, nil
}

// lineEffect is a bill line's effect on the merchant's money.
func lineEffect(l *Line) int64 {
	if l.Status != StatusSucceeded {
		return 0
	}
	return signed(l.Kind == LineRefund, l.Amount)
}

func txnKey(refund bool, orderID, refundID string) string {
	if refund {
		return "r:" + refundID
	}
	return "o:" + orderID
}

// fee is the fee a bill line of e should show: a payment's fee, or what
// the channel returns with a refund (none when it keeps its fees).
func (r *result) fee(e *entry) int64 {
	if e.refund() && r.keepsFees {
		return 0
	}
	return e.fee
}

// snapshot is paygate's side of e, with the fee its line should show.
func (r *result) snapshot(x *index, e *entry) *paygate.ReconSnapshot {
	s := x.snapshot(e)
	s.Fee = r.fee(e)
	return s
}

// classify compares a bill line with the paygate transaction it names;
// its fee with fee when auditFee is set (the fee audit).
func (r *result) classify(l *Line, merchant, status string, amount, fee int64, auditFee, refund bool, pg func() *paygate.ReconSnapshot) {
	d := &paygate.Discrepancy{MerchantID: merchant, OrderID: l.OrderID, RefundID: l.RefundID}
	paid := paygate.OrderStatus(status).Paid() || refund && status == string(paygate.RefundSucceeded)
	reversed := status == string(paygate.OrderReversed)
	switch {
	case l.Status == StatusSucceeded && paid:
		switch {
		case l.Amount != amount:
			d.Outcome = paygate.ReconAmountMismatch
		case auditFee && l.Fee != fee:
			d.Outcome = paygate.ReconFeeMismatch
		default:
			d.Outcome = paygate.ReconMatched
		}
	case l.Status == StatusReversed && (reversed || !paid),
		l.Status == StatusFailed && !paid:
		d.Outcome = paygate.ReconMatched
	default:
		d.Outcome = paygate.ReconStatusMismatch
	}
	if d.Outcome != paygate.ReconMatched {
		d.Paygate, d.Channel = pg(), lineSnapshot(l)
		if d.OrderID == "" {
			d.OrderID = d.Paygate.OrderID
		}
		if refund && d.RefundID == "" {
			d.RefundID = d.Paygate.RefundID
		}
	}
	r.outcome(d)
}

func lineSnapshot(l *Line) *paygate.ReconSnapshot {
	s := &paygate.ReconSnapshot{Type: string(l.Kind), Status: string(l.Status), Amount: l.Amount, Fee: l.Fee,
		OrderID: l.OrderID, RefundID: l.RefundID, ChannelTradeNo: l.ChannelTradeNo, ChannelRefundNo: l.ChannelRefundNo}
	if !l.Time.IsZero() {
		t := l.Time.UTC()
		s.Time = &t
	}
	return s
}

// lookup settles a bill line that paygate's side of the day did not hold:
// the transaction may have succeeded on another day (matched across
// midnight), may still be pending, closed or failed in paygate (a repair
// candidate), or be unknown (missing_in_paygate).
func (m *Matcher) lookup(ctx context.Context, res *result, l Line) error {
	missing := func() {
		res.counts("").Channel.Add(lineEffect(&l))
		res.outcome(&paygate.Discrepancy{Outcome: paygate.ReconMissingInPaygate, OrderID: l.OrderID,
			RefundID: l.RefundID, Channel: lineSnapshot(&l)})
	}
	if l.Kind == LineRefund {
		if l.RefundID == "" {
			missing()
			return nil
		}
		ref, err := m.Refunds.RefundByID(ctx, l.RefundID)
		if paygate.ErrorCode(err) == paygate.ENOTFOUND {
			missing()
			return nil
		} else if err != nil {
			return err
		}
		res.counts(ref.MerchantID).Channel.Add(lineEffect(&l))
		pg := func() *paygate.ReconSnapshot { return refundSnapshot(ref) }
		if ref.Status == paygate.RefundSucceeded && ref.SucceededAt != nil {
			res.crossed = append(res.crossed, txnKey(true, ref.OrderID, ref.ID))
		}
		before := len(res.discrepancies)
		// Found outside the day's window: its fee is not audited (what
		// it returns depends on the order's other refunds).
		res.classify(&l, ref.MerchantID, string(ref.Status), ref.Amount, 0, false, true, pg)
		if len(res.discrepancies) > before && ref.Status == paygate.RefundPending && l.Status == StatusSucceeded && l.Amount == ref.Amount {
			res.repairs = append(res.repairs, repair{d: res.discrepancies[len(res.discrepancies)-1], line: l})
		}
		return nil
	}
	if l.OrderID == "" {
		missing()
		return nil
	}
	o, err := m.Orders.OrderByID(ctx, l.OrderID)
	if paygate.ErrorCode(err) == paygate.ENOTFOUND {
		missing()
		return nil
	} else if err != nil {
		return err
	}
	res.counts(o.MerchantID).Channel.Add(lineEffect(&l))
	if o.Status.Paid() && o.PaidAt != nil {
		res.crossed = append(res.crossed, txnKey(false, o.ID, ""))
	}
	before := len(res.discrepancies)
	res.classify(&l, o.MerchantID, string(o.Status), o.Amount, o.Fee, true, false, func() *paygate.ReconSnapshot { return orderSnapshot(o) })
	late := o.Status == paygate.OrderPending || o.Status == paygate.OrderClosed || o.Status == paygate.OrderFailed
	if len(res.discrepancies) > before && late && l.Status == StatusSucceeded && l.Amount == o.Amount {
		res.repairs = append(res.repairs, repair{d: res.discrepancies[len(res.discrepancies)-1], line: l})
	}
	return nil
}

func orderSnapshot(o *paygate.Order) *paygate.ReconSnapshot {
	s := &paygate.ReconSnapshot{Type: string(LinePayment), Status: string(o.Status), Amount: o.Amount, Fee: o.Fee,
		OrderID: o.ID, ChannelTradeNo: o.ChannelTradeNo}
	if o.PaidAt != nil {
		t := o.PaidAt.UTC()
		s.Time = &t
	}
	return s
}

func refundSnapshot(r *paygate.Refund) *paygate.ReconSnapshot {
	s := &paygate.ReconSnapshot{Type: string(LineRefund), Status: string(r.Status), Amount: r.Amount,
		OrderID: r.OrderID, RefundID: r.ID, ChannelRefundNo: r.ChannelRefundNo}
	if r.SucceededAt != nil {
		t := r.SucceededAt.UTC()
		s.Time = &t
	}
	return s
}

// repair applies, through the callback path, what the channel settled and
// paygate holds as unfinished: a payment pending, closed or failed there
// that the bill shows paid, a pending refund the bill shows returned. Both
// only add to what paygate says the merchant received or returned as the
// channel already did; nothing that would take money from the merchant's
// books is applied. A repair that does not apply (the transaction moved on
// meanwhile, or the applier refuses) leaves the discrepancy open.
func (m *Matcher) repair(ctx context.Context, res *result) {
	if m.Applier == nil {
		return
	}
	for _, r := range res.repairs {
		if err := m.repairOne(ctx, r); err != nil {
			r.d.Note = "repair not applied: " + paygate.ErrorMessage(err)
			continue
		}
		r.d.Resolution = paygate.ResolutionRepaired
		r.d.Note = "applied the channel's result from the bill"
	}
}

func (m *Matcher) repairOne(ctx context.Context, r repair) error {
	l := r.line
	o, err := m.Orders.OrderByID(ctx, r.d.OrderID)
	if err != nil {
		return err
	}
	if l.Kind == LineRefund {
		ref, err := m.Refunds.RefundByID(ctx, r.d.RefundID)
		if err != nil {
			return err
		}
		res := &paygate.RefundResult{Outcome: paygate.OutcomeSuccess, ChannelRefundNo: l.ChannelRefundNo, Amount: l.Amount}
		if !l.Time.IsZero() {
			at := l.Time
			res.At = &at
		}
		after, _, err := m.Applier.ApplyRefundResult(ctx, o, ref, res)
		if err != nil {
			return err
		}
		if after.Status != paygate.RefundSucceeded {
			return paygate.Errorf(paygate.EINVALIDSTATE, "refund %s is %s", ref.ID, after.Status)
		}
		return nil
	}
	res := &paygate.Result{Outcome: paygate.OutcomeSuccess, ChannelTradeNo: l.ChannelTradeNo, Amount: l.Amount}
	if !l.Time.IsZero() {
		at := l.Time
		res.PaidAt = &at
	}
	after, _, err := m.Applier.ApplyResult(ctx, o, res, paygate.OrderClosed)
	if err != nil {
		return err
	}
	if !after.Status.Paid() {
		return paygate.Errorf(paygate.EINVALIDSTATE, "order %s is %s", o.ID, after.Status)
	}
	return nil
}

// reversalPair takes a line naming a payment paygate holds as reversed:
// such a payment may come as its payment line, its reversal line, or both.
// It reports whether it took the line: a reversal line is matched at once,
// a payment line waits for the end of the bill.
func (x *index) reversalPair(i uint32, l *Line) bool {
	e := x.at(i)
	if e.refund() || statuses[e.status] != string(paygate.OrderReversed) || l.Kind != LinePayment {
		return false
	}
	switch {
	case l.Status == StatusSucceeded && e.flags&flagPaidLine == 0:
		e.flags |= flagPaidLine | flagSeen
		return true
	case l.Status == StatusReversed && e.flags&flagReversedLine == 0:
		e.flags |= flagReversedLine | flagSeen
		return true
	}
	return false
}
