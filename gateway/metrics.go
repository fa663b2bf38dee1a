package gateway

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/callbacks"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the gateway's Prometheus series, on a registry of its own so
// that several gateways (tests) can live in one process.
//
// Every label takes its values from a closed set, whatever a request
// says: routes are the route templates ("unmatched" otherwise), methods
// the standard ones ("other" otherwise), callback channels the channel
// kinds ("unknown" otherwise), error codes the documented ones. Nothing a
// client sends can add a series (docs/metrics.md).
type metrics struct {
	reg        *prometheus.Registry
	requests   *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	errors     *prometheus.CounterVec
	channel    *prometheus.HistogramVec
	callbacks  *prometheus.CounterVec
	orders     *prometheus.CounterVec
	deliveries *prometheus.CounterVec
	risk       *prometheus.CounterVec
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
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paygate_webhook_deliveries_total", Help: "Webhook dispatch outcomes (delivered, retry, failed, unconfigured, lost_lease).",
		}, []string{"outcome"}),
		risk: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paygate_risk_decisions_total", Help: "Risk rule decisions on payments, by rule and action.",
		}, []string{"rule", "action"}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.errors, m.channel, m.callbacks, m.orders, m.deliveries, m.risk,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	for _, o := range callbacks.Outcomes {
		m.deliveries.WithLabelValues(o)
	}
	return m
}

// httpMethods are the method label's values besides "other".
var httpMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
	http.MethodPatch, http.MethodDelete, http.MethodOptions}

func methodLabel(m string) string {
	if slices.Contains(httpMethods, m) {
		return m
	}
	return "other"
}

func (m *metrics) middleware(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	method := methodLabel(c.Request.Method)
	m.requests.WithLabelValues(method, route, strconv.Itoa(c.Writer.Status())).Inc()
	m.latency.WithLabelValues(method, route).Observe(time.Since(start).Seconds())
}

// ObserveChannel records one channel call.
func (m *metrics) ObserveChannel(provider, op, outcome string, d time.Duration) {
	m.channel.WithLabelValues(provider, op, outcome).Observe(d.Seconds())
}

// callback counts one inbound callback; a path naming no channel kind
// counts as "unknown".
func (m *metrics) callback(kind, outcome string) {
	if !validKind(kind) {
		kind = "unknown"
	}
	m.callbacks.WithLabelValues(kind, outcome).Inc()
}

// countError counts one error answer; a code outside the status table
// (none should be) counts as "other".
func (m *metrics) countError(code string) {
	if _, ok := statusOf[code]; !ok {
		code = "other"
	}
	m.errors.WithLabelValues(code).Inc()
}

// ObserveDispatch counts one webhook dispatch outcome (callbacks.Outcomes).
func (s *Server) ObserveDispatch(outcome string) {
	if !slices.Contains(callbacks.Outcomes, outcome) {
		outcome = "other"
	}
	s.metrics.deliveries.WithLabelValues(outcome).Inc()
}

// ObserveRisk counts one risk rule decision on a payment. Rules and
// actions are the routing package's constants.
func (s *Server) ObserveRisk(rule, action string) {
	s.metrics.risk.WithLabelValues(rule, action).Inc()
}

// gauges reads, at each scrape, the backlogs and the circuit states.
type gauges struct {
	backlog  func(ctx context.Context) (*paygate.Backlog, error)
	circuits func() map[string]string
	now      paygate.Clock

	pendingEvents, dueEvents, oldestEvent, pendingOrders, circuit, scrapeErrors *prometheus.Desc
}

// circuitStates are the circuit state label's values (routing's states).
var circuitStates = []string{"closed", "open", "half_open"}

func newGauges(d Deps) *gauges {
	return &gauges{
		backlog: d.Backlog, circuits: d.Circuits, now: d.Now,
		pendingEvents: prometheus.NewDesc("paygate_outbox_pending_events", "Events not delivered yet (due or waiting for a retry).", nil, nil),
		dueEvents:     prometheus.NewDesc("paygate_outbox_due_events", "Pending events whose next attempt is due.", nil, nil),
		oldestEvent:   prometheus.NewDesc("paygate_outbox_oldest_pending_seconds", "Age of the oldest pending event (0 when none).", nil, nil),
		pendingOrders: prometheus.NewDesc("paygate_pending_orders", "Orders whose outcome is not known yet.", nil, nil),
		circuit:       prometheus.NewDesc("paygate_circuit_state", "Circuit state per provider: 1 for the current state.", []string{"provider", "state"}, nil),
		scrapeErrors:  prometheus.NewDesc("paygate_backlog_scrape_error", "1 when the backlog could not be read for this scrape.", nil, nil),
	}
}

func (g *gauges) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{g.pendingEvents, g.dueEvents, g.oldestEvent, g.pendingOrders, g.circuit, g.scrapeErrors} {
		ch <- d
	}
}

func (g *gauges) Collect(ch chan<- prometheus.Metric) {
	if g.backlog != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		b, err := g.backlog(ctx)
		cancel()
		failed := 0.0
		if err != nil {
			failed = 1
		} else {
			age := 0.0
			if !b.OldestPendingEvent.IsZero() {
				age = max(0, g.now().Sub(b.OldestPendingEvent).Seconds())
			}
			ch <- prometheus.MustNewConstMetric(g.pendingEvents, prometheus.GaugeValue, float64(b.PendingEvents))
			ch <- prometheus.MustNewConstMetric(g.dueEvents, prometheus.GaugeValue, float64(b.DueEvents))
			ch <- prometheus.MustNewConstMetric(g.oldestEvent, prometheus.GaugeValue, age)
			ch <- prometheus.MustNewConstMetric(g.pendingOrders, prometheus.GaugeValue, float64(b.PendingOrders))
		}
		ch <- prometheus.MustNewConstMetric(g.scrapeErrors, prometheus.GaugeValue, failed)
	}
	if g.circuits != nil {
		for provider, state := range g.circuits() {
			for _, s := range circuitStates {
				v := 0.0
				if s == state {
					v = 1
				}
				ch <- prometheus.MustNewConstMetric(g.circuit, prometheus.GaugeValue, v, provider, s)
			}
		}
	}
}
