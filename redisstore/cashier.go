package redisstore

import (
	"context"
	"errors"

	"github.com/paygate-cn/paygate"
	"github.com/redis/go-redis/v9"
)

// cashierLimit counts one order creation per key in fixed one-minute
// windows and answers the counts after it.
var cashierLimit = redis.NewScript(`
local out = {}
for i = 1, #KEYS do
	local n = redis.call('INCR', KEYS[i])
	if n == 1 then redis.call('PEXPIRE', KEYS[i], 60000) end
	out[i] = n
end
return out
`)

// CashierPay counts one payment against the per-address and then the
// per-code limit. The two keys are counted separately (no hash tag
// shared), one call each, so a Redis Cluster may hold them anywhere.
func (s *Store) CashierPay(ctx context.Context, client, codeID string, l paygate.CashierLimits) (bool, error) {
	for _, lim := range []struct {
		key string
		max int
	}{{s.cashier + "ip:{" + client + "}", l.PerClient}, {s.cashier + "code:{" + codeID + "}", l.PerCode}} {
		n, err := cashierLimit.Run(ctx, s.rdb, []string{lim.key}).Int64Slice()
		if err == nil && len(n) != 1 {
			err = errors.New("redisstore: cashier count: unexpected answer")
		}
		if err != nil {
			return false, err
		}
		if n[0] > int64(lim.max) {
			return false, nil
		}
	}
	return true, nil
}
