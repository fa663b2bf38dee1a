// Package metrics holds paygate's Prometheus series (docs/metrics.md) on a
// registry of their own, so that several servers (tests) can live in one
// process, and the channel decorator that times channel calls.
//
// cmd/paygate builds one Registry and hands it to the parts that count:
// the gateway's HTTP middleware and /metrics endpoint, every provider's
// channel (Registry.Channel), inbound callbacks, the webhook dispatcher and
// routing's risk rules.
//
// Every label takes its values from a closed set, whatever a request says:
// routes are the route templates ("unmatched" otherwise), methods the
// standard ones ("other" otherwise), callback channels the channel kinds
// ("unknown" otherwise), error codes the documented ones, channel call
// outcomes the paygate.Outcome values plus "error" and "timeout". Nothing
// a client sends can add a series.
package metrics

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/callbacks"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Registry is paygate's series. It is safe for concurrent use.
type Registry struct {
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

// New returns a Registry with every series of docs/metrics.md but the
// scrape-time gauges (Watch), and Go's runtime and process collectors.
func New() *Registry {
	r := &Registry{
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
	r.reg.MustRegister(r.requests, r.latency, r.errors, r.channel, r.callbacks, r.orders, r.deliveries, r.risk,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	for _, o := range callbacks.Outcomes {
		r.deliveries.WithLabelValues(o)
	}
	return r
}

// Handler serves the series in Prometheus' text format (GET /metrics).
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{})
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

// Request records one HTTP request answered: route is the route template,
// "" for a path that matched none.
func (r *Registry) Request(method, route string, status int, d time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	method = methodLabel(method)
	r.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	r.latency.WithLabelValues(method, route).Observe(d.Seconds())
}

// APIError counts one error answer by its code, which the caller keeps
// within the documented codes (docs/errors.md).
func (r *Registry) APIError(code string) {
	r.errors.WithLabelValues(code).Inc()
}

// Order counts one order created.
func (r *Registry) Order(provider string, method paygate.Method) {
	r.orders.WithLabelValues(provider, string(method)).Inc()
}

// Callback counts one inbound callback (callbacks.Inbound's Observe); a
// kind that is no channel kind counts as "unknown".
func (r *Registry) Callback(kind, outcome string) {
	if _, ok := paygate.CapabilitiesOf(kind); !ok {
		kind = "unknown"
	}
	r.callbacks.WithLabelValues(kind, outcome).Inc()
}

// Dispatch counts one webhook dispatch outcome (callbacks.Dispatcher's
// Observe); one outside callbacks.Outcomes (none should be) counts as
// "other".
func (r *Registry) Dispatch(outcome string) {
	if !slices.Contains(callbacks.Outcomes, outcome) {
		outcome = "other"
	}
	r.deliveries.WithLabelValues(outcome).Inc()
}

// Risk counts one risk rule decision on a payment (routing's Options
// ObserveRisk). Rules and actions are the routing package's constants.
func (r *Registry) Risk(rule, action string) {
	r.risk.WithLabelValues(rule, action).Inc()
}
