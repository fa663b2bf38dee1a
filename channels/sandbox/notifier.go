package sandbox

import (
	"context"
	"io"
	"net/http"
	"sync"
	"time"
)

// WeChatSchedule is WeChat Pay v3's notify retry schedule (its payment
// notification documentation: 15s/15s/30s/3m/10m/20m/30m/30m/30m/60m/3h/3h/
// 3h/6h/6h); the simulators use it for every channel unless told otherwise.
var WeChatSchedule = []time.Duration{
	15 * time.Second, 15 * time.Second, 30 * time.Second, 3 * time.Minute,
	10 * time.Minute, 20 * time.Minute, 30 * time.Minute, 30 * time.Minute,
	30 * time.Minute, 60 * time.Minute, 3 * time.Hour, 3 * time.Hour,
	3 * time.Hour, 6 * time.Hour, 6 * time.Hour,
}

// Notifier delivers a simulated channel's callbacks in the background:
// copies at once, then retries on Schedule until the receiver accepts.
type Notifier struct {
	Client   *http.Client
	Schedule []time.Duration
	// Scale multiplies every delay of Schedule (tests use a small one).
	Scale float64

	mu      sync.Mutex
	holding bool
	held    []Delivery
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// NewNotifier returns a notifier with WeChat's schedule.
func NewNotifier() *Notifier {
	ctx, cancel := context.WithCancel(context.Background())
	return &Notifier{
		Client:   &http.Client{Timeout: 10 * time.Second, Transport: pooledTransport()},
		Schedule: WeChatSchedule,
		Scale:    1,
		ctx:      ctx,
		cancel:   cancel,
	}
}

// Delivery is one callback to deliver.
type Delivery struct {
	// Build makes the request anew for each attempt (channels re-sign or
	// re-stamp retries).
	Build func(ctx context.Context) (*http.Request, error)
	// Accepted says whether the receiver acknowledged the callback the way
	// the channel expects (WeChat 200/204, Alipay the body "success", ...).
	Accepted func(status int, body []byte) bool
	// Copies sent concurrently on the first attempt (1, or 3 for 6666).
	Copies int
}

// Send starts delivering d in the background and returns at once.
func (n *Notifier) Send(d Delivery) {
	n.mu.Lock()
	if n.holding {
		n.held = append(n.held, d)
		n.mu.Unlock()
		return
	}
	n.mu.Unlock()
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		copies := max(d.Copies, 1)
		var wg sync.WaitGroup
		var mu sync.Mutex
		accepted := false
		for range copies {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if n.attempt(d) {
					mu.Lock()
					accepted = true
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		for _, delay := range n.Schedule {
			if accepted {
				return
			}
			t := time.NewTimer(time.Duration(float64(delay) * n.Scale))
			select {
			case <-n.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			accepted = n.attempt(d)
		}
	}()
}

func (n *Notifier) attempt(d Delivery) bool {
	req, err := d.Build(n.ctx)
	if err != nil {
		return false
	}
	resp, err := n.Client.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return d.Accepted(resp.StatusCode, body)
}

// Hold keeps back every delivery sent from now on until Release. It is a
// test aid: with the channel's own notification held back, a test can craft
// genuine-looking and tampered callbacks (each simulator's TradeNotice and
// SignNotice) and see what the receiver makes of them first.
func (n *Notifier) Hold() {
	n.mu.Lock()
	n.holding = true
	n.mu.Unlock()
}

// Release stops holding and sends every delivery held back, in order.
func (n *Notifier) Release() {
	n.mu.Lock()
	held := n.held
	n.holding, n.held = false, nil
	n.mu.Unlock()
	for _, d := range held {
		n.Send(d)
	}
}

// Close stops pending retries and waits for deliveries in flight.
func (n *Notifier) Close() {
	n.cancel()
	n.wg.Wait()
}

// pooledTransport keeps enough idle connections per host for concurrent
// calls: the default transport keeps 2, so under load most requests would
// open (and, over TLS, handshake) a new connection.
func pooledTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 64
	return t
}

// Timers runs a simulator's delayed actions (a confirmation after
// ConfirmDelay, a refund after RefundDelay) and owns them: Stop cancels the
// ones not started and waits for the ones running, so none outlives the
// simulator's Close.
type Timers struct {
	mu      sync.Mutex
	stopped bool
	timers  []*time.Timer
	running sync.WaitGroup
}

// After runs f after d, unless Stop comes first.
func (t *Timers) After(d time.Duration, f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return
	}
	t.running.Add(1)
	t.timers = append(t.timers, time.AfterFunc(d, func() {
		defer t.running.Done()
		f()
	}))
}

// Stop cancels what has not started and waits for what has. The caller
// must not hold a lock the actions take.
func (t *Timers) Stop() {
	t.mu.Lock()
	t.stopped = true
	timers := t.timers
	t.timers = nil
	t.mu.Unlock()
	for _, tm := range timers {
		if tm.Stop() {
			t.running.Done()
		}
	}
	t.running.Wait()
}
