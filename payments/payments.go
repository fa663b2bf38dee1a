// Package payments is the payment flow: it starts payments at their channel
// and waits for them, closes, cancels, captures and refunds them, resolves
// those whose outcome is unknown, and applies every channel result — a
// synchronous answer, a callback, a query, a reconciliation repair — to the
// order or refund exactly once, through the store's compare-and-sets
// (README, "Layout"). The HTTP API, the callback handler, reconciliation
// and the background jobs all call it; it knows no HTTP.
package payments

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/paygate-cn/paygate"
)

// Payments drives orders and refunds through their channels. It is the one
// place that calls channels to move a payment, and the one place that
// applies their answers (ApplyResult, ApplyRefundResult).
//
// Applying results needs only Orders, Refunds and Now (and Recent, if set);
// the rest is for driving payments.
type Payments struct {
	Orders  paygate.OrderStore
	Refunds paygate.RefundStore
	Now     paygate.Clock
	// Recent, when set, is told of every order found or made paid, so that
	// duplicate success callbacks can be acknowledged without a read.
	Recent *RecentlyPaid

	Router   paygate.Router
	Channels map[string]paygate.Channel // by provider id
	// CallbackBase is the public URL channels call back, without the
	// trailing kind: "https://gw.example/callbacks/".
	CallbackBase string
	// PollInterval is the pause between queries while a customer confirms
	// a B-scan-C payment (default 2 s).
	PollInterval time.Duration
	// PaymentWindow, when set, shortens the payment window of B-scan-C
	// orders (their expires_at otherwise) and bounds how long a card
	// payment whose outcome is unknown may stay unresolved before
	// background resolution reverses it (default 2 min for cards).
	PaymentWindow time.Duration
	// ReversalLease is how long a reversal's claim on an order holds
	// before another reversal may take it over (default 1 min); see
	// README, "Refunds and reversals".
	ReversalLease time.Duration
	// ParseCard turns a card payment's card input into card data; nil means
	// card payments are not accepted.
	ParseCard func(in *paygate.CardInput) (*paygate.CardData, *paygate.CardInfo, error)
	// Terminals finds a merchant's terminal by its terminal id. An order
	// naming a terminal is taken only from an active terminal of its
	// merchant (docs/terminals.md); nil leaves terminal_id unchecked.
	Terminals TerminalFinder
	// Fallback moves a route to its next eligible candidate when the chosen
	// provider refused before anything was sent (circuit open); it reports
	// whether there was one. Nil disables fallback.
	Fallback func(route *paygate.Route, failed, reason string) bool
	Logger   *slog.Logger

	bg     sync.WaitGroup
	bgOnce sync.Once
	bgCtx  context.Context
	bgStop context.CancelFunc
}

func (p *Payments) now() time.Time { return p.Now() }

func (p *Payments) log() *slog.Logger {
	if p.Logger == nil {
		return slog.Default()
	}
	return p.Logger
}

func (p *Payments) pollInterval() time.Duration {
	if p.PollInterval <= 0 {
		return 2 * time.Second
	}
	return p.PollInterval
}

func (p *Payments) paymentWindow() time.Duration {
	if p.PaymentWindow <= 0 {
		return 2 * time.Minute
	}
	return p.PaymentWindow
}

// windowEnd is when an order's payment window ends: a B-scan-C order may
// be paid until its expires_at (README, "wait_seconds and the payment
// window"), a card payment whose outcome is unknown until paymentWindow
// after its creation.
func (p *Payments) windowEnd(o *paygate.Order) time.Time {
	if o.Method == paygate.MethodAuthCode && !o.ExpiresAt.IsZero() {
		end := o.ExpiresAt
		if p.PaymentWindow > 0 && o.CreatedAt.Add(p.PaymentWindow).Before(end) {
			end = o.CreatedAt.Add(p.PaymentWindow)
		}
		return end
	}
	return o.CreatedAt.Add(p.paymentWindow())
}

func (p *Payments) reversalLease() time.Duration {
	if p.ReversalLease <= 0 {
		return time.Minute
	}
	return p.ReversalLease
}

// Close waits for background work started by requests.
func (p *Payments) Close() {
	p.background()
	p.bgStop()
	p.bg.Wait()
}

func (p *Payments) background() context.Context {
	p.bgOnce.Do(func() { p.bgCtx, p.bgStop = context.WithCancel(context.Background()) })
	return p.bgCtx
}

// goBackground runs f after delay unless Payments is closing.
func (p *Payments) goBackground(delay time.Duration, f func(ctx context.Context)) {
	ctx := p.background()
	p.bg.Add(1)
	go func() {
		defer p.bg.Done()
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		f(ctx)
	}()
}

func (p *Payments) channel(providerID string) (paygate.Channel, error) {
	ch, ok := p.Channels[providerID]
	if !ok {
		return nil, paygate.Errorf(paygate.ECHANNELUNAVAILABLE, "provider %q is not configured", providerID)
	}
	return ch, nil
}

// reverse reverses a payment where the channel can; a channel's calls are
// timed and counted by the metrics decorator it comes wrapped in (README,
// "Channels and their decorators").
func (p *Payments) reverse(ctx context.Context, ch paygate.Channel, o *paygate.Order) (*paygate.Result, error) {
	rv, ok := paygate.As[paygate.Reverser](ch)
	if !ok {
		return nil, paygate.Errorf(paygate.EINVALIDSTATE, "provider %s cannot reverse payments", ch.ID())
	}
	return rv.Reverse(ctx, o)
}

func (p *Payments) apply(ctx context.Context, o *paygate.Order, r *paygate.Result, closedAs paygate.OrderStatus) (*paygate.Order, error) {
	o2, _, err := p.ApplyResult(ctx, o, r, closedAs)
	return o2, err
}

// channelFailure turns an unknown channel outcome into the API's 502/504.
func channelFailure(err error) error {
	var ce *paygate.ChannelError
	if errors.As(err, &ce) {
		if ce.Timeout {
			return paygate.Errorf(paygate.ECHANNELTIMEOUT, "the channel did not answer in time; retry")
		}
		return paygate.Errorf(paygate.ECHANNEL, "the channel answered with an error (%s); retry", ce.Code)
	}
	return err
}
