package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/redisstore"
	"github.com/paygate-cn/paygate/redisstore/redistest"
	"github.com/redis/go-redis/v9"
)

// backends runs a test against the real Redis and the in-process
// miniredis paygate starts when none is configured: the scripts must
// behave the same on both.
func backends(t *testing.T, test func(t *testing.T, r *redistest.Redis)) {
	t.Run("redis", func(t *testing.T) { test(t, redistest.New(t)) })
	t.Run("miniredis", func(t *testing.T) { test(t, redistest.NewMini(t)) })
}

// trips returns the round trips f sent.
func trips(r *redistest.Redis, f func()) int64 {
	before := r.RoundTrips()
	f()
	return r.RoundTrips() - before
}

func TestNewRefusesBraces(t *testing.T) {
	if _, err := redisstore.New(nil, "paygate:{a}:"); err == nil {
		t.Fatal("a prefix with braces accepted")
	}
}

func TestAdmitNonceOnly(t *testing.T) {
	backends(t, func(t *testing.T, r *redistest.Redis) {
		ctx := context.Background()
		now := time.Now()
		var a paygate.Admission
		var err error
		if n := trips(r, func() { a, err = r.Store.Admit(ctx, "key_1", "nonce-0123456789ab", paygate.RequestRate{}, now) }); n != 1 {
			t.Errorf("%d round trips, want 1", n)
		}
		if err != nil || a != (paygate.Admission{}) {
			t.Fatalf("first use: %+v %v", a, err)
		}
		if ttl := r.TTL(t, "{key_1}:nonce:nonce-0123456789ab"); ttl <= paygate.NonceWindow-time.Minute || ttl > paygate.NonceWindow {
			t.Errorf("nonce ttl %v", ttl)
		}
		a, err = r.Store.Admit(ctx, "key_1", "nonce-0123456789ab", paygate.RequestRate{}, now)
		if err != nil || !a.Replayed {
			t.Errorf("replay: %+v %v", a, err)
		}
		// Nonces are per key.
		if a, err = r.Store.Admit(ctx, "key_2", "nonce-0123456789ab", paygate.RequestRate{}, now); err != nil || a != (paygate.Admission{}) {
			t.Errorf("other key: %+v %v", a, err)
		}
		if keys := r.Keys(t, "*rate"); len(keys) != 0 {
			t.Errorf("rate state without a limit: %v", keys)
		}
	})
}

// The rate limit is a bucket of burst requests refilled at rate: over it,
// the wait until one request fits, and nothing recorded.
func TestAdmitRateLimit(t *testing.T) {
	backends(t, func(t *testing.T, r *redistest.Redis) {
		ctx := context.Background()
		now := time.Now()
		rate := paygate.RequestRate{PerSecond: 2, Burst: 3}
		admit := func(nonce string, at time.Time) paygate.Admission {
			t.Helper()
			var a paygate.Admission
			var err error
			if n := trips(r, func() { a, err = r.Store.Admit(ctx, "key_r", nonce, rate, at) }); n != 1 {
				t.Errorf("%d round trips, want 1", n)
			}
			if err != nil {
				t.Fatal(err)
			}
			return a
		}
		for i, nonce := range []string{"n1-0123456789abcdef", "n2-0123456789abcdef", "n3-0123456789abcdef"} {
			if a := admit(nonce, now); a != (paygate.Admission{}) {
				t.Fatalf("request %d of the burst: %+v", i+1, a)
			}
		}
		tat := r.Int(t, "{key_r}:rate")
		if want := now.UnixMicro() + 3*500_000; tat != want {
			t.Errorf("arrival time %d, want %d", tat, want)
		}
		if a := admit("n4-0123456789abcdef", now); a.Wait != 500*time.Millisecond || a.Replayed {
			t.Fatalf("past the burst: %+v, want a wait of 500ms", a)
		}
		if r.Int(t, "{key_r}:rate") != tat || len(r.Keys(t, "{key_r}:nonce:n4-*")) != 0 {
			t.Error("a limited request was recorded")
		}
		// A replay is refused without taking from the bucket.
		if a := admit("n1-0123456789abcdef", now.Add(time.Second)); !a.Replayed {
			t.Errorf("replay: %+v", a)
		}
		if r.Int(t, "{key_r}:rate") != tat {
			t.Error("a replay took from the bucket")
		}
		// The limited request, sent again after its wait, is admitted.
		if a := admit("n4-0123456789abcdef", now.Add(500*time.Millisecond)); a != (paygate.Admission{}) {
			t.Errorf("after the wait: %+v", a)
		}
		if ttl := r.TTL(t, "{key_r}:rate"); ttl <= 0 || ttl > 3*time.Second {
			t.Errorf("rate state ttl %v", ttl)
		}
	})
}

func TestActivationLimits(t *testing.T) {
	backends(t, func(t *testing.T, r *redistest.Redis) {
		ctx := context.Background()
		l := paygate.ActivationLimits{PerClient: 2, Total: 3, Window: time.Minute}
		wait := func(client string) time.Duration {
			t.Helper()
			var d time.Duration
			var err error
			if n := trips(r, func() { d, err = r.Store.ActivationWait(ctx, client, l) }); n != 1 {
				t.Errorf("%d round trips, want 1", n)
			}
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
		fail := func(client string) {
			t.Helper()
			if n := trips(r, func() {
				if err := r.Store.ActivationFailed(ctx, client, l); err != nil {
					t.Fatal(err)
				}
			}); n != 1 {
				t.Errorf("%d round trips, want 1", n)
			}
		}
		if d := wait("10.0.0.1"); d != 0 {
			t.Fatalf("no failures yet: wait %v", d)
		}
		fail("10.0.0.1")
		if d := wait("10.0.0.1"); d != 0 {
			t.Fatalf("one failure of two: wait %v", d)
		}
		fail("10.0.0.1")
		if d := wait("10.0.0.1"); d <= 0 || d > time.Minute {
			t.Errorf("client at its limit: wait %v", d)
		}
		if d := wait("10.0.0.2"); d != 0 {
			t.Errorf("another client: wait %v", d)
		}
		fail("10.0.0.2")
		if d := wait("10.0.0.3"); d <= 0 || d > time.Minute {
			t.Errorf("everyone at the limit: wait %v", d)
		}
		if n := r.Int(t, "activation:{failures}:ip:10.0.0.1"); n != 2 {
			t.Errorf("client count %d", n)
		}
		if n := r.Int(t, "activation:{failures}:all"); n != 3 {
			t.Errorf("overall count %d", n)
		}
		if ttl := r.TTL(t, "activation:{failures}:all"); ttl <= 0 || ttl > time.Minute {
			t.Errorf("window ttl %v", ttl)
		}
		// A counter that lost its expiry waits a whole window.
		if err := r.Client.Set(ctx, r.Prefix+"activation:{failures}:ip:10.0.0.4", 5, 0).Err(); err != nil {
			t.Fatal(err)
		}
		if d := wait("10.0.0.4"); d != time.Minute {
			t.Errorf("counter without expiry: wait %v, want the window", d)
		}
	})
}

func TestCashierPay(t *testing.T) {
	backends(t, func(t *testing.T, r *redistest.Redis) {
		ctx := context.Background()
		l := paygate.CashierLimits{PerClient: 2, PerCode: 3}
		pay := func(client string) bool {
			t.Helper()
			ok, err := r.Store.CashierPay(ctx, client, "qrc_1", l)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		if n := trips(r, func() { pay("10.0.0.1") }); n != 2 {
			t.Errorf("%d round trips, want 2 (one per counter)", n)
		}
		if !pay("10.0.0.1") {
			t.Fatal("second payment of two refused")
		}
		if n := trips(r, func() {
			if pay("10.0.0.1") {
				t.Error("third payment from one address allowed")
			}
		}); n != 1 {
			t.Errorf("%d round trips over the address limit, want 1", n)
		}
		if n := r.Int(t, "cashier:code:{qrc_1}"); n != 2 {
			t.Errorf("code count %d: the refused payment was counted", n)
		}
		if !pay("10.0.0.2") {
			t.Fatal("third payment through the code refused")
		}
		if pay("10.0.0.3") {
			t.Error("fourth payment through the code allowed")
		}
		if ttl := r.TTL(t, "cashier:ip:{10.0.0.1}"); ttl <= 0 || ttl > time.Minute {
			t.Errorf("window ttl %v", ttl)
		}
	})
}

func TestCountRisk(t *testing.T) {
	backends(t, func(t *testing.T, r *redistest.Redis) {
		ctx := context.Background()
		at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
		check := func(amount int64, dry bool) paygate.RiskCheck {
			return paygate.RiskCheck{
				MerchantID: "m_1", Amount: amount, At: at, Day: "20261201", Dry: dry,
				Split: paygate.SplitCheck{PayerKey: "card-1", Window: 10 * time.Minute, Tolerance: 100,
					Threshold: 100000, MinCount: 3},
				PayerDaily:    paygate.DailyCheck{Key: "card-1", Max: 150000, Declines: true},
				TerminalDaily: paygate.DailyCheck{Key: "T1", Max: 120000},
			}
		}
		count := func(c paygate.RiskCheck) paygate.RiskTally {
			t.Helper()
			var v paygate.RiskTally
			var err error
			if n := trips(r, func() { v, err = r.Store.CountRisk(ctx, c) }); n != 1 {
				t.Errorf("%d round trips, want 1", n)
			}
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		if v := count(check(60000, true)); v != (paygate.RiskTally{}) {
			t.Errorf("empty state: %+v", v)
		}
		if keys := r.Keys(t, "*"); len(keys) != 0 {
			t.Fatalf("a dry check wrote %v", keys)
		}
		if v := count(check(60000, false)); v != (paygate.RiskTally{}) {
			t.Errorf("first payment: %+v", v)
		}
		at = at.Add(time.Minute)
		v := count(check(60000, false)) // 60000 + 60000 cross 100000
		want := paygate.RiskTally{Split: paygate.SplitSumCrosses, WindowCount: 1, WindowSum: 60000, NearCount: 1,
			PayerDaily: paygate.DailyTally{Total: 60000}, TerminalDaily: paygate.DailyTally{Total: 60000}}
		if v != want {
			t.Errorf("second payment: %+v, want %+v", v, want)
		}
		// Above the payer's ceiling, which declines: nothing recorded.
		at = at.Add(time.Minute)
		v = count(check(40000, false))
		if !v.PayerDaily.Over || v.PayerDaily.Total != 120000 || !v.TerminalDaily.Over || v.TerminalDaily.Total != 120000 {
			t.Errorf("third payment: %+v", v)
		}
		if n := r.Int(t, "risk:{m_1}:payer:card-1:20261201"); n != 120000 {
			t.Errorf("payer total %d after a declined payment", n)
		}
		if n := r.Int(t, "risk:{m_1}:terminal:T1:20261201"); n != 120000 {
			t.Errorf("terminal total %d after a declined payment", n)
		}
		if ttl := r.TTL(t, "risk:{m_1}:payer:card-1:20261201"); ttl <= 47*time.Hour || ttl > 48*time.Hour {
			t.Errorf("daily total ttl %v", ttl)
		}
		if ttl := r.TTL(t, "risk:{m_1}:split:card-1"); ttl <= 9*time.Minute || ttl > 10*time.Minute {
			t.Errorf("window ttl %v", ttl)
		}
		// Near-identical amounts under the threshold: the third is caught.
		c := paygate.RiskCheck{MerchantID: "m_1", At: at, Day: "20261201",
			Split: paygate.SplitCheck{PayerKey: "card-2", Window: 10 * time.Minute, Tolerance: 100, Threshold: 100000, MinCount: 3}}
		for i, amount := range []int64{30000, 30050, 29990} {
			c.Amount = amount
			v := count(c)
			if wantSplit := []paygate.SplitFinding{paygate.SplitNone, paygate.SplitNone, paygate.SplitNearIdentical}[i]; v.Split != wantSplit || v.NearCount != int64(i) {
				t.Errorf("payment %d: %+v", i+1, v)
			}
		}
		// A static QR total only with its key.
		c = paygate.RiskCheck{MerchantID: "m_1", Amount: 50001, At: at, Day: "20261201",
			StaticQRPayerDaily: paygate.DailyCheck{Key: "openid-1", Max: 50000, Declines: true}}
		if v := count(c); !v.StaticQRPayerDaily.Over || v.StaticQRPayerDaily.Total != 0 {
			t.Errorf("static QR: %+v", v)
		}
		if keys := r.Keys(t, "risk:{m_1}:static_qr:*"); len(keys) != 0 {
			t.Errorf("a declined static QR payment wrote %v", keys)
		}
	})
}

func TestCallbackClaims(t *testing.T) {
	backends(t, func(t *testing.T, r *redistest.Redis) {
		ctx := context.Background()
		claim := func() paygate.CallbackClaim {
			t.Helper()
			var c paygate.CallbackClaim
			var err error
			if n := trips(r, func() { c, err = r.Store.ClaimCallback(ctx, "wechat", "n-1") }); n != 1 {
				t.Errorf("%d round trips, want 1", n)
			}
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		c := claim()
		if c.Prior != paygate.ClaimFree || c.Ref != r.Prefix+"cb:wechat:n-1" {
			t.Fatalf("first claim: %+v", c)
		}
		if v, ttl := r.String(t, "cb:wechat:n-1"), r.TTL(t, "cb:wechat:n-1"); v != "processing" || ttl <= 0 || ttl > 30*time.Second {
			t.Errorf("claim %q for %v", v, ttl)
		}
		if c := claim(); c.Prior != paygate.ClaimProcessing {
			t.Errorf("claimed twice: %+v", c)
		}
		if err := r.Store.ReleaseCallback(ctx, c.Ref); err != nil {
			t.Fatal(err)
		}
		if c := claim(); c.Prior != paygate.ClaimFree {
			t.Errorf("after release: %+v", c)
		}
		if err := r.Store.CallbackDone(ctx, c.Ref, time.Hour); err != nil {
			t.Fatal(err)
		}
		if ttl := r.TTL(t, "cb:wechat:n-1"); ttl <= 59*time.Minute || ttl > time.Hour {
			t.Errorf("done ttl %v", ttl)
		}
		if c := claim(); c.Prior != paygate.ClaimDone {
			t.Errorf("after done: %+v", c)
		}
		if v := r.String(t, "cb:wechat:n-1"); v != "done" {
			t.Errorf("a claim overwrote done: %q", v)
		}
	})
}

// Without Redis every call fails, and a claim still names its key so the
// done mark can follow once Redis is back.
func TestUnreachable(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	defer rdb.Close()
	s, err := redisstore.New(rdb, "test:down:")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.Admit(ctx, "k", "n", paygate.RequestRate{PerSecond: 1, Burst: 1}, time.Now()); err == nil {
		t.Error("admit without Redis")
	}
	if _, err := s.Admit(ctx, "k", "n", paygate.RequestRate{}, time.Now()); err == nil {
		t.Error("nonce without Redis")
	}
	if _, err := s.ActivationWait(ctx, "c", paygate.ActivationLimits{PerClient: 1, Total: 1, Window: time.Minute}); err == nil {
		t.Error("activation wait without Redis")
	}
	if _, err := s.CashierPay(ctx, "c", "q", paygate.CashierLimits{PerClient: 1, PerCode: 1}); err == nil {
		t.Error("cashier count without Redis")
	}
	if _, err := s.CountRisk(ctx, paygate.RiskCheck{MerchantID: "m", Amount: 1, PayerDaily: paygate.DailyCheck{Key: "p", Max: 1}}); err == nil {
		t.Error("risk without Redis")
	}
	if c, err := s.ClaimCallback(ctx, "wechat", "n-1"); err == nil || c.Ref != "test:down:cb:wechat:n-1" {
		t.Errorf("claim without Redis: %+v %v", c, err)
	}
}
