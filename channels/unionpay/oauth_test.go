package unionpay

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// openPlatform plays UnionPay's open platform for the two calls of the
// code exchange: it checks the backendToken request's signature, hands
// out tokens living expiresIn seconds, and answers a code with its openId
// only with a token it handed out and has not ended.
type openPlatform struct {
	appID, secret string
	expiresIn     int64
	now           func() time.Time

	mu      sync.Mutex
	tokens  map[string]time.Time // token → expiry
	issued  atomic.Int32
	codes   map[string]string // code → openId
	srv     *httptest.Server
	refused atomic.Int32
}

func newOpenPlatform(t *testing.T, now func() time.Time) *openPlatform {
	p := &openPlatform{appID: "up_app_1", secret: "s3cret", expiresIn: 7200, now: now,
		tokens: map[string]time.Time{}, codes: map[string]string{"code1": "open_1", "code2": "open_2"}}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *openPlatform) answer(w http.ResponseWriter, resp string, params any) {
	b, _ := json.Marshal(map[string]any{"resp": resp, "msg": "", "params": params})
	w.Write(b)
}

func (p *openPlatform) serve(w http.ResponseWriter, r *http.Request) {
	var body map[string]string
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body["appId"] != p.appID {
		p.answer(w, "10", nil)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch r.URL.Path {
	case "/open/access/1.0/backendToken":
		sum := sha256.Sum256([]byte("appId=" + p.appID + "&nonceStr=" + body["nonceStr"] + "&secret=" + p.secret +
			"&timestamp=" + body["timestamp"]))
		if body["signature"] != hex.EncodeToString(sum[:]) || body["nonceStr"] == "" {
			p.answer(w, "11", nil)
			return
		}
		tok := fmt.Sprintf("bt_%d", p.issued.Add(1))
		p.tokens[tok] = p.now().Add(time.Duration(p.expiresIn) * time.Second)
		p.answer(w, "00", map[string]any{"backendToken": tok, "expiresIn": p.expiresIn})
	case "/open/access/1.0/token":
		until, ok := p.tokens[body["backendToken"]]
		if !ok || !p.now().Before(until) {
			p.refused.Add(1)
			p.answer(w, "20", nil) // backendToken invalid
			return
		}
		openID, ok := p.codes[body["code"]]
		if !ok || body["grantType"] != "authorization_code" {
			p.answer(w, "21", nil)
			return
		}
		p.answer(w, "00", map[string]any{"openId": openID, "accessToken": "at", "expiresIn": 7200})
	default:
		http.NotFound(w, r)
	}
}

// endTokens ends every token handed out, as the platform does when
// another process takes a new one.
func (p *openPlatform) endTokens() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.tokens)
}

func TestOAuthBackendTokenIsCached(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	p := newOpenPlatform(t, clock)
	o := &OAuth{AppID: p.appID, Secret: p.secret, Base: p.srv.URL, Client: p.srv.Client(), Now: clock}
	ctx := context.Background()
	payer := func(code, want string) {
		t.Helper()
		if got, err := o.PayerID(ctx, code); err != nil || got != want {
			t.Fatalf("PayerID(%s) = %q, %v; want %q", code, got, err, want)
		}
	}

	// Concurrent exchanges share one token.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if got, err := o.PayerID(ctx, "code1"); err != nil || got != "open_1" {
				t.Errorf("PayerID = %q, %v", got, err)
			}
		})
	}
	wg.Wait()
	payer("code2", "open_2")
	if n := p.issued.Load(); n != 1 {
		t.Fatalf("%d backendTokens taken for 9 exchanges, want 1", n)
	}

	// A minute before it expires, a new one is taken.
	advance(7200*time.Second - backendTokenMargin - time.Second)
	payer("code1", "open_1")
	if n := p.issued.Load(); n != 1 {
		t.Fatalf("a new token %d before the margin", n)
	}
	advance(2 * time.Second)
	payer("code1", "open_1")
	if n := p.issued.Load(); n != 2 {
		t.Fatalf("%d tokens taken past the margin, want 2", n)
	}

	// Ended early by the platform: refused once, then a fresh one.
	advance(2 * time.Minute)
	p.endTokens()
	payer("code2", "open_2")
	if n, r := p.issued.Load(), p.refused.Load(); n != 3 || r != 1 {
		t.Fatalf("after the token was ended: %d tokens, %d refusals; want 3, 1", n, r)
	}

	// Codes the platform does not know fail, naming its answer; the
	// token just taken is not given up for them.
	for range 5 {
		if _, err := o.PayerID(ctx, "unknown"); err == nil || !strings.Contains(err.Error(), "resp 21") {
			t.Fatalf("unknown code: %v", err)
		}
	}
	if n := p.issued.Load(); n != 3 {
		t.Fatalf("%d tokens after failing codes, want 3", n)
	}
	// A minute on, a failing code may take one fresh token, once.
	advance(2 * time.Minute)
	for range 5 {
		o.PayerID(ctx, "unknown")
	}
	if n := p.issued.Load(); n != 4 {
		t.Fatalf("%d tokens after failing codes a minute on, want 4", n)
	}
	payer("code1", "open_1")
}

func TestOAuthShortLivedTokenIsNotCached(t *testing.T) {
	t.Parallel()
	now := func() time.Time { return time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC) }
	p := newOpenPlatform(t, now)
	p.expiresIn = 30 // shorter than the margin
	o := &OAuth{AppID: p.appID, Secret: p.secret, Base: p.srv.URL, Client: p.srv.Client(), Now: now}
	for range 2 {
		if got, err := o.PayerID(context.Background(), "code1"); err != nil || got != "open_1" {
			t.Fatalf("PayerID = %q, %v", got, err)
		}
	}
	if n := p.issued.Load(); n != 2 {
		t.Fatalf("%d tokens for 2 exchanges with a 30 s lifetime, want 2", n)
	}
	bad := &OAuth{AppID: p.appID, Secret: "wrong", Base: p.srv.URL, Client: p.srv.Client(), Now: now}
	if _, err := bad.PayerID(context.Background(), "code1"); err == nil || !strings.Contains(err.Error(), "backendToken: resp 11") {
		t.Fatalf("a wrong secret: %v", err)
	}
}
