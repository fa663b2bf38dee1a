package paygate

import (
	"context"
	"time"
)

// CallbackClaims deduplicate inbound channel notifications ahead of the
// database (docs/webhooks.md, "Inbound: channel callbacks"). They are a fast path, not the
// guard: the database's compare-and-set applies each transition once
// whatever a claim answered.
type CallbackClaims interface {
	// ClaimCallback claims the notification id of a provider for a short
	// while and answers, in the same step, who held it before. The claim's
	// Ref is set even with an error, so that CallbackDone may still mark
	// the notification once the state is back.
	ClaimCallback(ctx context.Context, provider, id string) (CallbackClaim, error)

	// CallbackDone marks a claimed notification applied for ttl: its
	// replays are answered without the database.
	CallbackDone(ctx context.Context, ref string, ttl time.Duration) error

	// ReleaseCallback drops the claim of a notification whose processing
	// failed, so that a redelivery is processed afresh.
	ReleaseCallback(ctx context.Context, ref string) error
}

// CallbackClaim is the answer of ClaimCallback.
type CallbackClaim struct {
	Prior ClaimState
	// Ref names the claim for CallbackDone and ReleaseCallback.
	Ref string
}

// ClaimState is who held a notification before a claim.
type ClaimState int

// Claim states.
const (
	ClaimFree       ClaimState = iota // nobody: this delivery processes it
	ClaimProcessing                   // another delivery is processing it right now
	ClaimDone                         // it was applied: a replay
)
