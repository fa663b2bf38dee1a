package wechat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/paygate-cn/paygate"
)

// OAuth identifies a payer inside WeChat with the official account's web
// authorisation, scope snsapi_base (no consent screen): the cashier sends
// the page to AuthorizeURL and exchanges the code it comes back with for
// the payer's openid (docs/cashier.md).
type OAuth struct {
	AppID, Secret string
	// AuthorizeBase and APIBase default to WeChat's production hosts.
	AuthorizeBase, APIBase string
	Client                 *http.Client
}

// NewOAuth returns the OAuth of a WeChat provider whose credentials carry
// appid and oauth_app_secret (the official account's AppSecret); ok is
// false when they do not.
func NewOAuth(spec paygate.ProviderSpec) (*OAuth, bool) {
	appid, secret := spec.Credentials["appid"], spec.Credentials["oauth_app_secret"]
	if appid == "" || secret == "" {
		return nil, false
	}
	return &OAuth{AppID: appid, Secret: secret}, true
}

// AuthorizeURL is WeChat's authorisation page for redirectURI.
func (o *OAuth) AuthorizeURL(redirectURI, state string) string {
	base := o.AuthorizeBase
	if base == "" {
		base = "https://open.weixin.qq.com"
	}
	// WeChat wants the parameters in this order and the fragment.
	return base + "/connect/oauth2/authorize?appid=" + url.QueryEscape(o.AppID) + "&redirect_uri=" + url.QueryEscape(redirectURI) +
		"&response_type=code&scope=snsapi_base&state=" + url.QueryEscape(state) + "#wechat_redirect"
}

// CodeParam is the query parameter the code comes back in.
func (o *OAuth) CodeParam() string { return "code" }

// PayerID exchanges a code for the payer's openid
// (GET /sns/oauth2/access_token, grant_type authorization_code).
func (o *OAuth) PayerID(ctx context.Context, code string) (string, error) {
	base := o.APIBase
	if base == "" {
		base = "https://api.weixin.qq.com"
	}
	hc := o.Client
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	q := url.Values{"appid": {o.AppID}, "secret": {o.Secret}, "code": {code}, "grant_type": {"authorization_code"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/sns/oauth2/access_token?"+q.Encode(), nil)
	if err != nil {
		return "", err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", errors.New("wechat oauth: no answer") // the URL holds the secret: never in the error
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil || resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("wechat oauth: status %d", resp.StatusCode)
	}
	var r struct {
		OpenID  string `json:"openid"`
		ErrCode int    `json:"errcode"`
		ErrMsg  string `json:"errmsg"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return "", errors.New("wechat oauth: answer is not JSON")
	}
	if r.ErrCode != 0 || r.OpenID == "" {
		return "", fmt.Errorf("wechat oauth: errcode %d %s", r.ErrCode, r.ErrMsg)
	}
	return r.OpenID, nil
}
