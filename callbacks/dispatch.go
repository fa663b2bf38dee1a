package callbacks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/paygate-cn/paygate"
)

// DefaultSchedule is the pause after each failed delivery attempt (DESIGN
// §6): 16 attempts spread over a little more than 24 hours, after which the
// event is failed and only a redelivery sends it again.
var DefaultSchedule = []time.Duration{
	15 * time.Second, 15 * time.Second, 30 * time.Second, 3 * time.Minute,
	10 * time.Minute, 20 * time.Minute, 30 * time.Minute, 30 * time.Minute,
	30 * time.Minute, time.Hour, 3 * time.Hour, 3 * time.Hour,
	3 * time.Hour, 6 * time.Hour, 6 * time.Hour,
}

// MaxExcerpt is the most of a merchant's answer kept with an attempt.
const MaxExcerpt = 1024

// Dispatcher delivers the outbox's events to merchants. Every replica runs
// one: each pass claims a batch of due events with a lease (the store's
// claim skips rows other replicas hold), POSTs them with bounded
// concurrency and records each attempt. An event whose dispatcher dies
// mid-flight is claimed again when its lease ends, so delivery is at least
// once; receivers deduplicate by event id.
type Dispatcher struct {
	Outbox    paygate.Outbox
	Merchants paygate.MerchantDirectory
	// Deliverable, when set, lists the merchants with a webhook URL and
	// secret; only their events (and events with an order notify_url) are
	// claimed. Nil claims every due event.
	Deliverable func() []string
	// Client sends the webhooks; default: a client with a 10 s timeout,
	// which must stay below Lease.
	Client *http.Client
	Now    paygate.Clock
	// Schedule is the pause after each failed attempt; default
	// DefaultSchedule. An attempt failing past its end fails the event.
	Schedule []time.Duration
	// Lease is how long a claimed event stays claimed (default 30 s).
	Lease time.Duration
	// Batch is the most events one pass claims (default 100).
	Batch int
	// Concurrency bounds the POSTs in flight (default 16).
	Concurrency int
	// Unconfigured is how long an event waits when its merchant has no
	// webhook URL or secret and the order no notify_url (default 1 h); no
	// attempt is counted meanwhile.
	Unconfigured time.Duration
	Logger       *slog.Logger
	// Observe, when set, is told each outcome: "delivered", "retry",
	// "failed", "unconfigured", "lost_lease".
	Observe func(outcome string)
}

func (d *Dispatcher) defaults() {
	if d.Client == nil {
		d.Client = &http.Client{Timeout: 10 * time.Second, Transport: PooledTransport()}
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Schedule == nil {
		d.Schedule = DefaultSchedule
	}
	if d.Lease <= 0 {
		d.Lease = 30 * time.Second
	}
	if d.Batch <= 0 {
		d.Batch = 100
	}
	if d.Concurrency <= 0 {
		d.Concurrency = 16
	}
	if d.Unconfigured <= 0 {
		d.Unconfigured = time.Hour
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
}

// Run dispatches until ctx ends: a pass, then, when the pass found less
// than a full batch, a pause of interval.
func (d *Dispatcher) Run(ctx context.Context, interval time.Duration) {
	d.defaults()
	for ctx.Err() == nil {
		n, err := d.RunOnce(ctx)
		if err != nil && ctx.Err() == nil {
			d.Logger.Warn("webhook dispatch", "err", err)
		}
		if n >= d.Batch && err == nil {
			continue
		}
		select {
		case <-ctx.Done():
		case <-time.After(interval):
		}
	}
}

// RunOnce claims one batch of due events and delivers it, returning how
// many it claimed.
func (d *Dispatcher) RunOnce(ctx context.Context) (int, error) {
	d.defaults()
	var f paygate.EventClaimFilter
	if d.Deliverable != nil {
		f.Deliverable = d.Deliverable()
		if f.Deliverable == nil {
			f.Deliverable = []string{}
		}
	}
	claims, err := d.Outbox.ClaimEvents(ctx, d.Batch, d.Lease, f)
	if err != nil {
		return 0, err
	}
	sem := make(chan struct{}, d.Concurrency)
	var wg sync.WaitGroup
	for _, c := range claims {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			d.deliver(ctx, c)
		}()
	}
	wg.Wait()
	return len(claims), nil
}

// deliver sends one claimed event and records the outcome. If ctx ends
// first nothing is recorded: the lease brings the event back.
func (d *Dispatcher) deliver(ctx context.Context, c *paygate.ClaimedEvent) {
	e := c.Event
	var out paygate.DeliveryOutcome
	url, secrets := e.NotifyURL, []string(nil)
	m, err := d.Merchants.Merchant(ctx, e.MerchantID)
	if err == nil {
		secrets = m.WebhookSecrets
		if url == "" {
			url = m.WebhookURL
		}
	}
	outcome := ""
	switch {
	case err != nil && paygate.ErrorCode(err) != paygate.ENOTFOUND:
		d.Logger.Warn("webhook dispatch: merchant lookup", "merchant", e.MerchantID, "err", err)
		return // the lease brings it back
	case url == "" || len(secrets) == 0:
		out.Next = d.Now().Add(d.Unconfigured)
		outcome = "unconfigured"
	default:
		a := d.post(ctx, url, secrets, e)
		if ctx.Err() != nil {
			return
		}
		a.Attempt = c.Attempts + 1
		out.Attempt = &a
		switch n := c.Attempts; {
		case a.StatusCode >= 200 && a.StatusCode < 300:
			out.Delivered, outcome = true, "delivered"
		case n < len(d.Schedule):
			out.Next, outcome = a.At.Add(d.Schedule[n]), "retry"
		default:
			outcome = "failed"
		}
	}
	ok, err := d.Outbox.RecordDelivery(ctx, c, out)
	if err != nil {
		if ctx.Err() == nil {
			d.Logger.Warn("webhook dispatch: record", "event", e.ID, "err", err)
		}
		return
	}
	if !ok {
		outcome = "lost_lease"
	}
	if outcome == "failed" {
		d.Logger.Warn("webhook delivery failed for good", "event", e.ID, "merchant", e.MerchantID, "attempts", c.Attempts+1)
	}
	if d.Observe != nil {
		d.Observe(outcome)
	}
}

// post makes one attempt and describes it.
func (d *Dispatcher) post(ctx context.Context, url string, secrets []string, e *paygate.Event) paygate.DeliveryAttempt {
	now := d.Now()
	a := paygate.DeliveryAttempt{At: now}
	body, err := json.Marshal(e)
	if err != nil {
		a.Error = "encode event: " + err.Error()
		return a
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		a.Error = "bad webhook url"
		return a
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "paygate-webhooks/1")
	req.Header.Set(SignatureHeader, SignWebhook(secrets, body, now))
	start := time.Now()
	resp, err := d.Client.Do(req)
	if err != nil {
		a.LatencyMS = time.Since(start).Milliseconds()
		a.Error = describeSendError(err)
		return a
	}
	excerpt, _ := io.ReadAll(io.LimitReader(resp.Body, MaxExcerpt))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	resp.Body.Close()
	a.LatencyMS = time.Since(start).Milliseconds()
	a.StatusCode = resp.StatusCode
	a.ResponseExcerpt = string(excerpt)
	return a
}

// describeSendError names a transport failure without the URL (which may
// carry a merchant's token in its query).
func describeSendError(err error) string {
	var ue interface{ Timeout() bool }
	if errors.As(err, &ue) && ue.Timeout() {
		return "timeout"
	}
	if errors.Is(err, context.Canceled) {
		return "canceled"
	}
	var inner = err
	for {
		u := errors.Unwrap(inner)
		if u == nil {
			break
		}
		inner = u
	}
	return inner.Error()
}

// PooledTransport keeps enough idle connections per host for concurrent
// calls: the default transport keeps 2, so under load most requests would
// open (and, over TLS, handshake) a new connection.
func PooledTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 64
	return t
}
