package paygate

import (
	"context"
	"time"
)

// NonceWindow is how long a request's nonce stays used: a signed request
// whose nonce was seen within it is refused as a replay (README, "The
// API").
const NonceWindow = 10 * time.Minute

// Admitter guards signed API requests against replay and applies each API
// key's request rate limit, shared by every replica (docs/configuration.md,
// "rate_limit"). One call is one round trip to the shared state.
type Admitter interface {
	// Admit records nonce as used by the key for NonceWindow and, when
	// rate.PerSecond > 0, takes one request from the key's allowance at
	// now. A replayed nonce or a request over the limit records nothing,
	// so the same signed request may be retried after the wait.
	// Returns an error when the shared state cannot be reached.
	Admit(ctx context.Context, keyID, nonce string, rate RequestRate, now time.Time) (Admission, error)
}

// RequestRate is a key's request rate limit: PerSecond requests a second
// with bursts of Burst. PerSecond 0 means no limit.
type RequestRate struct {
	PerSecond int
	Burst     int
}

// Admission is what Admit decided; the zero value admits the request.
type Admission struct {
	// Replayed: the nonce was already used within NonceWindow.
	Replayed bool
	// Wait > 0: the key is over its rate limit; one request will be
	// admitted after Wait.
	Wait time.Duration
}

// ActivationLimiter counts failed terminal activations per client address
// and overall, in fixed windows (docs/terminals.md, "Failed activation limits").
type ActivationLimiter interface {
	// ActivationWait answers how long client must wait before trying
	// again: what is left of the longest window whose count reached its
	// limit, 0 when none has. Returns an error when the counts cannot be
	// read.
	ActivationWait(ctx context.Context, client string, l ActivationLimits) (time.Duration, error)

	// ActivationFailed counts one failed attempt by client and overall; the
	// first failure of a window starts it. Returns an error when the
	// attempt could not be counted.
	ActivationFailed(ctx context.Context, client string, l ActivationLimits) error
}

// ActivationLimits are the failed activations allowed per window.
type ActivationLimits struct {
	PerClient int // from one client address
	Total     int // from everyone together
	Window    time.Duration
}

// CashierLimiter counts the payments started on the payer pages of static
// QR codes, per payer address and per code, in fixed one-minute windows
// (docs/cashier.md, "What the payer sees").
type CashierLimiter interface {
	// CashierPay counts one payment by client through the code and reports
	// whether both counts stay within l. The code's count is left alone
	// when the client is already over its limit. Returns an error when the
	// counts cannot be kept.
	CashierPay(ctx context.Context, client, codeID string, l CashierLimits) (bool, error)
}

// CashierLimits are the payments allowed per minute.
type CashierLimits struct {
	PerClient int // from one payer address
	PerCode   int // through one code
}
