// Package bench is the machinery of `paygate bench`: end-to-end B-scan-C
// throughput per wallet channel against the in-process sandbox, beside the
// channel's signing limit measured in the same run (docs/performance.md,
// "Wallet B-scan-C throughput against the sandbox"). The command starts
// the gateway; this package loads it and prints the table.
package bench

import (
	"bufio"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emmansun/gmsm/sm2"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/channels/ecny"
	"github.com/paygate-cn/paygate/config"
	"github.com/paygate-cn/paygate/internal/apiclient"
)

// Signatures per order are counted, not assumed: every call to the
// simulator costs two private-key signatures (the channel client signs the
// request, the channel signs its answer) and every notification the channel
// delivers costs one, so the harness counts sandbox requests and callbacks
// from /metrics over the measured run. Verifying is a public-key operation:
// cheap for RSA and not counted; for SM2 it is not cheap and its rate is
// reported beside (see docs/performance.md).

// codeStem is a payment code of each wallet without its last six digits
// (prefixes and lengths as docs/configuration.md's "auth_codes" lists them).
var codeStem = map[string]string{
	paygate.KindWeChat:   "134567890123",
	paygate.KindAlipay:   "287654321098",
	paygate.KindUnionPay: "6212345678901",
	paygate.KindECNY:     "0112345678901",
}

// Options says what to measure.
type Options struct {
	Kinds       []string      // wallet channels, in order
	Orders      int           // per channel, after 100 warm-up orders
	Concurrency int           // concurrent clients
	MaxTime     time.Duration // time limit per channel
	SignTime    time.Duration // how long to measure the signing rate
	Postgres    bool          // the gateway runs on PostgreSQL and Redis (named in the title)
	// CPUProfile, when not nil, receives a CPU profile of the first
	// channel's load run.
	CPUProfile io.Writer
}

// Target is the gateway under load, started in sandbox mode.
type Target struct {
	URL           string // base URL
	KeyID, Secret string // the merchant key that signs every order
	// Channels are the gateway's channels by provider id; Run wraps each
	// in a timing decorator to split latency into channel time and the
	// gateway's own work.
	Channels map[string]paygate.Channel
}

// Config returns the configuration of a gateway to measure: loopback on a
// free port, data in dataDir, a Redis key prefix and a sandbox key of its
// own, and no request rate limit (one key sends the whole load).
func Config(dataDir, databaseURL, redisURL string) *config.Config {
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = dataDir
	cfg.DatabaseURL = databaseURL
	cfg.RedisURL = redisURL
	cfg.RedisPrefix = "bench:" + Random() + ":"
	cfg.Sandbox.KeyID, cfg.Sandbox.Secret = "key_bench_"+Random(), "sk_bench_"+Random()+Random()
	cfg.RateLimit.Disabled = true
	return cfg
}

// DropSchema removes a PostgreSQL schema the run created.
func DropSchema(databaseURL, schema string) {
	if db, err := sql.Open("pgx", databaseURL); err == nil {
		db.Exec(`DROP SCHEMA IF EXISTS "` + schema + `" CASCADE`)
		db.Close()
	}
}

// Run measures each channel of o.Kinds against t and writes the table
// (Markdown) to out.
func Run(ctx context.Context, out io.Writer, t Target, o Options) error {
	timer := newChannelTimer()
	for id, ch := range t.Channels {
		t.Channels[id] = &timedChannel{Channel: ch, t: timer}
	}

	dbName := "SQLite (file) + in-process Redis"
	if o.Postgres {
		dbName = "PostgreSQL + Redis"
	}
	fmt.Fprintf(out, "# paygate bench: %s, GOMAXPROCS %d, %s, %d clients, %d orders per channel\n\n",
		runtime.GOARCH, runtime.GOMAXPROCS(0), dbName, o.Concurrency, o.Orders)
	fmt.Fprintln(out, "| channel | orders | orders/s | signing limit (sig/s) | signatures per order | limit orders/s | share | p50 / p99 total ms | p50 / p99 channel ms | p50 / p99 gateway ms | failed |")
	fmt.Fprintln(out, "|---|---|---|---|---|---|---|---|---|---|---|")
	profile := o.CPUProfile
	for _, kind := range o.Kinds {
		kind = strings.TrimSpace(kind)
		if codeStem[kind] == "" {
			return fmt.Errorf("bench: %q is not a wallet channel", kind)
		}
		sigs, alg := signRate(ctx, kind, o.SignTime)
		if profile != nil {
			pprof.StartCPUProfile(profile)
		}
		r := benchChannel(ctx, t, timer, kind, o.Orders, o.Concurrency, o.MaxTime)
		if profile != nil {
			pprof.StopCPUProfile()
			profile = nil // one profile per file: the first channel's
		}
		after, _ := signRate(ctx, kind, o.SignTime)
		sigs = (sigs + after) / 2 // before and after the load, as the machine may be shared
		limit := sigs / r.sigsPerOrder
		fmt.Fprintf(out, "| %s | %d | %.0f | %.0f (%s) | %.2f | %.0f | %.0f%% | %.1f / %.1f | %.1f / %.1f | %.1f / %.1f | %d |\n",
			kind, r.done, r.rate, sigs, alg, r.sigsPerOrder, limit, 100*r.rate/limit,
			ms(r.total, 50), ms(r.total, 99), ms(r.channel, 50), ms(r.channel, 99), ms(r.own, 50), ms(r.own, 99), r.failed)
		if kind == paygate.KindECNY {
			defer fmt.Fprintf(out, "\nSM2 verification on this machine: %.0f/s (all cores); an e-CNY order verifies as many signatures as it makes.\n", sm2VerifyRate(o.SignTime))
		}
	}
	return nil
}

type benchResult struct {
	done, failed        int
	rate                float64 // orders per second
	sigsPerOrder        float64 // private-key signatures, counted
	total, channel, own []time.Duration
}

// benchChannel runs warm-up orders, then n orders on kind with conc
// concurrent clients, and waits until their notifications are processed.
func benchChannel(ctx context.Context, t Target, timer *channelTimer, kind string, n, conc int, maxTime time.Duration) benchResult {
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc}, Timeout: 30 * time.Second}
	var seq atomic.Int64
	one := func() (id string, d time.Duration, ok bool) {
		i := seq.Add(1)
		// The last four digits must not pick a sandbox scenario (README).
		code := codeStem[kind] + fmt.Sprintf("%06d", 100000+i%800000)
		if sc := code[len(code)-4:]; sc[0] == sc[1] && sc[1] == sc[2] && sc[2] == sc[3] {
			code = code[:len(code)-1] + "0"
		}
		body, _ := json.Marshal(map[string]any{
			"merchant_order_no": fmt.Sprintf("B%s-%d", kind, i), "amount": 1234, "subject": "Latte",
			"method": "auth_code", "auth_code": code, "terminal_id": "T0001",
		})
		start := time.Now()
		resp, err := apiclient.Do(ctx, hc, t.URL, t.KeyID, t.Secret, "POST", "/v1/orders", body, "")
		if err != nil {
			return "", 0, false
		}
		defer resp.Body.Close()
		var o struct{ ID, Status string }
		err = json.NewDecoder(resp.Body).Decode(&o)
		d = time.Since(start)
		return o.ID, d, err == nil && resp.StatusCode == http.StatusCreated && o.Status == string(paygate.OrderSucceeded)
	}
	run := func(count int, deadline time.Time, record bool) (res benchResult) {
		var mu sync.Mutex
		var next atomic.Int64
		var wg sync.WaitGroup
		for range conc {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for next.Add(1) <= int64(count) && time.Now().Before(deadline) {
					id, d, ok := one()
					if !record {
						continue
					}
					ch := timer.take(id)
					mu.Lock()
					if ok {
						res.done++
						res.total = append(res.total, d)
						res.channel = append(res.channel, ch)
						res.own = append(res.own, d-ch)
					} else {
						res.failed++
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		return res
	}
	before := callbacksSeen(hc, t.URL, kind)
	run(100, time.Now().Add(maxTime), false)
	waitCallbacks(hc, t.URL, kind, before+100, 10*time.Second)

	before = callbacksSeen(hc, t.URL, kind)
	calls := sandboxCalls(hc, t.URL, kind)
	start := time.Now()
	res := run(n, start.Add(maxTime), true)
	// The run ends when the channel's notifications of those orders have
	// been processed too: they are part of every order's work.
	waitCallbacks(hc, t.URL, kind, before+float64(res.done), 30*time.Second)
	res.rate = float64(res.done) / time.Since(start).Seconds()
	calls = sandboxCalls(hc, t.URL, kind) - calls
	notices := callbacksSeen(hc, t.URL, kind) - before
	res.sigsPerOrder = (2*calls + notices) / float64(max(res.done, 1))
	for _, s := range [][]time.Duration{res.total, res.channel, res.own} {
		slices.Sort(s)
	}
	return res
}

// callbacksSeen is paygate_callbacks_total of a channel, from /metrics.
func callbacksSeen(hc *http.Client, base, kind string) float64 {
	return metricSum(hc, base, "paygate_callbacks_total{", `channel="`+kind+`"`)
}

// sandboxCalls counts the requests the simulator of kind has served.
func sandboxCalls(hc *http.Client, base, kind string) float64 {
	return metricSum(hc, base, "paygate_http_requests_total{", `route="/sandbox/`+kind+`/`)
}

// metricSum adds up the samples of /metrics lines starting with prefix and
// containing label.
func metricSum(hc *http.Client, base, prefix, label string) float64 {
	resp, err := hc.Get(base + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	sum := 0.0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, prefix) && strings.Contains(line, label) {
			f := strings.Fields(line)
			if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
				sum += v
			}
		}
	}
	return sum
}

func waitCallbacks(hc *http.Client, base, kind string, want float64, limit time.Duration) {
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if callbacksSeen(hc, base, kind) >= want {
			return
		}
	}
}

// signRate measures the private-key signing rate of kind's algorithm with
// every core busy.
func signRate(ctx context.Context, kind string, d time.Duration) (float64, string) {
	if kind == paygate.KindECNY {
		key, err := sm2.GenerateKey(rand.Reader)
		if err != nil {
			return math.NaN(), "SM2"
		}
		msg := ecny.SigningBytes(ecny.LabelRequest, ecny.PathMicropay, []byte(`{"head":{},"body":{"out_trade_no":"ord_01kcz7v2q8x3m4n5p6r7s8t9v0","amount":1234}}`))
		return parallelRate(d, func() { ecny.Sign(key, msg) }), "SM2"
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return math.NaN(), "RSA-2048"
	}
	sum := sha256.Sum256([]byte("POST\n/v3/pay/transactions/codepay\n1700000000\nnonce\n{}\n"))
	return parallelRate(d, func() { rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:]) }), "RSA-2048"
}

func sm2VerifyRate(d time.Duration) float64 {
	key, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		return math.NaN()
	}
	msg := []byte("e-CNY notification")
	sig, _ := ecny.Sign(key, msg)
	return parallelRate(d, func() { ecny.Verify(&key.PublicKey, msg, sig) })
}

// parallelRate runs f on GOMAXPROCS goroutines for d and returns calls/s.
func parallelRate(d time.Duration, f func()) float64 {
	var n atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	stop := start.Add(d)
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				f()
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(n.Load()) / time.Since(start).Seconds()
}

func ms(sorted []time.Duration, pct int) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	i := (len(sorted)*pct + 99) / 100
	return float64(sorted[min(max(i-1, 0), len(sorted)-1)]) / float64(time.Millisecond)
}

// Random returns 12 random hex digits, for names a run makes its own.
func Random() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// channelTimer adds up the time each order spent in channel calls, so a
// request's latency splits into channel time and the gateway's own work.
type channelTimer struct {
	mu sync.Mutex
	by map[string]time.Duration
}

func newChannelTimer() *channelTimer { return &channelTimer{by: map[string]time.Duration{}} }

func (t *channelTimer) add(orderID string, d time.Duration) {
	t.mu.Lock()
	t.by[orderID] += d
	t.mu.Unlock()
}

func (t *channelTimer) take(orderID string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	d := t.by[orderID]
	delete(t.by, orderID)
	return d
}

// timedChannel times Pay and Query. It hides the optional abilities
// (reversal, closing) of the channel it wraps, which the benchmark's
// immediate successes never use.
type timedChannel struct {
	paygate.Channel
	t *channelTimer
}

func (c *timedChannel) Pay(ctx context.Context, req *paygate.PaymentRequest) (*paygate.Result, error) {
	start := time.Now()
	defer func() { c.t.add(req.OrderID, time.Since(start)) }()
	return c.Channel.Pay(ctx, req)
}

func (c *timedChannel) Query(ctx context.Context, o *paygate.Order) (*paygate.Result, error) {
	start := time.Now()
	defer func() { c.t.add(o.ID, time.Since(start)) }()
	return c.Channel.Query(ctx, o)
}
