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
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/callbacks"
	"github.com/paygate-cn/paygate/callbacks/webhookurl"
	"github.com/paygate-cn/paygate/config"
	"github.com/paygate-cn/paygate/store"
)

// TestPerformance is the callback and webhook harness (PostgreSQL + Redis).
// It is built only with the harness tag, runs only with PAYGATE_PERF=1 and
// logs its figures: first-time callbacks against pgbench's single-row
// inserts, with the CPU (machine and process) and allocations per
// callback; duplicates; outbox dispatch; and last PostgreSQL alone doing
// the callbacks' statements (docs/performance.md):
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
	meter := startCPUMeter()
	proc0, procOK := processCPU()
	var mem0, mem1 runtime.MemStats
	runtime.ReadMemStats(&mem0)
	first := send(n, senders, func(i int) capturedCallback { return cbs[i] })
	perCallback, idle, metered := meter.per(int64(n))
	proc1, _ := processCPU()
	runtime.ReadMemStats(&mem1)
	pprof.StopCPUProfile()
	dup := send(4*n, 16, func(i int) capturedCallback { return cbs[i%n] })
	inserts := pgbenchInserts(t)
	t.Logf("first-time callbacks applied: %.0f/s; pgbench single-row inserts: %.0f/s (ratio %.0f%%)", first, inserts, 100*first/inserts)
	if metered {
		t.Logf("machine CPU per first-time callback: %v (idle %.0f%% of the phase)", perCallback, 100*idle)
	}
	t.Logf("allocations per first-time callback (gateway and senders): %d, %d bytes", (mem1.Mallocs-mem0.Mallocs)/uint64(n), (mem1.TotalAlloc-mem0.TotalAlloc)/uint64(n))
	if procOK {
		t.Logf("this process's CPU (gateway and senders) per first-time callback: %v", (proc1-proc0)/time.Duration(n))
	}
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

	// PostgreSQL alone doing a callback's statements, with the gateway
	// idle: the bound no gateway on this machine can pass. Last, as its
	// clones and events would change what the phases above see.
	pgOne, _ := pgbenchCallbackRate(t, schema, 1)
	pgBatched, pgCPU := pgbenchCallbackRate(t, schema, 16)
	t.Logf("PostgreSQL alone doing the callbacks' reads and writes (pgbench, 16 clients): %.0f/s = %.0f%% of pgbench's inserts "+
		"with a commit per callback, %.0f/s = %.0f%% with 16 callbacks per commit, the machine's CPU %v per callback",
		pgOne, 100*pgOne/inserts, pgBatched, 100*pgBatched/inserts, pgCPU)
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

// pgbenchCallbackRate runs pgbench doing only what PostgreSQL does for a
// first-time callback, in the gateway's own schema: the order read by id,
// then the transition to succeeded with its outbox event in one
// statement, as the gateway writes them. perTx callbacks share a
// transaction, as concurrent callbacks share the statement pipeline's
// batches. The orders are pending clones of a paid order, picked at
// random. It returns callbacks per second and the machine's CPU per
// callback (PostgreSQL, pgbench and the kernel; zero where unmeasured).
func pgbenchCallbackRate(t *testing.T, schema string, perTx int) (rate float64, cpu time.Duration) {
	t.Helper()
	const clones, clients, seconds = 320000, 16, 10
	s := pgx.Identifier{schema}.Sanitize()
	conn, err := pgx.Connect(t.Context(), postgresURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var templateID, mid, data string
	if err := conn.QueryRow(t.Context(), "SELECT o.id, o.merchant_id, e.data::text FROM "+s+".orders o JOIN "+s+
		".events e ON e.order_id = o.id WHERE e.type = 'order.succeeded' AND o.id NOT LIKE 'ord_cbb%' LIMIT 1").
		Scan(&templateID, &mid, &data); err != nil {
		t.Fatalf("template order: %v", err)
	}
	// Fresh pending clones, once per schema: each callback below updates
	// one (a random pick may find one already paid; its update writes
	// the row all the same). Each client picks from a range of its own,
	// so no two transactions wait on each other's rows.
	if _, err := conn.Exec(t.Context(), "INSERT INTO "+s+".orders SELECT r.* FROM "+s+".orders t "+
		"CROSS JOIN generate_series(1, $2::int) g CROSS JOIN LATERAL jsonb_populate_record(t, jsonb_build_object("+
		"'id', 'ord_cbb' || g, 'merchant_order_no', 'cbb' || g, 'status', 'pending', 'paid_at', NULL, "+
		"'channel_trade_no', '')) r WHERE t.id = $1 ON CONFLICT DO NOTHING", templateID, clones); err != nil {
		t.Fatalf("cloning orders: %v", err)
	}
	var b strings.Builder
	for i := range perTx {
		fmt.Fprintf(&b, "\\set k%d :client_id * %d + random(1, %d)\n\\set e%d random(1, 9000000000000000)\n",
			i, clones/clients, clones/clients, i)
	}
	b.WriteString("BEGIN;\n")
	for i := range perTx {
		fmt.Fprintf(&b, "SELECT * FROM %s.orders WHERE id = 'ord_cbb' || :k%d;\n", s, i)
		fmt.Fprintf(&b, "WITH u AS (UPDATE %[1]s.orders SET status = 'succeeded', channel_trade_no = '4200000000' || :k%[2]d, "+
			"paid_at = now(), updated_at = now() WHERE id = 'ord_cbb' || :k%[2]d RETURNING id) "+
			"INSERT INTO %[1]s.events (id, merchant_id, type, order_id, refund_id, notify_url, data, created_at, "+
			"delivery_status, attempts, next_attempt_at) SELECT 'evt_cbb' || :e%[2]d, :mid, 'order.succeeded', "+
			"'ord_cbb' || :k%[2]d, '', '', :data, now(), 'pending', 0, now() FROM u;\n", s, i)
	}
	b.WriteString("COMMIT;\n")
	script := filepath.Join(t.TempDir(), "callback.sql")
	if err := os.WriteFile(script, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	meter := startCPUMeter()
	tps := runPgbench(t, "-n", "-c", strconv.Itoa(clients), "-j", "2", "-M", "prepared", "-T", strconv.Itoa(seconds), "-f", script,
		"-D", "mid="+mid, "-D", "data="+data, postgresURL())
	rate = tps * float64(perTx)
	cpu, _, _ = meter.per(int64(rate * seconds))
	return rate, cpu
}
