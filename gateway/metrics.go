package gateway

import (
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the gateway's Prometheus series, on a registry of its own so
// that several gateways (tests) can live in one process.
type metrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	errors    *prometheus.CounterVec
	channel   *prometheus.HistogramVec
	callbacks *prometheus.CounterVec
	orders    *prometheus.CounterVec
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paygate_http_requests_total", Help: "HTTP requests by route and status.",
		}, []string{"method", "route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "paygate_http_request_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"method", "route"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paygate_api_errors_total", Help: "API errors answered, by error code.",
		}, []string{"code"}),
		channel: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "paygate_channel_call_seconds", Help: "Channel calls by provider, operation and outcome.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"provider", "op", "outcome"}),
		callbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paygate_callbacks_total", Help: "Inbound channel callbacks by channel and outcome (applied, duplicate, rejected_signature, ...).",
		}, []string{"channel", "outcome"}),
		orders: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paygate_orders_total", Help: "Orders created, by provider and method.",
		}, []string{"provider", "method"}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.errors, m.channel, m.callbacks, m.orders,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) middleware(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	m.requests.WithLabelValues(c.Request.Method, route, strconv.Itoa(c.Writer.Status())).Inc()
	m.latency.WithLabelValues(c.Request.Method, route).Observe(time.Since(start).Seconds())
}

// ObserveChannel records one channel call.
func (m *metrics) ObserveChannel(provider, op, outcome string, d time.Duration) {
	m.channel.WithLabelValues(provider, op, outcome).Observe(d.Seconds())
}
