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
	"sync"
	"time"

	"github.com/paygate-cn/paygate"
)

// OAuth identifies a payer inside 云闪付 or a bank app with UnionPay's open
// platform web authorisation, scope upapi_base (userAuthCode): the code the
// page comes back with is exchanged for the payer's openId
// (docs/cashier.md). The exchange needs a backendToken, taken with the
// app secret's signature and kept until a minute before it expires:
// UnionPay limits how often one may be taken, and taking one ends the one
// before. When the platform refuses an exchange made with a cached token
// (another replica may have taken a new one), a fresh token is tried
// once, but not more than once a minute, so that codes sent to fail
// cannot make the gateway take tokens at their rate.
type OAuth struct {
	AppID, Secret string
	// Base defaults to UnionPay's open platform host.
	Base   string
	Client *http.Client
	Now    func() time.Time

	mu           sync.Mutex
	backend      string
	backendUntil time.Time
	backendTaken time.Time
}

// backendTokenMargin is how long before its expiry a backendToken is
// taken again, so that one is never sent as it expires.
const backendTokenMargin = time.Minute

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
	bt, cached, err := o.backendToken(ctx)
	if err != nil {
		return "", err
	}
	openID, err := o.exchange(ctx, bt, code)
	var refused *respError
	if cached && errors.As(err, &refused) && o.dropBackendToken(bt) {
		// The platform may have ended the token early (another process
		// took a new one): once more with a fresh token.
		if bt, _, err = o.backendToken(ctx); err != nil {
			return "", err
		}
		openID, err = o.exchange(ctx, bt, code)
	}
	return openID, err
}

func (o *OAuth) exchange(ctx context.Context, backendToken, code string) (string, error) {
	var tok struct {
		OpenID string `json:"openId"`
	}
	if err := o.post(ctx, "/open/access/1.0/token", map[string]string{"appId": o.AppID, "backendToken": backendToken,
		"code": code, "grantType": "authorization_code"}, &tok); err != nil {
		return "", err
	}
	if tok.OpenID == "" {
		return "", errors.New("unionpay oauth: no openId in the answer")
	}
	return tok.OpenID, nil
}

func (o *OAuth) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// backendToken returns a valid backendToken, the cached one (cached true)
// or a new one. Concurrent callers needing a new one wait for one call.
func (o *OAuth) backendToken(ctx context.Context) (token string, cached bool, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.now()
	if o.backend != "" && now.Before(o.backendUntil) {
		return o.backend, true, nil
	}
	var nb [16]byte
	if _, err := rand.Read(nb[:]); err != nil {
		return "", false, err
	}
	nonce, ts := hex.EncodeToString(nb[:]), strconv.FormatInt(now.Unix(), 10)
	sum := sha256.Sum256([]byte("appId=" + o.AppID + "&nonceStr=" + nonce + "&secret=" + o.Secret + "&timestamp=" + ts))
	var bt struct {
		BackendToken string `json:"backendToken"`
		ExpiresIn    int64  `json:"expiresIn"`
	}
	if err := o.post(ctx, "/open/access/1.0/backendToken", map[string]string{"appId": o.AppID, "nonceStr": nonce,
		"timestamp": ts, "signature": hex.EncodeToString(sum[:])}, &bt); err != nil {
		return "", false, err
	}
	if bt.BackendToken == "" {
		return "", false, errors.New("unionpay oauth: no backendToken in the answer")
	}
	// Kept only with a lifetime the answer states and longer than the
	// margin; at most a day, whatever the answer says.
	o.backend, o.backendUntil = "", time.Time{}
	if life := time.Duration(min(bt.ExpiresIn, 86400)) * time.Second; life > backendTokenMargin {
		o.backend, o.backendUntil, o.backendTaken = bt.BackendToken, now.Add(life-backendTokenMargin), now
	}
	return bt.BackendToken, false, nil
}

// dropBackendToken forgets token if it is still the cached one and was
// taken more than backendTokenMargin ago, and says whether to try again:
// with a fresh token, or with the one another exchange took meanwhile.
func (o *OAuth) dropBackendToken(token string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.backend != token {
		return o.backend != ""
	}
	if o.now().Sub(o.backendTaken) < backendTokenMargin {
		return false
	}
	o.backend, o.backendUntil = "", time.Time{}
	return true
}

// respError is an answer of the open platform other than resp "00".
type respError struct{ path, resp, msg string }

func (e *respError) Error() string {
	return fmt.Sprintf("unionpay oauth %s: resp %s %s", e.path, e.resp, e.msg)
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
		return &respError{path, r.Resp, r.Msg}
	}
	return json.Unmarshal(r.Params, params)
}
