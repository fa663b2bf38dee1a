package gateway_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/gateway"
	"github.com/paygate-cn/paygate/store"
)

// walletAuth stands in for a wallet's OAuth servers, which cannot run here.
type walletAuth struct {
	authorize string
	payer     func(code string) (string, error)
}

func (w walletAuth) AuthorizeURL(redirectURI, state string) string {
	return w.authorize + "?redirect=" + url.QueryEscape(redirectURI) + "&state=" + url.QueryEscape(state)
}
func (w walletAuth) CodeParam() string { return "code" }
func (w walletAuth) PayerID(_ context.Context, code string) (string, error) {
	return w.payer(code)
}

// Outside the sandbox a wallet is first sent to its OAuth; the code it comes
// back with becomes the payer, kept in a signed cookie.
func TestCashierOAuth(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite:"+t.TempDir()+"/paygate.db", store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	q := &paygate.QRCode{MerchantID: "m1", Code: "abcdefghijklmnopqrstuvwx", StoreName: "Shop"}
	if err := db.CreateQRCode(ctx, q); err != nil {
		t.Fatal(err)
	}
	k := &gateway.Cashier{Codes: db, Key: []byte("0123456789abcdef0123456789abcdef"), PublicURL: "https://pay.example.com",
		Auth: map[string]gateway.WalletAuth{paygate.KindWeChat: walletAuth{authorize: "https://wallet.example/authorize",
			payer: func(code string) (string, error) {
				if code != "good" {
					return "", io.ErrUnexpectedEOF
				}
				return "oPayer1", nil
			}}}}
	srv := httptest.NewServer(gateway.New(gateway.Deps{Cashier: k}).Handler())
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path, ua string) *http.Response {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("User-Agent", ua)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	const wx = "Mozilla/5.0 MicroMessenger/8.0.47"
	r := get("/qr/"+q.Code, wx)
	loc, _ := url.Parse(r.Header.Get("Location"))
	if r.StatusCode != 302 || !strings.HasPrefix(loc.String(), "https://wallet.example/authorize?") ||
		loc.Query().Get("redirect") != "https://pay.example.com/qr/"+q.Code+"/oauth" {
		t.Fatalf("first visit: %d %s", r.StatusCode, loc)
	}
	state := loc.Query().Get("state")
	for _, bad := range []string{"?code=good&state=" + url.QueryEscape(state+"0"), "?code=bad&state=" + url.QueryEscape(state), "?state=" + url.QueryEscape(state)} {
		if r := get("/qr/"+q.Code+"/oauth"+bad, wx); r.StatusCode < 400 || len(r.Cookies()) != 0 {
			t.Fatalf("%s: %d", bad, r.StatusCode)
		}
	}
	r = get("/qr/"+q.Code+"/oauth?code=good&state="+url.QueryEscape(state), wx)
	if r.StatusCode != 302 || r.Header.Get("Location") != "/qr/"+q.Code || len(r.Cookies()) != 1 || !r.Cookies()[0].Secure {
		t.Fatalf("oauth return: %d %s %v", r.StatusCode, r.Header.Get("Location"), r.Cookies())
	}
	// The cookie is for https; hand it over for this plain test server.
	u, _ := url.Parse(srv.URL)
	c := r.Cookies()[0]
	c.Secure = false
	jar.SetCookies(u, []*http.Cookie{c})
	if r := get("/qr/"+q.Code, wx); r.StatusCode != 200 {
		t.Fatalf("payer page after oauth: %d", r.StatusCode)
	}
	// A wallet without OAuth gets the page naming the apps.
	if r := get("/qr/"+q.Code, "Mozilla/5.0 AlipayClient/10.5"); r.StatusCode != 200 {
		t.Fatalf("alipay without oauth: %d", r.StatusCode)
	}
}
