package callbacks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/callbacks/webhookurl"
	"github.com/paygate-cn/paygate/internal/apijson"
)

// DefaultSchedule is the pause after each failed delivery attempt
// (docs/webhooks.md): 16 attempts spread over a little more than 24 hours, after which the
// event is failed and only a redelivery sends it again.
var DefaultSchedule = []time.Duration{
	15 * time.Second, 15 * time.Second, 30 * time.Second, 3 * time.Minute,
	10 * time.Minute, 20 * time.Minute, 30 * time.Minute, 30 * time.Minute,
	30 * time.Minute, time.Hour, 3 * time.Hour, 3 * time.Hour,
	3 * time.Hour, 6 * time.Hour, 6 * time.Hour,
}

// MaxExcerpt is the most of a merchant's answer kept with an attempt.
const MaxExcerpt = 1024

// recordGrace is the time an attempt's outcome may take to be recorded
// after the attempt's timeout: a claim is renewed before an attempt unless
// it lasts at least AttemptTimeout + recordGrace more.
const recordGrace = 5 * time.Second

// Dispatch outcomes, as told to Observe (a closed set: metric labels).
const (
	OutcomeDelivered    = "delivered"    // a 2xx answer
	OutcomeRetry        = "retry"        // failed; the next attempt is scheduled
	OutcomeFailed       = "failed"       // failed past the schedule's end
	OutcomeUnconfigured = "unconfigured" // no URL or secret: postponed, no attempt counted
	OutcomeLostLease    = "lost_lease"   // the claim went to another dispatcher: nothing sent or recorded
)

// Outcomes lists every dispatch outcome.
var Outcomes = []string{OutcomeDelivered, OutcomeRetry, OutcomeFailed, OutcomeUnconfigured, OutcomeLostLease}

// Dispatcher delivers the outbox's events to merchants (docs/webhooks.md).
// Every replica runs one: it claims due events with a lease (the store's
// claim skips rows other replicas hold) and POSTs each to its destination
// (scheme, host and port of the URL), recording every attempt.
//
// Destinations are isolated: each has at most PerDestination attempts in
// flight, out of Concurrency for all, and once a destination has twice
// that many events waiting here, further claims leave its events to
// later, so a slow or failing receiver never holds up another's events.
// Each attempt is bounded by AttemptTimeout, and an attempt never runs on
// a claim that could expire before it is recorded: the claim is renewed
// first (a compare-and-set that fails if another replica claimed the
// event meanwhile, in which case this one sends nothing). Delivery is at
// least once (a replica dying mid-attempt leaves the event to be sent
// again when its lease ends); receivers deduplicate by event id.
type Dispatcher struct {
	Outbox    paygate.Outbox
	Merchants paygate.MerchantDirectory
	// Deliverable, when set, lists the merchants with a webhook URL and
	// secret; only their events (and events with an order notify_url) are
	// claimed. Nil claims every due event.
	Deliverable func() []string
	// Policy decides where webhooks may go (scheme, address networks); nil
	// is the production default: https to public addresses only.
	Policy *webhookurl.Policy
	Now    paygate.Clock
	// Schedule is the pause after each failed attempt; default
	// DefaultSchedule. An attempt failing past its end fails the event.
	Schedule []time.Duration
	// AttemptTimeout bounds one attempt: connect, send and answer
	// (default 10 s).
	AttemptTimeout time.Duration
	// Lease is how long a claim lasts (default 30 s); an attempt renews it
	// to at least AttemptTimeout + 5 s.
	Lease time.Duration
	// Batch is the most events one claim takes (default 100).
	Batch int
	// Concurrency bounds the attempts in flight (default 64).
	Concurrency int
	// PerDestination bounds the attempts in flight to one destination
	// (default 16, at most Concurrency).
	PerDestination int
	// Unconfigured is how long an event waits when its merchant has no
	// webhook URL or secret and the order no notify_url (default 1 h); no
	// attempt is counted meanwhile.
	Unconfigured time.Duration
	Logger       *slog.Logger
	// Observe, when set, is told each outcome (one of Outcomes).
	Observe func(outcome string)

	setup  sync.Once
	client *http.Client
	slots  chan struct{} // attempts in flight, all destinations
	wake   chan struct{} // room to claim again
	wg     sync.WaitGroup

	mu    sync.Mutex
	held  map[string]*heldEvent // claimed here and not finished, by event id
	dests map[string]*destination
}

// heldEvent is a claimed event waiting for, or in, its attempt.
type heldEvent struct {
	c    *paygate.ClaimedEvent // LeaseUntil guarded by Dispatcher.mu
	dest string
}

// destination is one receiver (scheme://host:port) with events held here.
type destination struct {
	slots chan struct{}
	held  int
}

func (d *Dispatcher) defaults() {
	d.setup.Do(func() {
		if d.AttemptTimeout <= 0 {
			d.AttemptTimeout = 10 * time.Second
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
			d.Concurrency = 64
		}
		if d.PerDestination <= 0 {
			d.PerDestination = 16
		}
		d.PerDestination = min(d.PerDestination, d.Concurrency)
		if d.Unconfigured <= 0 {
			d.Unconfigured = time.Hour
		}
		if d.Logger == nil {
			d.Logger = slog.Default()
		}
		d.client = d.Policy.Client(d.AttemptTimeout)
		d.slots = make(chan struct{}, d.Concurrency)
		d.wake = make(chan struct{}, 1)
		d.held = map[string]*heldEvent{}
		d.dests = map[string]*destination{}
	})
}

// maxHeld is the most events held at once: two claims' worth beyond the
// attempts in flight, so that a destination filling one claim leaves room
// for the others.
func (d *Dispatcher) maxHeld() int { return 2*d.Batch + d.Concurrency }

// saturated is how many held events make a destination skipped by claims.
func (d *Dispatcher) saturated() int { return 2 * d.PerDestination }

// Run dispatches until ctx ends, then waits for the attempts in flight
// (cancelled by ctx) to stop: it leaves no goroutine behind. It claims
// again at once after a full claim, when room frees up, or after interval.
func (d *Dispatcher) Run(ctx context.Context, interval time.Duration) {
	d.defaults()
	defer d.client.CloseIdleConnections()
	defer d.wg.Wait()
	t := time.NewTimer(interval)
	defer t.Stop()
	for ctx.Err() == nil {
		_, full, err := d.pass(ctx)
		if err != nil && ctx.Err() == nil {
			d.Logger.Warn("webhook dispatch", "err", err)
		}
		if full && err == nil {
			continue
		}
		t.Reset(interval)
		select {
		case <-ctx.Done():
		case <-t.C:
		case <-d.wake:
		}
	}
}

// RunOnce claims one batch of due events and delivers it, returning how
// many it claimed. It is Run's step for tests and harnesses; do not mix
// the two on one Dispatcher.
func (d *Dispatcher) RunOnce(ctx context.Context) (int, error) {
	d.defaults()
	n, _, err := d.pass(ctx)
	d.wg.Wait()
	return n, err
}

// pass claims as many due events as there is room for, leaving out those
// of saturated destinations, and starts their delivery. full reports that
// the claim was filled (more may be due).
func (d *Dispatcher) pass(ctx context.Context) (n int, full bool, err error) {
	var f paygate.EventClaimFilter
	if d.Deliverable != nil {
		f.Deliverable = d.Deliverable()
		if f.Deliverable == nil {
			f.Deliverable = []string{}
		}
	}
	d.mu.Lock()
	room := d.maxHeld() - len(d.held)
	if len(d.held) > 0 && room < d.Batch/2 {
		d.mu.Unlock()
		return 0, false, nil
	}
	want := min(d.Batch, room)
	skipM, skipU := map[string]bool{}, map[string]bool{}
	for _, h := range d.held {
		if d.dests[h.dest].held < d.saturated() {
			continue
		}
		if e := h.c.Event; e.NotifyURL != "" {
			skipU[e.NotifyURL] = true
		} else {
			skipM[e.MerchantID] = true
		}
	}
	d.mu.Unlock()
	for m := range skipM {
		f.SkipMerchants = append(f.SkipMerchants, m)
	}
	for u := range skipU {
		f.SkipURLs = append(f.SkipURLs, u)
	}
	claims, err := d.Outbox.ClaimEvents(ctx, want, d.Lease, f)
	if err != nil {
		return 0, false, err
	}
	for _, c := range claims {
		d.accept(ctx, c)
	}
	return len(claims), len(claims) == want, nil
}

// accept starts the delivery of one claimed event.
func (d *Dispatcher) accept(ctx context.Context, c *paygate.ClaimedEvent) {
	e := c.Event
	d.mu.Lock()
	if h, ok := d.held[e.ID]; ok {
		// Claimed again by this dispatcher while waiting here (its lease
		// lapsed): the newer claim is the one to renew and record under.
		h.c.LeaseUntil = c.LeaseUntil
		d.mu.Unlock()
		return
	}
	d.mu.Unlock()
	url, secrets := e.NotifyURL, []string(nil)
	m, err := d.Merchants.Merchant(ctx, e.MerchantID)
	if err == nil {
		secrets = m.WebhookSecrets
		if url == "" {
			url = m.WebhookURL
		}
	}
	switch {
	case err != nil && paygate.ErrorCode(err) != paygate.ENOTFOUND:
		d.Logger.Warn("webhook dispatch: merchant lookup", "merchant", e.MerchantID, "err", err)
		return // the lease brings it back
	case url == "" || len(secrets) == 0:
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			d.record(ctx, c, paygate.DeliveryOutcome{Next: d.Now().Add(d.Unconfigured)}, OutcomeUnconfigured)
		}()
		return
	}
	key := destinationKey(url)
	d.mu.Lock()
	h := &heldEvent{c: c, dest: key}
	d.held[e.ID] = h
	dst := d.dests[key]
	if dst == nil {
		dst = &destination{slots: make(chan struct{}, d.PerDestination)}
		d.dests[key] = dst
	}
	dst.held++
	d.mu.Unlock()
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		defer d.release(e.ID, dst)
		// The destination's slot first: a slow destination's waiting
		// events hold none of the shared slots.
		select {
		case dst.slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		defer func() { <-dst.slots }()
		select {
		case d.slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		defer func() { <-d.slots }()
		d.attempt(ctx, h, url, secrets)
	}()
}

// release forgets a finished event and wakes the claimer when that makes
// room: its destination no longer saturated, or room for half a claim.
func (d *Dispatcher) release(id string, dst *destination) {
	d.mu.Lock()
	delete(d.held, id)
	dst.held--
	wake := dst.held == d.saturated()-1 || len(d.held) == d.maxHeld()-d.Batch/2
	if dst.held == 0 {
		for k, v := range d.dests {
			if v == dst {
				delete(d.dests, k)
				break
			}
		}
	}
	d.mu.Unlock()
	if wake {
		select {
		case d.wake <- struct{}{}:
		default:
		}
	}
}

// attempt renews the claim if it could expire before the attempt is
// recorded, sends the event once, and records the outcome. If ctx ends
// first nothing is recorded: the lease brings the event back.
func (d *Dispatcher) attempt(ctx context.Context, h *heldEvent, url string, secrets []string) {
	d.mu.Lock()
	c := *h.c
	d.mu.Unlock()
	window := d.AttemptTimeout + recordGrace
	if now := d.Now(); c.LeaseUntil.Sub(now) < window {
		ok, err := d.Outbox.RenewClaim(ctx, &c, now.Add(max(d.Lease, window)))
		if err != nil {
			if ctx.Err() == nil {
				d.Logger.Warn("webhook dispatch: renew claim", "event", c.Event.ID, "err", err)
			}
			return
		}
		if !ok {
			d.observe(OutcomeLostLease)
			return
		}
		d.mu.Lock()
		h.c.LeaseUntil = c.LeaseUntil
		d.mu.Unlock()
	}
	a := d.post(ctx, url, secrets, c.Event)
	if ctx.Err() != nil {
		return
	}
	a.Attempt = c.Attempts + 1
	out := paygate.DeliveryOutcome{Attempt: &a}
	outcome := ""
	switch n := c.Attempts; {
	case a.StatusCode >= 200 && a.StatusCode < 300:
		out.Delivered, outcome = true, OutcomeDelivered
	case n < len(d.Schedule):
		out.Next, outcome = a.At.Add(d.Schedule[n]), OutcomeRetry
	default:
		outcome = OutcomeFailed
	}
	d.record(ctx, &c, out, outcome)
}

// record stores the outcome of a claim and tells Observe.
func (d *Dispatcher) record(ctx context.Context, c *paygate.ClaimedEvent, out paygate.DeliveryOutcome, outcome string) {
	ok, err := d.Outbox.RecordDelivery(ctx, c, out)
	if err != nil {
		if ctx.Err() == nil {
			d.Logger.Warn("webhook dispatch: record", "event", c.Event.ID, "err", err)
		}
		return
	}
	if !ok {
		outcome = OutcomeLostLease
	}
	if outcome == OutcomeFailed {
		d.Logger.Warn("webhook delivery failed for good", "event", c.Event.ID, "merchant", c.Event.MerchantID, "attempts", c.Attempts+1)
	}
	d.observe(outcome)
}

func (d *Dispatcher) observe(outcome string) {
	if d.Observe != nil {
		d.Observe(outcome)
	}
}

// destinationKey names the receiver of url: scheme and host with port.
func destinationKey(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "invalid"
	}
	return strings.ToLower(u.Scheme + "://" + u.Host)
}

// post makes one attempt and describes it. A URL the policy refuses is
// not contacted; a redirect is not followed and its body not kept, so the
// attempt log never shows anything from another address.
func (d *Dispatcher) post(ctx context.Context, url string, secrets []string, e *paygate.Event) paygate.DeliveryAttempt {
	now := d.Now()
	a := paygate.DeliveryAttempt{At: now}
	if err := d.Policy.Check("webhook URL", url); err != nil {
		var pe *paygate.Error
		if errors.As(err, &pe) {
			a.Error = "not sent: " + pe.Message
		} else {
			a.Error = "not sent: bad webhook URL"
		}
		return a
	}
	body, err := json.Marshal(apijson.Event{Event: e})
	if err != nil {
		a.Error = "encode event: " + err.Error()
		return a
	}
	ctx, cancel := context.WithTimeout(ctx, d.AttemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		a.Error = "bad webhook url"
		return a
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "paygate-webhooks/1")
	req.Header.Set(SignatureHeader, SignWebhook(secrets, body, now))
	start := time.Now()
	resp, err := d.client.Do(req)
	if err != nil {
		a.LatencyMS = time.Since(start).Milliseconds()
		a.Error = describeSendError(err)
		return a
	}
	a.StatusCode = resp.StatusCode
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		a.Error = "redirect not followed"
	} else {
		excerpt, _ := io.ReadAll(io.LimitReader(resp.Body, MaxExcerpt))
		a.ResponseExcerpt = string(excerpt)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	resp.Body.Close()
	a.LatencyMS = time.Since(start).Milliseconds()
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
