package gateway

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/paygate-cn/paygate"
	"github.com/redis/go-redis/v9"
)

// Default limits on failed terminal activations, per one-minute window.
const (
	DefaultActivationFailuresPerIP = 10
	DefaultActivationFailuresTotal = 100
	activationWindow               = time.Minute
)

// Failed activations are counted in fixed windows: the first failure of a
// window sets its expiry, atomically with the increment. Both counters
// share a hash tag so one script may touch both on a Redis Cluster.
//
// activationCheck answers how many milliseconds are left of the longest
// window whose counter reached its limit (0: not limited).
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
var activationFailure = redis.NewScript(`
for i = 1, 2 do
	if redis.call('INCR', KEYS[i]) == 1 then
		redis.call('PEXPIRE', KEYS[i], ARGV[1])
	end
end
return 0
`)

// activationKeys are the per-client and overall failure counters. The
// client is the connection's peer address, or the address a trusted proxy
// (Deps.TrustedProxies) names in X-Forwarded-For; from anyone else that
// header is ignored, since anyone can write it.
func (s *Server) activationKeys(c *gin.Context) []string {
	p := s.deps.RedisPrefix + "activation:{failures}:"
	return []string{p + "ip:" + c.ClientIP(), p + "all"}
}

func (t *Terminals) limits() []any {
	perIP, total := t.FailuresPerIP, t.FailuresTotal
	if perIP <= 0 {
		perIP = DefaultActivationFailuresPerIP
	}
	if total <= 0 {
		total = DefaultActivationFailuresTotal
	}
	return []any{perIP, total, activationWindow.Milliseconds()}
}

// activationAllowed answers 429 (with Retry-After) when the client or
// everyone together failed too often in the current window, and 503 when
// Redis cannot tell: activation is refused rather than left unguarded.
func (s *Server) activationAllowed(c *gin.Context) bool {
	if s.deps.Redis == nil {
		return true
	}
	wait, err := activationCheck.Run(c.Request.Context(), s.deps.Redis, s.activationKeys(c),
		s.deps.Terminals.limits()...).Int64()
	if err != nil {
		s.log.Error("activation limit check failed", "err", err)
		s.writeError(c, paygate.Errorf(paygate.EUNAVAILABLE, "activation is unavailable; retry shortly"))
		return false
	}
	if wait > 0 {
		c.Header("Retry-After", strconv.FormatInt((wait+999)/1000, 10))
		s.writeError(c, paygate.Errorf(paygate.ERATELIMITED, "too many failed activation attempts; retry later"))
		return false
	}
	return true
}

// countActivationFailure records a failed attempt. Faults of paygate's own
// (5xx) are not the client's failures and are not counted.
func (s *Server) countActivationFailure(c *gin.Context, err error) {
	if s.deps.Redis == nil || StatusOf(paygate.ErrorCode(err)) >= http.StatusInternalServerError {
		return
	}
	ctx := context.WithoutCancel(c.Request.Context())
	if rerr := activationFailure.Run(ctx, s.deps.Redis, s.activationKeys(c), activationWindow.Milliseconds()).Err(); rerr != nil {
		s.log.Error("activation failure not counted", "err", rerr)
	}
}
