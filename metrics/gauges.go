package metrics

import (
	"context"
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/prometheus/client_golang/prometheus"
)

// Sources are what the scrape-time gauges read at each scrape of
// /metrics.
type Sources struct {
	// Backlog, when set, answers the outbox and pending-order backlogs;
	// it is given 2 s per scrape.
	Backlog func(ctx context.Context) (*paygate.Backlog, error)
	// Circuits, when set, answers each provider's circuit state, by id
	// (routing's Health.States).
	Circuits func() map[string]string
	// Now is the clock; default time.Now.
	Now paygate.Clock
}

// Watch registers the gauges read from s at each scrape: the backlogs and
// the circuit states. Call it once.
func (r *Registry) Watch(s Sources) {
	if s.Now == nil {
		s.Now = time.Now
	}
	r.reg.MustRegister(&gauges{
		src:           s,
		pendingEvents: prometheus.NewDesc("paygate_outbox_pending_events", "Events not delivered yet (due or waiting for a retry).", nil, nil),
		dueEvents:     prometheus.NewDesc("paygate_outbox_due_events", "Pending events whose next attempt is due.", nil, nil),
		oldestEvent:   prometheus.NewDesc("paygate_outbox_oldest_pending_seconds", "Age of the oldest pending event (0 when none).", nil, nil),
		pendingOrders: prometheus.NewDesc("paygate_pending_orders", "Orders whose outcome is not known yet.", nil, nil),
		circuit:       prometheus.NewDesc("paygate_circuit_state", "Circuit state per provider: 1 for the current state.", []string{"provider", "state"}, nil),
		scrapeErrors:  prometheus.NewDesc("paygate_backlog_scrape_error", "1 when the backlog could not be read for this scrape.", nil, nil),
	})
}

// gauges reads, at each scrape, the backlogs and the circuit states.
type gauges struct {
	src Sources

	pendingEvents, dueEvents, oldestEvent, pendingOrders, circuit, scrapeErrors *prometheus.Desc
}

// circuitStates are the circuit state label's values (routing's states).
var circuitStates = []string{"closed", "open", "half_open"}

func (g *gauges) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{g.pendingEvents, g.dueEvents, g.oldestEvent, g.pendingOrders, g.circuit, g.scrapeErrors} {
		ch <- d
	}
}

func (g *gauges) Collect(ch chan<- prometheus.Metric) {
	if g.src.Backlog != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		b, err := g.src.Backlog(ctx)
		cancel()
		failed := 0.0
		if err != nil {
			failed = 1
		} else {
			age := 0.0
			if !b.OldestPendingEvent.IsZero() {
				age = max(0, g.src.Now().Sub(b.OldestPendingEvent).Seconds())
			}
			ch <- prometheus.MustNewConstMetric(g.pendingEvents, prometheus.GaugeValue, float64(b.PendingEvents))
			ch <- prometheus.MustNewConstMetric(g.dueEvents, prometheus.GaugeValue, float64(b.DueEvents))
			ch <- prometheus.MustNewConstMetric(g.oldestEvent, prometheus.GaugeValue, age)
			ch <- prometheus.MustNewConstMetric(g.pendingOrders, prometheus.GaugeValue, float64(b.PendingOrders))
		}
		ch <- prometheus.MustNewConstMetric(g.scrapeErrors, prometheus.GaugeValue, failed)
	}
	if g.src.Circuits != nil {
		for provider, state := range g.src.Circuits() {
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
