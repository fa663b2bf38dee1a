package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/config"
	"github.com/paygate-cn/paygate/gateway/apitest"
	"github.com/paygate-cn/paygate/store"
)

const stormWebhookSecret = "whsec_test_storm_0123456789abcdef"

// capturedCallback is a channel notification as the simulator sent it.
type capturedCallback struct {
	path   string
	header http.Header
	body   []byte
}

// captureTransport stands in for the network between the simulators and
// the gateway: it keeps every notification and answers as an accepting
// receiver would, so the test can replay them however it likes.
type captureTransport struct {
	mu   sync.Mutex
	list []capturedCallback
}

func (c *captureTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	body, _ := io.ReadAll(req.Body)
	c.mu.Lock()
	c.list = append(c.list, capturedCallback{path: req.URL.Path, header: req.Header.Clone(), body: body})
	c.mu.Unlock()
	return &http.Response{StatusCode: http.StatusNoContent, Body: io.NopCloser(strings.NewReader("")),
		Header: http.Header{}, Request: req}, nil
}

func (c *captureTransport) captured() []capturedCallback {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]capturedCallback(nil), c.list...)
}

// waitCaptured waits until n notifications were captured.
func (c *captureTransport) waitCaptured(t *testing.T, n int) []capturedCallback {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if l := c.captured(); len(l) >= n {
			return l
		}
		if time.Now().After(deadline) {
			t.Fatalf("captured %d notifications, want %d", len(c.captured()), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// callbackClient keeps connections to the gateways open, as a channel's
// notifier would.
var callbackClient = &http.Client{Timeout: 30 * time.Second,
	Transport: &http.Transport{MaxIdleConnsPerHost: 128, MaxIdleConns: 512}}

// send delivers a captured notification to a gateway.
func (cb capturedCallback) send(base string) (int, error) {
	req, err := http.NewRequest(http.MethodPost, base+cb.path, bytes.NewReader(cb.body))
	if err != nil {
		return 0, err
	}
	req.Header = cb.header.Clone()
	resp, err := callbackClient.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// stormConfig is a gateway configuration on PostgreSQL (schema chosen by
// the caller) and the given Redis. With sandbox, it runs the simulators;
// without, it talks to the providers given (another gateway's simulators)
// as the demo merchant with the test key.
func stormConfig(t *testing.T, redisURL, prefix, hookURL string, sandbox bool, providers []paygate.ProviderSpec) *config.Config {
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.DatabaseURL = postgresURL()
	cfg.RedisURL, cfg.RedisPrefix = redisURL, prefix
	cfg.Jobs.OutboxInterval = 50 * time.Millisecond
	cfg.Jobs.LeaseTTL = 2 * time.Second
	cfg.Jobs.PendingQueryInterval = time.Hour // callbacks, not queries, move the orders here
	if sandbox {
		cfg.Sandbox.KeyID, cfg.Sandbox.Secret = testKeyID, testSecret
		cfg.Sandbox.WebhookSecret, cfg.Sandbox.WebhookURL = stormWebhookSecret, hookURL
		return cfg
	}
	cfg.Sandbox.Enabled = false
	for i := range cfg.Merchants {
		if cfg.Merchants[i].ID == config.DemoMerchantID {
			m := &cfg.Merchants[i]
			m.Keys = []config.Key{{ID: testKeyID, Secret: testSecret}}
			m.WebhookURL, m.WebhookSecrets = hookURL, []string{stormWebhookSecret}
		}
	}
	cfg.Providers = append([]paygate.ProviderSpec(nil), providers...)
	return cfg
}

func startMain(t *testing.T, cfg *config.Config, schema string) *Main {
	t.Helper()
	m := NewMain()
	m.Config, m.DBSchema = cfg, schema
	m.Out = io.Discard
	m.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	m.ChannelTimeout = 3 * time.Second
	if err := m.Run(context.Background()); err != nil {
		m.Close()
		t.Fatalf("start gateway: %v", err)
	}
	return m
}

// newClient returns a test client of m that checks exchanges against the
// OpenAPI document.
func newClient(t *testing.T, m *Main) *client {
	doc, err := apitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	return &client{t: t, m: m, base: m.URL, doc: doc}
}

// callbackMetric reads one paygate_callbacks_total series from a gateway.
func callbackMetric(t *testing.T, base, outcome string) int {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	want := `paygate_callbacks_total{channel="wechat",outcome="` + outcome + `"} `
	if outcome == "rejected_malformed" {
		want = `paygate_callbacks_total{channel="alipay",outcome="` + outcome + `"} `
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), want); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	return 0
}

// allEvents lists the demo merchant's events from the store.
func allEvents(t *testing.T, m *Main) []*paygate.Event { return listEvents(t, m.DB) }

// listEvents lists the demo merchant's events in db.
func listEvents(t *testing.T, db *store.DB) []*paygate.Event {
	t.Helper()
	var all []*paygate.Event
	cursor := ""
	for {
		page, next, err := db.Events(context.Background(), paygate.EventFilter{MerchantID: config.DemoMerchantID, Cursor: cursor, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		if next == "" {
			return all
		}
		cursor = next
	}
}

// parallel runs f(i) for i in [0, n) on workers goroutines.
func parallel(n, workers int, f func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				f(i)
			}
		}()
	}
	wg.Wait()
}

// createScannedQROrders creates n WeChat QR orders on c and has the
// simulated customer pay each; it returns the order ids.
func createScannedQROrders(t *testing.T, c *client, n int) []string {
	return payQROrders(t, []*client{c}, c.base, n)
}

// payQROrders creates n WeChat QR orders, round-robin on clients, and has
// the simulated customer pay each at the simulators served from scanBase;
// it returns the order ids.
func payQROrders(t *testing.T, clients []*client, scanBase string, n int) []string {
	ids := make([]string, n)
	parallel(n, 8, func(i int) {
		c := clients[i%len(clients)]
		r := c.createOrder(map[string]any{"merchant_order_no": orderNo(), "amount": 100 + i, "subject": "Storm",
			"method": "qr", "channel": "wechat"}, "")
		if r.Status != 201 {
			t.Errorf("create: %d %s", r.Status, r.Body)
			return
		}
		o := r.decode(t)
		ids[i] = o["id"].(string)
		scan, _ := json.Marshal(map[string]string{"qr_code": o["qr_code"].(string)})
		resp, err := http.Post(scanBase+"/sandbox/wechat/scan", "application/json", bytes.NewReader(scan))
		if err != nil {
			t.Error(err)
			return
		}
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			t.Errorf("scan: %d", resp.StatusCode)
		}
	})
	if t.Failed() {
		t.FailNow()
	}
	return ids
}

// TestCallbackStorm: 1,000 paid QR orders; every notification delivered
// 5 times, shuffled, concurrently across 3 gateways sharing one PostgreSQL
// schema and one Redis, with Redis stopped for part of the storm. Each
// order moves once and produces one event; the merchant receives each
// event; once Redis is back, duplicates take the fast path again.
func TestCallbackStorm(t *testing.T) {
	if testing.Short() {
		t.Skip("storm: skipped in -short")
	}
	const orders, copies = 1000, 5
	mr := miniredis.NewMiniRedis()
	if err := mr.StartAddr("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer mr.Close()
	redisURL := "redis://" + mr.Addr()
	schema, prefix := "storm_"+randSuffix(), "storm:"+randSuffix()+":"
	t.Cleanup(func() { dropSchema(t, schema) })

	rcv := &webhookReceiver{Secrets: []string{stormWebhookSecret}}
	hook := httptest.NewServer(rcv)
	defer hook.Close()

	a := startMain(t, stormConfig(t, redisURL, prefix, hook.URL, true, nil), schema)
	defer a.Close()
	capture := &captureTransport{}
	a.Sandbox.Notifier.Client = &http.Client{Transport: capture}
	var mains = []*Main{a}
	for range 2 {
		m := startMain(t, stormConfig(t, redisURL, prefix, hook.URL, false, a.Config.Providers), schema)
		defer m.Close()
		mains = append(mains, m)
	}
	ca := newClient(t, a)

	ids := createScannedQROrders(t, ca, orders)
	cbs := capture.waitCaptured(t, orders)

	type delivery struct {
		cb      capturedCallback
		gateway int
	}
	var storm []delivery
	for _, cb := range cbs {
		for range copies {
			storm = append(storm, delivery{cb, rand.IntN(len(mains))})
		}
	}
	rand.Shuffle(len(storm), func(i, j int) { storm[i], storm[j] = storm[j], storm[i] })

	var sent atomic.Int64
	var redisOnce, redisBack sync.Once
	parallel(len(storm), 24, func(i int) {
		switch n := sent.Add(1); {
		case n == int64(len(storm))*2/5:
			redisOnce.Do(mr.Close) // Redis stops mid-storm
		case n == int64(len(storm))*3/5:
			redisBack.Do(func() {
				if err := mr.Restart(); err != nil {
					t.Errorf("restart redis: %v", err)
				}
			})
		}
		d := storm[i]
		status, err := d.cb.send(mains[d.gateway].URL)
		if err != nil || status/100 != 2 {
			t.Errorf("callback to gateway %d: %d %v", d.gateway, status, err)
		}
	})

	// Exactly once: every order succeeded, with one event each.
	ctx := context.Background()
	for _, id := range ids {
		o, err := a.DB.Order(ctx, "", id)
		if err != nil || o.Status != paygate.OrderSucceeded {
			t.Fatalf("order %s: %v %v", id, o.Status, err)
		}
	}
	events := allEvents(t, a)
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
	applied := 0
	for _, m := range mains {
		applied += callbackMetric(t, m.URL, "applied")
	}
	if applied != orders {
		t.Errorf("applied outcomes = %d, want %d", applied, orders)
	}

	// Every event reaches the merchant (deduplicated by id).
	deadline := time.Now().Add(60 * time.Second)
	for {
		seen := rcv.Seen()
		missing := 0
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

	// Redis is back: replays of applied notifications take the fast path.
	before := callbackMetric(t, a.URL, "duplicate")
	for _, cb := range cbs[:20] {
		cb.send(a.URL) // marks it done in Redis if the storm did not (Redis was down)
		if status, err := cb.send(a.URL); err != nil || status/100 != 2 {
			t.Fatalf("replay: %d %v", status, err)
		}
	}
	if got := callbackMetric(t, a.URL, "duplicate") - before; got < 20 {
		t.Errorf("duplicates on the fast path after Redis came back = %d, want >= 20", got)
	}
	t.Logf("storm: %d callbacks over %d gateways; applied %d; events %d; receiver saw %d distinct",
		len(storm), len(mains), applied, len(events), len(rcv.Seen()))
}

// TestDeliveryAfterCrash: a gateway dies with deliveries in flight (its
// context cancelled mid-POST, leases outstanding); a new gateway on the same
// database delivers every event once the leases end.
func TestDeliveryAfterCrash(t *testing.T) {
	const n = 30
	schema := "crash_" + randSuffix()
	t.Cleanup(func() { dropSchema(t, schema) })
	var hang atomic.Bool
	hang.Store(true)
	release := make(chan struct{})
	var inflight atomic.Int64
	rcv := &webhookReceiver{Secrets: []string{stormWebhookSecret}}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hang.Load() {
			// Reading the body lets the server notice the sender hanging up.
			io.Copy(io.Discard, r.Body)
			inflight.Add(1)
			select { // in flight until the sender dies
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		rcv.ServeHTTP(w, r)
	}))
	defer hook.Close()
	defer close(release)

	cfg := stormConfig(t, "", "", hook.URL, true, nil)
	a := startMain(t, cfg, schema)
	ca := newClient(t, a)
	parallel(n, 6, func(i int) {
		if r := ca.createOrder(authCodeOrder("134567890123456789", int64(100+i)), ""); r.Status != 201 {
			t.Errorf("create: %d %s", r.Status, r.Body)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for inflight.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no delivery started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	a.Close() // dies mid-delivery
	hang.Store(false)

	b := startMain(t, stormConfig(t, "", "", hook.URL, true, nil), schema)
	defer b.Close()
	events := allEvents(t, b)
	if len(events) != n {
		t.Fatalf("%d events, want %d", len(events), n)
	}
	deadline = time.Now().Add(20 * time.Second)
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
			t.Fatalf("%d of %d events not delivered after the restart (%d were in flight at the crash)", missing, n, inflight.Load())
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, e := range events {
		d, err := b.DB.EventDelivery(context.Background(), "", e.ID)
		if err != nil || d.Status != paygate.DeliveryDelivered {
			t.Errorf("event %s: %+v %v", e.ID, d, err)
		}
	}
	t.Logf("%d deliveries were in flight at the crash; all %d events delivered after the restart", inflight.Load(), n)
}

// TestRejectedCallbacks: forged, stale, replayed and malformed callbacks
// change no order, and each is counted under its own outcome.
func TestRejectedCallbacks(t *testing.T) {
	var offset atomic.Int64 // the simulators' and gateway's clock, shifted
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.DatabaseURL = "sqlite:" + cfg.DataDir + "/paygate.db"
	cfg.Sandbox.KeyID, cfg.Sandbox.Secret = testKeyID, testSecret
	cfg.Jobs.PendingQueryInterval = time.Hour
	m := NewMain()
	m.Config, m.Now = cfg, now
	m.Out, m.Logger = io.Discard, slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	capture := &captureTransport{}
	m.Sandbox.Notifier.Client = &http.Client{Transport: capture}
	c := newClient(t, m)

	// Three paid orders whose notifications are held back: the first is
	// delivered then replayed, the second forged, the third signed 10
	// minutes in the past (stale).
	ids := createScannedQROrders(t, c, 1)
	genuine := capture.waitCaptured(t, 1)[0]
	ids = append(ids, createScannedQROrders(t, c, 1)...)
	forgedSrc := capture.waitCaptured(t, 2)[1]
	o3 := c.createOrder(map[string]any{"merchant_order_no": orderNo(), "amount": 300, "subject": "Stale",
		"method": "qr", "channel": "wechat"}, "").decode(t)
	ids = append(ids, o3["id"].(string))
	offset.Store(int64(-10 * time.Minute))
	scan, _ := json.Marshal(map[string]string{"qr_code": o3["qr_code"].(string)})
	resp, err := http.Post(c.base+"/sandbox/wechat/scan", "application/json", bytes.NewReader(scan))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	stale := capture.waitCaptured(t, 3)[2]
	offset.Store(0)

	expect := func(cb capturedCallback, status int) {
		t.Helper()
		if got, err := cb.send(m.URL); err != nil || got != status {
			t.Fatalf("callback answered %d (%v), want %d", got, err, status)
		}
	}
	expect(genuine, 204)
	expect(genuine, 204) // replayed: the fast path
	m.Redis.FlushAll(context.Background())
	expect(genuine, 204) // replayed with Redis forgetful: the database says unchanged

	forged := forgedSrc
	forged.body = bytes.Replace(forgedSrc.body, []byte(`"ciphertext":"`), []byte(`"ciphertext":"AAAA`), 1)
	expect(forged, 401)
	resigned := forgedSrc
	resigned.header = forgedSrc.header.Clone()
	resigned.header.Set("Wechatpay-Signature", "bm90IGEgc2lnbmF0dXJl")
	expect(resigned, 401)
	expect(stale, 401)
	expect(capturedCallback{path: "/callbacks/alipay", header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
		body: []byte("%zz")}, 200) // Alipay answers 200 with the body "fail"

	for i, id := range ids {
		o, err := m.DB.Order(context.Background(), "", id)
		if err != nil {
			t.Fatal(err)
		}
		want := paygate.OrderPending
		if i == 0 {
			want = paygate.OrderSucceeded
		}
		if o.Status != want {
			t.Errorf("order %d is %s, want %s", i, o.Status, want)
		}
		ev, _, _ := m.DB.Events(context.Background(), paygate.EventFilter{MerchantID: config.DemoMerchantID, OrderID: id})
		if wantN := map[bool]int{true: 1, false: 0}[i == 0]; len(ev) != wantN {
			t.Errorf("order %d has %d events, want %d", i, len(ev), wantN)
		}
	}
	for outcome, want := range map[string]int{"applied": 1, "duplicate": 1, "unchanged": 1,
		"rejected_signature": 2, "rejected_stale": 1, "rejected_malformed": 1} {
		if got := callbackMetric(t, m.URL, outcome); got != want {
			t.Errorf("paygate_callbacks_total{outcome=%q} = %d, want %d", outcome, got, want)
		}
	}
}
