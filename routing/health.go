package routing

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paygate-cn/paygate"
)

// HealthOptions tune circuit breaking; zero values take the defaults.
type HealthOptions struct {
	// FailureThreshold consecutive failures (timeouts included) open a
	// provider's circuit. Default 5.
	FailureThreshold int
	// CoolDown is how long a circuit stays open before one probe may go
	// through. Default 30s.
	CoolDown time.Duration
	// Window is how many recent outcomes the success rate covers
	// (at most 1024). Default 100.
	Window int
	// Now is the clock; default time.Now.
	Now paygate.Clock
}

// Health tracks, per provider and in this process, consecutive failures,
// a recent success rate and the circuit state. It is safe for concurrent
// use. A failure is a *paygate.ChannelError (the outcome is unknown:
// timeout, 5xx, malformed answer); any classified answer, declines
// included, is a success of the channel; other errors (a cancelled
// context, a request the channel adapter refused) count as neither.
type Health struct {
	opts HealthOptions
	mu   sync.Mutex
	byID map[string]*providerHealth
}

// NewHealth returns a Health with every circuit closed.
func NewHealth(opts HealthOptions) *Health {
	if opts.FailureThreshold <= 0 {
		opts.FailureThreshold = 5
	}
	if opts.CoolDown <= 0 {
		opts.CoolDown = 30 * time.Second
	}
	if opts.Window <= 0 {
		opts.Window = 100
	}
	if opts.Window > 1024 {
		opts.Window = 1024
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Health{opts: opts, byID: make(map[string]*providerHealth)}
}

// Circuit states.
const (
	CircuitClosed   = "closed"
	CircuitOpen     = "open"
	CircuitHalfOpen = "half_open" // one probe is in flight
)

type providerHealth struct {
	mu          sync.Mutex
	consecutive int       // consecutive failures
	state       string    // Circuit*
	openedAt    time.Time // when the circuit last opened
	probeAt     time.Time // when the half-open probe went out
	ring        [1024]bool
	n, next     int // outcomes held, next slot
	successes   int

	// Read without the lock by routing's hot path; written under mu.
	closed atomic.Bool
	rate   atomic.Int32 // per mille
}

// publish refreshes the lock-free view; p.mu is held.
func (p *providerHealth) publish() {
	p.closed.Store(p.state == CircuitClosed)
	r := 1000
	if p.n > 0 {
		r = p.successes * 1000 / p.n
	}
	p.rate.Store(int32(r))
}

func (h *Health) provider(id string) *providerHealth {
	h.mu.Lock()
	defer h.mu.Unlock()
	p := h.byID[id]
	if p == nil {
		p = &providerHealth{state: CircuitClosed}
		p.publish()
		h.byID[id] = p
	}
	return p
}

// Status is a snapshot of one provider's health.
type Status struct {
	State string
	// Since is when the circuit opened (zero when closed).
	Since time.Time
	// ConsecutiveFailures since the last success.
	ConsecutiveFailures int
	// SuccessRate in per mille over the window; 1000 with no outcomes yet.
	SuccessRate int
}

// Status returns provider id's health.
func (h *Health) Status(id string) Status {
	return h.provider(id).status()
}

// States returns the circuit state of every provider seen so far, by id
// (for /metrics).
func (h *Health) States() map[string]string {
	h.mu.Lock()
	ids := make(map[string]*providerHealth, len(h.byID))
	for id, p := range h.byID {
		ids[id] = p
	}
	h.mu.Unlock()
	out := make(map[string]string, len(ids))
	for id, p := range ids {
		out[id] = p.status().State
	}
	return out
}

func (p *providerHealth) status() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := Status{State: p.state, ConsecutiveFailures: p.consecutive, SuccessRate: 1000}
	if p.state != CircuitClosed {
		s.Since = p.openedAt
	}
	if p.n > 0 {
		s.SuccessRate = p.successes * 1000 / p.n
	}
	return s
}

// routable reports whether routing may choose the provider now: the
// circuit is closed, or open for at least the cool-down so that the next
// payment is the probe. It changes nothing.
func (h *Health) routable(p *providerHealth, now func() time.Time) (ok bool, state string, since time.Time, rate int) {
	if p.closed.Load() {
		return true, CircuitClosed, time.Time{}, int(p.rate.Load())
	}
	return h.routableSlow(p, now())
}

func (h *Health) routableSlow(p *providerHealth, now time.Time) (ok bool, state string, since time.Time, rate int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	rate = 1000
	if p.n > 0 {
		rate = p.successes * 1000 / p.n
	}
	switch p.state {
	case CircuitOpen:
		return !now.Before(p.openedAt.Add(h.opts.CoolDown)), p.state, p.openedAt, rate
	case CircuitHalfOpen:
		// A probe that never reported frees the slot after a cool-down.
		return !now.Before(p.probeAt.Add(h.opts.CoolDown)), p.state, p.openedAt, rate
	}
	return true, p.state, time.Time{}, rate
}

// allow admits a payment: always while closed; while open, the first one
// after the cool-down goes through as the probe (half-open) and the others
// are refused until it reports.
func (h *Health) allow(p *providerHealth) (bool, time.Time) {
	now := h.opts.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	switch p.state {
	case CircuitOpen:
		if now.Before(p.openedAt.Add(h.opts.CoolDown)) {
			return false, p.openedAt
		}
	case CircuitHalfOpen:
		if now.Before(p.probeAt.Add(h.opts.CoolDown)) {
			return false, p.openedAt
		}
	default:
		return true, time.Time{}
	}
	p.state = CircuitHalfOpen
	p.probeAt = now
	p.publish()
	return true, time.Time{}
}

// outcome kinds
const (
	neutral = iota
	success
	failure
)

func classify(err error) int {
	if err == nil {
		return success
	}
	var ce *paygate.ChannelError
	if errors.As(err, &ce) {
		return failure
	}
	return neutral
}

// Report records the outcome of a call to provider id (err as returned by
// the channel). Wrap calls it; callers that do not wrap may call it.
func (h *Health) Report(id string, err error) {
	h.report(h.provider(id), classify(err))
}

func (h *Health) report(p *providerHealth, kind int) {
	now := h.opts.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	defer p.publish()
	if kind == neutral {
		if p.state == CircuitHalfOpen {
			p.state = CircuitOpen // the probe told nothing: let another one go
			p.probeAt = time.Time{}
		}
		return
	}
	ok := kind == success
	if p.n == h.opts.Window {
		if p.ring[p.next] {
			p.successes--
		}
	} else {
		p.n++
	}
	p.ring[p.next] = ok
	if ok {
		p.successes++
	}
	p.next = (p.next + 1) % h.opts.Window
	if ok {
		p.consecutive = 0
		p.state = CircuitClosed
		return
	}
	p.consecutive++
	if p.state == CircuitHalfOpen || (p.state == CircuitClosed && p.consecutive >= h.opts.FailureThreshold) {
		p.state = CircuitOpen
		p.openedAt = now
	}
}

// Wrap returns ch reporting every call's outcome to h. While the circuit is
// open, Pay sends nothing and returns a *paygate.Error ECHANNELUNAVAILABLE,
// so the caller knows the payment did not reach the channel and may fall
// back to the next candidate (see Fallback). The other calls always go
// through: queries, refunds and reversals resolve money already moved.
//
// The result is a decorator (README, "Channels and their decorators"): it
// has, through paygate.As, exactly the optional abilities ch has. The
// outcomes of CloseOrder, Reverse, Capture and VoidAuthorization are
// reported like the core calls'; callback parsing and bill downloads are
// not channel health (a forged callback is not the channel failing), so
// the wrapper leaves them to the channel underneath.
func (h *Health) Wrap(ch paygate.Channel) paygate.Channel {
	w := &wrapped{inner: ch, h: h, p: h.provider(ch.ID())}
	w.closer, _ = paygate.As[paygate.OrderCloser](ch)
	w.reverser, _ = paygate.As[paygate.Reverser](ch)
	w.preAuth, _ = paygate.As[paygate.PreAuthorizer](ch)
	return w
}

type wrapped struct {
	inner paygate.Channel
	h     *Health
	p     *providerHealth

	// The abilities of inner (nil when it has none), found once.
	closer   paygate.OrderCloser
	reverser paygate.Reverser
	preAuth  paygate.PreAuthorizer
}

var (
	_ paygate.Channel       = (*wrapped)(nil)
	_ paygate.OrderCloser   = (*wrapped)(nil)
	_ paygate.Reverser      = (*wrapped)(nil)
	_ paygate.PreAuthorizer = (*wrapped)(nil)
)

func (w *wrapped) Unwrap() paygate.Channel { return w.inner }
func (w *wrapped) ID() string              { return w.inner.ID() }
func (w *wrapped) Kind() string            { return w.inner.Kind() }

func (w *wrapped) observe(err error) { w.h.report(w.p, classify(err)) }

func (w *wrapped) Pay(ctx context.Context, req *paygate.PaymentRequest) (*paygate.Result, error) {
	if ok, since := w.h.allow(w.p); !ok {
		return nil, &paygate.Error{Code: paygate.ECHANNELUNAVAILABLE,
			Message: "provider " + w.inner.ID() + " circuit open since " + since.UTC().Format(time.RFC3339) + "; nothing was sent"}
	}
	res, err := w.inner.Pay(ctx, req)
	w.observe(err)
	return res, err
}

func (w *wrapped) Query(ctx context.Context, o *paygate.Order) (*paygate.Result, error) {
	res, err := w.inner.Query(ctx, o)
	w.observe(err)
	return res, err
}

func (w *wrapped) Refund(ctx context.Context, req *paygate.RefundRequest) (*paygate.RefundResult, error) {
	res, err := w.inner.Refund(ctx, req)
	w.observe(err)
	return res, err
}

func (w *wrapped) QueryRefund(ctx context.Context, r *paygate.Refund, o *paygate.Order) (*paygate.RefundResult, error) {
	res, err := w.inner.QueryRefund(ctx, r, o)
	w.observe(err)
	return res, err
}

// The optional abilities. paygate.As finds them on the wrapper only when
// inner has them; called otherwise (a direct type assertion), they refuse
// without reaching the channel.

func (w *wrapped) CloseOrder(ctx context.Context, o *paygate.Order) error {
	if w.closer == nil {
		return w.lacks("close orders")
	}
	err := w.closer.CloseOrder(ctx, o)
	w.observe(err)
	return err
}

func (w *wrapped) Reverse(ctx context.Context, o *paygate.Order) (*paygate.Result, error) {
	if w.reverser == nil {
		return nil, w.lacks("reverse payments")
	}
	res, err := w.reverser.Reverse(ctx, o)
	w.observe(err)
	return res, err
}

func (w *wrapped) Capture(ctx context.Context, o *paygate.Order, amount int64) (*paygate.Result, error) {
	if w.preAuth == nil {
		return nil, w.lacks("capture")
	}
	res, err := w.preAuth.Capture(ctx, o, amount)
	w.observe(err)
	return res, err
}

func (w *wrapped) VoidAuthorization(ctx context.Context, o *paygate.Order) (*paygate.Result, error) {
	if w.preAuth == nil {
		return nil, w.lacks("release authorisations")
	}
	res, err := w.preAuth.VoidAuthorization(ctx, o)
	w.observe(err)
	return res, err
}

func (w *wrapped) lacks(what string) error {
	return paygate.Errorf(paygate.EINVALIDSTATE, "provider %s cannot %s", w.inner.ID(), what)
}
