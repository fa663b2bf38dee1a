// Package redistest gives a test its own corner of a real Redis: the
// server at 127.0.0.1:6379 (PAYGATE_TEST_REDIS_URL points elsewhere) or an
// in-process miniredis, a key prefix of the test's own, the adapter over
// it, and what a test needs to look at the keys and count round trips.
// Only tests import it.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/paygate-cn/paygate/redisstore"
	"github.com/redis/go-redis/v9"
)

// Redis is one test's Redis: every key it writes starts with Prefix and is
// removed when the test ends.
type Redis struct {
	Client *redis.Client
	Prefix string
	// Store is the adapter over Client with Prefix.
	Store *redisstore.Store
	// Mini is the in-process server of NewMini; nil for real Redis.
	Mini  *miniredis.Miniredis
	trips atomic.Int64
}

// URL is the Redis the tests use.
func URL() string {
	if u := os.Getenv("PAYGATE_TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// New connects to the tests' Redis (URL) and fails the test when it does
// not answer.
func New(t testing.TB) *Redis {
	t.Helper()
	opt, err := redis.ParseURL(URL())
	if err != nil {
		t.Fatalf("redis: %v", err)
	}
	return open(t, redis.NewClient(opt), nil)
}

// NewMini starts an in-process miniredis, the server paygate runs when no
// Redis is configured.
func NewMini(t testing.TB) *Redis {
	t.Helper()
	mr := miniredis.NewMiniRedis()
	if err := mr.StartAddr("127.0.0.1:0"); err != nil {
		t.Fatalf("miniredis: %v", err)
	}
	t.Cleanup(mr.Close)
	return open(t, redis.NewClient(&redis.Options{Addr: mr.Addr()}), mr)
}

func open(t testing.TB, rdb *redis.Client, mr *miniredis.Miniredis) *Redis {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		t.Fatalf("redis: %v", err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	r := &Redis{Client: rdb, Prefix: "test:" + hex.EncodeToString(b[:]) + ":", Mini: mr}
	rdb.AddHook(roundTrips{&r.trips})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if keys, _ := rdb.Keys(ctx, r.Prefix+"*").Result(); len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
		rdb.Close()
	})
	s, err := redisstore.New(rdb, r.Prefix)
	if err != nil {
		t.Fatal(err)
	}
	r.Store = s
	return r
}

// Keys returns the keys under the test's prefix matching pattern (a Redis
// glob after the prefix; "*" for all).
func (r *Redis) Keys(t testing.TB, pattern string) []string {
	t.Helper()
	keys, err := r.Client.Keys(context.Background(), r.Prefix+pattern).Result()
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// Int returns the integer value of the key under the test's prefix, 0
// when it does not exist.
func (r *Redis) Int(t testing.TB, key string) int64 {
	t.Helper()
	n, err := r.Client.Get(context.Background(), r.Prefix+key).Int64()
	if err != nil && !errors.Is(err, redis.Nil) {
		t.Fatal(err)
	}
	return n
}

// String returns the value of the key under the test's prefix, "" when it
// does not exist.
func (r *Redis) String(t testing.TB, key string) string {
	t.Helper()
	v, err := r.Client.Get(context.Background(), r.Prefix+key).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		t.Fatal(err)
	}
	return v
}

// TTL returns the time to live of the key under the test's prefix.
func (r *Redis) TTL(t testing.TB, key string) time.Duration {
	t.Helper()
	d, err := r.Client.PTTL(context.Background(), r.Prefix+key).Result()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// RoundTrips is how many commands and pipelines the client sent so far.
func (r *Redis) RoundTrips() int64 { return r.trips.Load() }

// roundTrips counts commands and pipelines sent to Redis.
type roundTrips struct{ n *atomic.Int64 }

func (h roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { h.n.Add(1); return next(ctx, cmd) }
}
func (h roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { h.n.Add(1); return next(ctx, cmds) }
}
