package paygate_test

import (
	"context"
	"testing"

	"github.com/paygate-cn/paygate"
)

// base is a channel at the end of a chain; rev adds the Reverser ability.
type base struct{ id string }

func (b *base) ID() string   { return b.id }
func (b *base) Kind() string { return paygate.KindAcquirer }
func (b *base) Pay(context.Context, *paygate.PaymentRequest) (*paygate.Result, error) {
	return &paygate.Result{Outcome: paygate.OutcomeSuccess}, nil
}
func (b *base) Query(context.Context, *paygate.Order) (*paygate.Result, error) {
	return &paygate.Result{Outcome: paygate.OutcomeSuccess}, nil
}
func (b *base) Refund(context.Context, *paygate.RefundRequest) (*paygate.RefundResult, error) {
	return &paygate.RefundResult{Outcome: paygate.OutcomeSuccess}, nil
}
func (b *base) QueryRefund(context.Context, *paygate.Refund, *paygate.Order) (*paygate.RefundResult, error) {
	return &paygate.RefundResult{Outcome: paygate.OutcomeSuccess}, nil
}

type rev struct{ base }

func (r *rev) Reverse(context.Context, *paygate.Order) (*paygate.Result, error) {
	return &paygate.Result{Outcome: paygate.OutcomeClosed}, nil
}

func (r *rev) NewReference() string { return "ref-1" }

// plainDecorator forwards the core methods only.
type plainDecorator struct{ paygate.Channel }

func (d *plainDecorator) Unwrap() paygate.Channel { return d.Channel }

// observingDecorator implements Reverse to observe it, whatever it wraps.
type observingDecorator struct {
	paygate.Channel
	reversals int
}

func (d *observingDecorator) Unwrap() paygate.Channel { return d.Channel }

func (d *observingDecorator) Reverse(ctx context.Context, o *paygate.Order) (*paygate.Result, error) {
	d.reversals++
	r, _ := paygate.As[paygate.Reverser](d.Channel)
	return r.Reverse(ctx, o)
}

func TestAs(t *testing.T) {
	plain := &base{id: "p"}
	if _, ok := paygate.As[paygate.Reverser](plain); ok {
		t.Error("a channel without Reverse has the ability")
	}
	if r, ok := paygate.As[paygate.Reverser](&rev{base{id: "r"}}); !ok || r == nil {
		t.Error("an undecorated Reverser is not found")
	}

	// Through a decorator that does not observe the ability: the client's.
	inner := &rev{base{id: "r"}}
	r, ok := paygate.As[paygate.Reverser](&plainDecorator{&plainDecorator{inner}})
	if !ok || r != paygate.Reverser(inner) {
		t.Errorf("through plain decorators: %v %v, want the client", r, ok)
	}

	// A decorator observing the ability is the one found, and the call
	// reaches the client through it.
	obs := &observingDecorator{Channel: &plainDecorator{inner}}
	r, ok = paygate.As[paygate.Reverser](&plainDecorator{obs})
	if !ok || r != paygate.Reverser(obs) {
		t.Fatalf("observed: %v %v, want the observing decorator", r, ok)
	}
	if res, err := r.Reverse(context.Background(), &paygate.Order{}); err != nil || res.Outcome != paygate.OutcomeClosed || obs.reversals != 1 {
		t.Errorf("Reverse through the decorator: %v %v, %d observed", res, err, obs.reversals)
	}

	// A decorator never adds an ability its client lacks.
	if _, ok := paygate.As[paygate.Reverser](&observingDecorator{Channel: &plainDecorator{plain}}); ok {
		t.Error("an observing decorator over a plain client has the ability")
	}

	if _, ok := paygate.As[paygate.Reverser](nil); ok {
		t.Error("nil channel has the ability")
	}
}

func TestNewChannelReference(t *testing.T) {
	if got := paygate.NewChannelReference(&plainDecorator{&rev{base{id: "r"}}}); got != "ref-1" {
		t.Errorf("through a decorator: %q", got)
	}
	if got := paygate.NewChannelReference(&plainDecorator{&base{id: "p"}}); got != "" {
		t.Errorf("without the ability: %q", got)
	}
}

func BenchmarkAs(b *testing.B) {
	ch := paygate.Channel(&observingDecorator{Channel: &plainDecorator{&rev{base{id: "r"}}}})
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := paygate.As[paygate.Reverser](ch); !ok {
			b.Fatal("not found")
		}
	}
}
