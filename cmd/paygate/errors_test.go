package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/paygate-cn/paygate/config"
)

// A wrong method on a known path is 405 method_not_allowed with Allow; a
// trailing slash or an unknown path is the JSON 404, never a redirect.
func TestMethodNotAllowedAndExactPaths(t *testing.T) {
	c := testMain(t, "sqlite")
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	tests := []struct {
		method, path string
		status       int
		code, allow  string
	}{
		{"GET", "/v1/orders/ord_x/close", 405, "method_not_allowed", "POST"},
		{"DELETE", "/v1/orders", 405, "method_not_allowed", "GET, POST"},
		{"POST", "/healthz", 405, "method_not_allowed", "GET"},
		{"GET", "/v1/orders/", 404, "not_found", ""},
		{"GET", "/healthz/", 404, "not_found", ""},
		{"POST", "/v1/orders/ord_x/refunds/", 404, "not_found", ""},
		{"GET", "/v2/orders", 404, "not_found", ""},
	}
	for _, tc := range tests {
		req, _ := http.NewRequest(tc.method, c.base+tc.path, nil)
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var e struct {
			Error struct{ Code string } `json:"error"`
		}
		if resp.StatusCode != tc.status || json.Unmarshal(body, &e) != nil || e.Error.Code != tc.code {
			t.Errorf("%s %s: %d %s, want %d %s", tc.method, tc.path, resp.StatusCode, body, tc.status, tc.code)
			continue
		}
		if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Errorf("%s %s: Content-Type %q", tc.method, tc.path, resp.Header.Get("Content-Type"))
		}
		if got := resp.Header.Get("Allow"); got != tc.allow {
			t.Errorf("%s %s: Allow %q, want %q", tc.method, tc.path, got, tc.allow)
		}
	}
}

// POST /v1/events/{id}/redeliver takes an empty body or {} only.
func TestRedeliverValidatesBody(t *testing.T) {
	c := testMain(t, "sqlite")
	o := c.createOrder(authCodeOrder("134567890123456789", 1234), "").decode(t)
	list := c.do("GET", "/v1/events?order_id="+o["id"].(string), "/v1/events", nil, "").decode(t)
	data := list["data"].([]any)
	if len(data) == 0 {
		t.Fatalf("no events: %v", list)
	}
	id := data[0].(map[string]any)["id"].(string)
	path := "/v1/events/" + id + "/redeliver"
	for _, tc := range []struct{ body, code string }{
		{`{"at": "now"}`, "unknown_parameter"},
		{`[]`, "invalid_json"},
		{`null`, "invalid_json"},
		{`"{}"`, "invalid_json"},
		{`{} {}`, "invalid_json"},
	} {
		r := c.do("POST", path, "/v1/events/{id}/redeliver", tc.body, "")
		if r.Status != 400 || r.errorCode() != tc.code {
			t.Errorf("body %s: %d %s, want 400 %s", tc.body, r.Status, r.Body, tc.code)
		}
	}
	for _, body := range []string{"", "{}", " { } "} {
		if r := c.do("POST", path, "/v1/events/{id}/redeliver", body, ""); r.Status != 200 {
			t.Errorf("body %q: %d %s, want 200", body, r.Status, r.Body)
		}
	}
}

// The database unreachable answers 503 service_unavailable, never 500: on
// SQLite with its pool closed, on PostgreSQL with the server's address
// refusing connections (and the open ones cut).
func TestDatabaseUnavailable(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			var cut func()
			setup := func(m *Main) {}
			if b == "postgres" {
				proxy := startCuttableProxy(t, postgresAddr(t))
				cut = proxy.cut
				setup = func(m *Main) {
					u, _ := url.Parse(m.Config.DatabaseURL)
					u.Host = proxy.addr
					m.Config.DatabaseURL = u.String()
				}
			}
			c := testMainWith(t, b, setup, func(cfg *config.Config) { cfg.Jobs.Disabled = true })
			created := c.createOrder(authCodeOrder("134567890123456789", 1234), "")
			if created.Status != 201 {
				t.Fatalf("create before the outage: %d %s", created.Status, created.Body)
			}
			id := created.decode(t)["id"].(string)
			if b == "postgres" {
				cut()
			} else {
				c.m.DB.Close()
			}
			for _, r := range []response{
				c.do("GET", "/v1/orders/"+id, "/v1/orders/{id}", nil, ""),
				c.do("GET", "/v1/orders?limit=5", "", nil, ""),
				c.createOrder(authCodeOrder("134567890123456789", 1234), ""),
				c.createOrder(authCodeOrder("134567890123456789", 1234), "idem-"+randSuffix()),
				c.do("POST", "/v1/orders/"+id+"/refunds", "", map[string]any{"merchant_refund_no": "r1", "amount": 1}, ""),
			} {
				if r.Status != http.StatusServiceUnavailable || r.errorCode() != "service_unavailable" {
					t.Errorf("with the database unreachable: %d %s, want 503 service_unavailable", r.Status, r.Body)
				}
			}
		})
	}
}

func postgresAddr(t *testing.T) string {
	u, err := url.Parse(postgresURL())
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// cuttableProxy forwards TCP connections to a server until cut: then it
// closes every open connection and stops listening, so that the server
// looks unreachable from then on.
type cuttableProxy struct {
	addr  string
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func startCuttableProxy(t *testing.T, target string) *cuttableProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cuttableProxy{addr: ln.Addr().String(), ln: ln}
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, in, out)
			p.mu.Unlock()
			go func() { io.Copy(out, in); out.Close() }()
			go func() { io.Copy(in, out); in.Close() }()
		}
	}()
	t.Cleanup(p.cut)
	return p
}

func (p *cuttableProxy) cut() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}
