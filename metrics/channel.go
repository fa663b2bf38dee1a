package metrics

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/prometheus/client_golang/prometheus"
)

// Channel operations, the op label of paygate_channel_call_seconds.
const (
	opPay = iota
	opQuery
	opRefund
	opRefundQuery
	opReverse
	opClose
	opCapture
	opVoidAuthorization
	opVoid
	numOps
)

var opNames = [numOps]string{"pay", "query", "refund", "refund_query", "reverse", "close", "capture", "void_authorization", "void"}

// Call outcomes, the outcome label: a classified answer's paygate.Outcome,
// "error" for any other error, "timeout" for a *paygate.ChannelError
// without an answer.
var outcomeNames = []string{
	string(paygate.OutcomeSuccess), string(paygate.OutcomeAuthorized), string(paygate.OutcomeDeclined),
	string(paygate.OutcomePending), string(paygate.OutcomeClosed), string(paygate.OutcomeNotFound),
	"error", "timeout",
}

const (
	outcomeError   = 6
	outcomeTimeout = 7
	numOutcomes    = 8
)

func outcomeIndex(o paygate.Outcome) int {
	switch o {
	case paygate.OutcomeSuccess:
		return 0
	case paygate.OutcomeAuthorized:
		return 1
	case paygate.OutcomeDeclined:
		return 2
	case paygate.OutcomePending:
		return 3
	case paygate.OutcomeClosed:
		return 4
	case paygate.OutcomeNotFound:
		return 5
	}
	return -1
}

// errorOutcome is the outcome of a call that returned err (non-nil).
func errorOutcome(err error) int {
	if ce, ok := errors.AsType[*paygate.ChannelError](err); ok && ce.Timeout {
		return outcomeTimeout
	}
	return outcomeError
}

// Channel decorates ch (README, "Channels and their decorators"): the
// duration of every call of Pay, Query, Refund, QueryRefund and of the
// optional abilities that move money (CloseOrder, Reverse, Capture,
// VoidAuthorization, Void) goes to paygate_channel_call_seconds by
// provider, op and outcome. Callback parsing and bill downloads are not
// timed; paygate.As finds them on the channel underneath. Like every
// decorator, the result has, through paygate.As, exactly the abilities of
// ch.
//
// A call allocates nothing here: each provider's series are looked up
// once and kept.
func (r *Registry) Channel(ch paygate.Channel) paygate.Channel {
	c := &channel{inner: ch, vec: r.channel, id: ch.ID()}
	c.closer, _ = paygate.As[paygate.OrderCloser](ch)
	c.reverser, _ = paygate.As[paygate.Reverser](ch)
	c.preAuth, _ = paygate.As[paygate.PreAuthorizer](ch)
	c.voider, _ = paygate.As[paygate.Voider](ch)
	return c
}

type channel struct {
	inner paygate.Channel
	vec   *prometheus.HistogramVec
	id    string
	// series[op][outcome], filled on first use.
	series [numOps][numOutcomes]atomic.Pointer[prometheus.Observer]

	// The abilities of inner (nil when it has none), found once.
	closer   paygate.OrderCloser
	reverser paygate.Reverser
	preAuth  paygate.PreAuthorizer
	voider   paygate.Voider
}

var (
	_ paygate.Channel       = (*channel)(nil)
	_ paygate.OrderCloser   = (*channel)(nil)
	_ paygate.Reverser      = (*channel)(nil)
	_ paygate.PreAuthorizer = (*channel)(nil)
	_ paygate.Voider        = (*channel)(nil)
)

func (c *channel) Unwrap() paygate.Channel { return c.inner }
func (c *channel) ID() string              { return c.id }
func (c *channel) Kind() string            { return c.inner.Kind() }

// observe records one call of op that started at start.
func (c *channel) observe(op, outcome int, start time.Time) {
	d := time.Since(start).Seconds()
	if outcome < 0 { // an outcome outside paygate's (none should be)
		c.vec.WithLabelValues(c.id, opNames[op], "error").Observe(d)
		return
	}
	slot := &c.series[op][outcome]
	o := slot.Load()
	if o == nil {
		ob := c.vec.WithLabelValues(c.id, opNames[op], outcomeNames[outcome])
		o = &ob
		slot.Store(o)
	}
	(*o).Observe(d)
}

// callOutcome is the outcome of a call that answered (o, err); answered
// is false for a nil result without an error.
func callOutcome(answered bool, o paygate.Outcome, err error) int {
	switch {
	case err != nil:
		return errorOutcome(err)
	case !answered:
		return outcomeError
	}
	return outcomeIndex(o)
}

func (c *channel) result(op int, start time.Time, res *paygate.Result, err error) (*paygate.Result, error) {
	var o paygate.Outcome
	if res != nil {
		o = res.Outcome
	}
	c.observe(op, callOutcome(res != nil, o, err), start)
	return res, err
}

func (c *channel) refundResult(op int, start time.Time, res *paygate.RefundResult, err error) (*paygate.RefundResult, error) {
	var o paygate.Outcome
	if res != nil {
		o = res.Outcome
	}
	c.observe(op, callOutcome(res != nil, o, err), start)
	return res, err
}

func (c *channel) Pay(ctx context.Context, req *paygate.PaymentRequest) (*paygate.Result, error) {
	start := time.Now()
	res, err := c.inner.Pay(ctx, req)
	return c.result(opPay, start, res, err)
}

func (c *channel) Query(ctx context.Context, o *paygate.Order) (*paygate.Result, error) {
	start := time.Now()
	res, err := c.inner.Query(ctx, o)
	return c.result(opQuery, start, res, err)
}

func (c *channel) Refund(ctx context.Context, req *paygate.RefundRequest) (*paygate.RefundResult, error) {
	start := time.Now()
	res, err := c.inner.Refund(ctx, req)
	return c.refundResult(opRefund, start, res, err)
}

func (c *channel) QueryRefund(ctx context.Context, r *paygate.Refund, o *paygate.Order) (*paygate.RefundResult, error) {
	start := time.Now()
	res, err := c.inner.QueryRefund(ctx, r, o)
	return c.refundResult(opRefundQuery, start, res, err)
}

// The optional abilities. paygate.As finds them on the decorator only when
// inner has them; called otherwise (a type assertion instead of
// paygate.As), they refuse without reaching the channel.

// CloseOrder's outcome is "closed", or "error" for any error.
func (c *channel) CloseOrder(ctx context.Context, o *paygate.Order) error {
	if c.closer == nil {
		return c.lacks("close orders")
	}
	start := time.Now()
	err := c.closer.CloseOrder(ctx, o)
	outcome := outcomeIndex(paygate.OutcomeClosed)
	if err != nil {
		outcome = outcomeError
	}
	c.observe(opClose, outcome, start)
	return err
}

func (c *channel) Reverse(ctx context.Context, o *paygate.Order) (*paygate.Result, error) {
	if c.reverser == nil {
		return nil, c.lacks("reverse payments")
	}
	start := time.Now()
	res, err := c.reverser.Reverse(ctx, o)
	return c.result(opReverse, start, res, err)
}

func (c *channel) Capture(ctx context.Context, o *paygate.Order, amount int64) (*paygate.Result, error) {
	if c.preAuth == nil {
		return nil, c.lacks("capture")
	}
	start := time.Now()
	res, err := c.preAuth.Capture(ctx, o, amount)
	return c.result(opCapture, start, res, err)
}

func (c *channel) VoidAuthorization(ctx context.Context, o *paygate.Order) (*paygate.Result, error) {
	if c.preAuth == nil {
		return nil, c.lacks("release authorisations")
	}
	start := time.Now()
	res, err := c.preAuth.VoidAuthorization(ctx, o)
	return c.result(opVoidAuthorization, start, res, err)
}

func (c *channel) Void(ctx context.Context, o *paygate.Order) (*paygate.Result, error) {
	if c.voider == nil {
		return nil, c.lacks("void sales")
	}
	start := time.Now()
	res, err := c.voider.Void(ctx, o)
	return c.result(opVoid, start, res, err)
}

func (c *channel) lacks(what string) error {
	return paygate.Errorf(paygate.EINVALIDSTATE, "provider %s cannot %s", c.id, what)
}
