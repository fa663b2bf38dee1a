package reconcile_test

import (
	"context"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/payments"
	"github.com/paygate-cn/paygate/reconcile"
	"github.com/paygate-cn/paygate/store"
	"github.com/paygate-cn/paygate/store/storetest"
)

// lines is an in-memory bill; err, when set, is returned after the lines.
type lines struct {
	l   []reconcile.Line
	err error
}

func (b *lines) Next() (reconcile.Line, error) {
	if len(b.l) == 0 {
		if b.err != nil {
			return reconcile.Line{}, b.err
		}
		return reconcile.Line{}, io.EOF
	}
	l := b.l[0]
	b.l = b.l[1:]
	return l, nil
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

const day = "2026-11-20"

// at is a CST time on the day (offset days from it).
func at(days int, hh, mm, ss int) time.Time {
	return time.Date(2026, 11, 20+days, hh, mm, ss, 0, paygate.ChinaStandardTime)
}

// fixture is a day of traffic on one provider and the bill that matches it.
type fixture struct {
	db    *store.DB
	clk   *clock
	m     *reconcile.Matcher
	bill  []reconcile.Line
	order map[string]*paygate.Order
	ref   map[string]*paygate.Refund
	// refunded sums each order's succeeded refunds so far.
	refunded map[string]int64
}

func newFixture(t *testing.T, backend string) *fixture {
	return newFixtureWith(t, backend, store.Options{})
}

func newFixtureWith(t *testing.T, backend string, opts store.Options) *fixture {
	clk := &clock{t: at(1, 10, 0, 0)}
	opts.Now = clk.Now
	db := storetest.OpenWith(t, backend, opts)
	f := &fixture{db: db, clk: clk, order: map[string]*paygate.Order{}, ref: map[string]*paygate.Refund{}, refunded: map[string]int64{}}
	f.m = &reconcile.Matcher{Store: db, Orders: db, Refunds: db,
		Applier: &payments.Payments{Orders: db, Refunds: db, Now: clk.Now}, Holder: "test", Now: clk.Now}
	return f
}

// pay records an order of merchant m paid at `when` and, unless billed is
// false, its bill line.
func (f *fixture) pay(t *testing.T, name, merchant string, amount, fee int64, when time.Time, billed bool) *paygate.Order {
	t.Helper()
	ctx := context.Background()
	f.clk.Set(when.Add(-time.Second))
	o := &paygate.Order{MerchantID: merchant, MerchantOrderNo: name, Status: paygate.OrderPending, Amount: amount,
		Currency: "CNY", Method: paygate.MethodAuthCode, Channel: "wechat", Provider: "wechat", Fee: fee, NetAmount: amount - fee,
		TerminalID: "T0001", Route: &paygate.Route{Provider: "wechat", Channel: "wechat", Fee: fee, Rule: "wechat.default",
			Candidates: []paygate.RouteCandidate{{Provider: "wechat", Fee: fee, Eligible: true},
				{Provider: "alipay", Fee: fee + 3, Eligible: true}, {Provider: "acq", Fee: fee + 100}}}}
	if err := f.db.CreateOrder(ctx, o); err != nil {
		t.Fatal(err)
	}
	trade := "42" + name
	o, _, err := f.db.UpdateOrder(ctx, paygate.OrderUpdate{OrderID: o.ID, To: paygate.OrderSucceeded, PaidAt: &when, ChannelTradeNo: &trade})
	if err != nil {
		t.Fatal(err)
	}
	f.order[name] = o
	if billed {
		f.bill = append(f.bill, reconcile.Line{Kind: reconcile.LinePayment, Status: reconcile.StatusSucceeded,
			ChannelTradeNo: trade, OrderID: o.ID, Amount: amount, Fee: fee, Time: when})
	}
	return o
}

// unpaid records an order left in status.
func (f *fixture) unpaid(t *testing.T, name string, amount int64, status paygate.OrderStatus) *paygate.Order {
	t.Helper()
	o := &paygate.Order{MerchantID: "m_1", MerchantOrderNo: name, Status: paygate.OrderPending, Amount: amount,
		Currency: "CNY", Method: paygate.MethodQR, Channel: "wechat", Provider: "wechat", Fee: amount * 6 / 1000, NetAmount: amount - amount*6/1000}
	if err := f.db.CreateOrder(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if status != paygate.OrderPending {
		var err error
		o, _, err = f.db.UpdateOrder(context.Background(), paygate.OrderUpdate{OrderID: o.ID, To: status})
		if err != nil {
			t.Fatal(err)
		}
	}
	f.order[name] = o
	return o
}

// refund records a refund of order name, succeeded at `when` (pending
// when zero), and its bill line unless billed is false.
func (f *fixture) refund(t *testing.T, name, order string, amount int64, when time.Time, billed bool) *paygate.Refund {
	t.Helper()
	ctx := context.Background()
	o := f.order[order]
	r := &paygate.Refund{MerchantID: o.MerchantID, OrderID: o.ID, MerchantRefundNo: name, Amount: amount}
	if err := f.db.CreateRefund(ctx, r); err != nil {
		t.Fatal(err)
	}
	if !when.IsZero() {
		no := "50" + name
		var err error
		r, _, err = f.db.UpdateRefund(ctx, paygate.RefundUpdate{RefundID: r.ID, To: paygate.RefundSucceeded, ChannelRefundNo: &no, At: when})
		if err != nil {
			t.Fatal(err)
		}
	}
	f.ref[name] = r
	defer func() {
		if !when.IsZero() {
			f.refunded[order] += amount
		}
	}()
	if billed {
		// The channel returns the fee in proportion (docs/reconciliation.md, "Fee audit").
		fee := paygate.ReturnedFee(o.Fee, o.Amount, f.refunded[order], amount)
		f.bill = append(f.bill, reconcile.Line{Kind: reconcile.LineRefund, Status: reconcile.StatusSucceeded,
			ChannelTradeNo: "42" + order, OrderID: o.ID, ChannelRefundNo: "50" + name, RefundID: r.ID, Amount: amount, Fee: fee, Time: when})
	}
	return r
}

// mixedDay records a day of traffic whose bill matches it exactly.
func (f *fixture) mixedDay(t *testing.T) {
	f.pay(t, "A1", "m_1", 1000, 6, at(0, 9, 0, 0), true)
	f.pay(t, "A2", "m_2", 2000, 12, at(0, 10, 0, 0), true)
	f.refund(t, "R1", "A2", 500, at(0, 11, 0, 0), true) // partial
	f.pay(t, "A3", "m_1", 3000, 18, at(0, 12, 0, 0), true)
	f.refund(t, "R2", "A3", 3000, at(0, 13, 0, 0), true) // full
	// Reversed after success: the bill lists it reversed.
	rev := f.pay(t, "A4", "m_1", 4000, 24, at(0, 14, 0, 0), false)
	if _, _, err := f.db.UpdateOrder(context.Background(), paygate.OrderUpdate{OrderID: rev.ID, To: paygate.OrderReversed}); err != nil {
		t.Fatal(err)
	}
	f.bill = append(f.bill, reconcile.Line{Kind: reconcile.LinePayment, Status: reconcile.StatusReversed,
		ChannelTradeNo: "42A4", OrderID: rev.ID, Amount: 4000, Time: at(0, 14, 0, 0)})
	f.unpaid(t, "D1", 500, paygate.OrderFailed) // declined: on no bill
	// Midnight: paygate recorded it a moment after the channel's midnight.
	f.pay(t, "M1", "m_1", 700, 4, at(1, 0, 0, 1), false)
	f.bill = append(f.bill, reconcile.Line{Kind: reconcile.LinePayment, Status: reconcile.StatusSucceeded,
		ChannelTradeNo: "42M1", OrderID: f.order["M1"].ID, Amount: 700, Fee: 4, Time: at(0, 23, 59, 59)})
	// The previous day's late payment, booked by the channel on this day.
	f.pay(t, "M0", "m_2", 800, 5, at(-1, 23, 59, 58), false)
	f.bill = append(f.bill, reconcile.Line{Kind: reconcile.LinePayment, Status: reconcile.StatusSucceeded,
		ChannelTradeNo: "42M0", OrderID: f.order["M0"].ID, Amount: 800, Fee: 5, Time: at(0, 0, 0, 1)})
	// Other days' traffic, far from midnight.
	f.pay(t, "X1", "m_1", 900, 5, at(-1, 12, 0, 0), false)
	f.pay(t, "X2", "m_1", 900, 5, at(1, 12, 0, 0), false)
}

func (f *fixture) run(t *testing.T, bill reconcile.BillReader) (*paygate.Reconciliation, []*paygate.Discrepancy) {
	t.Helper()
	f.clk.Set(at(1, 10, 30, 0))
	run, err := f.m.Run(context.Background(), "wechat", day, bill, "sha1")
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	ds, _, err := f.db.Discrepancies(context.Background(), paygate.DiscrepancyFilter{RunID: run.ID, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return run, ds
}

func TestMixedDayReconciles(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, _ *store.DB) {
		f := newFixture(t, t.Name()[len("TestMixedDayReconciles/"):])
		f.mixedDay(t)
		run, ds := f.run(t, &lines{l: f.bill})
		if len(ds) != 0 {
			for _, d := range ds {
				t.Errorf("discrepancy %s %s %+v %+v", d.Outcome, d.OrderID, d.Paygate, d.Channel)
			}
		}
		if run.Status != paygate.RunSucceeded || run.Outcomes[paygate.ReconMatched] != int64(len(f.bill)) {
			t.Fatalf("run = %+v, want %d matched", run, len(f.bill))
		}
		// Paygate's day: A1+A2+A3+A4(reversed, 0)+M0 is the previous day's, M1 the next's.
		if want := int64(1000 + 2000 - 500 + 3000 - 3000); run.Paygate.Amount != want {
			t.Errorf("paygate amount %d, want %d", run.Paygate.Amount, want)
		}
		got, err := f.db.Reconciliation(context.Background(), "m_2", run.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Paygate.Count != 2 || got.Outcomes[paygate.ReconMatched] != 3 {
			t.Errorf("m_2's share = %+v", got.ReconCounts)
		}

		// The next day: M1 was matched in this day's bill, so it is not
		// missing from the next day's.
		next, err := f.m.Run(context.Background(), "wechat", "2026-11-21", &lines{l: []reconcile.Line{{Kind: reconcile.LinePayment,
			Status: reconcile.StatusSucceeded, ChannelTradeNo: "42X2", OrderID: f.order["X2"].ID, Amount: 900, Fee: 5, Time: at(1, 12, 0, 0)}}}, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(next.Outcomes) != 1 || next.Outcomes[paygate.ReconMatched] != 1 {
			t.Errorf("next day outcomes = %v", next.Outcomes)
		}
	})
}

func TestOutcomes(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, _ *store.DB) {
		ctx := context.Background()
		f := newFixture(t, t.Name()[len("TestOutcomes/"):])
		f.mixedDay(t)
		bill := append([]reconcile.Line(nil), f.bill...)
		byOrder := func(name string) *reconcile.Line {
			for i := range bill {
				if bill[i].OrderID == f.order[name].ID && bill[i].Kind == reconcile.LinePayment {
					return &bill[i]
				}
			}
			t.Fatalf("no line for %s", name)
			return nil
		}
		byOrder("A1").Amount = 1001                            // amount_mismatch
		byOrder("A2").Fee = 13                                 // fee_mismatch
		byOrder("A3").Status = reconcile.StatusReversed        // status_mismatch, lowers the merchant's money: open
		closed := f.unpaid(t, "L1", 1500, paygate.OrderClosed) // the bill shows it paid: repaired
		bill = append(bill, reconcile.Line{Kind: reconcile.LinePayment, Status: reconcile.StatusSucceeded,
			ChannelTradeNo: "42L1", OrderID: closed.ID, Amount: 1500, Fee: 9, Time: at(0, 15, 0, 0)})
		pending := f.refund(t, "R3", "A1", 100, time.Time{}, false) // pending; the bill shows it done: repaired
		bill = append(bill, reconcile.Line{Kind: reconcile.LineRefund, Status: reconcile.StatusSucceeded,
			ChannelTradeNo: "42A1", OrderID: f.order["A1"].ID, ChannelRefundNo: "50R3", RefundID: pending.ID, Amount: 100, Time: at(0, 16, 0, 0)})
		bill = append(bill, reconcile.Line{Kind: reconcile.LinePayment, Status: reconcile.StatusSucceeded, // missing_in_paygate
			ChannelTradeNo: "42ZZ", OrderID: "ord_unknown", Amount: 77, Time: at(0, 17, 0, 0)})
		f.pay(t, "S1", "m_1", 600, 4, at(0, 18, 0, 0), false) // missing_at_channel

		// A bill that breaks off records nothing and repairs nothing.
		bad := &reconcile.ParseError{File: "bill.csv", Line: 9, Column: 3, Msg: "truncated"}
		f.clk.Set(at(1, 10, 30, 0))
		failed, err := f.m.Run(ctx, "wechat", day, &lines{l: bill, err: bad}, "")
		if err == nil || failed.Status != paygate.RunFailed || failed.Failure == "" {
			t.Fatalf("bad bill: run %+v err %v", failed, err)
		}
		if ds, _, _ := f.db.Discrepancies(ctx, paygate.DiscrepancyFilter{RunID: failed.ID}); len(ds) != 0 {
			t.Fatalf("failed run recorded %d discrepancies", len(ds))
		}
		if o, _ := f.db.OrderByID(ctx, closed.ID); o.Status != paygate.OrderClosed {
			t.Fatalf("failed run repaired the closed order: %s", o.Status)
		}

		run, ds := f.run(t, &lines{l: append([]reconcile.Line(nil), bill...)})
		got := map[paygate.ReconOutcome][]*paygate.Discrepancy{}
		for _, d := range ds {
			got[d.Outcome] = append(got[d.Outcome], d)
		}
		want := map[paygate.ReconOutcome]int{paygate.ReconAmountMismatch: 1, paygate.ReconFeeMismatch: 1,
			paygate.ReconStatusMismatch: 3, paygate.ReconMissingInPaygate: 1, paygate.ReconMissingAtChannel: 1}
		for o, n := range want {
			if len(got[o]) != n || run.Outcomes[o] != int64(n) {
				t.Errorf("%s: %d discrepancies (run says %d), want %d", o, len(got[o]), run.Outcomes[o], n)
			}
		}
		for _, d := range got[paygate.ReconStatusMismatch] {
			wantRes := paygate.ResolutionRepaired
			if d.OrderID == f.order["A3"].ID {
				wantRes = paygate.ResolutionOpen
			}
			if d.Resolution != wantRes {
				t.Errorf("status_mismatch of %s: %s (%s), want %s", d.OrderID, d.Resolution, d.Note, wantRes)
			}
		}
		if d := got[paygate.ReconMissingInPaygate]; len(d) == 1 && d[0].MerchantID != "" {
			t.Errorf("missing_in_paygate attributed to %q", d[0].MerchantID)
		}
		if o, _ := f.db.OrderByID(ctx, f.order["A3"].ID); o.Status != paygate.OrderRefunded {
			t.Errorf("A3 changed to %s", o.Status)
		}
		if o, _ := f.db.OrderByID(ctx, closed.ID); o.Status != paygate.OrderSucceeded {
			t.Errorf("closed order is %s after repair", o.Status)
		}
		if r, _ := f.db.RefundByID(ctx, pending.ID); r.Status != paygate.RefundSucceeded {
			t.Errorf("pending refund is %s after repair", r.Status)
		}

		// Reconciled again: the repaired transactions now match, and
		// nothing is applied twice.
		again, ds2 := f.run(t, &lines{l: append([]reconcile.Line(nil), bill...)})
		if again.ID == run.ID || again.Outcomes[paygate.ReconStatusMismatch] != 1 {
			t.Errorf("rerun outcomes %v", again.Outcomes)
		}
		for _, d := range ds2 {
			if d.Resolution == paygate.ResolutionRepaired {
				t.Errorf("rerun repaired %s again", d.OrderID)
			}
		}
		events, _, err := f.db.Events(ctx, paygate.EventFilter{MerchantID: "m_1", OrderID: closed.ID, Type: paygate.EventOrderSucceeded})
		if err != nil || len(events) != 1 {
			t.Fatalf("order.succeeded events of the repaired order: %d, %v", len(events), err)
		}
		events, _, _ = f.db.Events(ctx, paygate.EventFilter{MerchantID: "m_1", Type: paygate.EventRefundSucceeded})
		n := 0
		for _, e := range events {
			if e.RefundID == pending.ID {
				n++
			}
		}
		if n != 1 {
			t.Errorf("refund.succeeded events of the repaired refund: %d", n)
		}

		// A merchant sees only its own discrepancies; a person accepts one.
		mine, _, _ := f.db.Discrepancies(ctx, paygate.DiscrepancyFilter{RunID: run.ID, MerchantID: "m_2"})
		if len(mine) != 1 || mine[0].Outcome != paygate.ReconFeeMismatch {
			t.Fatalf("m_2 sees %d discrepancies", len(mine))
		}
		if _, err := f.db.ResolveDiscrepancy(ctx, "m_1", mine[0].ID, "ok"); paygate.ErrorCode(err) != paygate.ENOTFOUND {
			t.Fatalf("other merchant resolved: %v", err)
		}
		if _, err := f.db.ResolveDiscrepancy(ctx, "", mine[0].ID, "ok"); paygate.ErrorCode(err) != paygate.ENOTFOUND {
			t.Fatalf("an empty merchant id resolved: %v", err)
		}
		d, err := f.db.ResolveDiscrepancy(ctx, "m_2", mine[0].ID, "the channel's contract changed on the 1st")
		if err != nil || d.Resolution != paygate.ResolutionAccepted || d.Note == "" {
			t.Fatalf("resolve: %+v %v", d, err)
		}
		if _, err := f.db.ResolveDiscrepancy(ctx, "m_2", mine[0].ID, "again"); paygate.ErrorCode(err) != paygate.EINVALIDSTATE {
			t.Fatalf("resolve twice: %v", err)
		}
	})
}

func TestReturnedFee(t *testing.T) {
	for _, c := range []struct {
		fee, amount, before, refund, want int64
	}{
		{6, 1000, 0, 1000, 6},  // a full refund returns the whole fee
		{6, 1000, 0, 500, 3},   // half
		{6, 1000, 500, 500, 3}, // the other half
		{2, 250, 0, 84, 1},     // 0.672 → 1
		{2, 250, 84, 83, 0},    // 1.336 → 1, less 1 returned
		{2, 250, 167, 83, 1},   // the last refund gets the rest: 2 in all
		{18, 3000, 0, 1, 0},    // 0.006 → 0
		{0, 1000, 0, 1000, 0},  // no fee charged, none returned
		{5, 800, 0, 10000, 5},  // more than the payment: capped at it
	} {
		if got := paygate.ReturnedFee(c.fee, c.amount, c.before, c.refund); got != c.want {
			t.Errorf("ReturnedFee(%d, %d, %d, %d) = %d, want %d", c.fee, c.amount, c.before, c.refund, got, c.want)
		}
	}
}

// TestRefundFeeAudit: a refund line whose returned fee differs from the
// order's fee in proportion is a fee_mismatch; partial refunds of one
// order return the whole fee between them; a channel that keeps its fees
// (KeepsFees) is expected to return none.
func TestRefundFeeAudit(t *testing.T) {
	storetest.Backends(t, func(t *testing.T, _ *store.DB) {
		f := newFixture(t, t.Name()[len("TestRefundFeeAudit/"):])
		f.pay(t, "P1", "m_1", 250, 2, at(0, 9, 0, 0), true)
		f.refund(t, "Q1", "P1", 84, at(0, 10, 0, 0), true)
		f.refund(t, "Q2", "P1", 83, at(0, 11, 0, 0), true)
		f.refund(t, "Q3", "P1", 83, at(0, 12, 0, 0), true)
		f.pay(t, "P2", "m_1", 1000, 6, at(0, 9, 30, 0), true)
		f.refund(t, "Q4", "P2", 500, at(0, 13, 0, 0), true)
		var returned int64
		for _, l := range f.bill {
			if l.Kind == reconcile.LineRefund && l.OrderID == f.order["P1"].ID {
				returned += l.Fee
			}
		}
		if returned != 2 {
			t.Fatalf("P1's refunds return %d fen of its 2", returned)
		}
		run, ds := f.run(t, &lines{l: append([]reconcile.Line(nil), f.bill...)})
		if len(ds) != 0 || run.Outcomes[paygate.ReconMatched] != int64(len(f.bill)) {
			t.Fatalf("proportional returns: %v, %d discrepancies", run.Outcomes, len(ds))
		}

		bill := append([]reconcile.Line(nil), f.bill...)
		for i := range bill {
			if bill[i].RefundID == f.ref["Q4"].ID {
				bill[i].Fee = 6 // the whole fee returned on half the amount
			}
		}
		_, ds = f.run(t, &lines{l: bill})
		if len(ds) != 1 || ds[0].Outcome != paygate.ReconFeeMismatch || ds[0].RefundID != f.ref["Q4"].ID ||
			ds[0].Paygate.Fee != 3 || ds[0].Channel.Fee != 6 || ds[0].Resolution != paygate.ResolutionOpen {
			t.Fatalf("discrepancies %+v", ds)
		}

		// A channel that keeps its fees: refunds with no fee match, a
		// refund returning one does not.
		f.m.KeepsFees = func(provider string) bool { return provider == "wechat" }
		bill = append([]reconcile.Line(nil), f.bill...)
		for i := range bill {
			if bill[i].Kind == reconcile.LineRefund && bill[i].RefundID != f.ref["Q1"].ID {
				bill[i].Fee = 0
			}
		}
		run, ds = f.run(t, &lines{l: bill})
		if len(ds) != 1 || ds[0].Outcome != paygate.ReconFeeMismatch || ds[0].RefundID != f.ref["Q1"].ID || ds[0].Paygate.Fee != 0 {
			t.Fatalf("a channel keeping its fees: %v %+v", run.Outcomes, ds)
		}
	})
}
