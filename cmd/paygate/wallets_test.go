package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/channels/ecny"
	alipaysb "github.com/paygate-cn/paygate/channels/sandbox/alipay"
	ecnysb "github.com/paygate-cn/paygate/channels/sandbox/ecny"
	unionpaysb "github.com/paygate-cn/paygate/channels/sandbox/unionpay"
	wechatsb "github.com/paygate-cn/paygate/channels/sandbox/wechat"
	"github.com/paygate-cn/paygate/channels/unionpay"
)

// wallet describes one wallet channel for the end-to-end tests: how its
// payment codes look (docs/configuration.md, auth_codes) and what it charges
// (docs/routing.md).
type wallet struct {
	channel string
	stem    string // a payment code without its last four digits
	feeOf   func(amount int64) int64
}

// code is a payment code of w whose last four digits pick a sandbox
// scenario (README) ("6789" for an immediate success).
func (w wallet) code(ending string) string { return w.stem + ending }

// halfUp is amount × rate (in millionths, 6000 = 0.6%) rounded half-up to the fen.
func halfUp(amount, millionths int64) int64 { return (amount*millionths + 500_000) / 1_000_000 }

var wallets = []wallet{
	{paygate.KindWeChat, "13456789012345", func(a int64) int64 { return halfUp(a, 6000) }},    // 18 digits, 10-15
	{paygate.KindAlipay, "28765432109876", func(a int64) int64 { return halfUp(a, 6000) }},    // 18 digits, 25-30
	{paygate.KindUnionPay, "621234567890123", func(a int64) int64 { return halfUp(a, 3800) }}, // 19 digits, 62; QR ≤ 1000.00
	{paygate.KindECNY, "011234567890123", func(int64) int64 { return 0 }},                     // 19 digits, 01
}

// eachWallet runs f for every wallet as parallel subtests of t and waits.
func (c *client) eachWallet(t *testing.T, f func(t *testing.T, w wallet)) {
	var wg sync.WaitGroup
	for _, w := range wallets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.Run(w.channel, func(t *testing.T) { f(t, w) })
		}()
	}
	wg.Wait()
}

// with returns a copy of c that reports to t, so that its helpers fail the
// subtest that uses them.
func (c *client) with(t *testing.T) *client {
	cc := *c
	cc.t = t
	return &cc
}

func TestWalletsBScanC(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *client) {
		c.eachWallet(t, func(t *testing.T, w wallet) {
			c := c.with(t)
			const amount = 1234
			r := c.createOrder(authCodeOrder(w.code("6789"), amount), "")
			if r.Status != 201 {
				t.Fatalf("create: %d %s", r.Status, r.Body)
			}
			o := r.decode(t)
			fee := w.feeOf(amount)
			for k, want := range map[string]any{"status": "succeeded", "channel": w.channel, "provider": w.channel,
				"fee": float64(fee), "net_amount": float64(amount - fee), "method": "auth_code"} {
				if o[k] != want {
					t.Errorf("%s = %v, want %v", k, o[k], want)
				}
			}
			if s, _ := o["channel_trade_no"].(string); s == "" || o["paid_at"] == nil {
				t.Errorf("succeeded order lacks channel_trade_no or paid_at: %v", o)
			}
			ev := c.do("GET", "/v1/events?order_id="+o["id"].(string), "/v1/events", nil, "").decode(t)
			if data := ev["data"].([]any); len(data) != 1 || data[0].(map[string]any)["type"] != "order.succeeded" {
				t.Errorf("events = %v", ev)
			}
		})
	})
}

// scan simulates a customer scanning qr with the channel's wallet.
func (c *client) scan(channel, qr string) {
	c.t.Helper()
	b, _ := json.Marshal(map[string]string{"qr_code": qr})
	resp, err := http.Post(c.base+"/sandbox/"+channel+"/scan", "application/json", bytes.NewReader(b))
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		var msg bytes.Buffer
		msg.ReadFrom(resp.Body)
		c.t.Fatalf("scan %s: %d %s", channel, resp.StatusCode, msg.String())
	}
}

// qrOrder creates a pending C-scan-B order on channel.
func (c *client) qrOrder(channel string, amount int64) map[string]any {
	c.t.Helper()
	r := c.createOrder(map[string]any{"merchant_order_no": orderNo(), "amount": amount, "subject": "Cake",
		"method": "qr", "channel": channel}, "")
	if r.Status != 201 {
		c.t.Fatalf("create qr order: %d %s", r.Status, r.Body)
	}
	o := r.decode(c.t)
	if code, _ := o["qr_code"].(string); o["status"] != "pending" || code == "" || o["channel"] != channel {
		c.t.Fatalf("qr order = %v", o)
	}
	return o
}

func TestWalletsQR(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *client) {
		c.eachWallet(t, func(t *testing.T, w wallet) {
			c := c.with(t)
			const amount = 2500
			o := c.qrOrder(w.channel, amount)
			c.scan(w.channel, o["qr_code"].(string))
			paid := c.waitStatus(o["id"].(string), "succeeded")
			fee := w.feeOf(amount)
			if paid["fee"] != float64(fee) || paid["net_amount"] != float64(amount-fee) || paid["channel"] != w.channel {
				t.Errorf("paid qr order: channel %v fee %v net %v, want fee %d", paid["channel"], paid["fee"], paid["net_amount"], fee)
			}
			if s, _ := paid["channel_trade_no"].(string); s == "" {
				t.Errorf("no channel_trade_no: %v", paid)
			}
		})
	})
}

func TestWalletsScenarios(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *client) {
		c.eachWallet(t, func(t *testing.T, w wallet) {
			var wg sync.WaitGroup
			run := func(name string, f func(t *testing.T, c *client)) {
				wg.Add(1)
				go func() {
					defer wg.Done()
					t.Run(name, func(t *testing.T) { f(t, c.with(t)) })
				}()
			}
			run("1111 confirms after the wait", func(t *testing.T, c *client) {
				o := c.createOrder(authCodeOrder(w.code("1111"), 1000), "").decode(t)
				if o["status"] != "succeeded" {
					t.Errorf("status %v: %v", o["status"], o)
				}
			})
			run("2222 never confirms and is reversed", func(t *testing.T, c *client) {
				body := authCodeOrder(w.code("2222"), 1000)
				body["wait_seconds"] = 2
				o := c.createOrder(body, "").decode(t)
				if o["status"] != "reversed" {
					c.waitStatus(o["id"].(string), "reversed")
				}
			})
			run("3333 is declined", func(t *testing.T, c *client) {
				o := c.createOrder(authCodeOrder(w.code("3333"), 1000), "").decode(t)
				f, _ := o["failure"].(map[string]any)
				if o["status"] != "failed" || f == nil || f["code"] == "" {
					t.Errorf("declined order = %v", o)
				}
			})
			run("4444 pending at first, succeeded after the query", func(t *testing.T, c *client) {
				o := c.createOrder(authCodeOrder(w.code("4444"), 1000), "").decode(t)
				if o["status"] != "pending" {
					t.Errorf("status at first = %v, want pending", o["status"])
				}
				c.waitStatus(o["id"].(string), "succeeded")
			})
			run("5555 succeeds after a system error", func(t *testing.T, c *client) {
				o := c.createOrder(authCodeOrder(w.code("5555"), 1000), "").decode(t)
				if o["status"] != "succeeded" {
					c.waitStatus(o["id"].(string), "succeeded")
				}
			})
			run("6666 triple callback, one transition", func(t *testing.T, c *client) {
				o := c.createOrder(authCodeOrder(w.code("6666"), 1000), "").decode(t)
				id := o["id"].(string)
				c.waitStatus(id, "succeeded")
				time.Sleep(time.Second) // let the three concurrent callbacks land
				ev := c.do("GET", "/v1/events?order_id="+id, "/v1/events", nil, "").decode(t)
				if n := len(ev["data"].([]any)); n != 1 {
					t.Errorf("%d events, want exactly 1: %v", n, ev)
				}
			})
			wg.Wait()
		})
	})
}

// waitRefund polls a refund until it is final and returns it.
func (c *client) waitRefund(id string) map[string]any {
	c.t.Helper()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		r := c.do("GET", "/v1/refunds/"+id, "/v1/refunds/{id}", nil, "").decode(c.t)
		if r["status"] != "pending" {
			return r
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("refund %s still pending", id)
		}
	}
}

func TestWalletsRefundAndCancel(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *client) {
		c.eachWallet(t, func(t *testing.T, w wallet) {
			c := c.with(t)
			// A partial refund, then the rest.
			o := c.createOrder(authCodeOrder(w.code("6789"), 1000), "").decode(t)
			id := o["id"].(string)
			if o["status"] != "succeeded" {
				t.Fatalf("payment: %v", o)
			}
			for i, part := range []struct {
				amount, total int64
				status        string
			}{{300, 300, "partially_refunded"}, {700, 1000, "refunded"}} {
				r := c.do("POST", "/v1/orders/"+id+"/refunds", "/v1/orders/{id}/refunds",
					map[string]any{"merchant_refund_no": fmt.Sprintf("RF-%s-%d", randSuffix(), i), "amount": part.amount, "reason": "test"}, "")
				if r.Status != 201 {
					t.Fatalf("refund %d: %d %s", part.amount, r.Status, r.Body)
				}
				ref := r.decode(t)
				if ref["status"] == "pending" {
					ref = c.waitRefund(ref["id"].(string))
				}
				if ref["status"] != "succeeded" {
					t.Fatalf("refund %d: %v", part.amount, ref)
				}
				got := c.waitStatus(id, part.status)
				if got["refunded_amount"] != float64(part.total) {
					t.Errorf("after refund %d: refunded_amount %v", part.amount, got["refunded_amount"])
				}
			}
			// Nothing more can be refunded.
			r := c.do("POST", "/v1/orders/"+id+"/refunds", "/v1/orders/{id}/refunds",
				map[string]any{"merchant_refund_no": "RF-" + randSuffix(), "amount": 1}, "")
			if r.Status < 400 {
				t.Errorf("refund past the amount: %d %s", r.Status, r.Body)
			}

			// Cancel (reverse) a paid same-day order.
			p := c.createOrder(authCodeOrder(w.code("6789"), 900), "").decode(t)
			cc := c.do("POST", "/v1/orders/"+p["id"].(string)+"/cancel", "/v1/orders/{id}/cancel", nil, "")
			if cc.Status != 200 {
				t.Fatalf("cancel: %d %s", cc.Status, cc.Body)
			}
			if s := cc.decode(t)["status"]; s != "reversed" {
				c.waitStatus(p["id"].(string), "reversed")
			}
			// Cancel an unpaid QR order too. UnionPay cannot withdraw a
			// code before its window ends (docs/channels/unionpay.md).
			q := c.qrOrder(w.channel, 500)
			cc = c.do("POST", "/v1/orders/"+q["id"].(string)+"/cancel", "/v1/orders/{id}/cancel", nil, "")
			if w.channel == paygate.KindUnionPay {
				if cc.Status != 409 || cc.errorCode() != paygate.EINVALIDSTATE {
					t.Fatalf("cancel unpaid UnionPay QR: %d %s, want 409 invalid_state", cc.Status, cc.Body)
				}
				return
			}
			if cc.Status != 200 {
				t.Fatalf("cancel unpaid: %d %s", cc.Status, cc.Body)
			}
			if s := cc.decode(t)["status"]; s != "reversed" {
				c.waitStatus(q["id"].(string), "reversed")
			}
		})
	})
}

func TestUnsupportedAuthCodes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *client) {
		digits := func(prefix string, n int) string {
			if n <= len(prefix) {
				return prefix[:n]
			}
			return prefix + strings.Repeat("7", n-len(prefix))
		}
		var codes []string
		for _, tc := range []struct {
			prefix string
			bad    []int // lengths outside the wallet's rule
		}{
			{"13", []int{17, 19}},     // WeChat: 18 only
			{"10", []int{17, 19}},     // WeChat's lowest prefix
			{"15", []int{17, 19}},     // WeChat's highest prefix
			{"16", []int{18}},         // just above WeChat's prefixes
			{"09", []int{18}},         // just below
			{"25", []int{15, 25}},     // Alipay: 16-24
			{"30", []int{15, 25}},     // Alipay's highest prefix
			{"24", []int{16, 18}},     // just below Alipay's prefixes
			{"31", []int{16, 18, 24}}, // just above
			{"62", []int{18, 20}},     // UnionPay: 19 only
			{"61", []int{19}},         // next to UnionPay's prefix
			{"63", []int{19}},
			{"01", []int{18, 20}}, // e-CNY: 19 only
			{"00", []int{19}},     // next to e-CNY's prefix
			{"02", []int{19}},
		} {
			for _, n := range tc.bad {
				codes = append(codes, digits(tc.prefix, n))
			}
		}
		codes = append(codes, "62123456789012345a7", "0112345678901234 7", "", "1")
		for _, code := range codes {
			r := c.createOrder(authCodeOrder(code, 100), "")
			want := paygate.EUNSUPPORTEDAUTH
			if code == "" {
				want = "" // a missing auth_code is a missing parameter; any 4xx code will do
			}
			if r.Status < 400 || r.Status >= 500 || want != "" && (r.Status != 422 || r.errorCode() != want) {
				t.Errorf("auth_code %q: %d %s", code, r.Status, r.Body)
			}
		}
		// The boundary codes that are valid are taken by the right wallet.
		for code, channel := range map[string]string{
			digits("10", 18): paygate.KindWeChat, digits("15", 18): paygate.KindWeChat,
			digits("25", 16): paygate.KindAlipay, digits("30", 24): paygate.KindAlipay,
			digits("62", 19): paygate.KindUnionPay, digits("01", 19): paygate.KindECNY,
		} {
			r := c.createOrder(authCodeOrder(code, 100), "")
			if o := r.decode(t); r.Status != 201 || o["channel"] != channel {
				t.Errorf("auth_code %s: %d channel %v, want %s", code, r.Status, o["channel"], channel)
			}
		}
		l := c.do("GET", "/v1/orders?limit=100", "/v1/orders", nil, "").decode(t)
		if n := len(l["data"].([]any)); n != 6 {
			t.Errorf("%d orders written, want only the 6 valid ones", n)
		}
	})
}

// tamperKit crafts callbacks of one wallet channel: the simulator's own
// notice of a trade, signed by the simulator (genuine) or by another
// simulator of the same merchant with keys of its own (wrong key).
type tamperKit struct {
	notice   func(orderID string) (map[string]any, bool)
	sign     func(map[string]any) (http.Header, []byte)
	wrongKey func(map[string]any) (http.Header, []byte)
	flipAt   string // one byte right after this is changed
	amount   func(n map[string]any, fen int64)
	merchant func(n map[string]any)
	accepted func(status int, body []byte) bool // as the channel reads the reply
	unsign   func(http.Header, []byte) (http.Header, []byte)

	// The same for the channel's refund notifications; merchant, accepted
	// and unsign above apply to them as well.
	refundNotice   func(refundID string) (map[string]any, bool)
	signRefund     func(map[string]any) (http.Header, []byte)
	wrongKeyRefund func(map[string]any) (http.Header, []byte)
	refundFlipAt   string
	// refundAmount sets the amount a refund notification reports: the
	// refund's own, or for Alipay the trade's refunded total (refund_fee).
	refundAmount func(n map[string]any, fen int64)
	// delayRefunds keeps the channel's refunds processing for d, so that
	// only a notification can finish them; nil for Alipay, whose refund
	// answer is final.
	delayRefunds func(d time.Duration)
}

// dropHeaders removes signature headers.
func dropHeaders(names ...string) func(http.Header, []byte) (http.Header, []byte) {
	return func(h http.Header, b []byte) (http.Header, []byte) {
		for _, n := range names {
			h.Del(n)
		}
		return h, b
	}
}

// dropField removes the signature field of a form-encoded body.
func dropField(name string) func(http.Header, []byte) (http.Header, []byte) {
	return func(h http.Header, b []byte) (http.Header, []byte) {
		v, err := url.ParseQuery(string(b))
		if err != nil {
			panic(err)
		}
		v.Del(name)
		return h, []byte(v.Encode())
	}
}

func newTamperKit(t *testing.T, sb *Sandbox, channel string) tamperKit {
	t.Helper()
	ok200 := func(status int, _ []byte) bool { return status == http.StatusOK }
	switch channel {
	case paygate.KindWeChat:
		creds := sb.WeChat.Credentials()
		other, err := wechatsb.New(wechatsb.Options{MchID: creds["mchid"], AppID: creds["appid"], APIv3Key: creds["api_v3_key"]})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(other.Close)
		claimGenuine := func(sign func(map[string]any) (http.Header, []byte)) func(map[string]any) (http.Header, []byte) {
			return func(n map[string]any) (http.Header, []byte) {
				h, b := sign(n)
				h.Set("Wechatpay-Serial", creds["platform_public_key_id"]) // claim the genuine key
				return h, b
			}
		}
		return tamperKit{
			notice: sb.WeChat.TradeNotice, sign: sb.WeChat.SignNotice, wrongKey: claimGenuine(other.SignNotice),
			flipAt: `"ciphertext":"`,
			amount: func(n map[string]any, fen int64) {
				a := n["amount"].(map[string]any)
				a["total"], a["payer_total"] = fen, fen
			},
			merchant: func(n map[string]any) { n["mchid"] = "1900000999" },
			accepted: func(status int, _ []byte) bool { return status == http.StatusOK || status == http.StatusNoContent },
			unsign:   dropHeaders("Wechatpay-Signature"),

			refundNotice: sb.WeChat.RefundNotice, signRefund: sb.WeChat.SignRefundNotice,
			wrongKeyRefund: claimGenuine(other.SignRefundNotice), refundFlipAt: `"ciphertext":"`,
			refundAmount: func(n map[string]any, fen int64) {
				a := n["amount"].(map[string]any)
				a["refund"], a["payer_refund"] = fen, fen
			},
			delayRefunds: sb.WeChat.SetRefundDelay,
		}
	case paygate.KindAlipay:
		other, err := alipaysb.New(alipaysb.Options{AppID: sb.Alipay.Credentials()["app_id"]})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(other.Close)
		return tamperKit{
			notice: sb.Alipay.TradeNotice, sign: sb.Alipay.SignNotice, wrongKey: other.SignNotice,
			flipAt: "total_amount=",
			amount: func(n map[string]any, fen int64) {
				y := fmt.Sprintf("%d.%02d", fen/100, fen%100)
				n["total_amount"], n["receipt_amount"], n["buyer_pay_amount"] = y, y, y
			},
			merchant: func(n map[string]any) { n["app_id"], n["auth_app_id"] = "2021000000000999", "2021000000000999" },
			accepted: func(_ int, body []byte) bool { return string(body) == "success" },
			unsign:   dropField("sign"),

			refundNotice: sb.Alipay.RefundNotice, signRefund: sb.Alipay.SignRefundNotice,
			wrongKeyRefund: other.SignRefundNotice, refundFlipAt: "refund_fee=",
			refundAmount: func(n map[string]any, fen int64) { n["refund_fee"] = fmt.Sprintf("%d.%02d", fen/100, fen%100) },
		}
	case paygate.KindUnionPay:
		other, err := unionpaysb.New(unionpaysb.Options{MerID: sb.UnionPay.Credentials()["mer_id"]})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(other.Close)
		return tamperKit{
			notice: func(id string) (map[string]any, bool) { return sb.UnionPay.TradeNotice(unionpay.ToOrderID(id)) },
			sign:   sb.UnionPay.SignNotice, wrongKey: other.SignNotice, // certId stays the genuine one
			flipAt:   "txnAmt=",
			amount:   func(n map[string]any, fen int64) { n["txnAmt"], n["settleAmt"] = fen, fen },
			merchant: func(n map[string]any) { n["merId"] = "777290058110099" },
			accepted: ok200,
			unsign:   dropField("signature"),

			refundNotice: func(id string) (map[string]any, bool) { return sb.UnionPay.RefundNotice(unionpay.ToOrderID(id)) },
			signRefund:   sb.UnionPay.SignRefundNotice, wrongKeyRefund: other.SignRefundNotice,
			refundFlipAt: "txnAmt=",
			refundAmount: func(n map[string]any, fen int64) { n["txnAmt"], n["settleAmt"] = fen, fen },
			delayRefunds: sb.UnionPay.SetRefundDelay,
		}
	case paygate.KindECNY:
		other, err := ecnysb.New(ecnysb.Options{MerchantNo: sb.ECNY.Credentials()["merchant_no"]})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(other.Close)
		return tamperKit{
			notice: sb.ECNY.TradeNotice, sign: sb.ECNY.SignNotice, wrongKey: other.SignNotice,
			flipAt:   `"amount":`,
			amount:   func(n map[string]any, fen int64) { n["body"].(map[string]any)["amount"] = fen },
			merchant: func(n map[string]any) { n["head"].(map[string]any)["merchant_no"] = "ECNY310000009999" },
			accepted: func(status int, body []byte) bool {
				var ack struct{ Code string }
				return status == http.StatusOK && json.Unmarshal(body, &ack) == nil && ack.Code == "SUCCESS"
			},
			unsign: dropHeaders(ecny.SignatureHeader),

			refundNotice: sb.ECNY.RefundNotice, signRefund: sb.ECNY.SignRefundNotice,
			wrongKeyRefund: other.SignRefundNotice, refundFlipAt: `"refund_amount":`,
			refundAmount: func(n map[string]any, fen int64) { n["body"].(map[string]any)["refund_amount"] = fen },
			delayRefunds: sb.ECNY.SetRefundDelay,
		}
	}
	t.Fatalf("no tamper kit for %s", channel)
	return tamperKit{}
}

// deepCopy copies a notice through JSON so edits do not leak between cases.
func deepCopy(t *testing.T, n map[string]any) map[string]any {
	b, err := json.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// flipByte changes the byte right after the first occurrence of at.
func flipByte(t *testing.T, body []byte, at string) []byte {
	i := bytes.Index(body, []byte(at))
	if i < 0 || i+len(at) >= len(body) {
		t.Fatalf("%q not in %s", at, body)
	}
	out := bytes.Clone(body)
	i += len(at)
	switch c := out[i]; {
	case c >= '0' && c <= '8' || c >= 'A' && c < 'Z' || c >= 'a' && c < 'z':
		out[i] = c + 1
	default:
		out[i] = '1'
	}
	return out
}

// postCallback delivers a crafted callback to the gateway.
func (c *client) postCallback(channel string, h http.Header, body []byte) (int, []byte) {
	c.t.Helper()
	req, err := http.NewRequest("POST", c.base+"/callbacks/"+channel, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header = h.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	out.ReadFrom(resp.Body)
	return resp.StatusCode, out.Bytes()
}

func TestWalletsTamperedCallbacks(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *client) {
		// The simulators' own notifications are held back, so every
		// callback the gateway sees below is one the test crafted.
		c.m.Sandbox.Notifier.Hold()
		defer c.m.Sandbox.Notifier.Release()
		c.eachWallet(t, func(t *testing.T, w wallet) {
			c := c.with(t)
			kit := newTamperKit(t, c.m.Sandbox, w.channel)
			const amount = 2500
			o := c.qrOrder(w.channel, amount)
			id := o["id"].(string)
			c.scan(w.channel, o["qr_code"].(string)) // paid at the channel; its notify is held
			genuine, ok := kit.notice(id)
			if !ok {
				t.Fatalf("the simulator has no trade for %s", id)
			}
			before := c.order(id)
			unchanged := func(what string) {
				t.Helper()
				got := c.order(id)
				for _, k := range []string{"status", "updated_at", "paid_at", "channel_trade_no", "amount", "fee"} {
					if got[k] != before[k] {
						t.Errorf("%s changed the order's %s: %v, was %v", what, k, got[k], before[k])
					}
				}
			}
			if before["status"] != "pending" {
				t.Fatalf("order before any callback: %v", before)
			}
			for _, tc := range []struct {
				name  string
				craft func() (http.Header, []byte)
			}{
				{"one byte changed", func() (http.Header, []byte) {
					h, b := kit.sign(deepCopy(t, genuine))
					return h, flipByte(t, b, kit.flipAt)
				}},
				{"signed with the wrong key", func() (http.Header, []byte) { return kit.wrongKey(deepCopy(t, genuine)) }},
				{"wrong amount", func() (http.Header, []byte) {
					n := deepCopy(t, genuine)
					kit.amount(n, amount+1)
					return kit.sign(n)
				}},
				{"lower amount", func() (http.Header, []byte) {
					n := deepCopy(t, genuine)
					kit.amount(n, 1)
					return kit.sign(n)
				}},
				{"another merchant", func() (http.Header, []byte) {
					n := deepCopy(t, genuine)
					kit.merchant(n)
					return kit.sign(n)
				}},
				{"signature removed", func() (http.Header, []byte) { return kit.unsign(kit.sign(deepCopy(t, genuine))) }},
			} {
				h, b := tc.craft()
				status, reply := c.postCallback(w.channel, h, b)
				if kit.accepted(status, reply) {
					t.Errorf("%s: accepted (%d %s)", tc.name, status, reply)
				}
				unchanged(tc.name)
			}
			// The genuine notice, signed as the channel signs, is taken:
			// the rejections above were about the tampering alone.
			h, b := kit.sign(deepCopy(t, genuine))
			if status, reply := c.postCallback(w.channel, h, b); !kit.accepted(status, reply) {
				t.Fatalf("genuine callback refused: %d %s", status, reply)
			}
			paid := c.waitStatus(id, "succeeded")
			if paid["amount"] != float64(amount) {
				t.Errorf("paid order: %v", paid)
			}
			ev := c.do("GET", "/v1/events?order_id="+id, "/v1/events", nil, "").decode(t)
			if n := len(ev["data"].([]any)); n != 1 {
				t.Errorf("%d events, want 1", n)
			}
		})
	})
}

// TestWalletsTamperedRefundCallbacks posts crafted refund notifications of a
// partial refund. WeChat, UnionPay and e-CNY refunds are kept processing at
// the channel (answer and queries), so the refund stays pending and only a
// notification can finish it. Alipay answers a refund synchronously and
// finally, so its refund has succeeded before any notification; there the
// test shows that tampered notifications are refused and change nothing,
// and that the genuine one is acknowledged without a second transition.
// Alipay's refund_fee is the trade's refunded total, not the refund's
// amount; with one refund the two are equal, so the amount cases tamper it.
func TestWalletsTamperedRefundCallbacks(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c *client) {
		c.m.Sandbox.Notifier.Hold()
		defer c.m.Sandbox.Notifier.Release()
		c.eachWallet(t, func(t *testing.T, w wallet) {
			c := c.with(t)
			kit := newTamperKit(t, c.m.Sandbox, w.channel)
			if kit.delayRefunds != nil {
				kit.delayRefunds(time.Hour)
			}
			const amount, refunded = 2500, 300
			o := c.createOrder(authCodeOrder(w.code("6789"), amount), "").decode(t)
			id := o["id"].(string)
			if o["status"] != "succeeded" {
				t.Fatalf("payment: %v", o)
			}
			r := c.do("POST", "/v1/orders/"+id+"/refunds", "/v1/orders/{id}/refunds",
				map[string]any{"merchant_refund_no": "RF-" + randSuffix(), "amount": refunded, "reason": "test"}, "")
			if r.Status != 201 {
				t.Fatalf("refund: %d %s", r.Status, r.Body)
			}
			ref := r.decode(t)
			refID := ref["id"].(string)
			want := "pending"
			if kit.delayRefunds == nil {
				want = "succeeded"
			}
			if ref["status"] != want {
				t.Fatalf("refund answered %v, want %s: %v", ref["status"], want, ref)
			}
			genuine, ok := kit.refundNotice(refID)
			if !ok {
				t.Fatalf("the simulator has no refund %s", refID)
			}
			events := func() []string {
				t.Helper()
				ev := c.do("GET", "/v1/events?order_id="+id, "/v1/events", nil, "").decode(t)
				var types []string
				for _, e := range ev["data"].([]any) {
					types = append(types, e.(map[string]any)["type"].(string))
				}
				return types
			}
			refund := func() map[string]any {
				t.Helper()
				return c.do("GET", "/v1/refunds/"+refID, "/v1/refunds/{id}", nil, "").decode(t)
			}
			beforeOrder, beforeRefund, beforeEvents := c.order(id), refund(), fmt.Sprint(events())
			unchanged := func(what string) {
				t.Helper()
				got := c.order(id)
				for _, k := range []string{"status", "updated_at", "refunded_amount"} {
					if got[k] != beforeOrder[k] {
						t.Errorf("%s changed the order's %s: %v, was %v", what, k, got[k], beforeOrder[k])
					}
				}
				gotRefund := refund()
				for _, k := range []string{"status", "updated_at", "succeeded_at", "channel_refund_no", "amount"} {
					if gotRefund[k] != beforeRefund[k] {
						t.Errorf("%s changed the refund's %s: %v, was %v", what, k, gotRefund[k], beforeRefund[k])
					}
				}
				if e := fmt.Sprint(events()); e != beforeEvents {
					t.Errorf("%s changed the events: %s, were %s", what, e, beforeEvents)
				}
			}
			for _, tc := range []struct {
				name  string
				craft func() (http.Header, []byte)
			}{
				{"one byte changed", func() (http.Header, []byte) {
					h, b := kit.signRefund(deepCopy(t, genuine))
					return h, flipByte(t, b, kit.refundFlipAt)
				}},
				{"signed with the wrong key", func() (http.Header, []byte) { return kit.wrongKeyRefund(deepCopy(t, genuine)) }},
				{"higher amount", func() (http.Header, []byte) {
					n := deepCopy(t, genuine)
					kit.refundAmount(n, refunded+1)
					return kit.signRefund(n)
				}},
				{"lower amount", func() (http.Header, []byte) {
					n := deepCopy(t, genuine)
					kit.refundAmount(n, refunded-1)
					return kit.signRefund(n)
				}},
				{"another merchant", func() (http.Header, []byte) {
					n := deepCopy(t, genuine)
					kit.merchant(n)
					return kit.signRefund(n)
				}},
				{"signature removed", func() (http.Header, []byte) { return kit.unsign(kit.signRefund(deepCopy(t, genuine))) }},
			} {
				h, b := tc.craft()
				status, reply := c.postCallback(w.channel, h, b)
				if kit.accepted(status, reply) {
					t.Errorf("%s: accepted (%d %s)", tc.name, status, reply)
				}
				unchanged(tc.name)
			}
			// The genuine notification is taken, and taken once: a second
			// delivery is acknowledged and changes nothing.
			for range 2 {
				h, b := kit.signRefund(deepCopy(t, genuine))
				if status, reply := c.postCallback(w.channel, h, b); !kit.accepted(status, reply) {
					t.Fatalf("genuine refund callback refused: %d %s", status, reply)
				}
			}
			if got := refund(); got["status"] != "succeeded" || got["amount"] != float64(refunded) {
				t.Errorf("refund after the genuine callback: %v", got)
			}
			if got := c.order(id); got["status"] != "partially_refunded" || got["refunded_amount"] != float64(refunded) {
				t.Errorf("order after the genuine callback: status %v refunded_amount %v", got["status"], got["refunded_amount"])
			}
			count := map[string]int{}
			for _, e := range events() {
				count[e]++
			}
			if count["refund.succeeded"] != 1 || count["order.partially_refunded"] != 1 || len(count) != 3 {
				t.Errorf("events %v, want one order.succeeded, refund.succeeded and order.partially_refunded", count)
			}
		})
	})
}
