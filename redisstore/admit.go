package redisstore

import (
	"context"
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/redis/go-redis/v9"
)

// admitScript records a request's nonce and applies its key's rate limit,
// in one round trip (docs/configuration.md, rate_limit). The limit is a
// token bucket kept as one number, the theoretical arrival time of the
// next request (the generic cell rate algorithm): each request moves it
// one emission interval (1/rate) later, and a request that would move it
// more than burst intervals ahead of now is refused. Over the limit
// nothing is written (the same signed request may be retried after the
// wait) and the answer is the wait in milliseconds; a used nonce answers
// -1 and costs nothing; 0 admits. Both keys carry the key id as hash tag,
// so they share a Cluster slot.
//
//	KEYS[1] nonce, KEYS[2] arrival time
//	ARGV[1] nonce TTL ms, ARGV[2] now µs, ARGV[3] interval µs, ARGV[4] burst × interval µs
var admitScript = redis.NewScript(`
local now, interval, limit = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local tat = tonumber(redis.call('GET', KEYS[2]) or 0)
if tat < now then tat = now end
local ahead = tat + interval - now
if ahead > limit then
	return math.ceil((ahead - limit) / 1000)
end
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then
	return -1
end
redis.call('SET', KEYS[2], tat + interval, 'PX', math.ceil(ahead / 1000) + 1)
return 0
`)

// Admit records the nonce for paygate.NonceWindow and applies the key's
// rate limit. With a limit it is one script call, without one the plain
// SET NX: either way the one round trip the nonce alone costs.
func (s *Store) Admit(ctx context.Context, keyID, nonce string, rate paygate.RequestRate, now time.Time) (paygate.Admission, error) {
	tag := s.prefix + "{" + keyID + "}:"
	var wait int64
	var err error
	if rate.PerSecond <= 0 {
		var ok bool
		ok, err = s.rdb.SetNX(ctx, tag+"nonce:"+nonce, 1, paygate.NonceWindow).Result()
		if !ok {
			wait = -1
		}
	} else {
		interval := max(int64(time.Second/time.Microsecond)/int64(rate.PerSecond), 1)
		wait, err = admitScript.Run(ctx, s.rdb, []string{tag + "nonce:" + nonce, tag + "rate"},
			paygate.NonceWindow.Milliseconds(), now.UnixMicro(), interval, interval*int64(max(rate.Burst, 1))).Int64()
	}
	switch {
	case err != nil:
		return paygate.Admission{}, err
	case wait < 0:
		return paygate.Admission{Replayed: true}, nil
	}
	return paygate.Admission{Wait: time.Duration(wait) * time.Millisecond}, nil
}
