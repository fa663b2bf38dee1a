package gateway

import (
	"github.com/gin-gonic/gin"
	"github.com/paygate-cn/paygate"
)

// checkNotifyURL applies the webhook destination policy (docs/webhooks.md)
// to an order's notify_url before anything is written. Only merchant keys
// may set one: a terminal's orders notify the merchant's own webhook URL.
//
// Returns ETERMINALKEYFORBIDDEN for a terminal key, and the policy's codes
// (EINSECUREURL, EFORBIDDENDESTINATION, EPARAMINVALID, ESTRINGTOOLONG)
// with param notify_url.
func (s *Server) checkNotifyURL(c *gin.Context, raw string) error {
	if raw == "" {
		return nil
	}
	if apiKey(c).TerminalID != "" {
		return paygate.ParamErrorf(paygate.ETERMINALKEYFORBIDDEN, "notify_url", "a terminal key cannot set notify_url; the merchant's webhook URL receives its orders' events")
	}
	return s.deps.Webhooks.Check("notify_url", raw)
}
