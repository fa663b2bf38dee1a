// Package callbacks is what arrives from channels and what goes to
// merchants: inbound channel notifications (verify, deduplicate in Redis,
// hand the result to the payments package, which applies it with a
// compare-and-set) and outbound merchant webhooks (outbox, signing,
// retries).
package callbacks

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/payments"
)

// Parser is a provider that receives callbacks.
type Parser interface {
	paygate.Channel
	paygate.CallbackParser
}

// Applier applies a channel's result to its order or refund exactly once
// (a compare-and-set); *payments.Payments is one.
type Applier interface {
	ApplyResult(ctx context.Context, o *paygate.Order, r *paygate.Result, closedAs paygate.OrderStatus) (*paygate.Order, bool, error)
	ApplyRefundResult(ctx context.Context, o *paygate.Order, ref *paygate.Refund, r *paygate.RefundResult) (*paygate.Refund, bool, error)
}

// Inbound processes channel notifications: verify (and decrypt), deduplicate
// with a claim (in Redis), hand the result to the Applier (docs/webhooks.md).
//
// The claims are a fast path, not the guard: a notification whose claim is
// marked done is acknowledged without touching the database; anything else
// goes to the database, whose compare-and-set applies each transition once
// whether the claims answered or not.
type Inbound struct {
	// Parsers returns the providers of a channel kind that receive callbacks.
	Parsers func(kind string) []Parser
	// Orders and Refunds find what a notification names.
	Orders  paygate.OrderStore
	Refunds paygate.RefundStore
	Applier Applier
	// Claims deduplicate notifications ahead of the database (the
	// redisstore package keeps them in Redis); nil: database only.
	Claims paygate.CallbackClaims
	// DoneTTL is how long a processed notification id is remembered.
	DoneTTL time.Duration
	Logger  *slog.Logger
	// Observe, when set, is told the outcome of each callback
	// ("applied"; "duplicate" when its claim says it was applied, "unchanged"
	// when the database's compare-and-set finds nothing to do — both are
	// replays; "rejected_signature", "rejected_stale", "rejected_malformed",
	// "rejected_provider", "rejected_amount", "unknown_order", ...).
	Observe func(kind, outcome string)
	// Recent, when set, spares the database read for success notifications
	// of orders this process recently saw paid (see payments.RecentlyPaid);
	// the claim still comes first.
	Recent *payments.RecentlyPaid

	// marks tracks the "done" marks still being written to the claims
	// (Redis) after their answer; Close waits for them.
	marks sync.WaitGroup
}

// Close waits for the "done" marks still being written. Call it after the
// last Handle has returned and before closing the Redis client behind the
// claims.
func (in *Inbound) Close() { in.marks.Wait() }

// Result of processing one callback.
type Result struct {
	Status      int
	ContentType string
	Body        []byte
	Outcome     string
	Err         error
}

// Handle processes one callback for kind and returns what to answer.
func (in *Inbound) Handle(ctx context.Context, kind string, header map[string][]string, body []byte) Result {
	parsers := in.Parsers(kind)
	if len(parsers) == 0 {
		return in.finish(kind, nil, "unknown_channel", paygate.Errorf(paygate.ENOTFOUND, "no provider of kind %q receives callbacks", kind))
	}
	var n *paygate.Notification
	var p Parser
	var err error
	for _, p = range parsers {
		if n, err = p.ParseCallback(ctx, header, body); err == nil {
			break
		}
	}
	if err != nil {
		outcome := "rejected_malformed"
		switch paygate.ErrorCode(err) {
		case paygate.EINVALIDSIG:
			outcome = "rejected_signature"
		case paygate.ESTALETIMESTAMP:
			outcome = "rejected_stale"
		}
		return in.finish(kind, parsers[0], outcome, err)
	}
	n.Provider = p.ID()

	var claim paygate.CallbackClaim
	if in.Claims != nil {
		// The claim holds the notification for a short while and, in the
		// same round trip, reads who held it: "done" is the fast path for
		// duplicates of a notification already applied.
		var cerr error
		claim, cerr = in.Claims.ClaimCallback(ctx, n.Provider, n.ID)
		switch {
		case cerr != nil:
			in.log().Warn("callback dedup: redis unavailable, database only", "err", cerr)
		case claim.Prior == paygate.ClaimDone:
			return in.finish(kind, p, "duplicate", nil)
		}
		// ClaimFree: this delivery processes it. ClaimProcessing: another
		// delivery is being processed right now; the database's
		// compare-and-set decides.
	}

	// A success for an order this process recently saw paid changes
	// nothing: the database read is skipped, with the outcome it would give.
	outcome, err := "unchanged", error(nil)
	if !in.Recent.Settled(n) {
		outcome, err = in.apply(ctx, p, n)
	}
	if err != nil {
		if in.Claims != nil {
			in.Claims.ReleaseCallback(context.WithoutCancel(ctx), claim.Ref)
		}
		return in.finish(kind, p, outcome, err)
	}
	if in.Claims != nil {
		ttl := in.DoneTTL
		if ttl == 0 {
			ttl = 72 * time.Hour
		}
		// The mark is a fast path only, so the answer does not wait for it:
		// a duplicate arriving before it lands finds "processing" and asks
		// the database, which decides the same.
		ref := claim.Ref
		in.marks.Add(1)
		go func() {
			defer in.marks.Done()
			in.Claims.CallbackDone(context.WithoutCancel(ctx), ref, ttl)
		}()
	}
	return in.finish(kind, p, outcome, nil)
}

func (in *Inbound) apply(ctx context.Context, p Parser, n *paygate.Notification) (string, error) {
	a := in.Applier
	switch {
	case n.OrderID != "" && n.Result != nil:
		o, err := in.Orders.OrderByID(ctx, n.OrderID)
		if err != nil {
			return "unknown_order", err
		}
		if o.Provider != n.Provider {
			return "rejected_provider", paygate.Errorf(paygate.EINVALID,
				"notification from provider %s for an order of provider %s", n.Provider, o.Provider)
		}
		_, applied, err := a.ApplyResult(ctx, o, n.Result, paygate.OrderClosed)
		if err != nil {
			return "rejected_amount", err
		}
		if applied {
			return "applied", nil
		}
		return "unchanged", nil
	case n.RefundID != "" && n.Refund != nil:
		ref, err := in.Refunds.RefundByID(ctx, n.RefundID)
		if err != nil {
			return "unknown_refund", err
		}
		o, err := in.Orders.OrderByID(ctx, ref.OrderID)
		if err != nil {
			return "unknown_order", err
		}
		if o.Provider != n.Provider {
			return "rejected_provider", paygate.Errorf(paygate.EINVALID, "refund notification from another provider")
		}
		_, applied, err := a.ApplyRefundResult(ctx, o, ref, n.Refund)
		if err != nil {
			return "rejected_amount", err
		}
		if applied {
			return "applied", nil
		}
		return "unchanged", nil
	}
	return "ignored", nil
}

func (in *Inbound) finish(kind string, p Parser, outcome string, err error) Result {
	if in.Observe != nil {
		in.Observe(kind, outcome)
	}
	r := Result{Outcome: outcome, Err: err, Status: 404, ContentType: "text/plain"}
	if p != nil {
		r.Status, r.ContentType, r.Body = p.CallbackReply(err)
	}
	var pe *paygate.Error
	if err != nil && !errors.As(err, &pe) {
		in.log().Error("callback processing failed", "kind", kind, "outcome", outcome, "err", err)
	} else if err != nil {
		in.log().Warn("callback rejected", "kind", kind, "outcome", outcome, "code", pe.Code, "message", pe.Message)
	}
	return r
}

func (in *Inbound) log() *slog.Logger {
	if in.Logger == nil {
		return slog.Default()
	}
	return in.Logger
}
