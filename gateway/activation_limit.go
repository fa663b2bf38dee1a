package gateway

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/paygate-cn/paygate"
)

// Default limits on failed terminal activations, per one-minute window.
const (
	DefaultActivationFailuresPerIP = 10
	DefaultActivationFailuresTotal = 100
	activationWindow               = time.Minute
)

// limits are the failed activations allowed per window, per client and
// from everyone together (docs/terminals.md, "Failed activation limits").
func (t *Terminals) limits() paygate.ActivationLimits {
	perIP, total := t.FailuresPerIP, t.FailuresTotal
	if perIP <= 0 {
		perIP = DefaultActivationFailuresPerIP
	}
	if total <= 0 {
		total = DefaultActivationFailuresTotal
	}
	return paygate.ActivationLimits{PerClient: perIP, Total: total, Window: activationWindow}
}

// activationAllowed answers 429 (with Retry-After) when the client or
// everyone together failed too often in the current window, and 503 when
// Redis cannot tell: activation is refused rather than left unguarded.
// The client is the connection's peer address, or the address a trusted
// proxy (Deps.TrustedProxies) names in X-Forwarded-For; from anyone else
// that header is ignored, since anyone can write it.
func (s *Server) activationAllowed(c *gin.Context) bool {
	if s.deps.ActivationLimiter == nil {
		return true
	}
	wait, err := s.deps.ActivationLimiter.ActivationWait(c.Request.Context(), c.ClientIP(), s.deps.Terminals.limits())
	if err != nil {
		s.log.Error("activation limit check failed", "err", err)
		s.writeError(c, paygate.Errorf(paygate.EUNAVAILABLE, "activation is unavailable; retry shortly"))
		return false
	}
	if wait > 0 {
		c.Header("Retry-After", strconv.FormatInt((wait.Milliseconds()+999)/1000, 10))
		s.writeError(c, paygate.Errorf(paygate.ERATELIMITED, "too many failed activation attempts; retry later"))
		return false
	}
	return true
}

// countActivationFailure records a failed attempt. Faults of paygate's own
// (5xx) are not the client's failures and are not counted.
func (s *Server) countActivationFailure(c *gin.Context, err error) {
	if s.deps.ActivationLimiter == nil || StatusOf(paygate.ErrorCode(err)) >= http.StatusInternalServerError {
		return
	}
	ctx := context.WithoutCancel(c.Request.Context())
	if rerr := s.deps.ActivationLimiter.ActivationFailed(ctx, c.ClientIP(), s.deps.Terminals.limits()); rerr != nil {
		s.log.Error("activation failure not counted", "err", rerr)
	}
}
