// Package sdkcompat checks the WeChat Pay simulator with WeChat's official
// Go SDK (wechatpay-go), its own signature checks on: a separate module, so
// that paygate itself never depends on the SDK (docs/sandbox.md).
//
// The test builds paygate (or uses PAYGATE_BIN), runs `paygate sandbox` on
// a free port with its own data dir, takes the merchant's credentials from
// GET /sandbox/credentials and receives the simulator's notifications
// itself, standing in for the gateway.
package sdkcompat

import (
	"bufio"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wechatpay-apiv3/wechatpay-go/core"
	"github.com/wechatpay-apiv3/wechatpay-go/core/auth/verifiers"
	"github.com/wechatpay-apiv3/wechatpay-go/core/downloader"
	"github.com/wechatpay-apiv3/wechatpay-go/core/notify"
	"github.com/wechatpay-apiv3/wechatpay-go/core/option"
	"github.com/wechatpay-apiv3/wechatpay-go/services/payments"
	"github.com/wechatpay-apiv3/wechatpay-go/services/payments/jsapi"
	"github.com/wechatpay-apiv3/wechatpay-go/services/payments/native"
	"github.com/wechatpay-apiv3/wechatpay-go/services/refunddomestic"
	"github.com/wechatpay-apiv3/wechatpay-go/utils"
)

// sandbox is a running `paygate sandbox`.
type sandbox struct {
	url   string            // where the simulators listen
	creds map[string]string // the wechat entry of /sandbox/credentials
}

// paygateBinary builds cmd/paygate from the repository root once.
func paygateBinary(t *testing.T) string {
	if bin := os.Getenv("PAYGATE_BIN"); bin != "" {
		return bin
	}
	bin := filepath.Join(t.TempDir(), "paygate")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/paygate")
	cmd.Dir = filepath.Join("..", "..", "..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build paygate: %v\n%s", err, out)
	}
	return bin
}

// startSandbox runs the simulators with callbacks going to gatewayURL.
func startSandbox(t *testing.T, gatewayURL string) *sandbox {
	cmd := exec.Command(paygateBinary(t), "sandbox")
	cmd.Env = append(os.Environ(), "PAYGATE_ADDR=127.0.0.1:0", "PAYGATE_DATA_DIR="+t.TempDir(),
		"PAYGATE_GATEWAY_URL="+gatewayURL)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	r := bufio.NewReader(out)
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("paygate sandbox printed nothing: %v", err)
	}
	go io.Copy(io.Discard, r)
	// "# channel simulators on http://127.0.0.1:NNNN; callbacks go to ..."
	fields := strings.Fields(line)
	if len(fields) < 5 {
		t.Fatalf("unexpected first line %q", line)
	}
	base := strings.TrimSuffix(fields[4], ";")
	resp, err := http.Get(base + "/sandbox/credentials")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Channels map[string]map[string]string `json:"channels"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || doc.Channels["wechat"] == nil {
		t.Fatalf("GET /sandbox/credentials: %d %v", resp.StatusCode, err)
	}
	return &sandbox{url: base, creds: doc.Channels["wechat"]}
}

// hostRewriter sends the SDK's requests for api.mch.weixin.qq.com to the
// simulator's base URL, path and query unchanged: the SDK has the host
// built in, so this is how it is pointed at the sandbox (docs/sandbox.md).
type hostRewriter struct{ base *url.URL }

func (h hostRewriter) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host = h.base.Scheme, h.base.Host
	r.URL.Path = strings.TrimRight(h.base.Path, "/") + r.URL.Path
	r.URL.RawPath = ""
	r.Host = h.base.Host
	return http.DefaultTransport.RoundTrip(r)
}

func (s *sandbox) httpClient(t *testing.T) *http.Client {
	u, err := url.Parse(s.creds["base_url"])
	if err != nil || u.Host == "" {
		t.Fatalf("base_url %q", s.creds["base_url"])
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: hostRewriter{u}}
}

// publicKeyClient is the SDK in public-key mode (微信支付公钥).
func (s *sandbox) publicKeyClient(t *testing.T) *core.Client {
	key, err := utils.LoadPrivateKey(s.creds["private_key"])
	if err != nil {
		t.Fatal(err)
	}
	pub, err := utils.LoadPublicKey(s.creds["platform_public_key"])
	if err != nil {
		t.Fatal(err)
	}
	c, err := core.NewClient(context.Background(),
		option.WithWechatPayPublicKeyAuthCipher(s.creds["mchid"], s.creds["serial_no"], key, s.creds["platform_public_key_id"], pub),
		option.WithHTTPClient(s.httpClient(t)))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// receiver stands in for the gateway: it takes the simulator's
// notifications and verifies them with the SDK's notify handler.
type receiver struct {
	srv     *httptest.Server
	handler *notify.Handler
	got     chan *payments.Transaction
	refunds chan *refunddomestic.Refund
	errs    chan error
}

func newReceiver() *receiver {
	r := &receiver{got: make(chan *payments.Transaction, 8), refunds: make(chan *refunddomestic.Refund, 8), errs: make(chan error, 8)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.handler == nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		body, _ := io.ReadAll(req.Body)
		var head struct {
			EventType string `json:"event_type"`
		}
		json.Unmarshal(body, &head)
		req.Body = io.NopCloser(strings.NewReader(string(body)))
		if strings.HasPrefix(head.EventType, "REFUND.") {
			var rf refunddomestic.Refund
			if _, err := r.handler.ParseNotifyRequest(req.Context(), req, &rf); err != nil {
				r.errs <- err
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			r.refunds <- &rf
		} else {
			var tx payments.Transaction
			if _, err := r.handler.ParseNotifyRequest(req.Context(), req, &tx); err != nil {
				r.errs <- err
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			r.got <- &tx
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	return r
}

func (r *receiver) transaction(t *testing.T) *payments.Transaction {
	select {
	case tx := <-r.got:
		return tx
	case err := <-r.errs:
		t.Fatalf("notification refused by the SDK: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("no payment notification")
	}
	return nil
}

func str(s string) *string { return core.String(s) }

func orderNo(prefix string) string { return fmt.Sprintf("%s%d", prefix, time.Now().UnixNano()) }

func TestWeChatPayGoSDKPublicKeyMode(t *testing.T) {
	rcv := newReceiver()
	defer rcv.srv.Close()
	sb := startSandbox(t, rcv.srv.URL)
	pub, err := utils.LoadPublicKey(sb.creds["platform_public_key"])
	if err != nil {
		t.Fatal(err)
	}
	rcv.handler = notify.NewNotifyHandler(sb.creds["api_v3_key"], verifiers.NewSHA256WithRSAPubkeyVerifier(sb.creds["platform_public_key_id"], *pub))
	client := sb.publicKeyClient(t)
	ctx := context.Background()
	mchid, appid := sb.creds["mchid"], sb.creds["appid"]
	notifyURL := rcv.srv.URL + "/callbacks/wechat"
	nat := native.NativeApiService{Client: client}

	// native prepay, paid by a customer scanning it
	out := orderNo("N")
	pre, _, err := nat.Prepay(ctx, native.PrepayRequest{Appid: str(appid), Mchid: str(mchid), Description: str("蛋糕"),
		OutTradeNo: str(out), NotifyUrl: str(notifyURL), Amount: &native.Amount{Total: core.Int64(2345), Currency: str("CNY")}})
	if err != nil || pre.CodeUrl == nil {
		t.Fatalf("native prepay: %v", err)
	}
	scan, _ := json.Marshal(map[string]string{"qr_code": *pre.CodeUrl})
	resp, err := http.Post(sb.url+"/sandbox/wechat/scan", "application/json", strings.NewReader(string(scan)))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("scan: %v %v", resp, err)
	}
	resp.Body.Close()
	tx := rcv.transaction(t)
	if *tx.OutTradeNo != out || *tx.TradeState != "SUCCESS" || *tx.Amount.Total != 2345 {
		t.Fatalf("notified transaction = %+v", tx)
	}

	// query by out_trade_no and by transaction id
	q, _, err := nat.QueryOrderByOutTradeNo(ctx, native.QueryOrderByOutTradeNoRequest{OutTradeNo: str(out), Mchid: str(mchid)})
	if err != nil || *q.TradeState != "SUCCESS" {
		t.Fatalf("query by out_trade_no: %v", err)
	}
	q2, _, err := nat.QueryOrderById(ctx, native.QueryOrderByIdRequest{TransactionId: tx.TransactionId, Mchid: str(mchid)})
	if err != nil || *q2.OutTradeNo != out {
		t.Fatalf("query by transaction id: %v", err)
	}

	// refund and query it
	rs := refunddomestic.RefundsApiService{Client: client}
	refundNo := orderNo("R")
	rf, _, err := rs.Create(ctx, refunddomestic.CreateRequest{OutTradeNo: str(out), OutRefundNo: str(refundNo), Reason: str("test"),
		NotifyUrl: str(notifyURL), Amount: &refunddomestic.AmountReq{Refund: core.Int64(345), Total: core.Int64(2345), Currency: str("CNY")}})
	if err != nil || *rf.OutRefundNo != refundNo {
		t.Fatalf("refund: %v", err)
	}
	rq, _, err := rs.QueryByOutRefundNo(ctx, refunddomestic.QueryByOutRefundNoRequest{OutRefundNo: str(refundNo)})
	if err != nil || *rq.Amount.Refund != 345 {
		t.Fatalf("query refund: %v", err)
	}

	// jsapi prepay with the payment parameters the SDK signs, then close
	js := jsapi.JsapiApiService{Client: client}
	out2 := orderNo("J")
	pay, _, err := js.PrepayWithRequestPayment(ctx, jsapi.PrepayRequest{Appid: str(appid), Mchid: str(mchid), Description: str("咖啡"),
		OutTradeNo: str(out2), NotifyUrl: str(notifyURL), Amount: &jsapi.Amount{Total: core.Int64(100)},
		Payer: &jsapi.Payer{Openid: str("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o")}})
	if err != nil || pay.PrepayId == nil || !strings.HasPrefix(*pay.Package, "prepay_id=") {
		t.Fatalf("jsapi prepay: %v", err)
	}
	if _, err := js.CloseOrder(ctx, jsapi.CloseOrderRequest{OutTradeNo: str(out2), Mchid: str(mchid)}); err != nil {
		t.Fatalf("close: %v", err)
	}
	q3, _, err := js.QueryOrderByOutTradeNo(ctx, jsapi.QueryOrderByOutTradeNoRequest{OutTradeNo: str(out2), Mchid: str(mchid)})
	if err != nil || *q3.TradeState != "CLOSED" {
		t.Fatalf("query closed: %v", err)
	}

	// an unknown order and an unknown path are signed errors the SDK
	// verifies and reports as API errors
	_, res, err := nat.QueryOrderByOutTradeNo(ctx, native.QueryOrderByOutTradeNoRequest{OutTradeNo: str("nope"), Mchid: str(mchid)})
	var apiErr *core.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || apiErr.Code != "ORDER_NOT_EXIST" || res == nil {
		t.Fatalf("unknown order: %v", err)
	}
	if _, err := client.Get(ctx, "https://api.mch.weixin.qq.com/v3/no/such/path"); !errors.As(err, &apiErr) || apiErr.StatusCode != 404 {
		t.Fatalf("unknown path: %v", err)
	}
	// unsigned requests get signed errors too: 401 under /v3, 404 elsewhere
	hc := sb.httpClient(t)
	for path, want := range map[string]int{"/v3/no/such/path": 401, "/no/such/path": 404} {
		r, err := hc.Get("https://api.mch.weixin.qq.com" + path)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != want || r.Header.Get("Wechatpay-Signature") == "" || r.Header.Get("Wechatpay-Serial") != sb.creds["platform_public_key_id"] {
			t.Fatalf("%s unauthenticated: %d %v", path, r.StatusCode, r.Header)
		}
	}
}

// TestWeChatPayGoSDKCertificateMode: the SDK downloads the platform
// certificate (GET /v3/certificates, decrypted with the APIv3 key) and
// then verifies answers with it.
func TestWeChatPayGoSDKCertificateMode(t *testing.T) {
	sb := startSandbox(t, "http://127.0.0.1:9")
	ctx := context.Background()
	key, err := utils.LoadPrivateKey(sb.creds["private_key"])
	if err != nil {
		t.Fatal(err)
	}
	plain, err := core.NewClient(ctx, option.WithMerchantCredential(sb.creds["mchid"], sb.creds["serial_no"], key),
		option.WithoutValidator(), option.WithHTTPClient(sb.httpClient(t)))
	if err != nil {
		t.Fatal(err)
	}
	d, err := downloader.NewCertificateDownloaderWithClient(ctx, plain, sb.creds["api_v3_key"])
	if err != nil {
		t.Fatalf("download certificates: %v", err)
	}
	serial := sb.creds["platform_serial_no"]
	cert, ok := d.Get(ctx, serial)
	if !ok {
		t.Fatalf("certificate %s not downloaded: %v", serial, d.GetAll(ctx))
	}
	if pem, _ := d.Export(ctx, serial); strings.TrimSpace(pem) != strings.TrimSpace(sb.creds["platform_certificate"]) {
		t.Fatal("downloaded certificate differs from /sandbox/credentials")
	}
	// a second download goes through the validator made from the first
	if err := d.DownloadCertificates(ctx); err != nil {
		t.Fatalf("download again, verified: %v", err)
	}
	client, err := core.NewClient(ctx, option.WithMerchantCredential(sb.creds["mchid"], sb.creds["serial_no"], key),
		option.WithWechatPayCertificate([]*x509.Certificate{cert}), option.WithHTTPClient(sb.httpClient(t)))
	if err != nil {
		t.Fatal(err)
	}
	nat := native.NativeApiService{Client: client}
	out := orderNo("C")
	if _, _, err := nat.Prepay(ctx, native.PrepayRequest{Appid: str(sb.creds["appid"]), Mchid: str(sb.creds["mchid"]),
		Description: str("茶"), OutTradeNo: str(out), NotifyUrl: str("https://merchant.example/notify"),
		Amount: &native.Amount{Total: core.Int64(100)}}); err != nil {
		t.Fatalf("native prepay in certificate mode: %v", err)
	}
	if _, err := nat.CloseOrder(ctx, native.CloseOrderRequest{OutTradeNo: str(out), Mchid: str(sb.creds["mchid"])}); err != nil {
		t.Fatalf("close in certificate mode: %v", err)
	}
}
