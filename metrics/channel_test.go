package metrics

import (
	"context"
	"sync"
	"testing"

	"github.com/paygate-cn/paygate"
)

// card answers like an acquirer: every ability, each call's outcome set by
// the test.
type card struct {
	res *paygate.Result
	err error
}

func (c *card) ID() string   { return "acq" }
func (c *card) Kind() string { return paygate.KindAcquirer }
func (c *card) Pay(context.Context, *paygate.PaymentRequest) (*paygate.Result, error) {
	return c.res, c.err
}
func (c *card) Query(context.Context, *paygate.Order) (*paygate.Result, error) { return c.res, c.err }
func (c *card) Refund(context.Context, *paygate.RefundRequest) (*paygate.RefundResult, error) {
	return &paygate.RefundResult{Outcome: paygate.OutcomePending}, nil
}
func (c *card) QueryRefund(context.Context, *paygate.Refund, *paygate.Order) (*paygate.RefundResult, error) {
	return nil, &paygate.ChannelError{Provider: "acq", Op: "refund_query", Timeout: true}
}
func (c *card) CloseOrder(context.Context, *paygate.Order) error { return c.err }
func (c *card) Reverse(context.Context, *paygate.Order) (*paygate.Result, error) {
	return c.res, c.err
}
func (c *card) Capture(context.Context, *paygate.Order, int64) (*paygate.Result, error) {
	return c.res, c.err
}
func (c *card) VoidAuthorization(context.Context, *paygate.Order) (*paygate.Result, error) {
	return c.res, c.err
}
func (c *card) Void(context.Context, *paygate.Order) (*paygate.Result, error) { return c.res, c.err }

// wallet has none of the optional abilities.
type wallet struct{ card }

func (w *wallet) ID() string { return "wx" }

// walletOnly hides card's abilities.
type walletOnly struct{ paygate.Channel }

// sample returns the value of series name whose labels include want (a
// histogram's sample count), summed, and how many series matched.
func sample(t *testing.T, r *Registry, name string, want map[string]string) (sum float64, n int) {
	t.Helper()
	mfs, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue series
				}
			}
			n++
			switch {
			case m.GetHistogram() != nil:
				sum += float64(m.GetHistogram().GetSampleCount())
			case m.GetCounter() != nil:
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum, n
}

func count(t *testing.T, r *Registry, provider, op, outcome string) int {
	t.Helper()
	v, _ := sample(t, r, "paygate_channel_call_seconds", map[string]string{"provider": provider, "op": op, "outcome": outcome})
	return int(v)
}

func TestChannelRecordsCalls(t *testing.T) {
	ctx := context.Background()
	r := New()
	inner := &card{res: &paygate.Result{Outcome: paygate.OutcomeSuccess}}
	ch := r.Channel(inner)
	o := &paygate.Order{}

	ch.Pay(ctx, &paygate.PaymentRequest{})
	ch.Pay(ctx, &paygate.PaymentRequest{})
	ch.Query(ctx, o)
	ch.Refund(ctx, &paygate.RefundRequest{})
	ch.QueryRefund(ctx, &paygate.Refund{}, o)
	rev, _ := paygate.As[paygate.Reverser](ch)
	pa, _ := paygate.As[paygate.PreAuthorizer](ch)
	v, _ := paygate.As[paygate.Voider](ch)
	cl, _ := paygate.As[paygate.OrderCloser](ch)
	inner.res = &paygate.Result{Outcome: paygate.OutcomeClosed}
	rev.Reverse(ctx, o)
	pa.VoidAuthorization(ctx, o)
	v.Void(ctx, o)
	cl.CloseOrder(ctx, o)
	inner.res, inner.err = nil, &paygate.ChannelError{Provider: "acq", Op: "capture", Timeout: true}
	pa.Capture(ctx, o, 1)
	inner.err = &paygate.ChannelError{Provider: "acq", Op: "pay", Code: "500"}
	ch.Pay(ctx, &paygate.PaymentRequest{})
	cl.CloseOrder(ctx, o)

	for _, c := range []struct {
		op, outcome string
		n           int
	}{
		{"pay", "success", 2}, {"pay", "error", 1}, {"query", "success", 1},
		{"refund", "pending", 1}, {"refund_query", "timeout", 1},
		{"reverse", "closed", 1}, {"void_authorization", "closed", 1}, {"void", "closed", 1},
		{"close", "closed", 1}, {"close", "error", 1}, {"capture", "timeout", 1},
	} {
		if got := count(t, r, "acq", c.op, c.outcome); got != c.n {
			t.Errorf("%s %s: %d calls recorded, want %d", c.op, c.outcome, got, c.n)
		}
	}
	if _, n := sample(t, r, "paygate_channel_call_seconds", nil); n != 11 {
		t.Errorf("%d series, want 11", n)
	}
}

func TestChannelKeepsAbilities(t *testing.T) {
	r := New()
	full := r.Channel(&card{})
	_, c1 := paygate.As[paygate.OrderCloser](full)
	_, c2 := paygate.As[paygate.Reverser](full)
	_, c3 := paygate.As[paygate.PreAuthorizer](full)
	_, c4 := paygate.As[paygate.Voider](full)
	if !c1 || !c2 || !c3 || !c4 {
		t.Errorf("card: closer %v reverser %v preauth %v void %v", c1, c2, c3, c4)
	}
	plain := r.Channel(&walletOnly{&wallet{}})
	_, c1 = paygate.As[paygate.OrderCloser](plain)
	_, c2 = paygate.As[paygate.Reverser](plain)
	_, c3 = paygate.As[paygate.PreAuthorizer](plain)
	_, c4 = paygate.As[paygate.Voider](plain)
	if c1 || c2 || c3 || c4 {
		t.Errorf("plain: closer %v reverser %v preauth %v void %v", c1, c2, c3, c4)
	}
	// A type assertion instead of paygate.As: refused, not sent, not timed.
	if _, err := plain.(paygate.Reverser).Reverse(context.Background(), &paygate.Order{}); paygate.ErrorCode(err) != paygate.EINVALIDSTATE {
		t.Errorf("reverse without the ability: %v", err)
	}
	if _, n := sample(t, r, "paygate_channel_call_seconds", nil); n != 0 {
		t.Errorf("%d series after a refusal", n)
	}
}

func TestChannelAllocatesNothing(t *testing.T) {
	r := New()
	ch := r.Channel(&card{res: &paygate.Result{Outcome: paygate.OutcomePending}})
	ctx, req := context.Background(), &paygate.PaymentRequest{}
	ch.Pay(ctx, req)
	if n := testing.AllocsPerRun(100, func() { ch.Pay(ctx, req) }); n != 0 {
		t.Errorf("Pay allocates %.0f times", n)
	}
}

// Concurrent first calls fill each series' slot once and lose no sample
// (run with -race).
func TestChannelConcurrentCalls(t *testing.T) {
	r := New()
	ch := r.Channel(&card{res: &paygate.Result{Outcome: paygate.OutcomePending}})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				ch.Pay(context.Background(), &paygate.PaymentRequest{})
				ch.Query(context.Background(), &paygate.Order{})
			}
		})
	}
	wg.Wait()
	if got := count(t, r, "acq", "pay", "pending"); got != 1600 {
		t.Errorf("%d pay calls recorded, want 1600", got)
	}
	if got := count(t, r, "acq", "query", "pending"); got != 1600 {
		t.Errorf("%d query calls recorded, want 1600", got)
	}
}

func TestCallbackAndDispatchLabels(t *testing.T) {
	r := New()
	r.Callback("wechat", "applied")
	r.Callback("../etc", "unknown_channel")
	r.Dispatch("delivered")
	r.Dispatch("made-up")
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"paygate_callbacks_total", map[string]string{"channel": "wechat", "outcome": "applied"}, 1},
		{"paygate_callbacks_total", map[string]string{"channel": "unknown", "outcome": "unknown_channel"}, 1},
		{"paygate_webhook_deliveries_total", map[string]string{"outcome": "delivered"}, 1},
		{"paygate_webhook_deliveries_total", map[string]string{"outcome": "other"}, 1},
		{"paygate_webhook_deliveries_total", map[string]string{"outcome": "lost_lease"}, 0},
	} {
		if got, n := sample(t, r, c.name, c.labels); n != 1 || got != c.want {
			t.Errorf("%s %v = %v (%d series), want %v", c.name, c.labels, got, n, c.want)
		}
	}
	if _, n := sample(t, r, "paygate_callbacks_total", nil); n != 2 {
		t.Errorf("%d callback series, want 2", n)
	}
}

func BenchmarkChannelPay(b *testing.B) {
	r := New()
	ch := r.Channel(&card{res: &paygate.Result{Outcome: paygate.OutcomePending}})
	ctx, req := context.Background(), &paygate.PaymentRequest{}
	b.ReportAllocs()
	for b.Loop() {
		ch.Pay(ctx, req)
	}
}
