package paygate

import (
	"context"
	"time"
)

// IdempotencyRecord is the stored outcome of the first request that used an
// Idempotency-Key.
type IdempotencyRecord struct {
	MerchantID  string
	Key         string
	RequestHash string // SHA-256 of method, path and body
	Done        bool   // false while the first request is still running
	StatusCode  int
	Body        []byte
	CreatedAt   time.Time
	LockedUntil time.Time // a running record whose lock expired may be taken over
}

// IdempotencyStore keeps Idempotency-Key records (README, Idempotency).
type IdempotencyStore interface {
	// BeginIdempotent claims (merchantID, key) for a request with the given
	// hash. It returns (nil, nil) if the caller now owns the key and must run
	// the request, or the existing record otherwise; the caller then replays
	// it (Done, same hash), answers EIDEMPOTENCYINUSE (not Done) or
	// EIDEMPOTENCYREUSED (other hash). A running record whose lock expired
	// is taken over by the caller.
	BeginIdempotent(ctx context.Context, merchantID, key, hash string, lockUntil time.Time) (*IdempotencyRecord, error)

	// FinishIdempotent stores the response of the request that owns the key.
	FinishIdempotent(ctx context.Context, merchantID, key string, status int, body []byte) error

	// AbandonIdempotent releases a key whose request produced nothing worth
	// replaying (it failed before doing anything), so that a retry runs anew.
	AbandonIdempotent(ctx context.Context, merchantID, key string) error

	// PurgeIdempotent deletes records created before `before`.
	PurgeIdempotent(ctx context.Context, before time.Time) (int64, error)
}
