package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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

// stormConfig is a sandbox gateway configuration on PostgreSQL (schema
// chosen by the caller) and the given Redis, with the test key and the
// merchant's webhooks sent to hookURL.
func stormConfig(t *testing.T, redisURL, prefix, hookURL string) *config.Config {
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.DatabaseURL = postgresURL()
	cfg.RedisURL, cfg.RedisPrefix = redisURL, prefix
	cfg.Jobs.OutboxInterval = 50 * time.Millisecond
	cfg.Jobs.LeaseTTL = 2 * time.Second
	cfg.Jobs.PendingQueryInterval = time.Hour // callbacks, not queries, move the orders here
	cfg.Sandbox.KeyID, cfg.Sandbox.Secret = testKeyID, testSecret
	cfg.Sandbox.WebhookSecret, cfg.Sandbox.WebhookURL = stormWebhookSecret, hookURL
	cfg.RateLimit.Disabled = true // one key sends the whole storm
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
	// The simulator signs by real time unless told otherwise: the stale
	// notification below is signed on the shifted clock.
	m.Sandbox.WeChat.SetWall(now)
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
		o, err := m.DB.OrderByID(context.Background(), id)
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
