package main

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paygate-cn/paygate"
	acquirersb "github.com/paygate-cn/paygate/channels/sandbox/acquirer"
	"github.com/paygate-cn/paygate/config"
)

// shiftClock is the real clock moved by a settable offset.
type shiftClock struct{ offset atomic.Int64 }

func (c *shiftClock) Now() time.Time        { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *shiftClock) Shift(d time.Duration) { c.offset.Store(int64(d)) }

// register creates a pending terminal with the merchant key.
func register(t *testing.T, c *client, terminalID string, extra map[string]any) map[string]any {
	t.Helper()
	body := map[string]any{"terminal_id": terminalID, "serial_no": "SN-" + terminalID, "model": "P2", "region_code": "310000"}
	for k, v := range extra {
		body[k] = v
	}
	return mustStatus(t, c.do("POST", "/v1/terminals", "/v1/terminals", body, ""), 201)
}

func TestActivationCodeExpiry(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			clk := &shiftClock{}
			c := testMainWith(t, b, func(m *Main) { m.Now = clk.Now })

			// The default lifetime is 24 hours, shown on the terminal.
			term := register(t, c, "T0300", nil)
			exp, err := time.Parse(time.RFC3339Nano, term["activation_expires_at"].(string))
			created, _ := time.Parse(time.RFC3339Nano, term["created_at"].(string))
			if err != nil || exp.Sub(created) != 24*time.Hour {
				t.Fatalf("expiry %v (%v) for a terminal created %v", term["activation_expires_at"], err, created)
			}
			// Out-of-bounds lifetimes are refused.
			for _, n := range []int{299, 604801} {
				r := c.do("POST", "/v1/terminals", "/v1/terminals", map[string]any{"terminal_id": "T0399", "serial_no": "S",
					"activation_expires_in": n}, "")
				if r.Status != 400 || r.errorCode() != paygate.EPARAMINVALID {
					t.Errorf("activation_expires_in %d: %d %s", n, r.Status, r.Body)
				}
			}
			short := register(t, c, "T0301", map[string]any{"activation_expires_in": 300})

			// A day later the first code is expired (401), and so is the short one.
			clk.Shift(24 * time.Hour)
			for _, tm := range []map[string]any{term, short} {
				if r := postActivation(t, c, tm["activation_code"].(string)); r.Status != 401 || r.errorCode() != paygate.EACTIVATIONEXPIRED {
					t.Errorf("expired code: %d %s", r.Status, r.Body)
				}
			}
			clk.Shift(0) // signed requests carry the real time

			// The merchant issues a new code; the old one is void, the new one works once.
			id := term["id"].(string)
			path := "/v1/terminals/" + id + "/activation_code"
			fresh := mustStatus(t, c.do("POST", path, "/v1/terminals/{id}/activation_code", map[string]any{"activation_expires_in": 600}, ""), 200)
			code, _ := fresh["activation_code"].(string)
			if code == "" || code == term["activation_code"] || fresh["status"] != "pending_activation" {
				t.Fatalf("new code: %v", fresh)
			}
			if r := postActivation(t, c, term["activation_code"].(string)); r.Status != 404 {
				t.Errorf("replaced code: %d %s", r.Status, r.Body)
			}
			// A terminal key may not issue codes.
			_, tk := activate(t, c, "T0302", "310000")
			if r := tk.do("POST", path, "/v1/terminals/{id}/activation_code", nil, ""); r.Status != 403 {
				t.Errorf("terminal key issues a code: %d %s", r.Status, r.Body)
			}
			act := mustStatus(t, postActivation(t, c, code), 201)
			if act["status"] != "active" || act["activation_expires_at"] != nil {
				t.Errorf("activated: %v", act)
			}
			// An active terminal gets no new code.
			if r := c.do("POST", path, "/v1/terminals/{id}/activation_code", nil, ""); r.Status != 409 || r.errorCode() != paygate.EINVALIDSTATE {
				t.Errorf("code for an active terminal: %d %s", r.Status, r.Body)
			}
			if r := c.do("POST", "/v1/terminals/trm_nope/activation_code", "/v1/terminals/{id}/activation_code", nil, ""); r.Status != 404 {
				t.Errorf("code for no terminal: %d %s", r.Status, r.Body)
			}
		})
	}
}

// fromAddr returns an HTTP client whose connections come from a local
// address of the 127/8 loopback network.
func fromAddr(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
}

func TestActivationRateLimit(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *client) {
		one := fromAddr("127.0.0.1")
		fail := func(hc *http.Client, want int) response {
			t.Helper()
			r := postActivationFrom(t, c, hc, "AAAA-BBBB-CCCC-DDDD-"+strings.ToUpper(randSuffix()[:4]))
			if r.Status != want {
				t.Fatalf("attempt: %d %s, want %d", r.Status, r.Body, want)
			}
			return r
		}
		for range 9 {
			fail(one, 404)
		}
		// Successful activations in between do not count.
		for _, id := range []string{"T0400", "T0401"} {
			term := register(t, c, id, nil)
			mustStatus(t, postActivationFrom(t, c, one, term["activation_code"].(string)), 201)
		}
		fail(one, 404) // the 10th failure is still answered
		r := fail(one, 429)
		if r.errorCode() != paygate.ERATELIMITED {
			t.Errorf("limited: %s", r.Body)
		}
		if s, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || s < 1 || s > 60 {
			t.Errorf("Retry-After %q", r.Header.Get("Retry-After"))
		}
		// Once limited, even a good code is refused from that address ...
		good := register(t, c, "T0402", nil)
		if r := postActivationFrom(t, c, one, good["activation_code"].(string)); r.Status != 429 {
			t.Errorf("good code from a limited address: %d %s", r.Status, r.Body)
		}
		// ... and works from another.
		mustStatus(t, postActivationFrom(t, c, fromAddr("127.0.0.2"), good["activation_code"].(string)), 201)

		// Overall: 100 failures a minute from any addresses together.
		// 10 so far; nine more addresses fail ten times each.
		for i := 3; i < 12; i++ {
			hc := fromAddr("127.0.0." + strconv.Itoa(i))
			for range 10 {
				fail(hc, 404)
			}
		}
		fail(fromAddr("127.0.0.12"), 429)
	})
}

func TestIdempotentTerminalKeepsNoCode(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *client) {
		idem := "idem-" + randSuffix()
		body := map[string]any{"terminal_id": "T0500", "serial_no": "SN-T0500", "model": "P2"}
		first := mustStatus(t, c.do("POST", "/v1/terminals", "/v1/terminals", body, idem), 201)
		code, _ := first["activation_code"].(string)
		if code == "" {
			t.Fatalf("first answer: %v", first)
		}
		replay := mustStatus(t, c.do("POST", "/v1/terminals", "/v1/terminals", body, idem), 200)
		if _, ok := replay["activation_code"]; ok || replay["activation_code_withheld"] != true || replay["id"] != first["id"] {
			t.Errorf("replay: %v", replay)
		}
		// The stored record holds no code.
		rec, err := c.m.DB.BeginIdempotent(context.Background(), config.DemoMerchantID, idem, "", time.Now().Add(time.Minute))
		if err != nil || rec == nil || !rec.Done {
			t.Fatalf("record: %+v %v", rec, err)
		}
		if strings.Contains(string(rec.Body), code) || strings.Contains(string(rec.Body), strings.ReplaceAll(code, "-", "")) {
			t.Errorf("idempotency record keeps the activation code: %s", rec.Body)
		}
		// The same for a reissued code.
		path := "/v1/terminals/" + first["id"].(string) + "/activation_code"
		idem2 := "idem-" + randSuffix()
		re := mustStatus(t, c.do("POST", path, "/v1/terminals/{id}/activation_code", nil, idem2), 200)
		code2, _ := re["activation_code"].(string)
		rec, err = c.m.DB.BeginIdempotent(context.Background(), config.DemoMerchantID, idem2, "", time.Now().Add(time.Minute))
		if err != nil || rec == nil || code2 == "" || strings.Contains(string(rec.Body), code2) {
			t.Errorf("reissue record: %+v %v", rec, err)
		}
		if r := c.do("POST", path, "/v1/terminals/{id}/activation_code", nil, idem2); r.Status != 200 ||
			strings.Contains(string(r.Body), code2) || !strings.Contains(string(r.Body), `"activation_code_withheld":true`) {
			t.Errorf("reissue replay: %d %s", r.Status, r.Body)
		}
		// The reissued code still works: the replay issued none.
		mustStatus(t, postActivation(t, c, code2), 201)
	})
}

// Regression: a declined or unanswered pre-authorisation showed an
// authorized_amount.
func TestPreAuthNotAuthorizedHasNoAuthorizedAmount(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *client) {
		body := cardOrder(newCard(t, "622202", 16, "3333"), paygate.EntryChip, "", 20000)
		body["capture"] = "manual"
		o := mustStatus(t, c.createOrder(body, ""), 201)
		if _, ok := o["authorized_amount"]; o["status"] != "failed" || ok {
			t.Errorf("declined pre-auth: %v", o)
		}
		// Approved but unanswered: reversed as a pre-authorisation.
		card := newCard(t, "622202", 16, "4444")
		body = cardOrder(card, paygate.EntryChip, "", 20000)
		body["capture"] = "manual"
		o = mustStatus(t, c.createOrder(body, ""), 201)
		o = c.waitStatus(o["id"].(string), "reversed")
		if _, ok := o["authorized_amount"]; ok {
			t.Errorf("reversed pre-auth: %v", o)
		}
		if rec := hostRecords(c, card.pan, acquirersb.KindPreAuth); len(rec) != 1 || rec[0].Status != acquirersb.StatusReversed {
			t.Errorf("host pre-auth: %+v", rec)
		}
	})
}

// forwardedFor sends requests from a local address with X-Forwarded-For set.
type forwardedFor struct {
	base http.RoundTripper
	xff  string
}

func (f forwardedFor) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Forwarded-For", f.xff)
	return f.base.RoundTrip(r)
}

func viaProxy(proxy, client string) *http.Client {
	return &http.Client{Transport: forwardedFor{fromAddr(proxy).Transport, client}}
}

// Behind a configured proxy each client has its own failure counter; a
// peer that is not a configured proxy cannot choose its counter with
// X-Forwarded-For.
func TestActivationRateLimitBehindProxy(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			c := testMain(t, b, func(cfg *config.Config) { cfg.TrustedProxies = []string{"127.0.0.1/32"} })
			attempt := func(hc *http.Client, want int) {
				t.Helper()
				r := postActivationFrom(t, c, hc, "AAAA-BBBB-CCCC-DDDD-"+strings.ToUpper(randSuffix()[:4]))
				if r.Status != want {
					t.Fatalf("attempt: %d %s, want %d", r.Status, r.Body, want)
				}
			}
			for range 10 {
				attempt(viaProxy("127.0.0.1", "203.0.113.7"), 404)
			}
			attempt(viaProxy("127.0.0.1", "203.0.113.7"), 429)
			// Another client behind the same proxy is not limited ...
			attempt(viaProxy("127.0.0.1", "203.0.113.8"), 404)
			// ... nor one whose address a client prepended: the proxy's own
			// entry, the rightmost, is the one believed.
			attempt(viaProxy("127.0.0.1", "203.0.113.7, 203.0.113.9"), 404)

			// 127.0.0.2 is no configured proxy: its header is ignored and
			// its failures count against its own address whatever it claims.
			for i := range 10 {
				attempt(viaProxy("127.0.0.2", "198.51.100."+strconv.Itoa(i)), 404)
			}
			attempt(viaProxy("127.0.0.2", "198.51.100.200"), 429)
		})
	}
}
