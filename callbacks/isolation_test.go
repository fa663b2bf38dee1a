package callbacks_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/callbacks"
	"github.com/paygate-cn/paygate/callbacks/webhookurl"
	"github.com/paygate-cn/paygate/config"
	"github.com/paygate-cn/paygate/internal/dnstest"
	"github.com/paygate-cn/paygate/store"
	"github.com/paygate-cn/paygate/store/storetest"
)

// counter is a receiver that answers after delay (or when the request is
// abandoned) and counts deliveries per event id.
type counter struct {
	delay time.Duration
	mu    sync.Mutex
	got   map[string]int
	at    map[string]time.Time
}

func newCounter(delay time.Duration) *counter {
	return &counter{delay: delay, got: map[string]int{}, at: map[string]time.Time{}}
}

func (c *counter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if c.delay > 0 {
		select {
		case <-time.After(c.delay):
		case <-r.Context().Done():
			return
		}
	}
	var e struct{ ID string }
	json.Unmarshal(body, &e)
	c.mu.Lock()
	c.got[e.ID]++
	if _, ok := c.at[e.ID]; !ok {
		c.at[e.ID] = time.Now()
	}
	c.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (c *counter) seen(id string) (int, time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.got[id], c.at[id]
}

// settled waits until the goroutine count is back to at most n.
func settled(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines left, want at most %d:\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// With one receiver answering in 8 s and 100 events queued for it, an
// event for another receiver is delivered within 2 s; stopping the
// dispatcher stops every goroutine it started.
func TestDispatchIsolatesSlowDestination(t *testing.T) {
	for _, backend := range storetest.Selected() {
		t.Run(backend, func(t *testing.T) {
			slow, fast := newCounter(8*time.Second), newCounter(0)
			slowSrv, fastSrv := httptest.NewServer(slow), httptest.NewServer(fast)
			defer slowSrv.Close()
			defer fastSrv.Close()
			db := storetest.Open(t, backend)
			cfg := &config.Config{Merchants: []config.Merchant{
				{ID: "m_slow", WebhookURL: slowSrv.URL, WebhookSecrets: []string{secretNew}},
				{ID: "m_fast", WebhookURL: fastSrv.URL, WebhookSecrets: []string{secretNew}},
			}}
			for i := range 100 {
				payOrder(t, db, "m_slow", fmt.Sprintf("S%03d", i), "")
			}
			fastID := payOrder(t, db, "m_fast", "F1", "")
			before := runtime.NumGoroutine()

			d := &callbacks.Dispatcher{Outbox: db, Merchants: cfg.Directory(), Policy: webhookurl.Sandbox(),
				Concurrency: 16, PerDestination: 4}
			ctx, cancel := context.WithCancel(context.Background())
			stopped := make(chan struct{})
			start := time.Now()
			go func() { d.Run(ctx, 50*time.Millisecond); close(stopped) }()
			for {
				if n, at := fast.seen(fastID); n > 0 {
					if wait := at.Sub(start); wait > 2*time.Second {
						t.Errorf("the fast receiver's event waited %s", wait)
					}
					break
				}
				if time.Since(start) > 10*time.Second {
					t.Fatal("the fast receiver's event was not delivered")
				}
				time.Sleep(10 * time.Millisecond)
			}
			// The outcome is recorded just after the answer.
			for {
				dl, err := db.EventDelivery(context.Background(), "m_fast", fastID)
				if err == nil && dl.Status == paygate.DeliveryDelivered {
					break
				}
				if time.Since(start) > 10*time.Second {
					t.Fatalf("fast event not recorded delivered: %+v %v", dl, err)
				}
				time.Sleep(10 * time.Millisecond)
			}
			cancel()
			select {
			case <-stopped:
			case <-time.After(5 * time.Second):
				t.Fatal("Run did not return after its context ended")
			}
			slowSrv.CloseClientConnections()
			settled(t, before)
		})
	}
}

// Two replicas against one PostgreSQL: claims far shorter than the time
// an event waits behind its destination's other events expire and the
// other replica claims them, yet no event is sent twice: an attempt first
// renews its claim, and one that another replica took is not sent.
func TestDispatchReplicasNeverSendTwice(t *testing.T) {
	if !strings.Contains(strings.Join(storetest.Selected(), ","), store.DialectPostgres) {
		t.Skip("needs PostgreSQL")
	}
	rcv := newCounter(100 * time.Millisecond)
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	dbs := storetest.Replicas(t, 2, store.Options{})
	db, db2 := dbs[0], dbs[1]
	dir := (&config.Config{Merchants: []config.Merchant{{ID: "m_1", WebhookURL: srv.URL, WebhookSecrets: []string{secretNew}}}}).Directory()
	const n = 30
	ids := make([]string, n)
	for i := range ids {
		ids[i] = payOrder(t, db, "m_1", fmt.Sprintf("R%03d", i), "")
	}
	var lost atomic.Int32
	replica := func(db *store.DB) *callbacks.Dispatcher {
		return &callbacks.Dispatcher{Outbox: db, Merchants: dir, Policy: webhookurl.Sandbox(),
			Lease: 300 * time.Millisecond, AttemptTimeout: time.Second, PerDestination: 1,
			Observe: func(o string) {
				if o == callbacks.OutcomeLostLease {
					lost.Add(1)
				}
			}}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, r := range []*callbacks.Dispatcher{replica(db), replica(db2)} {
		wg.Add(1)
		go func() { defer wg.Done(); r.Run(ctx, 20*time.Millisecond) }()
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		done := 0
		for _, id := range ids {
			if k, _ := rcv.seen(id); k > 0 {
				done++
			}
		}
		if done == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d delivered", done, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // room for a late duplicate
	cancel()
	wg.Wait()
	for _, id := range ids {
		if k, _ := rcv.seen(id); k != 1 {
			t.Errorf("event %s delivered %d times", id, k)
		}
		dl, err := db.EventDelivery(context.Background(), "m_1", id)
		if err != nil || dl.Status != paygate.DeliveryDelivered || len(dl.Log) != 1 {
			t.Errorf("event %s: %+v %v", id, dl, err)
		}
	}
	if lost.Load() == 0 {
		t.Error("no claim expired: the test did not exercise the expiry case")
	}
}

// Events whose URL leads to a forbidden address — written before the
// policy, or a merchant URL — are never sent there, whatever the form of
// the address, a name resolving to it, or a redirect to it; the attempt
// log shows nothing of what such an address would answer.
func TestDispatchRefusesForbiddenDestinations(t *testing.T) {
	for _, backend := range storetest.Selected() {
		t.Run(backend, func(t *testing.T) {
			var hits atomic.Int32
			internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				io.WriteString(w, "internal secret")
			}))
			defer internal.Close()
			port := internal.URL[strings.LastIndex(internal.URL, ":")+1:]
			// The merchant's receiver lives on ::1, the one allowed
			// address; it redirects to the internal server.
			l, err := net.Listen("tcp", "[::1]:0")
			if err != nil {
				t.Skip("no IPv6 loopback:", err)
			}
			redirector := &httptest.Server{Listener: l, Config: &http.Server{Handler: http.RedirectHandler(internal.URL+"/admin", http.StatusSeeOther)}}
			redirector.Start()
			defer redirector.Close()

			db := storetest.Open(t, backend)
			dir := (&config.Config{Merchants: []config.Merchant{{ID: "m_1", WebhookSecrets: []string{secretNew}}}}).Directory()
			policy := &webhookurl.Policy{AllowHTTP: true, Allowed: []netip.Prefix{netip.MustParsePrefix("::1/128")},
				Resolver: dnstest.Resolver(t, "127.0.0.1")}
			urls := []string{
				internal.URL + "/hook",
				"http://2130706433:" + port + "/hook",
				"http://0177.0.0.1:" + port + "/hook",
				"http://[::ffff:127.0.0.1]:" + port + "/hook",
				"http://localhost:" + port + "/hook",
				"http://hooks.merchant.example:" + port + "/hook", // resolves to 127.0.0.1
				redirector.URL + "/hook",
			}
			var ids []string
			for i, u := range urls {
				ids = append(ids, payOrder(t, db, "m_1", fmt.Sprintf("O%d", i), u))
			}
			d := &callbacks.Dispatcher{Outbox: db, Merchants: dir, Policy: policy, AttemptTimeout: 2 * time.Second}
			if n, err := d.RunOnce(context.Background()); err != nil || n != len(urls) {
				t.Fatalf("RunOnce = %d, %v", n, err)
			}
			if hits.Load() != 0 {
				t.Fatalf("the internal server was reached %d times", hits.Load())
			}
			for i, id := range ids {
				dl, err := db.EventDelivery(context.Background(), "m_1", id)
				if err != nil || len(dl.Log) != 1 {
					t.Fatalf("%s: %+v %v", urls[i], dl, err)
				}
				a := dl.Log[0]
				if dl.Status != paygate.DeliveryPending || strings.Contains(a.ResponseExcerpt, "secret") || a.Error == "" {
					t.Errorf("%s: %+v", urls[i], a)
				}
				if i == len(urls)-1 && a.StatusCode != http.StatusSeeOther {
					t.Errorf("redirect attempt: %+v", a)
				}
			}
		})
	}
}
