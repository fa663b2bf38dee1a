//go:build harness

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/config"
	"github.com/paygate-cn/paygate/gateway/apitest"
	"github.com/paygate-cn/paygate/internal/webhookrecv"
	"github.com/paygate-cn/paygate/store"
)

// Lease and outbox interval of the storm's gateways: short, so that the
// events a killed gateway held are delivered by the others within seconds.
const (
	procLease          = 6 * time.Second
	procOutboxInterval = 50 * time.Millisecond
)

// gatewayProc is one `paygate serve` replica.
type gatewayProc struct {
	*proc
	URL  string
	down atomic.Bool // killed, or not yet answering again
}

// startGateway starts replica i of the storm. Every replica has the same
// configuration except the path of the merchant's webhook URL, which names
// the replica so that the receiver can tell who delivers.
func startGateway(t *testing.T, bin string, i int, sb *sandboxProc, env []string, hookURL string) *gatewayProc {
	t.Helper()
	dir := t.TempDir()
	m := config.DemoMerchant()
	yml := fmt.Sprintf(`%s
sandbox:
  enabled: false
merchants:
  - id: %s
    name: %q
    mcc: %q
    merchant_no: %q
    region_code: %q
    webhook_url: %s/hook/%d
    webhook_secrets: [%q]
    keys:
      - id: %s
        secret: %s
    terminals:
      - id: %s
rate_limit:
  disabled: true
webhooks:
  allow_http: true
  allowed_networks: [127.0.0.0/8]
jobs:
  pending_query_interval: 1h
  outbox_interval: %s
  lease_ttl: %s
`, sb.Providers, m.ID, m.Name, m.MCC, m.MerchantNo, m.RegionCode, hookURL, i, stormWebhookSecret,
		testKeyID, testSecret, config.DemoTerminalID, procOutboxInterval, procLease)
	cfgPath := filepath.Join(dir, "paygate.yaml")
	if err := os.WriteFile(cfgPath, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	env = append(append([]string(nil), env...), "PAYGATE_CONFIG="+cfgPath, "PAYGATE_ADDR="+addr,
		"PAYGATE_DATA_DIR="+dir)
	g := &gatewayProc{URL: "http://" + addr,
		proc: startProc(t, fmt.Sprintf("gateway%d", i), bin, []string{"serve"}, env)}
	if err := g.waitHTTP(g.URL + "/readyz"); err != nil {
		t.Fatal(err)
	}
	return g
}

// crash kills the replica with SIGKILL: no shutdown, leases left behind.
func (g *gatewayProc) crash() {
	g.down.Store(true)
	g.kill()
}

// restart starts the replica again with the same command and environment.
func (g *gatewayProc) restart() error {
	if err := g.start(); err != nil {
		return err
	}
	if err := g.waitHTTP(g.URL + "/readyz"); err != nil {
		return err
	}
	g.down.Store(false)
	return nil
}

// callbackCollector stands where the channel's notifications arrive (a
// load balancer in front of the replicas would): it keeps each and answers
// as an accepting gateway, so the test can replay them as it likes.
type callbackCollector struct {
	mu   sync.Mutex
	list []capturedCallback
}

func (c *callbackCollector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	c.list = append(c.list, capturedCallback{path: r.URL.Path, header: r.Header.Clone(), body: body})
	c.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (c *callbackCollector) wait(t *testing.T, n int) []capturedCallback {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c.mu.Lock()
		got := append([]capturedCallback(nil), c.list...)
		c.mu.Unlock()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("collected %d notifications, want %d", len(got), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestProcessStorm runs the gateway as it runs in production: three
// `paygate serve` processes on one PostgreSQL schema and one redis-server,
// with `paygate sandbox` as the channel they all talk to.
//
//   - 1,000 WeChat QR orders are paid at the simulator; its notifications
//     are collected, and each is sent 5 times, shuffled, by concurrent
//     senders spread over the three gateways.
//   - redis-server is SIGKILLed at 40 % of the storm and started again
//     (empty) on the same port at 60 %.
//   - One gateway is SIGKILLed while webhook deliveries of its own are in
//     flight (the merchant endpoint holds them), and started again at 80 %.
//     Callbacks sent to it meanwhile are retried at another gateway, as a
//     channel retries.
//
// Then every order succeeded exactly once, with exactly one event; every
// event reaches the merchant and is recorded delivered; and replays take
// the Redis fast path again.
//
// It is built only with the harness tag, and CI (.ci/run) runs it:
//
//	go test -tags harness -run TestProcessStorm ./cmd/paygate
func TestProcessStorm(t *testing.T) {
	if testing.Short() {
		t.Skip("process storm: skipped in -short")
	}
	const orders, copies, senders, victim = 1000, 5, 24, 2
	start := time.Now()
	rds := startRedis(t) // first: it skips at once when redis-server is missing
	bin := buildPaygate(t)
	built := time.Since(start)

	collector := &callbackCollector{}
	collect := httptest.NewServer(collector)
	t.Cleanup(collect.Close)

	// The merchant: replica victim's deliveries are held (in flight) until
	// that replica is killed; everything else is verified and acknowledged.
	rcv := &webhookrecv.Receiver{Secrets: []string{stormWebhookSecret}}
	var hold atomic.Bool
	hold.Store(true)
	var held atomic.Int64
	var heldIDs sync.Map // ids of the events held when their sender died
	victimPath := fmt.Sprintf("/hook/%d", victim)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == victimPath && hold.Load() {
			// Reading the body also lets the server notice the sender die.
			var e webhookrecv.Event
			if b, err := io.ReadAll(r.Body); err == nil && json.Unmarshal(b, &e) == nil {
				heldIDs.Store(e.ID, true)
			}
			held.Add(1)
			<-r.Context().Done()
			return
		}
		rcv.ServeHTTP(w, r)
	}))
	t.Cleanup(hook.Close)

	sb := startSandbox(t, bin, collect.URL)

	// The schema is created and migrated here; the gateways find it through
	// the search_path parameter of their database URL.
	schema, prefix := "procstorm_"+randSuffix(), "procstorm:"+randSuffix()+":"
	t.Cleanup(func() { dropSchema(t, schema) })
	ctx := context.Background()
	db, err := store.Open(ctx, postgresURL(), store.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	dbURL, err := url.Parse(postgresURL())
	if err != nil {
		t.Fatal(err)
	}
	q := dbURL.Query()
	q.Set("search_path", schema)
	dbURL.RawQuery = q.Encode()
	env := childEnv("PAYGATE_DATABASE_URL="+dbURL.String(), "PAYGATE_REDIS_URL=redis://"+rds.addr,
		"PAYGATE_REDIS_PREFIX="+prefix, "PAYGATE_PUBLIC_URL="+collect.URL, "PAYGATE_LOG_LEVEL=warn")
	var gws []*gatewayProc
	for i := range 3 {
		gws = append(gws, startGateway(t, bin, i, sb, env, hook.URL))
	}
	started := time.Since(start)

	// Orders, created round-robin at the replicas and paid at the simulator.
	doc, err := apitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	var clients []*client
	for _, g := range gws {
		clients = append(clients, &client{t: t, base: g.URL, doc: doc})
	}
	ids := payQROrders(t, clients, sb.URL, orders)
	cbs := collector.wait(t, orders)
	paid := time.Since(start)

	type delivery struct {
		cb      capturedCallback
		gateway int
	}
	var storm []delivery
	for _, cb := range cbs {
		for range copies {
			storm = append(storm, delivery{cb, rand.IntN(len(gws))})
		}
	}
	rand.Shuffle(len(storm), func(i, j int) { storm[i], storm[j] = storm[j], storm[i] })

	// The crash: 100 ms after the victim's first delivery is held (its
	// whole claimed batch is in flight by then, held or waiting for a free
	// sender), well before its 3 s client timeout would record an attempt.
	var killedAt, crashAt atomic.Int64
	var sent, retried atomic.Int64
	crashed := make(chan struct{})
	stormDone := make(chan struct{})
	go func() {
		defer close(crashed)
		for held.Load() == 0 {
			select {
			case <-stormDone:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
		time.Sleep(100 * time.Millisecond)
		gws[victim].crash()
		hold.Store(false)
		killedAt.Store(held.Load())
		crashAt.Store(sent.Load())
	}()

	var restartAt atomic.Int64
	var redisDown, redisUp, victimUp sync.Once
	parallel(len(storm), senders, func(i int) {
		switch n := sent.Add(1); {
		case n == int64(len(storm))*2/5:
			redisDown.Do(rds.kill)
		case n == int64(len(storm))*3/5:
			redisUp.Do(func() {
				if err := rds.restart(); err != nil {
					t.Errorf("restart redis-server: %v", err)
				}
			})
		case n == int64(len(storm))*4/5:
			victimUp.Do(func() {
				if gws[victim].down.Load() {
					if err := gws[victim].restart(); err != nil {
						t.Errorf("restart %s: %v", gws[victim].name, err)
					}
					restartAt.Store(n)
				}
			})
		}
		d := storm[i]
		for try := 0; try < len(gws); try++ {
			g := gws[(d.gateway+try)%len(gws)]
			if g.down.Load() {
				continue
			}
			status, err := d.cb.send(g.URL)
			if err != nil && g.down.Load() {
				retried.Add(1) // the gateway died under it: the channel retries elsewhere
				continue
			}
			if err != nil || status/100 != 2 {
				t.Errorf("callback to %s: %d %v", g.name, status, err)
			}
			return
		}
		t.Errorf("callback: no gateway up")
	})
	close(stormDone)
	<-crashed
	stormed := time.Since(start)
	if killedAt.Load() == 0 {
		t.Fatal("the victim never had a delivery in flight, so it was not killed")
	}
	if gws[victim].down.Load() {
		if err := gws[victim].restart(); err != nil {
			t.Fatalf("restart %s: %v", gws[victim].name, err)
		}
		restartAt.Store(sent.Load())
	}
	// The gateways did see Redis gone (and carried on with the database).
	redisLost := 0
	for _, g := range gws {
		redisLost += strings.Count(g.output(), "redis unavailable")
	}
	if redisLost == 0 {
		t.Error("no gateway logged Redis as unavailable: the storm missed the outage")
	}

	// Exactly once: every order succeeded, with one order.succeeded event.
	for _, id := range ids {
		o, err := db.OrderByID(ctx, id)
		if err != nil || o.Status != paygate.OrderSucceeded {
			t.Fatalf("order %s: %v %v", id, o.Status, err)
		}
	}
	events := listEvents(t, db)
	perOrder := map[string]int{}
	for _, e := range events {
		perOrder[e.OrderID]++
		if e.Type != paygate.EventOrderSucceeded {
			t.Errorf("unexpected event %s for %s", e.Type, e.OrderID)
		}
	}
	if len(events) != orders || len(perOrder) != orders {
		t.Fatalf("%d events for %d orders, want %d", len(events), len(perOrder), orders)
	}

	// Every event reaches the merchant (deduplicated by id), the ones the
	// dead replica held included, once their leases end.
	deadline := time.Now().Add(60 * time.Second)
	for {
		seen, missing := rcv.Seen(), 0
		for _, e := range events {
			if seen[e.ID] == 0 {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events never reached the merchant", missing, len(events))
		}
		time.Sleep(100 * time.Millisecond)
	}
	delivered := time.Since(start)
	heldSeen := 0
	heldIDs.Range(func(id, _ any) bool {
		if rcv.Seen()[id.(string)] == 0 {
			t.Errorf("event %s, in flight at the crash, never delivered", id)
		}
		heldSeen++
		return true
	})
	for _, e := range events {
		d, err := db.EventDelivery(ctx, e.MerchantID, e.ID)
		if err != nil || d.Status != paygate.DeliveryDelivered {
			t.Errorf("event %s: %+v %v", e.ID, d, err)
		}
	}

	// Redis is back: replays of applied notifications take the fast path.
	before := callbackMetric(t, gws[0].URL, "duplicate")
	for _, cb := range cbs[:20] {
		cb.send(gws[0].URL) // marks it done in Redis if the storm did not (Redis was down)
		if status, err := cb.send(gws[0].URL); err != nil || status/100 != 2 {
			t.Fatalf("replay: %d %v", status, err)
		}
	}
	if got := callbackMetric(t, gws[0].URL, "duplicate") - before; got < 20 {
		t.Errorf("duplicates on the fast path after Redis came back = %d, want >= 20", got)
	}
	t.Logf("%d callbacks over %d processes; redis-server killed at %d, back at %d (%d Redis-unavailable warnings); "+
		"%s killed at %d with %d deliveries in flight (%d delivered later), back at %d (%d callbacks retried elsewhere); events %d; receiver saw %d distinct",
		len(storm), len(gws), len(storm)*2/5, len(storm)*3/5, redisLost, gws[victim].name, crashAt.Load(), killedAt.Load(), heldSeen,
		restartAt.Load(), retried.Load(), len(events), len(rcv.Seen()))
	t.Logf("times from the start: built %v, processes ready %v, %d orders paid %v, storm over %v, all delivered %v",
		built.Round(time.Millisecond), started.Round(time.Millisecond), orders, paid.Round(time.Millisecond),
		stormed.Round(time.Millisecond), delivered.Round(time.Millisecond))
}
