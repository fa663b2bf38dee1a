package wechat

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-pay/gopay"
	v3 "github.com/go-pay/gopay/wechat/v3"

	"github.com/paygate-cn/paygate"
)

// ProductionURL is WeChat Pay's API endpoint.
const ProductionURL = "https://api.mch.weixin.qq.com"

// DefaultTimeout bounds a channel call when the spec sets none.
const DefaultTimeout = 10 * time.Second

// publicKeyIDPrefix starts every WeChat Pay public key id.
const publicKeyIDPrefix = "PUB_KEY_ID_"

var (
	_ paygate.Channel        = (*Client)(nil)
	_ paygate.OrderCloser    = (*Client)(nil)
	_ paygate.Reverser       = (*Client)(nil)
	_ paygate.CallbackParser = (*Client)(nil)
	_ paygate.BillFetcher    = (*Client)(nil)
)

// Client is one configured WeChat Pay merchant.
type Client struct {
	id        string
	mchid     string
	appid     string
	apiV3Key  []byte
	platform  *rsa.PublicKey
	platforID string
	timeout   time.Duration
	wx        *v3.ClientV3
	now       func() time.Time
	key       *rsa.PrivateKey // signs bill downloads (see FetchBill)
	serial    string
	billHTTP  *http.Client
}

// CredentialKeys are the credentials of a WeChat Pay provider: the
// merchant id and app id, the merchant certificate's serial number, the
// API v3 key (32 bytes), the merchant's RSA private key (PEM), and WeChat
// Pay's platform public key (PEM) with its id (PUB_KEY_ID_...).
var CredentialKeys = []paygate.CredentialKey{
	{Name: "mchid"}, {Name: "appid"}, {Name: "serial_no"}, {Name: "api_v3_key"},
	{Name: "private_key"}, {Name: "platform_public_key"}, {Name: "platform_public_key_id"},
	// The official account's AppSecret, for the cashier's user
	// authorisation (NewOAuth).
	{Name: "oauth_app_secret", Optional: true},
}

// New builds a client from a provider spec. It returns an error naming the
// credential at fault when one is missing or malformed.
func New(spec paygate.ProviderSpec) (*Client, error) {
	cred, err := spec.ReadCredentials(CredentialKeys)
	if err != nil {
		return nil, err
	}
	mchid, appid, serial, apiV3Key := cred["mchid"], cred["appid"], cred["serial_no"], cred["api_v3_key"]
	privPEM, pubPEM, pubID := cred["private_key"], cred["platform_public_key"], cred["platform_public_key_id"]
	if len(apiV3Key) != 32 {
		return nil, errors.New("credentials.api_v3_key: must be 32 bytes")
	}
	key, err := parsePrivateKey(privPEM)
	if err != nil {
		return nil, errors.New("credentials.private_key: not a PEM RSA private key")
	}
	pub, err := parsePublicKey(pubPEM)
	if err != nil {
		return nil, errors.New("credentials.platform_public_key: not a PEM RSA public key")
	}
	if !strings.HasPrefix(pubID, publicKeyIDPrefix) {
		return nil, fmt.Errorf("credentials.platform_public_key_id: must start with %s", publicKeyIDPrefix)
	}
	wx, err := v3.NewClientV3(mchid, serial, apiV3Key, privPEM)
	if err != nil {
		// The key parsed above; gopay's own message would quote the PEM.
		return nil, errors.New("credentials.private_key: rejected by the WeChat client")
	}
	wx.DebugSwitch = gopay.DebugOff
	if err := wx.AutoVerifySignByPublicKey([]byte(pubPEM), pubID); err != nil {
		return nil, errors.New("credentials.platform_public_key: rejected by the WeChat client")
	}
	base := spec.BaseURL
	if base == "" {
		base = ProductionURL
	}
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("base_url: %q is not an http(s) URL", base)
	}
	wx.SetProxyHost(base)
	timeout := spec.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	// The context deadline bounds each call; this is a second guard.
	wx.GetHttpClient().SetTimeout(timeout + time.Second)
	return &Client{
		id:        spec.ID,
		mchid:     mchid,
		appid:     appid,
		apiV3Key:  []byte(apiV3Key),
		platform:  pub,
		platforID: pubID,
		timeout:   timeout,
		wx:        wx,
		now:       time.Now,
		key:       key,
		serial:    serial,
		billHTTP:  &http.Client{Timeout: BillTimeout},
	}, nil
}

// ID is the configured provider id.
func (c *Client) ID() string { return c.id }

// Kind is paygate.KindWeChat.
func (c *Client) Kind() string { return paygate.KindWeChat }

func parsePrivateKey(s string) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("not RSA")
	}
	return rk, nil
}

func parsePublicKey(s string) (*rsa.PublicKey, error) {
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	var pub any
	var err error
	switch block.Type {
	case "PUBLIC KEY":
		pub, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		var cert *x509.Certificate
		cert, err = x509.ParseCertificate(block.Bytes)
		if err == nil {
			pub = cert.PublicKey
		}
	default:
		return nil, fmt.Errorf("PEM type %q", block.Type)
	}
	if err != nil {
		return nil, err
	}
	rk, ok := pub.(*rsa.PublicKey)
	if !ok {
		return nil, errors.New("not RSA")
	}
	return rk, nil
}

// callCtx bounds one channel call by the configured timeout.
func (c *Client) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.timeout)
}

// transportError classifies an error from gopay: no answer (timeout,
// connection failure) or a malformed / unverifiable answer. Both are unknown
// outcomes.
func (c *Client) transportError(ctx context.Context, op string, err error) *paygate.ChannelError {
	ce := &paygate.ChannelError{Provider: c.id, Op: op, Err: err}
	var ne net.Error
	var ue *url.Error
	switch {
	case ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		ce.Timeout = true
		ce.Message = "no answer"
	case errors.Is(err, gopay.VerifySignatureErr):
		ce.Message = "answer signature invalid"
	case errors.Is(err, gopay.UnmarshalErr):
		ce.Message = "malformed answer"
		ce.Err = nil // gopay quotes the body; the message is enough
	case errors.As(err, &ue), errors.As(err, &ne):
		ce.Timeout = true
		ce.Message = "no answer"
	default:
		ce.Message = "unverifiable answer"
	}
	return ce
}

// verify checks the signature of an answer gopay does not verify itself
// (anything but 200/204).
func (c *Client) verify(si *v3.SignInfo) error {
	if si == nil {
		return errors.New("answer carries no signature")
	}
	if si.HeaderSerial != c.platforID {
		return fmt.Errorf("answer signed with unknown key %q", si.HeaderSerial)
	}
	return verifyRSA(c.platform, si.HeaderTimestamp, si.HeaderNonce, si.SignBody, si.HeaderSignature)
}

// verifyRSA checks a WeChat Pay v3 signature over "timestamp\nnonce\nbody\n".
func verifyRSA(pub *rsa.PublicKey, ts, nonce, body, sig string) error {
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || len(raw) == 0 {
		return errors.New("signature is not base64")
	}
	h := sha256.New()
	h.Write([]byte(ts + "\n" + nonce + "\n"))
	h.Write([]byte(body))
	h.Write([]byte("\n"))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, h.Sum(nil), raw); err != nil {
		return errors.New("signature does not verify")
	}
	return nil
}

// errorAnswer turns a non-2xx answer into a ChannelError after checking its
// signature.
func (c *Client) errorAnswer(op string, status int, er v3.ErrResponse, si *v3.SignInfo) *paygate.ChannelError {
	ce := &paygate.ChannelError{Provider: c.id, Op: op, Code: er.Code, Message: er.Message}
	if err := c.verify(si); err != nil {
		ce.Message = "unverifiable answer"
		ce.Err = err
		return ce
	}
	if ce.Message == "" {
		ce.Message = fmt.Sprintf("HTTP %d", status)
	}
	return ce
}

// signedAnswer reports whether a non-2xx answer is verifiably WeChat's.
func (c *Client) signedAnswer(si *v3.SignInfo) bool { return c.verify(si) == nil }

func parseTime(s string) *time.Time {
	if s == "" {
		return nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return nil
	}
	return &t
}
