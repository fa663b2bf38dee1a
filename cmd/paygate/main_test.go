package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/config"
	"github.com/paygate-cn/paygate/gateway"
	"github.com/paygate-cn/paygate/gateway/apitest"
	"github.com/paygate-cn/paygate/internal/apiclient"
)

const (
	testKeyID  = "key_test_demo"
	testSecret = "sk_test_0123456789abcdef0123456789abcdef"
)

// backends lists the storage pairs every end-to-end test runs on:
// SQLite with the in-process Redis, and PostgreSQL with real Redis.
// PAYGATE_TEST_BACKENDS=sqlite (or postgres) narrows the list.
func backends(t *testing.T) []string {
	all := []string{"sqlite", "postgres"}
	if v := os.Getenv("PAYGATE_TEST_BACKENDS"); v != "" {
		return strings.Split(v, ",")
	}
	return all
}

func postgresURL() string {
	if u := os.Getenv("PAYGATE_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

func redisURL() string {
	if u := os.Getenv("PAYGATE_TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

func randSuffix() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// testMain starts a complete sandbox gateway on a free port; configure
// adjusts the configuration first.
func testMain(t *testing.T, backend string, configure ...func(*config.Config)) *client {
	t.Helper()
	return testMainWith(t, backend, nil, configure...)
}

// testMainWith is testMain with setup adjusting the Main (its clock, say)
// just before it runs.
func testMainWith(t *testing.T, backend string, setup func(*Main), configure ...func(*config.Config)) *client {
	t.Helper()
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.Sandbox.KeyID, cfg.Sandbox.Secret = testKeyID, testSecret
	for _, f := range configure {
		f(cfg)
	}
	m := NewMain()
	switch backend {
	case "sqlite":
		cfg.DatabaseURL = "sqlite:" + cfg.DataDir + "/paygate.db"
	case "postgres":
		cfg.DatabaseURL = postgresURL()
		cfg.RedisURL = redisURL()
		cfg.RedisPrefix = "test:" + randSuffix() + ":"
		m.DBSchema = "e2e_" + randSuffix()
	default:
		t.Fatalf("unknown backend %q", backend)
	}
	m.Config = cfg
	m.Out = io.Discard
	m.Logger = discardLogger()
	m.PollInterval = 200 * time.Millisecond
	m.ChannelTimeout = 1500 * time.Millisecond
	m.SandboxHang = 3 * time.Second
	m.PaymentWindow = 4 * time.Second
	if setup != nil {
		setup(m)
	}
	if err := m.Run(context.Background()); err != nil {
		m.Close()
		t.Fatalf("start gateway: %v", err)
	}
	t.Cleanup(func() {
		m.Close()
		if backend == "postgres" {
			dropSchema(t, m.DBSchema)
		}
	})
	doc, err := apitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	return &client{t: t, m: m, base: m.URL, doc: doc}
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

type client struct {
	t    *testing.T
	m    *Main
	base string
	doc  *apitest.Doc
	// keyID and secret sign requests; empty means the sandbox test key.
	keyID, secret string
	// hc sends the requests; nil means http.DefaultClient.
	hc *http.Client
}

type response struct {
	Status int
	Body   []byte
	Header http.Header
}

func (r response) decode(t *testing.T) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Fatalf("response %d is not JSON: %s", r.Status, r.Body)
	}
	return v
}

func (r response) errorCode() string {
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	json.Unmarshal(r.Body, &e)
	return e.Error.Code
}

// do sends a signed request and checks the exchange against the OpenAPI
// document (template names the documented path, "" to skip).
func (c *client) do(method, path, template string, body any, idem string) response {
	c.t.Helper()
	var b []byte
	switch v := body.(type) {
	case nil:
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		b, _ = json.Marshal(v)
	}
	keyID, secret := testKeyID, testSecret
	if c.keyID != "" {
		keyID, secret = c.keyID, c.secret
	}
	hc := c.hc
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := apiclient.Do(context.Background(), hc, c.base, keyID, secret, method, path, b, idem)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	r := response{Status: resp.StatusCode, Body: out, Header: resp.Header}
	if template != "" {
		if r.Status < 300 {
			if err := c.doc.CheckRequest(method, template, b); err != nil && b != nil {
				c.t.Errorf("request does not match the OpenAPI document: %v\n%s", err, b)
			}
		}
		if err := c.doc.CheckResponse(method, template, r.Status, out); err != nil {
			c.t.Errorf("response does not match the OpenAPI document: %v\n%s", err, out)
		}
	}
	return r
}

func (c *client) createOrder(body map[string]any, idem string) response {
	c.t.Helper()
	return c.do("POST", "/v1/orders", "/v1/orders", body, idem)
}

func (c *client) order(id string) map[string]any {
	c.t.Helper()
	r := c.do("GET", "/v1/orders/"+id, "/v1/orders/{id}", nil, "")
	if r.Status != 200 {
		c.t.Fatalf("GET order %s: %d %s", id, r.Status, r.Body)
	}
	return r.decode(c.t)
}

// waitStatus polls an order until it reaches want (a channel callback or
// background resolution moves it), failing after a deadline.
func (c *client) waitStatus(id, want string) map[string]any {
	c.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		o := c.order(id)
		if o["status"] == want {
			return o
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("order %s is %v, want %s: %v", id, o["status"], want, o)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var orderSeq struct {
	sync.Mutex
	n int
}

func orderNo() string {
	orderSeq.Lock()
	defer orderSeq.Unlock()
	orderSeq.n++
	return fmt.Sprintf("T%s-%04d", randSuffix(), orderSeq.n)
}

func authCodeOrder(code string, amount int64) map[string]any {
	return map[string]any{
		"merchant_order_no": orderNo(), "amount": amount, "currency": "CNY", "subject": "Latte",
		"method": "auth_code", "auth_code": code, "terminal_id": "T0001",
		"location": map[string]any{"region_code": "310000"}, "metadata": map[string]any{"table": "12"},
	}
}

func forEachBackend(t *testing.T, f func(t *testing.T, c *client)) {
	for _, b := range backends(t) {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			f(t, testMain(t, b))
		})
	}
}

func TestWeChatBScanC(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *client) {
		r := c.createOrder(authCodeOrder("134567890123456789", 1234), "")
		if r.Status != 201 {
			t.Fatalf("create: %d %s", r.Status, r.Body)
		}
		o := r.decode(t)
		for k, want := range map[string]any{"status": "succeeded", "channel": "wechat", "provider": "wechat",
			"fee": 7.0, "net_amount": 1227.0, "object": "order", "merchant_id": "m_demo"} {
			if o[k] != want {
				t.Errorf("%s = %v, want %v", k, o[k], want)
			}
		}
		if o["channel_trade_no"] == "" || o["paid_at"] == nil {
			t.Errorf("succeeded order lacks channel_trade_no or paid_at: %v", o)
		}
		route := o["route"].(map[string]any)
		if route["fee_rate"] != "0.006" {
			t.Errorf("route fee_rate = %v", route["fee_rate"])
		}
		// Listing by merchant order number finds it.
		l := c.do("GET", "/v1/orders?merchant_order_no="+o["merchant_order_no"].(string), "/v1/orders", nil, "").decode(t)
		if data := l["data"].([]any); len(data) != 1 || data[0].(map[string]any)["id"] != o["id"] {
			t.Errorf("list by merchant_order_no = %v", l)
		}
		// One stored event.
		ev := c.do("GET", "/v1/events?order_id="+o["id"].(string), "/v1/events", nil, "").decode(t)
		if data := ev["data"].([]any); len(data) != 1 || data[0].(map[string]any)["type"] != "order.succeeded" {
			t.Errorf("events = %v", ev)
		}
	})
}

func TestWeChatNativeQR(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *client) {
		r := c.createOrder(map[string]any{"merchant_order_no": orderNo(), "amount": 2500, "subject": "Cake",
			"method": "qr", "channel": "wechat"}, "")
		if r.Status != 201 {
			t.Fatalf("create: %d %s", r.Status, r.Body)
		}
		o := r.decode(t)
		code, _ := o["qr_code"].(string)
		if o["status"] != "pending" || !strings.HasPrefix(code, "weixin://") {
			t.Fatalf("qr order = %v", o)
		}
		scan, _ := json.Marshal(map[string]string{"qr_code": code})
		resp, err := http.Post(c.base+"/sandbox/wechat/scan", "application/json", bytes.NewReader(scan))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			t.Fatalf("scan: %d", resp.StatusCode)
		}
		paid := c.waitStatus(o["id"].(string), "succeeded")
		if paid["fee"] != 15.0 || paid["net_amount"] != 2485.0 {
			t.Errorf("fee/net = %v/%v", paid["fee"], paid["net_amount"])
		}
	})
}

func TestWeChatScenarios(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *client) {
		var wg sync.WaitGroup
		run := func(name string, f func(t *testing.T)) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				t.Run(name, f)
			}()
		}
		run("1111 confirms after the wait", func(t *testing.T) {
			o := c.createOrder(authCodeOrder("134567890123451111", 1000), "").decode(t)
			if o["status"] != "succeeded" {
				t.Errorf("status %v", o["status"])
			}
		})
		run("2222 never confirms and is reversed", func(t *testing.T) {
			body := authCodeOrder("134567890123452222", 1000)
			body["wait_seconds"] = 2
			o := c.createOrder(body, "").decode(t)
			if o["status"] != "reversed" {
				c.waitStatus(o["id"].(string), "reversed")
			}
		})
		run("3333 is declined", func(t *testing.T) {
			o := c.createOrder(authCodeOrder("134567890123453333", 1000), "").decode(t)
			f, _ := o["failure"].(map[string]any)
			if o["status"] != "failed" || f == nil || f["code"] == "" {
				t.Errorf("declined order = %v", o)
			}
		})
		run("4444 pending at first, succeeded after the query", func(t *testing.T) {
			o := c.createOrder(authCodeOrder("134567890123454444", 1000), "").decode(t)
			if o["status"] != "pending" {
				t.Errorf("status at first = %v, want pending", o["status"])
			}
			c.waitStatus(o["id"].(string), "succeeded")
		})
		run("5555 succeeds after a system error", func(t *testing.T) {
			o := c.createOrder(authCodeOrder("134567890123455555", 1000), "").decode(t)
			if o["status"] != "succeeded" {
				c.waitStatus(o["id"].(string), "succeeded")
			}
		})
		run("6666 triple callback, one transition", func(t *testing.T) {
			o := c.createOrder(authCodeOrder("134567890123456666", 1000), "").decode(t)
			id := o["id"].(string)
			c.waitStatus(id, "succeeded")
			time.Sleep(time.Second) // let the three concurrent callbacks land
			ev := c.do("GET", "/v1/events?order_id="+id, "/v1/events", nil, "").decode(t)
			if n := len(ev["data"].([]any)); n != 1 {
				t.Errorf("%d events, want exactly 1: %v", n, ev)
			}
		})
		wg.Wait()
	})
}

func TestIdempotency(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *client) {
		body := authCodeOrder("134567890123456789", 500)
		first := c.createOrder(body, "idem-"+randSuffix())
		key := "idem-" + randSuffix()
		a := c.createOrder(body, key)
		if first.Status != 201 {
			t.Fatalf("first: %d %s", first.Status, first.Body)
		}
		// a reuses merchant_order_no with a new key: a duplicate.
		if a.Status != 409 || a.errorCode() != paygate.EDUPORDERNO {
			t.Errorf("same merchant_order_no, new key: %d %s", a.Status, a.Body)
		}

		body = authCodeOrder("134567890123456789", 500)
		key = "idem-" + randSuffix()
		r1 := c.createOrder(body, key)
		r2 := c.createOrder(body, key)
		if r1.Status != 201 || r2.Status != 200 || !bytes.Equal(r1.Body, r2.Body) {
			t.Errorf("replay: %d %s / %d %s", r1.Status, r1.Body, r2.Status, r2.Body)
		}
		if r2.Header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("replay lacks Idempotent-Replayed")
		}
		body["amount"] = 501
		if r3 := c.createOrder(body, key); r3.Status != 409 || r3.errorCode() != paygate.EIDEMPOTENCYREUSED {
			t.Errorf("other body: %d %s", r3.Status, r3.Body)
		}

		// Two concurrent requests with one key: one order.
		body = authCodeOrder("134567890123451111", 700) // takes ~3 s
		key = "idem-" + randSuffix()
		var wg sync.WaitGroup
		results := make([]response, 2)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = c.createOrder(body, key)
			}()
			time.Sleep(100 * time.Millisecond)
		}
		wg.Wait()
		created := 0
		for _, r := range results {
			switch {
			case r.Status == 201:
				created++
			case r.Status == 409 && r.errorCode() == paygate.EIDEMPOTENCYINUSE:
			default:
				t.Errorf("concurrent: %d %s", r.Status, r.Body)
			}
		}
		l := c.do("GET", "/v1/orders?merchant_order_no="+body["merchant_order_no"].(string), "/v1/orders", nil, "").decode(t)
		if created != 1 || len(l["data"].([]any)) != 1 {
			t.Errorf("concurrent same key: %d created, %d orders", created, len(l["data"].([]any)))
		}
	})
}

func TestConcurrentRefundsNeverExceedAmount(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *client) {
		o := c.createOrder(authCodeOrder("134567890123456789", 1000), "").decode(t)
		id := o["id"].(string)
		var wg sync.WaitGroup
		var mu sync.Mutex
		refunded, ok, exceeded := int64(0), 0, 0
		for i := range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := c.do("POST", "/v1/orders/"+id+"/refunds", "/v1/orders/{id}/refunds",
					map[string]any{"merchant_refund_no": fmt.Sprintf("R%s-%d", id[4:12], i), "amount": 30, "reason": "test"}, "")
				mu.Lock()
				defer mu.Unlock()
				switch {
				case r.Status == 201:
					ok++
					refunded += 30
				case r.Status == 422 && r.errorCode() == paygate.EREFUNDEXCEEDS:
					exceeded++
				default:
					t.Errorf("refund: %d %s", r.Status, r.Body)
				}
			}()
		}
		wg.Wait()
		if refunded > 1000 || ok != 33 || exceeded != 17 {
			t.Errorf("refunds: %d ok (%d fen), %d exceeded", ok, refunded, exceeded)
		}
		// WeChat answers refunds PROCESSING; their callbacks finish them.
		deadline := time.Now().Add(15 * time.Second)
		for {
			final := c.order(id)
			if final["refunded_amount"] == 990.0 && final["status"] == "partially_refunded" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("order after refunds: refunded_amount=%v status=%v", final["refunded_amount"], final["status"])
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
}

func TestCloseCancelRefund(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *client) {
		// Close an unpaid QR order.
		q := c.createOrder(map[string]any{"merchant_order_no": orderNo(), "amount": 100, "subject": "Tea", "method": "qr", "channel": "wechat"}, "").decode(t)
		cl := c.do("POST", "/v1/orders/"+q["id"].(string)+"/close", "/v1/orders/{id}/close", nil, "")
		if cl.Status != 200 || cl.decode(t)["status"] != "closed" {
			t.Errorf("close: %d %s", cl.Status, cl.Body)
		}
		// Closing a paid order is refused.
		paid := c.createOrder(authCodeOrder("134567890123456789", 800), "").decode(t)
		pid := paid["id"].(string)
		if r := c.do("POST", "/v1/orders/"+pid+"/close", "/v1/orders/{id}/close", nil, ""); r.Status != 409 || r.errorCode() != paygate.EINVALIDSTATE {
			t.Errorf("close paid: %d %s", r.Status, r.Body)
		}
		// Full refund.
		rf := c.do("POST", "/v1/orders/"+pid+"/refunds", "/v1/orders/{id}/refunds", map[string]any{"merchant_refund_no": "RF-" + randSuffix(), "amount": 800}, "")
		if rf.Status != 201 {
			t.Fatalf("refund: %d %s", rf.Status, rf.Body)
		}
		ref := rf.decode(t)
		for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			got := c.do("GET", "/v1/refunds/"+ref["id"].(string), "/v1/refunds/{id}", nil, "").decode(t)
			if got["status"] == "succeeded" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("refund status %v", got["status"])
			}
		}
		if o := c.order(pid); o["status"] != "refunded" || o["refunded_amount"] != 800.0 {
			t.Errorf("refunded order: %v", o)
		}
		// Cancel (reverse) a paid same-day order.
		paid2 := c.createOrder(authCodeOrder("134567890123456789", 900), "").decode(t)
		cc := c.do("POST", "/v1/orders/"+paid2["id"].(string)+"/cancel", "/v1/orders/{id}/cancel", nil, "")
		if cc.Status != 200 || cc.decode(t)["status"] != "reversed" {
			t.Errorf("cancel: %d %s", cc.Status, cc.Body)
		}
		// Pagination walks every order exactly once.
		seen := map[string]bool{}
		cursor := ""
		for range 20 {
			path := "/v1/orders?limit=2"
			if cursor != "" {
				path += "&cursor=" + cursor
			}
			page := c.do("GET", path, "/v1/orders", nil, "").decode(t)
			for _, d := range page["data"].([]any) {
				id := d.(map[string]any)["id"].(string)
				if seen[id] {
					t.Errorf("order %s listed twice", id)
				}
				seen[id] = true
			}
			next, _ := page["next_cursor"].(string)
			if next == "" {
				break
			}
			cursor = next
		}
		if len(seen) != 3 {
			t.Errorf("pagination saw %d orders, want 3", len(seen))
		}
	})
}

func TestBadInputWritesNothing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *client) {
		good := func() map[string]any { return authCodeOrder("134567890123456789", 100) }
		with := func(k string, v any) map[string]any { b := good(); b[k] = v; return b }
		for _, tc := range []struct {
			name   string
			body   any
			status int
			code   string
		}{
			{"malformed JSON", `{"amount": 12,`, 400, paygate.EINVALIDJSON},
			{"not an object", `[1,2]`, 400, paygate.EINVALIDJSON},
			{"empty", ``, 400, paygate.EINVALIDJSON},
			{"unknown field", with("colour", "red"), 400, paygate.EUNKNOWNPARAM},
			{"unknown nested field", with("location", map[string]any{"region_code": "310000", "x": 1}), 400, paygate.EUNKNOWNPARAM},
			{"amount as string", with("amount", "1234"), 400, paygate.EAMOUNTINVALID},
			{"amount as float", with("amount", 12.5), 400, paygate.EAMOUNTINVALID},
			{"amount zero", with("amount", 0), 400, paygate.EAMOUNTINVALID},
			{"amount negative", with("amount", -5), 400, paygate.EAMOUNTINVALID},
			{"amount above limit", with("amount", 5000001), 422, paygate.EAMOUNTTOOLARGE},
			{"amount missing", func() map[string]any { b := good(); delete(b, "amount"); return b }(), 400, paygate.EPARAMMISSING},
			{"subject too long", with("subject", strings.Repeat("茶", 129)), 400, paygate.ESTRINGTOOLONG},
			{"order no too long", with("merchant_order_no", strings.Repeat("A", 65)), 400, paygate.ESTRINGTOOLONG},
			{"metadata wrong type", with("metadata", map[string]any{"a": 1}), 400, paygate.EPARAMINVALID},
			{"unknown method", with("method", "cash"), 400, paygate.EUNSUPPORTED},
			{"unknown channel", with("channel", "paypal"), 400, paygate.EUNKNOWNCHANNEL},
			{"unsupported auth code", with("auth_code", "999999999999999999"), 422, paygate.EUNSUPPORTEDAUTH},
			{"wait_seconds out of range", with("wait_seconds", 500), 400, paygate.EPARAMINVALID},
			{"bad notify_url", with("notify_url", "ftp://x"), 400, paygate.EPARAMINVALID},
			{"bad currency", with("currency", "USD"), 400, paygate.EPARAMINVALID},
			{"oversized body", with("subject", strings.Repeat("x", 70000)), 413, paygate.EBODYTOOLARGE},
		} {
			r := c.do("POST", "/v1/orders", "/v1/orders", tc.body, "")
			if r.Status != tc.status || r.errorCode() != tc.code {
				t.Errorf("%s: got %d %s, want %d %s", tc.name, r.Status, r.Body, tc.status, tc.code)
			}
		}
		// Authentication failures.
		body := []byte(`{}`)
		send := func(auth string) response {
			req, _ := http.NewRequest("POST", c.base+"/v1/orders", bytes.NewReader(body))
			req.Header.Set("Authorization", auth)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			out, _ := io.ReadAll(resp.Body)
			return response{Status: resp.StatusCode, Body: out}
		}
		now := time.Now()
		nonce := "n" + randSuffix() + randSuffix()
		valid := gateway.AuthorizationHeader(testKeyID, testSecret, "POST", "/v1/orders", now, nonce, body)
		for _, tc := range []struct {
			name, auth, code string
		}{
			{"missing", "", paygate.EAUTHMISSING},
			{"unknown key", gateway.AuthorizationHeader("key_nope", testSecret, "POST", "/v1/orders", now, "n"+randSuffix()+randSuffix(), body), paygate.EINVALIDKEY},
			{"forged", gateway.AuthorizationHeader(testKeyID, "wrong-secret", "POST", "/v1/orders", now, "n"+randSuffix()+randSuffix(), body), paygate.EINVALIDSIG},
			{"stale", gateway.AuthorizationHeader(testKeyID, testSecret, "POST", "/v1/orders", now.Add(-10*time.Minute), "n"+randSuffix()+randSuffix(), body), paygate.ESTALETIMESTAMP},
			{"short nonce", gateway.AuthorizationHeader(testKeyID, testSecret, "POST", "/v1/orders", now, "abc", body), paygate.EAUTHMISSING},
		} {
			if r := send(tc.auth); r.Status != 401 || r.errorCode() != tc.code {
				t.Errorf("%s: %d %s", tc.name, r.Status, r.Body)
			}
		}
		if r := send(valid); r.Status != 400 { // signed correctly; the empty object is then invalid
			t.Errorf("valid signature: %d %s", r.Status, r.Body)
		}
		if r := send(valid); r.Status != 401 || r.errorCode() != paygate.EREPLAYEDNONCE {
			t.Errorf("replayed: %d %s", r.Status, r.Body)
		}
		// A forged WeChat callback is rejected.
		req, _ := http.NewRequest("POST", c.base+"/callbacks/wechat", strings.NewReader(`{"id":"EV-1","event_type":"TRANSACTION.SUCCESS","resource":{"algorithm":"AEAD_AES_256_GCM","ciphertext":"AAAA","nonce":"abcdefabcdef","associated_data":"transaction"}}`))
		req.Header.Set("Wechatpay-Timestamp", fmt.Sprint(now.Unix()))
		req.Header.Set("Wechatpay-Nonce", "abc")
		req.Header.Set("Wechatpay-Signature", "Zm9yZ2Vk")
		req.Header.Set("Wechatpay-Serial", "X")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode < 400 {
			t.Errorf("forged callback answered %d", resp.StatusCode)
		}
		// Nothing was written by any of it.
		l := c.do("GET", "/v1/orders", "/v1/orders", nil, "").decode(t)
		if n := len(l["data"].([]any)); n != 0 {
			t.Errorf("%d orders written by bad input", n)
		}
	})
}

func TestHealthMetricsOpenAPI(t *testing.T) {
	c := testMain(t, "sqlite")
	for _, p := range []string{"/healthz", "/readyz", "/metrics", "/openapi.json"} {
		resp, err := http.Get(c.base + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: %d", p, resp.StatusCode)
		}
	}
	c.createOrder(authCodeOrder("134567890123456789", 100), "")
	resp, _ := http.Get(c.base + "/metrics")
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"paygate_http_requests_total", "paygate_channel_call_seconds", "paygate_orders_total"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// freeAddr returns a loopback address nothing listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
