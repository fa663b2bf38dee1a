package main

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// metricValue sums the samples of series name whose labels contain every
// one of labels (`op="pay"`, ...).
func metricValue(t *testing.T, base, name string, labels ...string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sum := 0.0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
lines:
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") {
			continue
		}
		for _, l := range labels {
			if !strings.Contains(line, l) {
				continue lines
			}
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		sum += v
	}
	return sum
}

// The series counted outside the gateway reach /metrics through the one
// registry cmd/paygate wires (docs/metrics.md): channel calls through the
// metrics decorator, callback outcomes, webhook dispatches.
func TestMetricsWiredOutsideTheGateway(t *testing.T) {
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
	}))
	defer receiver.Close()
	c := testMain(t, "sqlite")
	base := c.m.URL

	body := authCodeOrder("134567890123456789", 100)
	body["notify_url"] = receiver.URL + "/hook"
	if r := c.createOrder(body, ""); r.Status != 201 {
		t.Fatalf("order: %d %s", r.Status, r.Body)
	}
	if n := metricValue(t, base, "paygate_channel_call_seconds_count", `op="pay"`, `provider="wechat"`); n != 1 {
		t.Errorf("wechat pay calls timed: %v, want 1", n)
	}

	// A forged callback: refused by the channel's signature check.
	resp, err := http.Post(base+"/callbacks/wechat", "application/json", strings.NewReader(`{"id":"forged"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if n := metricValue(t, base, "paygate_callbacks_total", `channel="wechat"`, `outcome="rejected_`); n != 1 {
		t.Errorf("rejected wechat callbacks counted: %v, want 1", n)
	}

	deadline := time.Now().Add(20 * time.Second)
	for metricValue(t, base, "paygate_webhook_deliveries_total", `outcome="delivered"`) < 1 {
		if time.Now().After(deadline) {
			t.Fatal("no delivered webhook counted")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
