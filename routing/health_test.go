package routing

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/paygate-cn/paygate"
)

// stubChannel answers Pay with what the test sets: a channel whose network
// failures cannot be produced on demand by the sandbox in-process.
type stubChannel struct {
	id    string
	err   error
	calls int
}

func (s *stubChannel) ID() string   { return s.id }
func (s *stubChannel) Kind() string { return paygate.KindAcquirer }
func (s *stubChannel) Pay(context.Context, *paygate.PaymentRequest) (*paygate.Result, error) {
	s.calls++
	if s.err != nil {
		return nil, s.err
	}
	return &paygate.Result{Outcome: paygate.OutcomeDeclined, Failure: &paygate.Failure{Code: "declined"}}, nil
}
func (s *stubChannel) Query(context.Context, *paygate.Order) (*paygate.Result, error) {
	return &paygate.Result{Outcome: paygate.OutcomeNotFound}, nil
}
func (s *stubChannel) Refund(context.Context, *paygate.RefundRequest) (*paygate.RefundResult, error) {
	return &paygate.RefundResult{Outcome: paygate.OutcomeSuccess}, nil
}
func (s *stubChannel) QueryRefund(context.Context, *paygate.Refund, *paygate.Order) (*paygate.RefundResult, error) {
	return &paygate.RefundResult{Outcome: paygate.OutcomeSuccess}, nil
}

type reversingStub struct{ stubChannel }

func (s *reversingStub) Reverse(context.Context, *paygate.Order) (*paygate.Result, error) {
	return nil, &paygate.ChannelError{Provider: s.id, Op: "reverse", Timeout: true}
}

type fullStub struct{ reversingStub }

func (s *fullStub) CloseOrder(context.Context, *paygate.Order) error { return nil }
func (s *fullStub) Capture(context.Context, *paygate.Order, int64) (*paygate.Result, error) {
	return &paygate.Result{Outcome: paygate.OutcomeSuccess}, nil
}
func (s *fullStub) VoidAuthorization(context.Context, *paygate.Order) (*paygate.Result, error) {
	return &paygate.Result{Outcome: paygate.OutcomeClosed}, nil
}
func (s *fullStub) FetchBill(_ context.Context, _ time.Time, w io.Writer) (*paygate.BillInfo, error) {
	_, err := io.WriteString(w, "bill")
	return &paygate.BillInfo{}, err
}

func TestCircuitBreaker(t *testing.T) {
	clk := newClock()
	h := NewHealth(HealthOptions{FailureThreshold: 3, CoolDown: 30 * time.Second, Now: clk.Now})
	inner := &stubChannel{id: "acq", err: &paygate.ChannelError{Provider: "acq", Op: "pay", Timeout: true}}
	ch := h.Wrap(inner)
	ctx := context.Background()
	pay := func() error { _, err := ch.Pay(ctx, &paygate.PaymentRequest{}); return err }

	for i := 0; i < 3; i++ {
		var ce *paygate.ChannelError
		if err := pay(); !errors.As(err, &ce) {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if s := h.Status("acq"); s.State != CircuitOpen || s.ConsecutiveFailures != 3 || s.SuccessRate != 0 {
		t.Fatalf("status %+v", s)
	}
	// Open: nothing is sent.
	err := pay()
	if paygate.ErrorCode(err) != paygate.ECHANNELUNAVAILABLE || inner.calls != 3 {
		t.Fatalf("while open: %v, %d calls", err, inner.calls)
	}
	var ce *paygate.ChannelError
	if errors.As(err, &ce) {
		t.Fatal("refusal must not be a ChannelError: nothing was sent")
	}
	// Other calls still go through.
	if _, err := ch.Query(ctx, &paygate.Order{}); err != nil {
		t.Fatal(err)
	}
	if h.Status("acq").State != CircuitClosed {
		t.Fatal("a classified answer closes the circuit")
	}
	for i := 0; i < 3; i++ {
		_ = pay()
	}
	// Half-open after the cool-down: one probe, then refused until it reports.
	clk.Add(30 * time.Second)
	if ok, _ := h.allow(h.provider("acq")); !ok {
		t.Fatal("probe refused")
	}
	if ok, _ := h.allow(h.provider("acq")); ok {
		t.Fatal("second probe admitted")
	}
	h.Report("acq", &paygate.ChannelError{Provider: "acq"}) // probe failed: open again
	if s := h.Status("acq"); s.State != CircuitOpen || !s.Since.Equal(clk.Now()) {
		t.Fatalf("after failed probe %+v", s)
	}
	clk.Add(30 * time.Second)
	inner.err = nil // the channel is back: a decline is a working channel
	if err := pay(); err != nil {
		t.Fatal(err)
	}
	if s := h.Status("acq"); s.State != CircuitClosed || s.ConsecutiveFailures != 0 {
		t.Fatalf("after probe success %+v", s)
	}
	// Neutral errors count for nothing.
	inner.err = context.Canceled
	for i := 0; i < 5; i++ {
		_ = pay()
	}
	if s := h.Status("acq"); s.State != CircuitClosed || s.ConsecutiveFailures != 0 {
		t.Fatalf("after cancellations %+v", s)
	}
}

func TestSuccessRateWindow(t *testing.T) {
	h := NewHealth(HealthOptions{FailureThreshold: 1000, Window: 4})
	for _, err := range []error{nil, nil, &paygate.ChannelError{}, &paygate.ChannelError{}, nil, nil} {
		h.Report("p", err)
	}
	if got := h.Status("p").SuccessRate; got != 500 { // last four: fail fail ok ok
		t.Fatalf("rate %d", got)
	}
}

func TestWrapForwardsOptionalInterfaces(t *testing.T) {
	h := NewHealth(HealthOptions{FailureThreshold: 1})
	plain := h.Wrap(&stubChannel{id: "a"})
	if _, ok := paygate.As[paygate.Reverser](plain); ok {
		t.Error("plain channel became a Reverser")
	}
	if u, ok := plain.(interface{ Unwrap() paygate.Channel }); !ok || u.Unwrap().ID() != "a" {
		t.Error("Unwrap")
	}
	rev := h.Wrap(&reversingStub{stubChannel{id: "b"}})
	r, ok := paygate.As[paygate.Reverser](rev)
	if !ok {
		t.Fatal("Reverser not forwarded")
	}
	if _, ok := paygate.As[paygate.OrderCloser](rev); ok {
		t.Error("reverser became an OrderCloser")
	}
	if _, err := r.Reverse(context.Background(), &paygate.Order{}); err == nil || h.Status("b").State != CircuitOpen {
		t.Errorf("reverse timeout not reported: %v %+v", err, h.Status("b"))
	}
	full := h.Wrap(&fullStub{reversingStub{stubChannel{id: "c"}}})
	_, c1 := paygate.As[paygate.OrderCloser](full)
	_, c2 := paygate.As[paygate.Reverser](full)
	_, c3 := paygate.As[paygate.PreAuthorizer](full)
	_, c4 := paygate.As[paygate.BillFetcher](full)
	_, c5 := paygate.As[paygate.CallbackParser](full)
	if !c1 || !c2 || !c3 || !c4 || c5 {
		t.Errorf("full: closer %v reverser %v preauth %v bills %v callbacks %v", c1, c2, c3, c4, c5)
	}
	bills, _ := paygate.As[paygate.BillFetcher](full)
	var b strings.Builder
	if _, err := bills.FetchBill(context.Background(), time.Now(), &b); err != nil || b.String() != "bill" {
		t.Errorf("bill %q %v", b.String(), err)
	}
}

// failingAbilities answers every optional call with an unknown outcome.
type failingAbilities struct{ stubChannel }

func (s *failingAbilities) timeout(op string) error {
	return &paygate.ChannelError{Provider: s.id, Op: op, Timeout: true}
}
func (s *failingAbilities) CloseOrder(context.Context, *paygate.Order) error {
	return s.timeout("close")
}
func (s *failingAbilities) Reverse(context.Context, *paygate.Order) (*paygate.Result, error) {
	return nil, s.timeout("reverse")
}
func (s *failingAbilities) Capture(context.Context, *paygate.Order, int64) (*paygate.Result, error) {
	return nil, s.timeout("capture")
}
func (s *failingAbilities) VoidAuthorization(context.Context, *paygate.Order) (*paygate.Result, error) {
	return nil, s.timeout("void_authorization")
}

// An optional ability found through the wrapper (paygate.As) runs through
// it: its outcome is the provider's health like Pay's.
func TestWrapReportsOptionalCalls(t *testing.T) {
	ctx := context.Background()
	h := NewHealth(HealthOptions{FailureThreshold: 100})
	// Behind another decorator, as cmd/paygate stacks them.
	ch := &outerDecorator{h.Wrap(&failingAbilities{stubChannel{id: "f"}})}
	closer, ok1 := paygate.As[paygate.OrderCloser](ch)
	rev, ok2 := paygate.As[paygate.Reverser](ch)
	pa, ok3 := paygate.As[paygate.PreAuthorizer](ch)
	if !ok1 || !ok2 || !ok3 {
		t.Fatalf("abilities %v %v %v", ok1, ok2, ok3)
	}
	want := 0
	for name, call := range map[string]func() error{
		"close":   func() error { return closer.CloseOrder(ctx, &paygate.Order{}) },
		"reverse": func() error { _, err := rev.Reverse(ctx, &paygate.Order{}); return err },
		"capture": func() error { _, err := pa.Capture(ctx, &paygate.Order{}, 1); return err },
		"void":    func() error { _, err := pa.VoidAuthorization(ctx, &paygate.Order{}); return err },
	} {
		want++
		if err := call(); err == nil {
			t.Errorf("%s: no error", name)
		}
		if s := h.Status("f"); s.ConsecutiveFailures != want {
			t.Errorf("after %s: %d consecutive failures, want %d", name, s.ConsecutiveFailures, want)
		}
	}

	// Called on a wrapper whose channel lacks the ability (a type
	// assertion instead of paygate.As), it refuses and reports nothing.
	plain := h.Wrap(&stubChannel{id: "p"})
	_, err := plain.(paygate.Reverser).Reverse(ctx, &paygate.Order{})
	if paygate.ErrorCode(err) != paygate.EINVALIDSTATE {
		t.Errorf("reverse without the ability: %v", err)
	}
	if s := h.Status("p"); s.SuccessRate != 1000 || s.ConsecutiveFailures != 0 {
		t.Errorf("refusal reported: %+v", s)
	}
}

// outerDecorator forwards the core calls only.
type outerDecorator struct{ paygate.Channel }

func (d *outerDecorator) Unwrap() paygate.Channel { return d.Channel }
