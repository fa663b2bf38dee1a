package redisstore

import (
	"context"
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/redis/go-redis/v9"
)

// Failed activations are counted in fixed windows: the first failure of a
// window sets its expiry, atomically with the increment. Both counters
// share a hash tag so one script may touch both on a Redis Cluster.
//
// activationCheck answers how many milliseconds are left of the longest
// window whose counter reached its limit (0: not limited).
//
//	KEYS[1] per client, KEYS[2] overall
//	ARGV[1] per client limit, ARGV[2] overall limit, ARGV[3] window ms
var activationCheck = redis.NewScript(`
local wait = 0
for i = 1, 2 do
	local n = tonumber(redis.call('GET', KEYS[i]) or '0')
	if n >= tonumber(ARGV[i]) then
		local t = redis.call('PTTL', KEYS[i])
		if t < 0 then t = tonumber(ARGV[3]) end
		if t > wait then wait = t end
	end
end
return wait
`)

// activationFailure counts one failed attempt on both counters.
//
//	KEYS as activationCheck's; ARGV[1] window ms
var activationFailure = redis.NewScript(`
for i = 1, 2 do
	if redis.call('INCR', KEYS[i]) == 1 then
		redis.call('PEXPIRE', KEYS[i], ARGV[1])
	end
end
return 0
`)

// activationKeys are the per-client and overall failure counters.
func (s *Store) activationKeys(client string) []string {
	return []string{s.activation + "ip:" + client, s.activation + "all"}
}

// ActivationWait answers what is left of the longest window whose counter
// reached its limit.
func (s *Store) ActivationWait(ctx context.Context, client string, l paygate.ActivationLimits) (time.Duration, error) {
	wait, err := activationCheck.Run(ctx, s.rdb, s.activationKeys(client),
		l.PerClient, l.Total, l.Window.Milliseconds()).Int64()
	return time.Duration(wait) * time.Millisecond, err
}

// ActivationFailed counts one failed attempt by client and overall.
func (s *Store) ActivationFailed(ctx context.Context, client string, l paygate.ActivationLimits) error {
	return activationFailure.Run(ctx, s.rdb, s.activationKeys(client), l.Window.Milliseconds()).Err()
}
