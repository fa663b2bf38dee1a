package unionpay

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/paygate-cn/paygate"
)

// OAuth identifies a payer inside 云闪付 or a bank app with UnionPay's open
// platform web authorisation, scope upapi_base (userAuthCode): the code the
// page comes back with is exchanged for the payer's openId
// (docs/cashier.md). Each exchange first takes a backendToken signed with
// the app secret.
type OAuth struct {
	AppID, Secret string
	// Base defaults to UnionPay's open platform host.
	Base   string
	Client *http.Client
	Now    func() time.Time
}

// NewOAuth returns the OAuth of a UnionPay provider whose credentials carry
// up_app_id and up_app_secret; ok is false when they do not.
func NewOAuth(spec paygate.ProviderSpec) (*OAuth, bool) {
	id, secret := spec.Credentials["up_app_id"], spec.Credentials["up_app_secret"]
	if id == "" || secret == "" {
		return nil, false
	}
	return &OAuth{AppID: id, Secret: secret}, true
}

func (o *OAuth) base() string {
	if o.Base == "" {
		return "https://open.95516.com"
	}
	return o.Base
}

// AuthorizeURL is UnionPay's authorisation page for redirectURI.
func (o *OAuth) AuthorizeURL(redirectURI, state string) string {
	q := url.Values{"appId": {o.AppID}, "redirectUri": {redirectURI}, "responseType": {"code"},
		"scope": {"upapi_base"}, "state": {state}}
	return o.base() + "/s/open/html/oauth.html?" + q.Encode()
}

// CodeParam is the query parameter the code comes back in.
func (o *OAuth) CodeParam() string { return "code" }

// PayerID exchanges a code for the payer's openId.
func (o *OAuth) PayerID(ctx context.Context, code string) (string, error) {
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	var nb [16]byte
	if _, err := rand.Read(nb[:]); err != nil {
		return "", err
	}
	nonce, ts := hex.EncodeToString(nb[:]), strconv.FormatInt(now().Unix(), 10)
	sum := sha256.Sum256([]byte("appId=" + o.AppID + "&nonceStr=" + nonce + "&secret=" + o.Secret + "&timestamp=" + ts))
	var bt struct {
		BackendToken string `json:"backendToken"`
	}
	if err := o.post(ctx, "/open/access/1.0/backendToken", map[string]string{"appId": o.AppID, "nonceStr": nonce,
		"timestamp": ts, "signature": hex.EncodeToString(sum[:])}, &bt); err != nil {
		return "", err
	}
	var tok struct {
		OpenID string `json:"openId"`
	}
	if err := o.post(ctx, "/open/access/1.0/token", map[string]string{"appId": o.AppID, "backendToken": bt.BackendToken,
		"code": code, "grantType": "authorization_code"}, &tok); err != nil {
		return "", err
	}
	if tok.OpenID == "" {
		return "", errors.New("unionpay oauth: no openId in the answer")
	}
	return tok.OpenID, nil
}

// post sends one open platform call and decodes its params on resp "00".
func (o *OAuth) post(ctx context.Context, path string, body map[string]string, params any) error {
	hc := o.Client
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.base()+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("unionpay oauth %s: no answer", path)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil || resp.StatusCode != http.StatusOK {
		return fmt.Errorf("unionpay oauth %s: status %d", path, resp.StatusCode)
	}
	var r struct {
		Resp   string          `json:"resp"`
		Msg    string          `json:"msg"`
		Params json.RawMessage `json:"params"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return fmt.Errorf("unionpay oauth %s: answer is not JSON", path)
	}
	if r.Resp != "00" {
		return fmt.Errorf("unionpay oauth %s: resp %s %s", path, r.Resp, r.Msg)
	}
	return json.Unmarshal(r.Params, params)
}
