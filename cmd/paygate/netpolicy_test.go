package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paygate-cn/paygate/config"
)

// A notify_url leading inside is refused when the order is created, in
// every notation, with nothing written: the merchant_order_no stays free.
// Terminal keys cannot set one at all.
func TestNotifyURLPolicy(t *testing.T) {
	const termKey, termSecret = "key_term_notify", "sk_term_notify_0123456789abcdef0123456789"
	for _, b := range backends(t) {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			c := testMain(t, b, func(cfg *config.Config) {
				cfg.Webhooks.AllowedNetworks = []string{} // http still allowed, loopback not
				for i := range cfg.Merchants {
					if cfg.Merchants[i].ID == config.DemoMerchantID {
						cfg.Merchants[i].Keys = append(cfg.Merchants[i].Keys, config.Key{ID: termKey, Secret: termSecret, TerminalID: config.DemoTerminalID})
					}
				}
			})
			body := authCodeOrder("134567890123456789", 100)
			for url, code := range map[string]string{
				"http://127.0.0.1:8080/hook":               "forbidden_destination",
				"http://[::1]/hook":                        "forbidden_destination",
				"http://[::ffff:127.0.0.1]/hook":           "forbidden_destination",
				"http://2130706433/hook":                   "forbidden_destination",
				"http://0177.0.0.1/hook":                   "forbidden_destination",
				"http://0x7f.1/hook":                       "forbidden_destination",
				"http://localhost:9000/hook":               "forbidden_destination",
				"http://169.254.169.254/latest/meta-data/": "forbidden_destination",
				"http://10.0.0.8/hook":                     "forbidden_destination",
				"http://172.20.1.1/hook":                   "forbidden_destination",
				"http://192.168.1.10/hook":                 "forbidden_destination",
				"http://100.64.0.1/hook":                   "forbidden_destination",
				"http://[fe80::1]/hook":                    "forbidden_destination",
				"http://[fd00::1]/hook":                    "forbidden_destination",
				"http://0.0.0.0/hook":                      "forbidden_destination",
				"http://224.0.0.1/hook":                    "forbidden_destination",
				"gopher://shop.example.com/":               "parameter_invalid",
				"http://999.1.1.1/hook":                    "parameter_invalid",
			} {
				body["notify_url"] = url
				r := c.createOrder(body, "")
				if r.Status != 422 && r.Status != 400 || r.errorCode() != code || !strings.Contains(string(r.Body), `"param":"notify_url"`) {
					t.Errorf("%s: %d %s, want %s", url, r.Status, r.Body, code)
				}
			}
			list := c.do("GET", "/v1/orders?limit=10", "", nil, "").decode(t)
			if data, _ := list["data"].([]any); len(data) != 0 {
				t.Fatalf("refused orders were written: %v", data)
			}
			tc := *c
			tc.keyID, tc.secret = termKey, termSecret
			body["notify_url"] = "https://shop.example.com/hook"
			if r := tc.createOrder(body, ""); r.Status != 403 || r.errorCode() != "terminal_key_forbidden" {
				t.Errorf("terminal key with notify_url: %d %s", r.Status, r.Body)
			}
			if r := c.createOrder(body, ""); r.Status != 201 {
				t.Fatalf("the corrected order: %d %s", r.Status, r.Body)
			}
		})
	}
}

// metricSeries counts the series of a metric family on /metrics whose
// labels include label (a `name="value"` pair), and returns the
// exposition text.
func metricSeries(t *testing.T, base, name, label string) (int, string) {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(resp.Body)
	n := 0
	sc := bufio.NewScanner(strings.NewReader(string(text)))
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, name+"{") && strings.Contains(line, label) {
			n++
		}
	}
	return n, string(text)
}

// 2,000 callbacks to invented channel names, and requests with invented
// methods and paths, add no series: every label comes from a closed set.
// The dispatcher, backlog, circuit and risk series are exported.
func TestMetricsLabelsAreClosed(t *testing.T) {
	c := testMain(t, "sqlite")
	base := c.m.URL
	// A payment, for the risk, circuit and dispatch series.
	if r := c.createOrder(authCodeOrder("134567890123456789", 100), ""); r.Status != 201 {
		t.Fatalf("order: %d %s", r.Status, r.Body)
	}
	send := func(method, path string) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader("{}"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	send("POST", "/callbacks/warmup")
	send("BREW", "/warmup")
	// The series the invented names could grow: unknown channels and
	// unmatched routes (other series move with the order's own traffic).
	before, _ := metricSeries(t, base, "paygate_callbacks_total", `channel="unknown"`)
	requestsBefore, _ := metricSeries(t, base, "paygate_http_requests_total", `route="unmatched"`)
	latencyBefore, _ := metricSeries(t, base, "paygate_http_request_seconds_count", `route="unmatched"`)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 250 {
				send("POST", fmt.Sprintf("/callbacks/invented%d-%d", w, i))
				if i%25 == 0 {
					send(fmt.Sprintf("M%dX%d", w, i), fmt.Sprintf("/nowhere/%d/%d", w, i))
				}
			}
		}()
	}
	wg.Wait()
	after, text := metricSeries(t, base, "paygate_callbacks_total", `channel="unknown"`)
	requestsAfter, _ := metricSeries(t, base, "paygate_http_requests_total", `route="unmatched"`)
	latencyAfter, _ := metricSeries(t, base, "paygate_http_request_seconds_count", `route="unmatched"`)
	if after != before || requestsAfter != requestsBefore || latencyAfter != latencyBefore {
		t.Errorf("series grew: callbacks %d -> %d, requests %d -> %d, latency %d -> %d",
			before, after, requestsBefore, requestsAfter, latencyBefore, latencyAfter)
	}
	if all, _ := metricSeries(t, base, "paygate_callbacks_total", ""); all > 50 {
		t.Errorf("%d callback series", all)
	}
	if strings.Contains(text, "invented") || strings.Contains(text, "nowhere") || strings.Contains(text, "M0X0") {
		t.Error("a request's words reached /metrics")
	}
	for _, want := range []string{
		`paygate_callbacks_total{channel="unknown",outcome="unknown_channel"}`,
		`paygate_webhook_deliveries_total{outcome="delivered"}`,
		"paygate_outbox_pending_events ",
		"paygate_outbox_due_events ",
		"paygate_outbox_oldest_pending_seconds ",
		"paygate_pending_orders ",
		`paygate_circuit_state{provider="wechat",state="closed"} 1`,
		`paygate_risk_decisions_total{action="pass",rule="mcc_integrity"}`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// A merchant's receiver redirecting inside gets a failed attempt: the
// redirect is not followed, and the event's attempts, as the API shows
// them, hold nothing of the internal server.
func TestWebhookRedirectInsideShowsNothing(t *testing.T) {
	var hits atomic.Int32
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.WriteString(w, "internal secret")
	}))
	defer internal.Close()
	l, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skip("no IPv6 loopback:", err)
	}
	receiver := &httptest.Server{Listener: l, Config: &http.Server{Handler: http.RedirectHandler(internal.URL+"/admin", http.StatusSeeOther)}}
	receiver.Start()
	defer receiver.Close()
	c := testMain(t, "sqlite", func(cfg *config.Config) {
		cfg.Webhooks.AllowedNetworks = []string{"::1/128"} // the receiver, not 127.0.0.1
	})
	body := authCodeOrder("134567890123456789", 100)
	body["notify_url"] = receiver.URL + "/hook"
	o := c.createOrder(body, "").decode(t)
	list := c.do("GET", "/v1/events?order_id="+o["id"].(string), "/v1/events", nil, "").decode(t)
	data, _ := list["data"].([]any)
	if len(data) == 0 {
		t.Fatalf("no event: %v", list)
	}
	id := data[0].(map[string]any)["id"].(string)
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := c.do("GET", "/v1/events/"+id, "/v1/events/{id}", nil, "")
		ev := r.decode(t)
		if attempts, _ := ev["attempts"].([]any); len(attempts) > 0 {
			a := attempts[0].(map[string]any)
			if a["status_code"] != 303.0 || strings.Contains(string(r.Body), "internal secret") || ev["delivery_status"] != "pending" {
				t.Fatalf("event: %s", r.Body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no attempt: %v", ev)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if hits.Load() != 0 {
		t.Fatalf("the internal server was reached %d times", hits.Load())
	}
}
