package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// User-Agents of the wallets the cashier tells apart (docs/cashier.md).
const (
	uaWeChat  = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Mobile Safari/537.36 MicroMessenger/8.0.47.2560(0x28002F36) NetType/WIFI Language/zh_CN"
	uaAlipay  = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Mobile Safari/537.36 AlipayClient/10.5.86.8000 Language/zh-Hans"
	uaBrowser = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 Safari/604.1"
)

// maxPage is the largest a cashier page may be (docs/cashier.md).
const maxPage = 60 << 10

// phone is a payer's browser: a cookie jar and a User-Agent, following no
// redirects so that each answer can be checked.
type phone struct {
	t  *testing.T
	ua string
	hc *http.Client
}

func newPhone(t *testing.T, ua string) *phone {
	jar, _ := cookiejar.New(nil)
	return &phone{t: t, ua: ua, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

func (p *phone) send(method, u string, form url.Values) response {
	p.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, u, body)
	req.Header.Set("User-Agent", p.ua)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := p.hc.Do(req)
	if err != nil {
		p.t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") && len(b) > maxPage {
		p.t.Errorf("%s %s: page of %d bytes, more than %d", method, u, len(b), maxPage)
	}
	return response{Status: resp.StatusCode, Body: b, Header: resp.Header}
}

var formTokenRE = regexp.MustCompile(`name="form_token" value="([^"]+)"`)

// open loads the payer page and returns its form token.
func (p *phone) open(codeURL string) string {
	p.t.Helper()
	r := p.send("GET", codeURL, nil)
	if r.Status != 200 || !bytes.Contains(r.Body, []byte(`<form id="pay"`)) {
		p.t.Fatalf("payer page: %d %s", r.Status, r.Body)
	}
	m := formTokenRE.FindSubmatch(r.Body)
	if m == nil {
		p.t.Fatalf("no form token in %s", r.Body)
	}
	return string(m[1])
}

func (c *client) createQRCode(body map[string]any) map[string]any {
	c.t.Helper()
	r := c.do("POST", "/v1/qr_codes", "/v1/qr_codes", body, "")
	if r.Status != 201 {
		c.t.Fatalf("create qr code: %d %s", r.Status, r.Body)
	}
	return r.decode(c.t)
}

func (c *client) orderCount() int {
	c.t.Helper()
	return len(c.do("GET", "/v1/orders?limit=100", "/v1/orders", nil, "").decode(c.t)["data"].([]any))
}

func TestQRCodesAPI(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *client) {
		// Bad input: a specific code and param, nothing written.
		for _, tc := range []struct {
			body        string
			status      int
			code, param string
		}{
			{`{}`, 400, "parameter_missing", "store_name"},
			{`{"store_name": "a\u0007b"}`, 400, "invalid_characters", "store_name"},
			{`{"store_name": "` + strings.Repeat("店", 65) + `"}`, 400, "string_too_long", "store_name"},
			{`{"store_name": "Shop", "amount": 0}`, 400, "amount_invalid", "amount"},
			{`{"store_name": "Shop", "amount": 50001}`, 422, "amount_too_large", "amount"},
			{`{"store_name": "Shop", "terminal_id": "a b"}`, 400, "parameter_invalid", "terminal_id"},
			{`{"store_name": "Shop", "terminal_id": "T9999"}`, 422, "terminal_unknown", "terminal_id"},
			{`{"store_name": "Shop", "colour": "red"}`, 400, "unknown_parameter", "colour"},
		} {
			r := c.do("POST", "/v1/qr_codes", "/v1/qr_codes", tc.body, "")
			var e struct{ Error struct{ Code, Param string } }
			json.Unmarshal(r.Body, &e)
			if r.Status != tc.status || e.Error.Code != tc.code || e.Error.Param != tc.param {
				t.Errorf("%s: %d %s", tc.body, r.Status, r.Body)
			}
		}
		if l := c.do("GET", "/v1/qr_codes", "/v1/qr_codes", nil, "").decode(t); len(l["data"].([]any)) != 0 {
			t.Fatalf("a rejected request wrote a code: %v", l)
		}

		fixed := c.createQRCode(map[string]any{"store_name": "静安店", "amount": 1500, "terminal_id": "T0001", "description": "收银台 1"})
		time.Sleep(2 * time.Millisecond) // ids sort by their millisecond
		open := c.createQRCode(map[string]any{"store_name": "Shop"})
		u, _ := url.Parse(open["url"].(string))
		code := strings.TrimPrefix(u.Path, "/qr/")
		if !strings.HasPrefix(open["url"].(string), c.base+"/qr/") || len(code) < 22 || open["active"] != true ||
			open["png_url"] != open["url"].(string)+"/code.png" || open["amount"] != nil {
			t.Fatalf("created %v", open)
		}
		got := c.do("GET", "/v1/qr_codes/"+fixed["id"].(string), "/v1/qr_codes/{id}", nil, "").decode(t)
		if got["amount"] != 1500.0 || got["store_name"] != "静安店" || got["url"] != fixed["url"] {
			t.Fatalf("read %v", got)
		}
		page := c.do("GET", "/v1/qr_codes?limit=1", "/v1/qr_codes", nil, "").decode(t)
		if data := page["data"].([]any); len(data) != 1 || data[0].(map[string]any)["id"] != open["id"] || page["next_cursor"] == nil {
			t.Fatalf("page 1 %v", page)
		}
		page = c.do("GET", "/v1/qr_codes?limit=1&cursor="+page["next_cursor"].(string), "/v1/qr_codes", nil, "").decode(t)
		if data := page["data"].([]any); len(data) != 1 || data[0].(map[string]any)["id"] != fixed["id"] || page["next_cursor"] != nil {
			t.Fatalf("page 2 %v", page)
		}
		if r := c.do("GET", "/v1/qr_codes/qrc_nope", "/v1/qr_codes/{id}", nil, ""); r.Status != 404 {
			t.Fatalf("unknown code: %d", r.Status)
		}

		// The printable image.
		resp, err := http.Get(open["png_url"].(string))
		if err != nil {
			t.Fatal(err)
		}
		png, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.HasPrefix(png, []byte("\x89PNG")) {
			t.Fatalf("png: %d %q", resp.StatusCode, png[:min(len(png), 16)])
		}

		// Deactivated: the API says so, the page is gone, the image too.
		d := c.do("POST", "/v1/qr_codes/"+open["id"].(string)+"/deactivate", "/v1/qr_codes/{id}/deactivate", nil, "").decode(t)
		if d["active"] != false || d["deactivated_at"] == nil {
			t.Fatalf("deactivated %v", d)
		}
		ph := newPhone(t, uaWeChat)
		if r := ph.send("GET", open["url"].(string), nil); r.Status != 410 || !bytes.Contains(r.Body, []byte("已停用")) {
			t.Fatalf("deactivated page: %d %s", r.Status, r.Body)
		}
		if r := ph.send("GET", open["png_url"].(string), nil); r.Status != 410 {
			t.Fatalf("deactivated png: %d", r.Status)
		}
		if r := ph.send("GET", c.base+"/qr/AAAAAAAAAAAAAAAAAAAAAAAA", nil); r.Status != 404 {
			t.Fatalf("unknown page: %d", r.Status)
		}
	})
}

// The payer's path through the cashier, and the static QR limit.
func TestCashierStaticQR(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *client) {
		qr := c.createQRCode(map[string]any{"store_name": "早餐铺", "terminal_id": "T0001"})
		codeURL := qr["url"].(string)

		// Another browser gets the page that names the apps.
		other := newPhone(t, uaBrowser).send("GET", codeURL, nil)
		if other.Status != 200 || !bytes.Contains(other.Body, []byte(`id="other"`)) || !bytes.Contains(other.Body, []byte("data:image/png;base64,")) {
			t.Fatalf("other browser: %d %s", other.Status, other.Body)
		}

		ph := newPhone(t, uaWeChat)
		tok := ph.open(codeURL)
		before := c.orderCount()
		// Bad input writes nothing.
		for _, form := range []url.Values{
			{"amount": {"abc"}, "form_token": {tok}},
			{"amount": {"0"}, "form_token": {tok}},
			{"amount": {"1.234"}, "form_token": {tok}},
			{"amount": {"1.00"}, "remark": {strings.Repeat("备", 33)}, "form_token": {tok}},
			{"amount": {"1.00"}, "remark": {"a\x01"}, "form_token": {tok}},
			{"amount": {"1.00"}},
			{"amount": {"1.00"}, "form_token": {tok + "x"}},
			{"amount": {"1.00", "2.00"}, "form_token": {tok}},
		} {
			if r := ph.send("POST", codeURL+"/pay", form); r.Status < 400 {
				t.Errorf("%v: %d", form, r.Status)
			}
		}
		// Another payer cannot use this payer's form.
		if r := newPhone(t, uaWeChat).send("POST", codeURL+"/pay", url.Values{"amount": {"1.00"}, "form_token": {tok}}); r.Status != 403 {
			t.Errorf("another payer's form: %d", r.Status)
		}
		if n := c.orderCount(); n != before {
			t.Fatalf("bad input wrote %d orders", n-before)
		}

		// 300.00 typed: an order in the payer's wallet, marked static_qr.
		r := ph.send("POST", codeURL+"/pay", url.Values{"amount": {"300.00"}, "remark": {"两份早餐"}, "form_token": {tok}})
		if r.Status != 303 {
			t.Fatalf("pay: %d %s", r.Status, r.Body)
		}
		loc, _ := url.Parse(r.Header.Get("Location"))
		orderID := loc.Query().Get("order")
		// The same form again finds the same order.
		if again := ph.send("POST", codeURL+"/pay", url.Values{"amount": {"300.00"}, "remark": {"两份早餐"}, "form_token": {tok}}); again.Header.Get("Location") != r.Header.Get("Location") {
			t.Fatalf("form sent twice: %d %s", again.Status, again.Header.Get("Location"))
		}
		o := c.order(orderID)
		if o["source"] != "static_qr" || o["qr_code_id"] != qr["id"] || o["method"] != "jsapi" || o["channel"] != "wechat" ||
			o["amount"] != 30000.0 || o["terminal_id"] != "T0001" || o["metadata"].(map[string]any)["remark"] != "两份早餐" {
			t.Fatalf("order %v", o)
		}
		res := ph.send("GET", c.base+loc.String(), nil)
		if res.Status != 200 || !bytes.Contains(res.Body, []byte(`id="result" data-status="pending"`)) ||
			!bytes.Contains(res.Body, []byte(`/sandbox/wechat/confirm?ref=`)) {
			t.Fatalf("result page: %d %s", res.Status, res.Body)
		}
		// Another payer does not see the order, nor anyone without the page's MAC.
		if r := newPhone(t, uaWeChat).send("GET", c.base+loc.String(), nil); r.Status != 404 {
			t.Fatalf("another payer's result: %d", r.Status)
		}
		if r := ph.send("GET", codeURL+"/result?order="+orderID, nil); r.Status != 404 {
			t.Fatalf("result without its MAC: %d", r.Status)
		}

		var cred struct{ Package string }
		b, _ := json.Marshal(o["credential"])
		json.Unmarshal(b, &cred)
		c.scanJSON("wechat", map[string]string{"prepay_id": strings.TrimPrefix(cred.Package, "prepay_id=")})
		paid := c.waitStatus(orderID, "succeeded")
		if paid["fee"] != 180.0 {
			t.Fatalf("fee %v", paid["fee"])
		}
		st := ph.send("GET", codeURL+"/status?"+loc.RawQuery, nil)
		if !bytes.Contains(st.Body, []byte(`"status":"succeeded"`)) {
			t.Fatalf("status: %s", st.Body)
		}

		// 300.00 again the same day: over the 500.00 static QR limit.
		before = c.orderCount()
		tok = ph.open(codeURL)
		r = ph.send("POST", codeURL+"/pay", url.Values{"amount": {"300.00"}, "form_token": {tok}})
		if r.Status != 422 || !bytes.Contains(r.Body, []byte("500.00")) || !bytes.Contains(r.Body, []byte(`id="error"`)) {
			t.Fatalf("second 300.00: %d %s", r.Status, r.Body)
		}
		if n := c.orderCount(); n != before {
			t.Fatalf("the declined payment wrote %d orders", n-before)
		}
		// Another payer still may.
		other2 := newPhone(t, uaAlipay)
		if r := other2.send("POST", codeURL+"/pay", url.Values{"amount": {"300.00"}, "form_token": {other2.open(codeURL)}}); r.Status != 303 {
			t.Fatalf("another payer: %d %s", r.Status, r.Body)
		}
	})
}

// scanJSON posts a sandbox wallet action with its own fields.
func (c *client) scanJSON(channel string, body map[string]string) {
	c.t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(c.base+"/sandbox/"+channel+"/scan", "application/json", bytes.NewReader(b))
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		msg, _ := io.ReadAll(resp.Body)
		c.t.Fatalf("scan %s: %d %s", channel, resp.StatusCode, msg)
	}
}

// A dynamic QR order's image: served while the order can be paid.
func TestOrderQRPNG(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *client) {
		r := c.createOrder(map[string]any{"merchant_order_no": orderNo(), "amount": 880, "subject": "Tea",
			"method": "qr", "channel": "alipay"}, "")
		o := r.decode(t)
		u, _ := o["qr_png_url"].(string)
		if r.Status != 201 || !strings.HasPrefix(u, c.base+"/qr_png/"+o["id"].(string)+"/") {
			t.Fatalf("order %d %v", r.Status, o)
		}
		if got := c.order(o["id"].(string))["qr_png_url"]; got != u {
			t.Fatalf("GET qr_png_url %v", got)
		}
		get := func(u string) int {
			resp, err := http.Get(u)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 && !bytes.HasPrefix(b, []byte("\x89PNG")) {
				t.Fatalf("not a PNG: %q", b[:min(len(b), 16)])
			}
			return resp.StatusCode
		}
		if s := get(u); s != 200 {
			t.Fatalf("png: %d", s)
		}
		if s := get(strings.Replace(u, "/qr_png/"+o["id"].(string)+"/", "/qr_png/"+o["id"].(string)+"/0", 1)); s != 404 {
			t.Fatalf("guessed png: %d", s)
		}
		closed := c.do("POST", "/v1/orders/"+o["id"].(string)+"/close", "/v1/orders/{id}/close", nil, "").decode(t)
		if closed["status"] != "closed" || closed["qr_png_url"] != nil {
			t.Fatalf("closed %v", closed)
		}
		if s := get(u); s != 404 {
			t.Fatalf("png of a closed order: %d", s)
		}
	})
}
