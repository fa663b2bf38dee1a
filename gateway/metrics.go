package gateway

import (
	"time"

	"github.com/gin-gonic/gin"
	"github.com/paygate-cn/paygate/metrics"
)

// meter is the gateway's use of the metrics Registry cmd/paygate gives it
// (docs/metrics.md): requests and their latency, error answers, orders
// created, callbacks refused before they reach callbacks.Inbound. Channel
// calls, callback outcomes, webhook dispatches and risk decisions are
// counted where they happen, on the same Registry.
type meter struct{ *metrics.Registry }

func (m meter) middleware(c *gin.Context) {
	start := time.Now()
	c.Next()
	m.Request(c.Request.Method, c.FullPath(), c.Writer.Status(), time.Since(start))
}

// countError counts one error answer; a code outside the status table
// (none should be) counts as "other".
func (m meter) countError(code string) {
	if _, ok := statusOf[code]; !ok {
		code = "other"
	}
	m.APIError(code)
}

// callback counts one inbound callback the gateway refused itself.
func (m meter) callback(kind, outcome string) { m.Callback(kind, outcome) }
