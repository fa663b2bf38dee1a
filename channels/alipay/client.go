package alipay

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-pay/gopay"
	ali "github.com/go-pay/gopay/alipay"
	"github.com/go-pay/gopay/pkg/xhttp"

	"github.com/paygate-cn/paygate"
)

// ProductionGateway is Alipay's OpenAPI gateway.
const ProductionGateway = "https://openapi.alipay.com/gateway.do"

// productionHost is the host gopay's v2 client always calls (IsProd=true);
// the transport below sends those requests to the configured gateway.
const productionHost = "openapi.alipay.com"

// DefaultTimeout bounds each call when the spec sets none.
const DefaultTimeout = 10 * time.Second

// Client is an Alipay provider: one app (app_id) with its RSA2 keys.
type Client struct {
	id      string
	appID   string
	gateway *url.URL
	timeout time.Duration
	pub     *rsa.PublicKey
	gp      *ali.Client
	// billHTTP downloads bill files (BillTimeout); pid is the merchant's
	// Alipay account (credentials.seller_id, optional), which names its bills.
	billHTTP *http.Client
	pid      string
}

var (
	_ paygate.Channel        = (*Client)(nil)
	_ paygate.OrderCloser    = (*Client)(nil)
	_ paygate.Reverser       = (*Client)(nil)
	_ paygate.CallbackParser = (*Client)(nil)
	_ paygate.BillFetcher    = (*Client)(nil)
)

// CredentialKeys are the credentials of an Alipay provider (see New).
var CredentialKeys = []paygate.CredentialKey{
	{Name: "app_id"}, {Name: "private_key"}, {Name: "alipay_public_key"},
	{Name: "seller_id", Optional: true},
}

// New builds an Alipay client from a provider spec. Credentials:
// app_id, private_key (the app's RSA key, PEM in PKCS #1 or PKCS #8, or bare
// base64) and alipay_public_key (Alipay's RSA public key, PEM or base64);
// optional seller_id, the merchant's 2088… account (pid), which bills
// are checked against (docs/reconciliation.md).
// spec.BaseURL is the gateway (default ProductionGateway).
// Returns EPARAMINVALID naming the credential at fault.
func New(spec paygate.ProviderSpec) (*Client, error) {
	cred, err := spec.ReadCredentials(CredentialKeys)
	if err != nil {
		return nil, err
	}
	appID, privText, pubText := cred["app_id"], cred["private_key"], cred["alipay_public_key"]
	_, der, err := parsePrivateKey(privText)
	if err != nil {
		return nil, paygate.ParamErrorf(paygate.EPARAMINVALID, "credentials.private_key", "credentials.private_key: %v", err)
	}
	pub, err := parsePublicKey(pubText)
	if err != nil {
		return nil, paygate.ParamErrorf(paygate.EPARAMINVALID, "credentials.alipay_public_key", "credentials.alipay_public_key: %v", err)
	}
	base := spec.BaseURL
	if base == "" {
		base = ProductionGateway
	}
	gw, err := url.Parse(base)
	if err != nil || (gw.Scheme != "http" && gw.Scheme != "https") || gw.Host == "" {
		return nil, paygate.ParamErrorf(paygate.EPARAMINVALID, "base_url", "base_url: not an http(s) URL")
	}
	timeout := spec.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}

	// gopay wraps the DER in a PEM block itself and accepts PKCS #1 or #8.
	gp, err := ali.NewClient(appID, base64.StdEncoding.EncodeToString(der), true)
	if err != nil {
		return nil, paygate.ParamErrorf(paygate.EPARAMINVALID, "credentials.private_key", "credentials.private_key: rejected")
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 256
	hc := xhttp.NewClient()
	hc.SetTransport(&rewriteTransport{gateway: gw, next: transport})
	hc.SetTimeout(timeout)
	gp.SetHttpClient(hc)

	return &Client{
		id:      spec.ID,
		appID:   appID,
		gateway: gw,
		timeout: timeout,
		pub:     pub,
		gp:      gp,
		// A bill may be large: its download has a bound of its own.
		billHTTP: &http.Client{Timeout: BillTimeout, Transport: transport},
		pid:      cred["seller_id"],
	}, nil
}

// ID is the configured provider id.
func (c *Client) ID() string { return c.id }

// Kind is "alipay".
func (c *Client) Kind() string { return paygate.KindAlipay }

// rewriteTransport sends requests addressed to Alipay's production host to
// the configured gateway (the sandbox, or a proxy) instead. Requests to any
// other host pass unchanged.
type rewriteTransport struct {
	gateway *url.URL
	next    http.RoundTripper
}

func (t *rewriteTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host != productionHost || t.gateway.Host == productionHost {
		return t.next.RoundTrip(r)
	}
	r = r.Clone(r.Context())
	q := r.URL.Query()
	for k, vs := range t.gateway.Query() {
		q[k] = vs
	}
	r.URL.Scheme = t.gateway.Scheme
	r.URL.Host = t.gateway.Host
	r.URL.Path = t.gateway.Path
	r.URL.RawPath = ""
	r.URL.RawQuery = q.Encode()
	r.Host = ""
	return t.next.RoundTrip(r)
}

// gatewayURL rewrites a URL gopay built for the production gateway (page
// and wap pay) to the configured gateway.
func (c *Client) gatewayURL(s string) string {
	rest, ok := strings.CutPrefix(s, ProductionGateway)
	if !ok {
		return s
	}
	u := *c.gateway
	u.RawQuery = ""
	return u.String() + rest
}

// status is the code block every OpenAPI response carries.
type status = ali.ErrorResponse

// Gateway result codes (https://opendocs.alipay.com/common/02km9f).
const (
	codeSuccess     = "10000"
	codePaying      = "10003" // trade.pay: waiting for the buyer
	codeUnavailable = "20000"
	codeBizFailed   = "40004"
)

// call sends one OpenAPI request and returns the JSON of its
// "<method>_response" object after checking Alipay's signature over exactly
// those bytes, and the code block decoded from it. Anything that leaves the
// outcome unknown (no answer, non-200, unparseable, unsigned or forged
// answer, 20000) is a *paygate.ChannelError.
func (c *Client) call(ctx context.Context, op, method string, biz gopay.BodyMap) (json.RawMessage, status, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	body, err := c.gp.DoAliPay(ctx, biz, method)
	if err != nil {
		return nil, status{}, c.unknown(op, err)
	}
	raw, st, err := c.verifyResponse(method, body)
	if err != nil {
		return nil, status{}, &paygate.ChannelError{Provider: c.id, Op: op, Message: "unverifiable response", Err: err}
	}
	if st.Code == codeUnavailable || st.SubCode == "ACQ.SYSTEM_ERROR" {
		return nil, st, &paygate.ChannelError{Provider: c.id, Op: op, Code: code(st), Message: st.SubMsg}
	}
	return raw, st, nil
}

// verifyResponse extracts the response object of method from an OpenAPI
// answer and verifies the "sign" beside it over the object's exact bytes.
func (c *Client) verifyResponse(method string, body []byte) (json.RawMessage, status, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, status{}, fmt.Errorf("response is not a JSON object")
	}
	raw, ok := top[strings.ReplaceAll(method, ".", "_")+"_response"]
	if !ok {
		if raw, ok = top["error_response"]; !ok {
			return nil, status{}, errors.New("response object missing")
		}
	}
	var sign string
	if err := json.Unmarshal(top["sign"], &sign); err != nil || sign == "" {
		return nil, status{}, errors.New("response is not signed")
	}
	if err := verifyRSA2(c.pub, raw, sign); err != nil {
		return nil, status{}, errors.New("response signature does not verify")
	}
	var st status
	if err := json.Unmarshal(raw, &st); err != nil || st.Code == "" {
		return nil, status{}, errors.New("response carries no code")
	}
	return raw, st, nil
}

// unknown wraps a transport failure.
func (c *Client) unknown(op string, err error) *paygate.ChannelError {
	var ne net.Error
	timeout := errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
	return &paygate.ChannelError{Provider: c.id, Op: op, Timeout: timeout, Message: "no usable answer", Err: err}
}

// unexpected reports an answer whose code the operation does not expect.
func (c *Client) unexpected(op string, st status) *paygate.ChannelError {
	return &paygate.ChannelError{Provider: c.id, Op: op, Code: code(st), Message: firstNonEmpty(st.SubMsg, st.Msg)}
}

func code(st status) string {
	if st.SubCode != "" {
		return st.SubCode
	}
	return st.Code
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

func decode(op string, c *Client, raw json.RawMessage, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return &paygate.ChannelError{Provider: c.id, Op: op, Message: "malformed response", Err: err}
	}
	return nil
}
