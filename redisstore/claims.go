package redisstore

import (
	"context"
	"errors"
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/redis/go-redis/v9"
)

// claimTTL is how long a "processing" claim holds a notification: a
// delivery that dies while processing frees it after this.
const claimTTL = 30 * time.Second

// ClaimCallback claims the notification with SET NX GET: one round trip
// claims it for claimTTL and reads who held it.
func (s *Store) ClaimCallback(ctx context.Context, provider, id string) (paygate.CallbackClaim, error) {
	key := s.claims + provider + ":" + id
	prev, err := s.rdb.SetArgs(ctx, key, "processing", redis.SetArgs{Mode: "NX", TTL: claimTTL, Get: true}).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return paygate.CallbackClaim{Prior: paygate.ClaimFree, Ref: key}, nil
	case err != nil:
		return paygate.CallbackClaim{Ref: key}, err
	case prev == "done":
		return paygate.CallbackClaim{Prior: paygate.ClaimDone, Ref: key}, nil
	}
	return paygate.CallbackClaim{Prior: paygate.ClaimProcessing, Ref: key}, nil
}

// CallbackDone overwrites the claim with "done" for ttl.
func (s *Store) CallbackDone(ctx context.Context, ref string, ttl time.Duration) error {
	return s.rdb.Set(ctx, ref, "done", ttl).Err()
}

// ReleaseCallback deletes the claim.
func (s *Store) ReleaseCallback(ctx context.Context, ref string) error {
	return s.rdb.Del(ctx, ref).Err()
}
