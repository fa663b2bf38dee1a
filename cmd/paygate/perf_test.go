//go:build harness

package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"runtime/pprof"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/callbacks"
	"github.com/paygate-cn/paygate/callbacks/webhookurl"
	"github.com/paygate-cn/paygate/config"
	"github.com/paygate-cn/paygate/store"
)

// TestPerformance is the callback and webhook harness (PostgreSQL + Redis).
// It is built only with the harness tag, runs only with PAYGATE_PERF=1 and
// logs its figures:
//
//	PAYGATE_PERF=1 go test -tags harness ./cmd/paygate -run TestPerformance -v
func TestPerformance(t *testing.T) {
	if os.Getenv("PAYGATE_PERF") == "" {
		t.Skip("set PAYGATE_PERF=1 to run the performance harness")
	}
	// PAYGATE_PERF_CALLBACKS orders (default 10000) give a first-time
	// phase of a few seconds, long enough to measure on a shared machine.
	n := 10000
	if v, err := strconv.Atoi(os.Getenv("PAYGATE_PERF_CALLBACKS")); err == nil && v > 0 {
		n = v
	}
	schema, prefix := "perf_"+randSuffix(), "perf:"+randSuffix()+":"
	t.Cleanup(func() { dropSchema(t, schema) })
	cfg := stormConfig(t, redisURL(), prefix, "")
	cfg.Jobs.Disabled = true // the dispatcher is measured on its own below
	m := startMain(t, cfg, schema)
	defer m.Close()
	capture := &captureTransport{}
	m.Sandbox.Notifier.Client = &http.Client{Transport: capture}
	c := newClient(t, m)
	createScannedQROrders(t, c, n)
	cbs := capture.waitCaptured(t, n)

	send := func(k, workers int, pick func(i int) capturedCallback) float64 {
		var failed atomic.Int64
		start := time.Now()
		parallel(k, workers, func(i int) {
			if status, err := pick(i).send(m.URL); err != nil || status/100 != 2 {
				failed.Add(1)
			}
		})
		rate := float64(k) / time.Since(start).Seconds()
		if failed.Load() > 0 {
			t.Fatalf("%d callbacks failed", failed.Load())
		}
		return rate
	}
	if f := os.Getenv("PAYGATE_PERF_PROFILE"); f != "" {
		out, _ := os.Create(f)
		pprof.StartCPUProfile(out)
	}
	// Enough concurrent senders to keep the gateway busy: each callback
	// waits for its transition's commit, so with fewer (48) the gateway
	// sits partly idle and the figure measures latency, not capacity
	// (docs/performance.md has the curve). PAYGATE_PERF_SENDERS overrides.
	senders := 192
	if v, err := strconv.Atoi(os.Getenv("PAYGATE_PERF_SENDERS")); err == nil && v > 0 {
		senders = v
	}
	first := send(n, senders, func(i int) capturedCallback { return cbs[i] })
	pprof.StopCPUProfile()
	dup := send(4*n, 16, func(i int) capturedCallback { return cbs[i%n] })
	inserts := pgbenchInserts(t)
	t.Logf("first-time callbacks applied: %.0f/s; pgbench single-row inserts: %.0f/s (ratio %.0f%%)", first, inserts, 100*first/inserts)
	t.Logf("duplicate callbacks answered: %.0f/s", dup)

	// Outbox dispatch: the n events written above, to a local receiver.
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	defer hook.Close()
	dir := (&config.Config{Merchants: []config.Merchant{{ID: config.DemoMerchantID, WebhookURL: hook.URL,
		WebhookSecrets: []string{stormWebhookSecret}}}}).Directory()
	db, err := store.Open(context.Background(), postgresURL(), store.Options{Schema: schema, MaxConns: 20})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var delivered atomic.Int64
	// One destination with as many attempts in flight as the dispatcher
	// allows in all (the local receiver is on loopback: the sandbox policy).
	d := &callbacks.Dispatcher{Outbox: db, Merchants: dir, Batch: 200, Concurrency: 32, PerDestination: 32,
		Policy: webhookurl.Sandbox(), AttemptTimeout: 5 * time.Second,
		Observe: func(o string) {
			if o == "delivered" {
				delivered.Add(1)
			}
		}}
	start := time.Now()
	for delivered.Load() < int64(n) {
		k, err := d.RunOnce(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if k == 0 {
			t.Fatalf("outbox ran dry at %d of %d", delivered.Load(), n)
		}
	}
	t.Logf("outbox dispatch to a local receiver: %.0f events/s", float64(n)/time.Since(start).Seconds())
	ev0 := allEvents(t, m)[0]
	ev, _ := db.EventDelivery(context.Background(), ev0.MerchantID, ev0.ID)
	if ev.Status != paygate.DeliveryDelivered {
		t.Errorf("event not delivered: %+v", ev)
	}
}

// pgbenchInserts runs pgbench for 10 s of single-row inserts into a scratch
// table of its own schema and returns the transactions per second.
func pgbenchInserts(t *testing.T) float64 {
	t.Helper()
	if _, err := exec.LookPath("pgbench"); err != nil {
		t.Log("pgbench is not installed: no baseline")
		return 1
	}
	schema := "pgbench_" + randSuffix()
	t.Cleanup(func() { dropSchema(t, schema) })
	url := postgresURL()
	setup := fmt.Sprintf(`CREATE SCHEMA %s; CREATE TABLE %s.scratch (id BIGSERIAL PRIMARY KEY, merchant_id TEXT NOT NULL, amount BIGINT NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now())`, schema, schema)
	if out, err := exec.Command("psql", url, "-c", setup).CombinedOutput(); err != nil {
		t.Fatalf("pgbench setup: %v %s", err, out)
	}
	script := t.TempDir() + "/insert.sql"
	os.WriteFile(script, []byte(fmt.Sprintf("INSERT INTO %s.scratch (merchant_id, amount) VALUES ('m_demo', 100);\n", schema)), 0o644)
	return runPgbench(t, "-n", "-c", "16", "-j", "2", "-T", "10", "-f", script, url)
}

// runPgbench runs pgbench with args and returns its transactions per
// second; a failed run, or one reporting errors, fails the test.
func runPgbench(t *testing.T, args ...string) float64 {
	t.Helper()
	out, err := exec.Command("pgbench", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("pgbench: %v: %s", err, out)
	}
	m := regexp.MustCompile(`tps = ([0-9.]+)`).FindSubmatch(out)
	if m == nil || bytes.Contains(out, []byte("error")) {
		t.Fatalf("pgbench output: %s", out)
	}
	tps, _ := strconv.ParseFloat(string(m[1]), 64)
	return tps
}
