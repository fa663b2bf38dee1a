package unionpay

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/paygate-cn/paygate"
)

// Endpoints, relative to ProviderSpec.BaseURL (https://gateway.95516.com in
// production).
const (
	PathBackTrans  = "/gateway/api/backTransReq.do"     // consume, QR apply, undo, refund
	PathQuery      = "/gateway/api/queryTrans.do"       // single transaction query
	PathFileTrans  = "/gateway/api/fileTransRequest.do" // reconciliation file download
	PathAppTrans   = "/gateway/api/appTransReq.do"      // in-app (UPSDK) consume: answers a tn
	PathFrontTrans = "/gateway/api/frontTransReq.do"    // front-end consume: the payer's browser posts here
)

// Protocol constants of every message.
const (
	Version      = "5.1.0"
	Encoding     = "UTF-8"
	SignMethod   = "01" // RSA-SHA256 with the merchant's signing certificate
	CurrencyCNY  = "156"
	AccessDirect = "0"  // merchant connects directly
	ChannelPOS   = "08" // mobile / face-to-face
	BizGeneral   = "000000"
	BizB2C       = "000201" // online gateway payment (front-end and in-app consume)
	ChannelWeb   = "07"     // desktop web
)

// Transaction types (txnType) and subtypes (txnSubType) used.
const (
	TxnQuery   = "00"
	TxnConsume = "01"
	TxnRefund  = "04"
	TxnUndo    = "31"
	TxnFile    = "76"

	SubNone      = "00"
	SubCard      = "01" // consume with card data (QuickPass contactless)
	SubQRConsume = "06" // B-scan-C: consume with the payer's payment code (qrNo)
	SubQRApply   = "07" // C-scan-B: apply for a dynamic QR code
	SubFile      = "01"
)

// Client speaks the UnionPay online platform for one merchant.
type Client struct {
	id       string
	base     string
	merID    string
	certID   string
	key      *rsa.PrivateKey
	upKey    *rsa.PublicKey
	upCertID string
	backURL  string
	frontURL string
	timeout  time.Duration
	http     *http.Client
	now      paygate.Clock
}

var (
	_ paygate.Channel        = (*Client)(nil)
	_ paygate.Reverser       = (*Client)(nil)
	_ paygate.CallbackParser = (*Client)(nil)
	_ paygate.BillFetcher    = (*Client)(nil)
)

// CredentialKeys are the credentials of a UnionPay provider (see New).
var CredentialKeys = []paygate.CredentialKey{
	{Name: "mer_id"}, {Name: "cert_id"}, {Name: "private_key"}, {Name: "unionpay_public_key"},
	{Name: "unionpay_cert_id"}, {Name: "back_url", Optional: true}, {Name: "front_url", Optional: true},
	// The cashier's user authorisation (NewOAuth).
	{Name: "up_app_id", Optional: true}, {Name: "up_app_secret", Optional: true},
}

// New builds a client from a provider spec. Credentials: mer_id, cert_id,
// private_key (PEM), unionpay_public_key (PEM key or certificate) and
// unionpay_cert_id; back_url is optional (the default notify address when a
// request carries none). A missing or malformed credential is an error naming
// the field.
func New(spec paygate.ProviderSpec) (*Client, error) {
	c := &Client{id: spec.ID, timeout: spec.Timeout, now: time.Now}
	if c.timeout <= 0 {
		c.timeout = 10 * time.Second
	}
	u, err := url.Parse(spec.BaseURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("unionpay provider %q: base_url %q is not an absolute URL", spec.ID, spec.BaseURL)
	}
	c.base = strings.TrimRight(spec.BaseURL, "/")
	cred, err := spec.ReadCredentials(CredentialKeys)
	if err != nil {
		return nil, err
	}
	c.merID, c.certID, c.upCertID, c.backURL = cred["mer_id"], cred["cert_id"], cred["unionpay_cert_id"], cred["back_url"]
	if len(c.merID) != 15 || !alnum(c.merID) {
		return nil, fmt.Errorf("unionpay provider %q: credential mer_id must be 15 letters or digits", spec.ID)
	}
	if c.key, err = ParsePrivateKey(cred["private_key"]); err != nil {
		return nil, fmt.Errorf("unionpay provider %q: credential private_key: %v", spec.ID, err)
	}
	if c.upKey, err = ParsePublicKey(cred["unionpay_public_key"]); err != nil {
		return nil, fmt.Errorf("unionpay provider %q: credential unionpay_public_key: %v", spec.ID, err)
	}
	c.frontURL = cred["front_url"]
	c.http = &http.Client{Timeout: c.timeout, Transport: pooledTransport()}
	return c, nil
}

// SetClock replaces the clock (tests).
func (c *Client) SetClock(now paygate.Clock) { c.now = now }

// ID is the provider id.
func (c *Client) ID() string { return c.id }

// Kind is "unionpay".
func (c *Client) Kind() string { return paygate.KindUnionPay }

// MerID is the merchant code the client signs for.
func (c *Client) MerID() string { return c.merID }

// base returns the fields every request carries.
func (c *Client) fields(txnType, sub, biz string) map[string]string {
	return map[string]string{
		"version":     Version,
		"encoding":    Encoding,
		"signMethod":  SignMethod,
		"certId":      c.certID,
		"merId":       c.merID,
		"accessType":  AccessDirect,
		"channelType": ChannelPOS,
		"txnType":     txnType,
		"txnSubType":  sub,
		"bizType":     biz,
	}
}

// call signs fields, posts them to path and returns the verified answer.
// Anything that leaves the outcome unknown is a *paygate.ChannelError.
func (c *Client) call(ctx context.Context, op, path string, fields map[string]string) (map[string]string, error) {
	for k, v := range fields {
		if v == "" { // empty fields are not sent, so not signed
			delete(fields, k)
		}
	}
	if err := Sign(fields, c.key); err != nil {
		return nil, &paygate.ChannelError{Provider: c.id, Op: op, Message: "signing failed", Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, strings.NewReader(EncodeForm(fields)))
	if err != nil {
		return nil, &paygate.ChannelError{Provider: c.id, Op: op, Message: "bad request", Err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded;charset=UTF-8")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, &paygate.ChannelError{Provider: c.id, Op: op, Timeout: isTimeout(ctx, err), Message: "no answer", Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxMessage+1))
	if err != nil {
		return nil, &paygate.ChannelError{Provider: c.id, Op: op, Timeout: isTimeout(ctx, err), Message: "answer cut off", Err: err}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &paygate.ChannelError{Provider: c.id, Op: op, Message: fmt.Sprintf("HTTP %d", resp.StatusCode)}
	}
	ans, err := ParseMessage(string(body))
	if err != nil {
		return nil, &paygate.ChannelError{Provider: c.id, Op: op, Message: "malformed answer", Err: err}
	}
	if err := c.verify(ans); err != nil {
		return nil, &paygate.ChannelError{Provider: c.id, Op: op, Message: "answer failed verification", Err: err}
	}
	// The answer must be about this request.
	for _, k := range []string{"merId", "orderId", "txnType"} {
		if want, ok := fields[k]; ok && ans[k] != "" && ans[k] != want {
			return nil, &paygate.ChannelError{Provider: c.id, Op: op, Message: "answer does not match the request (" + k + ")"}
		}
	}
	return ans, nil
}

// verify checks that a message was signed by the platform's pinned key.
func (c *Client) verify(m map[string]string) error {
	if m["certId"] != c.upCertID {
		return errors.New("certId is not the platform's signing certificate")
	}
	if sm := m["signMethod"]; sm != "" && sm != SignMethod {
		return errors.New("unsupported signMethod")
	}
	return Verify(m, c.upKey)
}

func isTimeout(ctx context.Context, err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
		return true
	}
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne) && ne.Timeout()
}

func (c *Client) backURLFor(u string) string {
	if u != "" {
		return u
	}
	return c.backURL
}

func (c *Client) nowTxnTime() string { return c.now().In(shanghai).Format(txnTimeLayout) }

// pooledTransport keeps enough idle connections per host for concurrent
// calls: the default transport keeps 2, so under load most requests would
// open (and, over TLS, handshake) a new connection.
func pooledTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 64
	return t
}
