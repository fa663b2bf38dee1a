package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// ecommerceFlows are the e-commerce method and channel combinations the
// sandbox providers implement, each with what the order needs and how a
// browser (or the wallet app) completes its credential.
var ecommerceFlows = []struct {
	channel, method string
	extra           map[string]any
	complete        func(c *client, cred map[string]any) (confirmPage string)
}{
	{"wechat", "jsapi", map[string]any{"payer_id": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}, wechatPrepay("package")},
	{"wechat", "app", nil, wechatPrepay("prepayid")},
	{"wechat", "h5", map[string]any{"client_ip": "203.0.113.9"}, func(c *client, cred map[string]any) string {
		return cred["h5_url"].(string) + "&redirect_url=" + url.QueryEscape(c.base+"/return")
	}},
	{"alipay", "jsapi", map[string]any{"payer_id": "2088102146225135"}, func(c *client, cred map[string]any) string {
		return c.confirmURL("alipay", cred["trade_no"].(string))
	}},
	{"alipay", "h5", nil, alipayPayURL},
	{"alipay", "web", nil, alipayPayURL},
	{"alipay", "app", nil, func(c *client, cred map[string]any) string {
		// the Alipay app hands the order string to Alipay
		return c.postForm(c.base+"/sandbox/alipay/gateway.do", cred["order_string"].(string))
	}},
	{"unionpay", "jsapi", map[string]any{"payer_id": "up_sandbox_user_42"}, func(c *client, cred map[string]any) string {
		return c.confirmURL("unionpay", cred["tn"].(string))
	}},
	{"unionpay", "h5", nil, unionpayFront},
	{"unionpay", "web", nil, unionpayFront},
	{"ecny", "jsapi", map[string]any{"payer_id": "0021123456789012"}, func(c *client, cred map[string]any) string {
		return c.confirmURL("ecny", cred["pay_ref"].(string))
	}},
}

func wechatPrepay(field string) func(c *client, cred map[string]any) string {
	return func(c *client, cred map[string]any) string {
		ref, _ := cred[field].(string)
		return c.confirmURL("wechat", strings.TrimPrefix(ref, "prepay_id="))
	}
}

// alipayPayURL opens the signed page/wap pay URL: the cashier page is the
// confirm page.
func alipayPayURL(c *client, cred map[string]any) string { return "GET " + cred["pay_url"].(string) }

// unionpayFront submits the front-end consume form as the browser does.
func unionpayFront(c *client, cred map[string]any) string {
	if !strings.Contains(cred["form"].(string), "<form") {
		c.t.Fatalf("credential form = %v", cred["form"])
	}
	v := url.Values{}
	for k, f := range cred["fields"].(map[string]any) {
		v.Set(k, f.(string))
	}
	return c.postForm(cred["action"].(string), v.Encode())
}

// confirmURL is a simulator's confirm page of ref, returning to the gateway.
func (c *client) confirmURL(channel, ref string) string {
	return c.base + "/sandbox/" + channel + "/confirm?ref=" + url.QueryEscape(ref) + "&return_url=" + url.QueryEscape(c.base+"/return")
}

// postForm posts a form as a browser and returns "PAGE " + the page it
// answered (a confirm page).
func (c *client) postForm(target, body string) string {
	c.t.Helper()
	resp, err := http.Post(target, "application/x-www-form-urlencoded", strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		c.t.Fatalf("POST %s: %d %s", target, resp.StatusCode, b)
	}
	return "PAGE " + resp.Request.URL.String() + " " + string(b)
}

var (
	hiddenInput = regexp.MustCompile(`name=(ref|return_url) value="([^"]*)"`)
	formAction  = regexp.MustCompile(`<form method=post action="([^"]*)"`)
)

// confirmAtSimulator shows the confirm page (a URL to GET, "GET url", or
// "PAGE url html" already shown) and presses button#confirm: the form
// posts ref, return_url and action=confirm; the answer is 303 to
// return_url (or the result page when there is none).
func (c *client) confirmAtSimulator(page string) (location string) {
	c.t.Helper()
	pageURL, html := strings.TrimPrefix(page, "GET "), ""
	if rest, ok := strings.CutPrefix(page, "PAGE "); ok {
		pageURL, html, _ = strings.Cut(rest, " ")
	} else {
		resp, err := http.Get(pageURL)
		if err != nil {
			c.t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			c.t.Fatalf("GET %s: %d %s", pageURL, resp.StatusCode, b)
		}
		html = string(b)
	}
	if !strings.Contains(html, "id=confirm") || !strings.Contains(html, "id=cancel") || len(html) > 60<<10 {
		c.t.Fatalf("confirm page lacks its buttons: %s", html)
	}
	form := url.Values{"action": {"confirm"}}
	for _, m := range hiddenInput.FindAllStringSubmatch(html, -1) {
		form.Set(m[1], strings.ReplaceAll(m[2], "&amp;", "&"))
	}
	m := formAction.FindStringSubmatch(html)
	if m == nil {
		c.t.Fatalf("confirm page has no form: %s", html)
	}
	u, _ := url.Parse(pageURL)
	action, _ := u.Parse(m[1])
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.PostForm(action.String(), form)
	if err != nil {
		c.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther && resp.StatusCode != 200 {
		c.t.Fatalf("confirm: %d %s", resp.StatusCode, b)
	}
	return resp.Header.Get("Location")
}

// TestEcommerceFlows: every e-commerce combination a sandbox provider
// implements creates an order whose credential the simulator completes,
// ending succeeded by the channel's callback.
func TestEcommerceFlows(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *client) {
		for _, f := range ecommerceFlows {
			t.Run(f.channel+"_"+f.method, func(t *testing.T) {
				c := c.with(t)
				body := map[string]any{"merchant_order_no": orderNo(), "amount": 2345, "subject": "蛋糕",
					"method": f.method, "channel": f.channel}
				for k, v := range f.extra {
					body[k] = v
				}
				r := c.createOrder(body, "")
				if r.Status != 201 {
					t.Fatalf("create: %d %s", r.Status, r.Body)
				}
				o := r.decode(t)
				var cred map[string]any
				raw, _ := json.Marshal(o["credential"])
				if err := json.Unmarshal(raw, &cred); err != nil || o["status"] != "pending" || len(cred) == 0 {
					t.Fatalf("order = %v", o)
				}
				loc := c.confirmAtSimulator(f.complete(c, cred))
				want := c.base + "/return"
				switch {
				case f.channel == "alipay" && f.method != "jsapi":
					want = "" // no return_url signed: the simulator's result page
				case f.channel == "unionpay" && f.method != "jsapi":
					want = c.base + "/sandbox/unionpay/result" // the sandbox's front_url
				}
				if loc != want {
					t.Errorf("confirm redirected to %q, want %q", loc, want)
				}
				paid := c.waitStatus(o["id"].(string), "succeeded")
				if paid["channel"] != f.channel || paid["method"] != f.method {
					t.Errorf("paid order = %v", paid)
				}
			})
		}
	})
}

// TestConfirmPageGuards: cancel does not pay, return_url elsewhere is
// refused (no open redirect), an unknown ref is 404.
func TestConfirmPageGuards(t *testing.T) {
	c := testMain(t, "sqlite")
	r := c.createOrder(map[string]any{"merchant_order_no": orderNo(), "amount": 100, "subject": "x",
		"method": "jsapi", "channel": "alipay", "payer_id": "2088102146225135"}, "")
	if r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	o := r.decode(t)
	tradeNo := o["credential"].(map[string]any)["trade_no"].(string)
	get := func(u string) int {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, bad := range []string{"https://evil.example/", "javascript:alert(1)", "//evil.example/x", "ftp://127.0.0.1/"} {
		if code := get(c.base + "/sandbox/alipay/confirm?ref=" + tradeNo + "&return_url=" + url.QueryEscape(bad)); code != 400 {
			t.Errorf("return_url %q: %d, want 400", bad, code)
		}
	}
	if code := get(c.base + "/sandbox/wechat/confirm?ref=nope"); code != 404 {
		t.Errorf("unknown ref: %d", code)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.PostForm(c.base+"/sandbox/alipay/confirm", url.Values{"ref": {tradeNo}, "action": {"cancel"},
		"return_url": {c.base + "/back"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 303 || resp.Header.Get("Location") != c.base+"/back" {
		t.Fatalf("cancel: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if got := c.order(o["id"].(string)); got["status"] != "pending" {
		t.Fatalf("after cancel the order is %v", got["status"])
	}
}

// TestEcommerceRefusedCombinations: a method a channel's client does not
// implement is refused before anything is written, leaving the
// merchant_order_no free for the corrected request.
func TestEcommerceRefusedCombinations(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *client) {
		for _, combo := range [][2]string{{"wechat", "web"}, {"unionpay", "app"}, {"ecny", "h5"}, {"ecny", "app"}, {"ecny", "web"}} {
			t.Run(combo[0]+"_"+combo[1], func(t *testing.T) {
				c := c.with(t)
				no := orderNo()
				r := c.createOrder(map[string]any{"merchant_order_no": no, "amount": 100, "subject": "x",
					"method": combo[1], "channel": combo[0], "client_ip": "203.0.113.9"}, "")
				if r.Status < 400 || r.Status >= 500 {
					t.Fatalf("create: %d %s", r.Status, r.Body)
				}
				if got := c.do("GET", "/v1/orders?merchant_order_no="+no, "", nil, "").decode(t); len(got["data"].([]any)) != 0 {
					t.Fatalf("a refused request wrote an order: %v", got)
				}
				r = c.createOrder(map[string]any{"merchant_order_no": no, "amount": 100, "subject": "x",
					"method": "qr", "channel": combo[0]}, "")
				if r.Status != 201 {
					t.Fatalf("the corrected request: %d %s", r.Status, r.Body)
				}
			})
		}
	})
}
