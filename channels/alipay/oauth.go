package alipay

import (
	"context"
	"fmt"
	"net/url"

	"github.com/go-pay/gopay"
)

// OAuth identifies a payer inside Alipay with the app's web authorisation,
// scope auth_base (no consent screen): the code the page comes back with is
// exchanged by alipay.system.oauth.token for the buyer's user id (or open
// id) (docs/cashier.md).
type OAuth struct {
	c *Client
	// AuthorizeBase defaults to Alipay's production authorisation host.
	AuthorizeBase string
}

// OAuth returns the payer authorisation of this Alipay app.
func (c *Client) OAuth() *OAuth { return &OAuth{c: c} }

// AuthorizeURL is Alipay's authorisation page for redirectURI.
func (o *OAuth) AuthorizeURL(redirectURI, state string) string {
	base := o.AuthorizeBase
	if base == "" {
		base = "https://openauth.alipay.com"
	}
	q := url.Values{"app_id": {o.c.gp.AppId}, "scope": {"auth_base"}, "redirect_uri": {redirectURI}, "state": {state}}
	return base + "/oauth2/publicAppAuthorize.htm?" + q.Encode()
}

// CodeParam is the query parameter the code comes back in.
func (o *OAuth) CodeParam() string { return "auth_code" }

// PayerID exchanges an auth_code for the buyer's id.
func (o *OAuth) PayerID(ctx context.Context, code string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, o.c.timeout)
	defer cancel()
	rsp, err := o.c.gp.SystemOauthToken(ctx, gopay.BodyMap{"grant_type": "authorization_code", "code": code})
	if err != nil {
		return "", fmt.Errorf("alipay oauth: %w", err)
	}
	if rsp.Response == nil {
		return "", fmt.Errorf("alipay oauth: no token in the answer")
	}
	if id := rsp.Response.UserId; id != "" {
		return id, nil
	}
	if id := rsp.Response.OpenId; id != "" {
		return id, nil
	}
	return "", fmt.Errorf("alipay oauth: no user id in the answer")
}
