package wechat

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/paygate-cn/paygate"
)

func TestOAuth(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		switch {
		case r.URL.Path != "/sns/oauth2/access_token" || q.Get("appid") != "wx1" || q.Get("secret") != "s3cret" ||
			q.Get("grant_type") != "authorization_code":
			w.Write([]byte(`{"errcode":40013,"errmsg":"invalid appid"}`))
		case q.Get("code") == "good":
			w.Write([]byte(`{"access_token":"AT","expires_in":7200,"openid":"oPayer1","scope":"snsapi_base"}`))
		default:
			w.Write([]byte(`{"errcode":40029,"errmsg":"invalid code"}`))
		}
	}))
	defer srv.Close()
	o, ok := NewOAuth(paygate.ProviderSpec{Kind: "wechat", Credentials: map[string]string{"appid": "wx1", "oauth_app_secret": "s3cret"}})
	if !ok {
		t.Fatal("no oauth from appid + oauth_app_secret")
	}
	o.APIBase = srv.URL
	u := o.AuthorizeURL("https://pay.example.com/qr/abc/oauth", "st.1")
	if !strings.HasPrefix(u, "https://open.weixin.qq.com/connect/oauth2/authorize?appid=wx1&redirect_uri="+
		url.QueryEscape("https://pay.example.com/qr/abc/oauth")) || !strings.HasSuffix(u, "&response_type=code&scope=snsapi_base&state=st.1#wechat_redirect") {
		t.Fatalf("authorize URL %s", u)
	}
	if id, err := o.PayerID(context.Background(), "good"); err != nil || id != "oPayer1" {
		t.Fatalf("good code: %q %v", id, err)
	}
	if _, err := o.PayerID(context.Background(), "used"); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("bad code: %v", err)
	}
	if _, ok := NewOAuth(paygate.ProviderSpec{Kind: "wechat", Credentials: map[string]string{"appid": "wx1"}}); ok {
		t.Fatal("oauth without a secret")
	}
}
