// Package redisstore keeps the state that every gateway replica shares in
// Redis: request nonces and rate limits, failed terminal activations, the
// cashier's payment counts, the risk rules' counters and the callback
// claims. It implements the root package's small interfaces for them
// (paygate.Admitter, paygate.ActivationLimiter, paygate.CashierLimiter,
// paygate.RiskCounters, paygate.CallbackClaims) and is, with cmd/paygate,
// the only package that speaks to Redis.
//
// Key layout, under the configured prefix (docs/configuration.md,
// redis_prefix). Replicas of different versions share one Redis, so the
// layout, the expiries and the scripts' behaviour are a contract:
//
//	{<key id>}:nonce:<nonce>           a used nonce, 10 minutes
//	{<key id>}:rate                    the key's rate limit state (GCRA arrival time)
//	activation:{failures}:ip:<client>  failed activations of one client, one window
//	activation:{failures}:all          failed activations of everyone, one window
//	cashier:ip:{<client>}              cashier payments of one address, one minute
//	cashier:code:{<code id>}           cashier payments through one code, one minute
//	risk:{<merchant id>}:split:<payer> the payer's recent payments (split window)
//	risk:{<merchant id>}:payer:<payer>:<day>        daily totals, 48 hours
//	risk:{<merchant id>}:terminal:<terminal>:<day>
//	risk:{<merchant id>}:static_qr:<payer>:<day>
//	cb:<provider>:<notification id>    a callback claim: "processing" 30 s, "done"
//
// The braces are Redis Cluster hash tags: the keys one script touches
// share a slot. Every call is one round trip (one command or one script);
// with an auto-pipelined client, calls that arrive together share one.
package redisstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/redis/go-redis/v9"
)

// Store is the Redis adapter.
type Store struct {
	rdb    redis.UniversalClient
	prefix string
	// risk is prefix + "risk:", the risk counters' prefix.
	risk string
	// activation is the failed activation counters' prefix.
	activation string
	cashier    string
	claims     string
}

var (
	_ paygate.Admitter          = (*Store)(nil)
	_ paygate.ActivationLimiter = (*Store)(nil)
	_ paygate.CashierLimiter    = (*Store)(nil)
	_ paygate.RiskCounters      = (*Store)(nil)
	_ paygate.CallbackClaims    = (*Store)(nil)
)

// New returns the adapter over rdb with every key under prefix. The prefix
// must not contain braces (the keys' own braces are Cluster hash tags).
// New loads the scripts into Redis, best effort, so that the first calls
// are one EVALSHA each; a Redis that lost them is given them again on
// use.
func New(rdb redis.UniversalClient, prefix string) (*Store, error) {
	if strings.ContainsAny(prefix, "{}") {
		return nil, fmt.Errorf("redis key prefix %q must not contain braces", prefix)
	}
	s := &Store{
		rdb: rdb, prefix: prefix, risk: prefix + "risk:",
		activation: prefix + "activation:{failures}:", cashier: prefix + "cashier:", claims: prefix + "cb:",
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, sc := range []*redis.Script{riskScript, admitScript, activationCheck, activationFailure, cashierLimit} {
		if err := sc.Load(ctx, rdb).Err(); err != nil {
			break // unreachable now: NOSCRIPT loads them later
		}
	}
	return s, nil
}
