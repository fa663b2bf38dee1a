package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paygate-cn/paygate/config"
	"github.com/paygate-cn/paygate/gateway"
)

// steppedClock is a gateway clock that stands still until moved.
type steppedClock struct{ at atomic.Int64 }

func newSteppedClock() *steppedClock {
	c := &steppedClock{}
	c.at.Store(time.Now().UnixNano())
	return c
}

func (c *steppedClock) now() time.Time       { return time.Unix(0, c.at.Load()) }
func (c *steppedClock) step(d time.Duration) { c.at.Add(int64(d)) }
func (c *steppedClock) setup(m *Main)        { m.Now = c.now }
func limitConfig(rate, burst int) func(*config.Config) {
	return func(cfg *config.Config) {
		cfg.RateLimit.KeyRate, cfg.RateLimit.KeyBurst = rate, burst
	}
}

// probe sends one signed request that passes authentication and returns
// the status and Retry-After.
func (c *client) probe() (int, string) {
	c.t.Helper()
	r := c.do("GET", "/v1/orders/ord_no_such_order", "", nil, "")
	if r.Status == http.StatusTooManyRequests && r.errorCode() != "rate_limited" {
		c.t.Fatalf("429 with code %q: %s", r.errorCode(), r.Body)
	}
	return r.Status, r.Header.Get("Retry-After")
}

// expectAdmitted sends n requests and fails unless every one passes the
// limit (404: the order does not exist).
func (c *client) expectAdmitted(n int, what string) {
	c.t.Helper()
	for i := 0; i < n; i++ {
		if st, _ := c.probe(); st != http.StatusNotFound {
			c.t.Fatalf("%s: request %d of %d answered %d, want 404", what, i+1, n, st)
		}
	}
}

func (c *client) expectLimited(what string) {
	c.t.Helper()
	st, after := c.probe()
	if st != http.StatusTooManyRequests {
		c.t.Fatalf("%s: answered %d, want 429", what, st)
	}
	if n, err := strconv.Atoi(after); err != nil || n < 1 {
		c.t.Fatalf("%s: Retry-After %q, want whole seconds >= 1", what, after)
	}
}

// The per-key limit (docs/errors.md rate_limited): a burst, then 429 with
// Retry-After until the bucket refills; the same request admitted after
// the wait.
func TestRateLimit(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			clock := newSteppedClock()
			c := testMainWith(t, b, clock.setup, limitConfig(2, 3))
			c.expectAdmitted(3, "burst")
			c.expectLimited("past the burst")
			clock.step(500 * time.Millisecond)
			c.expectAdmitted(1, "after half a second at 2/s")
			c.expectLimited("bucket empty again")
			clock.step(10 * time.Second)
			c.expectAdmitted(3, "refilled to the burst, no more")
			c.expectLimited("past the refilled burst")
		})
	}
}

// Two gateway processes against one Redis share each key's bucket.
func TestRateLimitSharedByReplicas(t *testing.T) {
	clock := newSteppedClock()
	prefix := "test:" + randSuffix() + ":"
	shared := func(cfg *config.Config) {
		cfg.RedisURL, cfg.RedisPrefix = redisURL(), prefix
		cfg.RateLimit.KeyRate, cfg.RateLimit.KeyBurst = 1, 4
	}
	a := testMainWith(t, "sqlite", clock.setup, shared)
	b := testMainWith(t, "sqlite", clock.setup, shared)
	a.expectAdmitted(2, "replica a")
	b.expectAdmitted(2, "replica b")
	a.expectLimited("replica a after four requests in all")
	b.expectLimited("replica b after four requests in all")
	clock.step(time.Second)
	b.expectAdmitted(1, "replica b after one second")
	a.expectLimited("replica a after the refill was taken")
}

// A merchant's own rate_limit overrides the gateway's, for merchant and
// terminal keys; another merchant keeps the gateway's.
func TestRateLimitPerMerchant(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			clock := newSteppedClock()
			const keyID, termKeyID = "key_limits_big", "key_limits_pos"
			const secret = "sk_limits_0123456789abcdef0123456789"
			c := testMainWith(t, b, clock.setup, limitConfig(1, 2), func(cfg *config.Config) {
				cfg.Merchants = append(cfg.Merchants, config.Merchant{
					ID: "m_limits", Name: "Limits Shop", MCC: "5812", MerchantNo: "898310058120099",
					RegionCode: "310000",
					Terminals:  []config.Terminal{{ID: "T9", RegionCode: "310000"}},
					Keys: []config.Key{{ID: keyID, Secret: secret},
						{ID: termKeyID, Secret: secret, TerminalID: "T9"}},
					RateLimit: &config.Limits{KeyBurst: 5, TerminalRate: 1, TerminalBurst: 1},
				})
			})
			c.expectAdmitted(2, "demo merchant at the gateway's burst")
			c.expectLimited("demo merchant past the gateway's burst")

			big := *c
			big.keyID, big.secret = keyID, secret
			big.expectAdmitted(5, "merchant with its own burst")
			big.expectLimited("merchant past its own burst")

			pos := *c
			pos.keyID, pos.secret = termKeyID, secret
			pos.expectAdmitted(1, "terminal key")
			pos.expectLimited("terminal key past its burst")
		})
	}
}

// The harnesses switch the limit off; the nonce is still checked.
func TestRateLimitDisabled(t *testing.T) {
	c := testMain(t, "sqlite", limitConfig(1, 1), func(cfg *config.Config) { cfg.RateLimit.Disabled = true })
	c.expectAdmitted(5, "limit disabled")
	auth := gateway.AuthorizationHeader(testKeyID, testSecret, "GET", "/v1/orders/ord_x", time.Now(), "replay"+randSuffix()+randSuffix(), nil)
	for i, want := range []int{http.StatusNotFound, http.StatusUnauthorized} {
		req, _ := http.NewRequest("GET", c.base+"/v1/orders/ord_x", nil)
		req.Header.Set("Authorization", auth)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("send %d of one signed request: %d, want %d", i+1, resp.StatusCode, want)
		}
	}
}

// The server bounds a slow body and an idle keep-alive connection
// (docs/configuration.md, server): both are closed by the server within
// the configured timeouts.
func TestServerClosesSlowAndIdleConnections(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			const readTimeout, idleTimeout = time.Second, 1500 * time.Millisecond
			c := testMain(t, b, func(cfg *config.Config) {
				cfg.Server.ReadHeaderTimeout = readTimeout
				cfg.Server.ReadTimeout = readTimeout
				cfg.Server.IdleTimeout = idleTimeout
			})
			addr := strings.TrimPrefix(c.base, "http://")

			t.Run("slow body", func(t *testing.T) {
				conn, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				body := `{"merchant_order_no": "slow"}`
				auth := gateway.AuthorizationHeader(testKeyID, testSecret, "POST", "/v1/orders", time.Now(),
					"slowbody"+randSuffix(), []byte(body))
				start := time.Now()
				fmt.Fprintf(conn, "POST /v1/orders HTTP/1.1\r\nHost: %s\r\nAuthorization: %s\r\n"+
					"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", addr, auth, len(body), body[:5])
				// Trickle one byte a while, as a slow-body attack does, and
				// see when the server hangs up.
				go func() {
					for i := 5; i < len(body)-1; i++ {
						time.Sleep(300 * time.Millisecond)
						if _, err := conn.Write([]byte{body[i]}); err != nil {
							return
						}
					}
				}()
				closed := waitClosed(t, conn, 10*time.Second)
				if took := closed.Sub(start); took > readTimeout+2*time.Second {
					t.Fatalf("slow-body connection closed after %s, read_timeout is %s", took, readTimeout)
				}
			})

			t.Run("idle keep-alive", func(t *testing.T) {
				conn, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
				br := bufio.NewReader(conn)
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || resp.Close {
					t.Fatalf("healthz: %d, close %v", resp.StatusCode, resp.Close)
				}
				idle := time.Now()
				conn.SetReadDeadline(time.Now().Add(10 * time.Second))
				if _, err := br.ReadByte(); err == nil {
					t.Fatal("the server sent bytes on an idle connection")
				} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
					t.Fatal("idle keep-alive connection still open after 10s")
				}
				if took := time.Since(idle); took > idleTimeout+2*time.Second {
					t.Fatalf("idle connection closed after %s, idle_timeout is %s", took, idleTimeout)
				}
			})
		})
	}
}

// waitClosed reads (and drops) whatever the server sends until it closes
// the connection, and returns when that happened.
func waitClosed(t *testing.T, conn net.Conn, limit time.Duration) time.Time {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(limit))
	buf := make([]byte, 4096)
	for {
		if _, err := conn.Read(buf); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("connection still open after %s", limit)
			}
			return time.Now()
		}
	}
}
