package callbacks_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/callbacks"
	"github.com/paygate-cn/paygate/callbacks/webhookurl"
	"github.com/paygate-cn/paygate/config"
	"github.com/paygate-cn/paygate/store"
	"github.com/paygate-cn/paygate/store/storetest"
)

// clock is a settable test clock shared by the store and the dispatcher.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const (
	secretOld = "whsec_old_0123456789abcdef"
	secretNew = "whsec_new_fedcba9876543210"
)

// receiver is a merchant endpoint whose behaviour the test switches.
type receiver struct {
	mode   atomic.Value // "ok", "500", "hang"
	mu     sync.Mutex
	got    map[string]int
	errors []error
	now    func() time.Time
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	switch r.mode.Load() {
	case "500":
		http.Error(w, "database down", http.StatusInternalServerError)
		return
	case "hang":
		time.Sleep(300 * time.Millisecond)
		return
	}
	// Rotation: the merchant verifies with the new secret only.
	if err := callbacks.VerifyWebhook([]string{secretNew}, req.Header.Get(callbacks.SignatureHeader), body, r.now(), 0); err != nil {
		r.mu.Lock()
		r.errors = append(r.errors, err)
		r.mu.Unlock()
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	var e struct{ ID string }
	json.Unmarshal(body, &e)
	r.mu.Lock()
	r.got[e.ID]++
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// serveAt serves h on addr (a port freed earlier), retrying briefly while
// the port is released.
func serveAt(t *testing.T, addr string, h http.Handler) *http.Server {
	t.Helper()
	var l net.Listener
	var err error
	for range 50 {
		if l, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	s := &http.Server{Handler: h}
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	return s
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func newOutboxTest(t *testing.T, backend, url string) (*store.DB, *clock, *callbacks.Dispatcher) {
	clk := &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	db := storetest.OpenWith(t, backend, store.Options{Now: clk.Now})
	cfg := &config.Config{Merchants: []config.Merchant{
		// Rotation in progress: the new secret signs first, the old one
		// is still sent for receivers not switched yet.
		{ID: "m_1", WebhookURL: url, WebhookSecrets: []string{secretNew, secretOld}},
		{ID: "m_nourl"},
	}}
	d := &callbacks.Dispatcher{
		Outbox: db, Merchants: cfg.Directory(), Now: clk.Now, Lease: time.Minute,
		AttemptTimeout: 100 * time.Millisecond, Policy: webhookurl.Sandbox(),
	}
	return db, clk, d
}

func payOrder(t *testing.T, db *store.DB, merchant, no, notifyURL string) string {
	t.Helper()
	ctx := context.Background()
	o := &paygate.Order{MerchantID: merchant, MerchantOrderNo: no, Amount: 100, Currency: "CNY",
		Method: paygate.MethodQR, Provider: "wechat", Channel: "wechat", NotifyURL: notifyURL}
	if err := db.CreateOrder(ctx, o); err != nil {
		t.Fatal(err)
	}
	ev := &paygate.Event{Type: paygate.EventOrderSucceeded}
	if _, ok, err := db.UpdateOrder(ctx, paygate.OrderUpdate{OrderID: o.ID, To: paygate.OrderSucceeded, Event: ev}); !ok || err != nil {
		t.Fatalf("pay: %v %v", ok, err)
	}
	return ev.ID
}

// A merchant endpoint refusing connections, answering 500 and timing out
// receives the event once it recovers, on the schedule's times.
func TestDispatchFollowsScheduleThroughOutage(t *testing.T) {
	for _, backend := range storetest.Selected() {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			addr := freeAddr(t) // nothing listens: connection refused
			db, clk, d := newOutboxTest(t, backend, "http://"+addr+"/hook")
			rcv := &receiver{got: map[string]int{}, now: clk.Now}
			rcv.mode.Store("500")
			ctx := context.Background()
			id := payOrder(t, db, "m_1", "O1", "")
			noURL := payOrder(t, db, "m_nourl", "O2", "")

			run := func(want int) {
				t.Helper()
				n, err := d.RunOnce(ctx)
				if err != nil || n != want {
					t.Fatalf("at +%s: RunOnce = %d, %v; want %d", clk.Now().Sub(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)), n, err, want)
				}
			}
			run(2) // refused; the merchant without a URL is postponed
			clk.Advance(14 * time.Second)
			run(0) // not due yet
			clk.Advance(time.Second)
			serveAt(t, addr, rcv)
			run(1) // 500
			clk.Advance(15 * time.Second)
			rcv.mode.Store("hang")
			run(1) // timeout
			clk.Advance(30*time.Second - time.Millisecond)
			run(0)
			clk.Advance(time.Millisecond)
			rcv.mode.Store("500")
			run(1) // 500, next in 3 minutes
			clk.Advance(3 * time.Minute)
			rcv.mode.Store("ok")
			run(1) // delivered
			clk.Advance(time.Hour)
			run(1) // the merchant without a URL comes back after an hour ...
			clk.Advance(24 * time.Hour)
			if n, _ := d.RunOnce(ctx); n != 1 {
				t.Fatalf("unconfigured event not rechecked: %d", n)
			}

			if rcv.got[id] != 1 || len(rcv.errors) != 0 {
				t.Fatalf("receiver got %v, errors %v", rcv.got, rcv.errors)
			}
			dl, err := db.EventDelivery(ctx, "m_1", id)
			if err != nil {
				t.Fatal(err)
			}
			if dl.Status != paygate.DeliveryDelivered || len(dl.Log) != 5 {
				t.Fatalf("delivery = %+v", dl)
			}
			codes := []int{0, 500, 0, 500, 204}
			for i, a := range dl.Log {
				if a.Attempt != i+1 || a.StatusCode != codes[i] {
					t.Errorf("attempt %d = %+v, want status %d", i+1, a, codes[i])
				}
			}
			if dl.Log[0].Error == "" || dl.Log[2].Error != "timeout" || dl.Log[1].ResponseExcerpt != "database down\n" {
				t.Errorf("attempt details: %+v", dl.Log)
			}
			if gap := dl.Log[4].At.Sub(dl.Log[0].At); gap != 15*time.Second+15*time.Second+30*time.Second+3*time.Minute {
				t.Errorf("first to last attempt = %s", gap)
			}
			un, _ := db.EventDelivery(ctx, "m_nourl", noURL)
			if un.Status != paygate.DeliveryPending || un.Attempts != 0 {
				t.Errorf("unconfigured merchant's event = %+v", un)
			}
		})
	}
}

// An endpoint that never recovers is tried 16 times over more than 24 h,
// then the event is failed; a redelivery sends it once more.
func TestDispatchGivesUpAfterSchedule(t *testing.T) {
	for _, backend := range storetest.Selected() {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			rcv := &receiver{got: map[string]int{}}
			addr := freeAddr(t)
			db, clk, d := newOutboxTest(t, backend, "http://"+addr+"/hook")
			rcv.now = clk.Now
			rcv.mode.Store("500")
			serveAt(t, addr, rcv)
			ctx := context.Background()
			id := payOrder(t, db, "m_1", "O1", "")
			start := clk.Now()
			for i := range callbacks.DefaultSchedule {
				if n, _ := d.RunOnce(ctx); n != 1 {
					t.Fatalf("attempt %d not made", i+1)
				}
				clk.Advance(callbacks.DefaultSchedule[i])
			}
			if n, _ := d.RunOnce(ctx); n != 1 {
				t.Fatal("last attempt not made")
			}
			if elapsed := clk.Now().Sub(start); elapsed < 24*time.Hour {
				t.Errorf("schedule spans %s, want at least 24h", elapsed)
			}
			clk.Advance(7 * 24 * time.Hour)
			if n, _ := d.RunOnce(ctx); n != 0 {
				t.Fatal("failed event retried")
			}
			dl, _ := db.EventDelivery(ctx, "m_1", id)
			if dl.Status != paygate.DeliveryFailed || dl.Attempts != 16 || len(dl.Log) != 16 {
				t.Fatalf("delivery = %+v", dl)
			}
			if _, err := db.Redeliver(ctx, "m_1", id); err != nil {
				t.Fatal(err)
			}
			rcv.mode.Store("ok")
			if n, _ := d.RunOnce(ctx); n != 1 || rcv.got[id] != 1 {
				t.Fatalf("redelivery: n=%d got=%v", n, rcv.got)
			}
		})
	}
}
