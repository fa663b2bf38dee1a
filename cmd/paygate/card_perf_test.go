//go:build harness

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/config"
)

// cardTimedChannel records how long each order's Pay spent in the channel, so
// that the harness can tell the gateway's own work from the acquirer's.
type cardTimedChannel struct {
	paygate.Channel
	mu    sync.Mutex
	spent map[string]time.Duration
}

func (c *cardTimedChannel) Pay(ctx context.Context, req *paygate.PaymentRequest) (*paygate.Result, error) {
	start := time.Now()
	r, err := c.Channel.Pay(ctx, req)
	d := time.Since(start)
	c.mu.Lock()
	c.spent[req.OrderID] = d
	c.mu.Unlock()
	return r, err
}

func (c *cardTimedChannel) Unwrap() paygate.Channel { return c.Channel }

func (c *cardTimedChannel) Reverse(ctx context.Context, o *paygate.Order) (*paygate.Result, error) {
	rv, ok := paygate.As[paygate.Reverser](c.Channel)
	if !ok {
		return nil, paygate.Errorf(paygate.EINVALIDSTATE, "provider %s cannot reverse payments", c.ID())
	}
	return rv.Reverse(ctx, o)
}

// pgbenchInsertRate runs pgbench's single-row insert against a scratch
// table in a schema of its own and returns its transactions per second.
func pgbenchInsertRate(t *testing.T, seconds int) float64 {
	t.Helper()
	schema := "pgbench_" + randSuffix()
	psql := func(sql string) {
		out, err := exec.Command("psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-v", "ON_ERROR_STOP=1", "-qc", sql).CombinedOutput()
		if err != nil {
			t.Fatalf("psql: %v: %s", err, out)
		}
	}
	psql("CREATE SCHEMA " + schema + "; CREATE TABLE " + schema + ".t (id BIGSERIAL PRIMARY KEY, a BIGINT NOT NULL, b TEXT NOT NULL, at TIMESTAMPTZ NOT NULL DEFAULT now())")
	defer psql("DROP SCHEMA " + schema + " CASCADE")
	script := filepath.Join(t.TempDir(), "insert.sql")
	body := "\\set r random(1, 1000000000)\nINSERT INTO " + schema + ".t (a, b) VALUES (:r, 'card sale');\n"
	if err := os.WriteFile(script, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return runPgbench(t, "-n", "-h", "127.0.0.1", "-U", "postgres", "-c", "8", "-j", "2",
		"-T", strconv.Itoa(seconds), "-f", script, "test")
}

// pgbenchSaleRate runs pgbench doing only the PostgreSQL writes of card
// sales, in the gateway's own schema: per sale the pending order inserted
// (the template order's values, JSON as parameters), then the transition
// to succeeded with its outbox event in one statement, as the gateway
// writes them; perTx sales share a transaction, as concurrent sales share
// the gateway's statement pipeline batches. It returns sales per second.
func pgbenchSaleRate(t *testing.T, schema, templateID string, perTx, seconds int) float64 {
	t.Helper()
	s := pgx.Identifier{schema}.Sanitize()
	var b strings.Builder
	for i := range perTx {
		fmt.Fprintf(&b, "\\set id%d random(1, 9000000000000000)\n", i)
	}
	b.WriteString("BEGIN;\n")
	for i := range perTx {
		fmt.Fprintf(&b, "INSERT INTO %s.orders (id, merchant_id, merchant_order_no, status, amount, currency, subject, "+
			"method, channel, provider, channel_trade_no, fee, net_amount, route, qr_code, credential, card, card_fingerprint, "+
			"terminal_id, location, capture, authorized_amount, refunded_amount, refund_reserved, failure, notify_url, payer_id, "+
			"auth_code_masked, created_at, updated_at, paid_at, expires_at, metadata, resolve_lease_until) VALUES "+
			"('ord_pgb' || :id%[2]d, :mid, 'pgb' || :id%[2]d, 'pending', 1000, 'CNY', 'Dinner', 'card', 'acquirer', 'acquirer', '', "+
			"6, 994, :route, NULL, NULL, :card, :fp, 'T0001', :loc, 'automatic', 0, 0, 0, NULL, '', '', '', now(), now(), NULL, "+
			"now() + interval '15 minutes', :meta, NULL);\n", s, i)
		fmt.Fprintf(&b, "WITH u AS (UPDATE %[1]s.orders SET status = 'succeeded', channel_trade_no = '325000000001', "+
			"paid_at = now(), updated_at = now() WHERE id = 'ord_pgb' || :id%[2]d AND status = 'pending' RETURNING id) "+
			"INSERT INTO %[1]s.events (id, merchant_id, type, order_id, refund_id, notify_url, data, created_at, "+
			"delivery_status, attempts, next_attempt_at) SELECT 'evt_pgb' || :id%[2]d, :mid, 'order.succeeded', "+
			"'ord_pgb' || :id%[2]d, '', '', :data, now(), 'pending', 0, now() FROM u;\n", s, i)
	}
	b.WriteString("COMMIT;\n")
	script := filepath.Join(t.TempDir(), "sale.sql")
	if err := os.WriteFile(script, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	// The template's values, passed as variables: the JSON goes to the
	// server as parameters, parsed on each insert as the gateway's are.
	conn, err := pgx.Connect(t.Context(), postgresURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var mid, route, card, fp, loc, meta, data string
	err = conn.QueryRow(t.Context(), "SELECT o.merchant_id, o.route::text, o.card::text, o.card_fingerprint, o.location::text, "+
		"o.metadata::text, e.data::text FROM "+s+".orders o JOIN "+s+".events e ON e.order_id = o.id WHERE o.id = $1 LIMIT 1",
		templateID).Scan(&mid, &route, &card, &fp, &loc, &meta, &data)
	if err != nil {
		t.Fatalf("template order %s: %v", templateID, err)
	}
	args := []string{"-n", "-h", "127.0.0.1", "-U", "postgres", "-c", "8", "-j", "2", "-M", "prepared",
		"-T", strconv.Itoa(seconds), "-f", script}
	for _, v := range [][2]string{{"mid", mid}, {"route", route}, {"card", card}, {"fp", fp}, {"loc", loc}, {"meta", meta}, {"data", data}} {
		args = append(args, "-D", v[0]+"="+v[1])
	}
	return runPgbench(t, append(args, "test")...) * float64(perTx)
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[int(float64(len(d)-1)*p)]
}

// TestCardSalePerformance is the card sale harness (built with the harness
// tag, run with PAYGATE_PERF=1; it takes about 75 s): pgbench's single-row insert rate, then card sales
// end to end (HTTP, signing, risk, PostgreSQL, ISO 8583 to the sandbox
// host) at full load with a closed loop, then at half that rate with an
// open loop, where it reports the p99 of the gateway's own work: each
// request's latency minus the time its Pay spent at the acquirer. Last,
// with the gateway idle, pgbench doing only the sales' PostgreSQL writes:
// the bound no gateway on this machine can pass.
func TestCardSalePerformance(t *testing.T) {
	if os.Getenv("PAYGATE_PERF") == "" {
		t.Skip("set PAYGATE_PERF=1 to run the card sale harness")
	}
	const seconds = 10
	pg := pgbenchInsertRate(t, seconds)

	c := testMain(t, "postgres", func(cfg *config.Config) { cfg.RateLimit.Disabled = true })
	// Each client keeps its connection, as a POS does (the default
	// transport keeps only two idle connections per host).
	c.hc = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1024, MaxIdleConns: 1024}}
	tc := &cardTimedChannel{Channel: c.m.Payments.Channels["acquirer"], spent: map[string]time.Duration{}}
	c.m.Payments.Channels["acquirer"] = tc

	// The load generator does as little as a POS would: the cards are read
	// beforehand, each body is the template with a new order number, and
	// only the id and status of an answer are decoded.
	cards := make([]string, 4096)
	for i := range cards {
		cards[i] = newCard(t, "622202", 16, "").emv()
	}
	prefix := "P" + randSuffix() + "-"
	var seq atomic.Int64
	sale := func() (string, time.Duration, bool) {
		i := seq.Add(1)
		body := `{"merchant_order_no":"` + prefix + strconv.FormatInt(i, 10) +
			`","amount":1000,"currency":"CNY","subject":"Dinner","method":"card","card":{"entry_mode":"chip","emv":"` +
			cards[i%int64(len(cards))] + `","type":"debit"},"terminal_id":"T0001","location":{"region_code":"310000"}}`
		start := time.Now()
		r := c.do("POST", "/v1/orders", "", body, "")
		d := time.Since(start)
		var o struct{ ID, Status string }
		if r.Status != 201 || json.Unmarshal(r.Body, &o) != nil {
			t.Errorf("sale: %d %s", r.Status, r.Body)
			return "", d, false
		}
		return o.ID, d, o.Status == "succeeded"
	}
	var template string // a succeeded sale, for the PostgreSQL-alone bound
	for range 50 {      // warm up connections and caches
		if id, _, ok := sale(); ok {
			template = id
		}
	}

	// Full load: a closed loop of clients (PAYGATE_PERF_CLIENTS, default
	// 64: each sale waits for two commits and the host, so 16 clients leave
	// the gateway partly idle; docs/performance.md has the curve).
	clients := 64
	if v, err := strconv.Atoi(os.Getenv("PAYGATE_PERF_CLIENTS")); err == nil && v > 0 {
		clients = v
	}
	var n atomic.Int64
	deadline := time.Now().Add(seconds * time.Second)
	var wg sync.WaitGroup
	start := time.Now()
	meter := startCPUMeter()
	if f := os.Getenv("PAYGATE_PERF_PROFILE"); f != "" { // the full load's CPU profile
		out, err := os.Create(f)
		if err != nil {
			t.Fatal(err)
		}
		defer out.Close()
		pprof.StartCPUProfile(out)
	}
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if _, _, ok := sale(); ok {
					n.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	full := float64(n.Load()) / time.Since(start).Seconds()
	perSale, idle, metered := meter.per(n.Load())
	pprof.StopCPUProfile()

	// Half load: an open loop at full/2, each request on its own.
	rate := full / 2
	interval := time.Duration(float64(time.Second) / rate)
	var mu sync.Mutex
	var own, total []time.Duration
	tick := time.NewTicker(interval)
	stop := time.After(seconds * time.Second)
loop:
	for {
		select {
		case <-stop:
			break loop
		case <-tick.C:
			wg.Add(1)
			go func() {
				defer wg.Done()
				id, d, ok := sale()
				if !ok {
					return
				}
				tc.mu.Lock()
				ch := tc.spent[id]
				tc.mu.Unlock()
				mu.Lock()
				own = append(own, d-ch)
				total = append(total, d)
				mu.Unlock()
			}()
		}
	}
	tick.Stop()
	wg.Wait()

	// PostgreSQL alone doing what the sales wrote, with the gateway idle:
	// one sale per commit, and 16 sales sharing a commit.
	pgOne := pgbenchSaleRate(t, c.m.DBSchema, template, 1, seconds)
	pgBatched := pgbenchSaleRate(t, c.m.DBSchema, template, 16, seconds)

	report := fmt.Sprintf("pgbench single-row insert: %.0f tps (8 clients)\n"+
		"card sales, closed loop of %d: %.0f per second = %.0f%% of pgbench\n"+
		"at half load (%.0f/s, %d sales): gateway's own work p50 %v p99 %v; whole request p50 %v p99 %v",
		pg, clients, full, 100*full/pg, rate, len(own), percentile(own, 0.5).Round(10*time.Microsecond),
		percentile(own, 0.99).Round(10*time.Microsecond), percentile(total, 0.5).Round(10*time.Microsecond),
		percentile(total, 0.99).Round(10*time.Microsecond))
	report += fmt.Sprintf("\nPostgreSQL alone doing the sales' writes (pgbench, 8 clients): %.0f sales/s = %.0f%% of pgbench's inserts "+
		"with a commit per sale, %.0f sales/s = %.0f%% with 16 sales per commit", pgOne, 100*pgOne/pg, pgBatched, 100*pgBatched/pg)
	if metered {
		report += fmt.Sprintf("\nat full load the machine spent %v of CPU per sale (all processes), %.0f%% idle",
			perSale.Round(time.Microsecond), 100*idle)
	}
	t.Log("\n" + report)
}
