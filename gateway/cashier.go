package gateway

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/paygate-cn/paygate"
)

// Cashier is the aggregated QR cashier (一码付, docs/cashier.md): the page a
// payer's wallet opens from a static code, the order it creates, the
// wallet invocation and the result page; and the PNG images of static
// codes and dynamic QR orders.
type Cashier struct {
	Codes paygate.QRCodeStore
	// PublicURL is the base of every URL handed out (no trailing slash).
	PublicURL string
	// Key signs the pay form (CSRF), payer sessions, OAuth state and
	// dynamic QR image URLs; derived from the server secret.
	Key []byte
	// Sandbox: the payer is the sandbox_payer cookie and wallets are
	// invoked through the simulators' confirm pages.
	Sandbox bool
	// ECNYMarker is the User-Agent marker of the e-CNY app (default
	// DefaultECNYMarker).
	ECNYMarker string
	// Auth identifies payers per wallet kind outside the sandbox (OAuth);
	// a wallet without one cannot pay the cashier.
	Auth map[string]WalletAuth
	// DefaultStaticQRLimit is the static QR limit per payer per day of a
	// merchant that configures no risk rules (fen; 0: none).
	DefaultStaticQRLimit int64
	// PaysPerIP and PaysPerCode bound order creations per minute by one
	// client address and through one code (defaults 20 and 600).
	PaysPerIP, PaysPerCode int

	cache codeCache
}

// codeCache keeps what the pages read of a code for a moment, and its
// images: the page a wallet opens is read often, a code changes rarely
// (deactivation shows on pages within codeCacheTTL; paying always reads
// the database).
type codeCache struct {
	mu     sync.Mutex
	codes  map[string]cachedCode
	images map[string][]byte
}

type cachedCode struct {
	q  *paygate.QRCode
	at time.Time
}

const (
	codeCacheTTL  = 2 * time.Second
	codeCacheSize = 4096
)

func (cc *codeCache) get(code string, now time.Time) *paygate.QRCode {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	e, ok := cc.codes[code]
	if !ok || now.Sub(e.at) >= codeCacheTTL || now.Before(e.at) {
		return nil
	}
	return e.q
}

func (cc *codeCache) put(q *paygate.QRCode, now time.Time) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.codes == nil || len(cc.codes) >= codeCacheSize {
		cc.codes = map[string]cachedCode{}
	}
	cc.codes[q.Code] = cachedCode{q, now}
}

// forget drops a code, so that this process shows its change at once.
func (cc *codeCache) forget(code string) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	delete(cc.codes, code)
}

// image returns the PNG made by render for key, made once.
func (cc *codeCache) image(key string, render func() ([]byte, error)) ([]byte, error) {
	cc.mu.Lock()
	b, ok := cc.images[key]
	cc.mu.Unlock()
	if ok {
		return b, nil
	}
	b, err := render()
	if err != nil {
		return nil, err
	}
	cc.mu.Lock()
	if cc.images == nil || len(cc.images) >= codeCacheSize {
		cc.images = map[string][]byte{}
	}
	cc.images[key] = b
	cc.mu.Unlock()
	return b, nil
}

// DefaultECNYMarker is the User-Agent marker of the e-CNY app when the
// configuration names none (docs/cashier.md).
const DefaultECNYMarker = "eCNY/"

// WalletAuth identifies a payer inside a wallet: the wallet's OAuth
// (WeChat snsapi_base, Alipay auth_base, UnionPay userAuthCode).
type WalletAuth interface {
	// AuthorizeURL is where the payer's wallet is sent; the wallet comes
	// back to redirectURI with a code and state.
	AuthorizeURL(redirectURI, state string) string
	// CodeParam names the query parameter the code comes back in.
	CodeParam() string
	// PayerID exchanges a code for the payer's id in the wallet.
	PayerID(ctx context.Context, code string) (string, error)
}

const (
	sandboxPayerCookie = "sandbox_payer"
	payerCookie        = "paygate_payer"
	payerSessionTTL    = 2 * time.Hour
	formTTL            = 30 * time.Minute
	maxRemark          = 32
	cashierFormBytes   = 4 << 10
)

var (
	codePattern     = regexp.MustCompile(`^[A-Za-z0-9_-]{16,64}$`)
	unionPayUA      = regexp.MustCompile(`UnionPay/[0-9][0-9.]* \S`)
	sandboxCookieRE = regexp.MustCompile(`^[0-9a-f]{32}$`)
)

// DetectWallet names the wallet a page is opened in, from its User-Agent
// (docs/cashier.md): WeChat, Alipay, UnionPay (云闪付 and bank apps that
// carry "UnionPay/<version> <app>") or the e-CNY app (ecnyMarker); "" for
// any other browser.
func DetectWallet(ua, ecnyMarker string) string {
	switch {
	case strings.Contains(ua, "MicroMessenger"):
		return paygate.KindWeChat
	case strings.Contains(ua, "AlipayClient"):
		return paygate.KindAlipay
	case unionPayUA.MatchString(ua):
		return paygate.KindUnionPay
	case ecnyMarker != "" && strings.Contains(ua, ecnyMarker):
		return paygate.KindECNY
	}
	return ""
}

func (k *Cashier) ecnyMarker() string {
	if k.ECNYMarker == "" {
		return DefaultECNYMarker
	}
	return k.ECNYMarker
}

// ParseYuan reads an amount typed in yuan ("12", "12.3", "12.34") as fen.
func ParseYuan(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	whole, frac, dot := strings.Cut(s, ".")
	if whole == "" || len(whole) > 9 || len(frac) > 2 || (dot && frac == "") {
		return 0, false
	}
	for _, r := range whole + frac {
		if r < '0' || r > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, false
	}
	f := int64(0)
	if frac != "" {
		f, _ = strconv.ParseInt((frac + "0")[:2], 10, 64)
	}
	return n*100 + f, true
}

// FormatYuan writes fen as yuan with two decimals.
func FormatYuan(fen int64) string {
	sign := ""
	if fen < 0 {
		sign, fen = "-", -fen
	}
	return sign + strconv.FormatInt(fen/100, 10) + "." + strconv.FormatInt(fen%100/10, 10) + strconv.FormatInt(fen%10, 10)
}

// mac is the cashier's HMAC-SHA256 over the parts, hex, cut to n bytes.
func (k *Cashier) mac(n int, parts ...string) string {
	h := hmac.New(sha256.New, k.Key)
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:n])
}

func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("paygate: crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// OrderPNGURL is the unguessable image URL of a dynamic QR order's code,
// given while the order can be paid (nil otherwise).
func (k *Cashier) OrderPNGURL(o *paygate.Order, now time.Time) *string {
	if k == nil || o.Method != paygate.MethodQR || o.Status != paygate.OrderPending || o.QRCode == nil || !now.Before(o.ExpiresAt) {
		return nil
	}
	u := k.PublicURL + "/qr_png/" + o.ID + "/" + k.mac(16, "qr_png", o.ID) + ".png"
	return &u
}

// payer is who is paying, in which wallet.
type payer struct {
	wallet string
	id     string
}

// sandboxPayerID shapes the sandbox payer's id as the wallet would: an
// openid, a 2088 buyer id, a UnionPay user id, an e-CNY wallet id.
func sandboxPayerID(wallet, cookie string) string {
	sum := sha256.Sum256([]byte(wallet + "\x00" + cookie))
	switch wallet {
	case paygate.KindWeChat:
		return "o" + base64.RawURLEncoding.EncodeToString(sum[:])[:27]
	case paygate.KindAlipay:
		n := uint64(0)
		for _, b := range sum[:8] {
			n = n<<8 | uint64(b)
		}
		return "2088" + strconv.FormatUint(1e11+n%9e11, 10)
	case paygate.KindUnionPay:
		return "up" + hex.EncodeToString(sum[:15])
	}
	return "ecny" + hex.EncodeToString(sum[:12])
}

// sessionValue signs a payer's identity for the paygate_payer cookie.
func (k *Cashier) sessionValue(p payer, exp time.Time) string {
	id := base64.RawURLEncoding.EncodeToString([]byte(p.id))
	e := strconv.FormatInt(exp.Unix(), 10)
	return p.wallet + "." + id + "." + e + "." + k.mac(16, "payer", p.wallet, p.id, e)
}

func (k *Cashier) parseSession(v, wallet string, now time.Time) (payer, bool) {
	parts := strings.Split(v, ".")
	if len(parts) != 4 || parts[0] != wallet {
		return payer{}, false
	}
	id, err := base64.RawURLEncoding.DecodeString(parts[1])
	exp, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || err2 != nil || now.Unix() >= exp ||
		!hmac.Equal([]byte(parts[3]), []byte(k.mac(16, "payer", wallet, string(id), parts[2]))) {
		return payer{}, false
	}
	return payer{wallet: wallet, id: string(id)}, true
}

// formToken binds a pay form to the code, wallet, payer and a nonce for
// formTTL: the CSRF token of the form, and the nonce names the order so
// that a form sent twice pays once.
func (k *Cashier) formToken(code string, p payer, now time.Time) string {
	nonce := randomToken(12)
	e := strconv.FormatInt(now.Add(formTTL).Unix(), 10)
	return nonce + "." + e + "." + k.mac(16, "form", code, p.wallet, p.id, nonce, e)
}

// checkFormToken returns the form's nonce if the token is valid.
func (k *Cashier) checkFormToken(tok, code string, p payer, now time.Time) (string, bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || len(parts[0]) != 16 {
		return "", false
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || now.Unix() >= exp ||
		!hmac.Equal([]byte(parts[2]), []byte(k.mac(16, "form", code, p.wallet, p.id, parts[0], parts[1]))) {
		return "", false
	}
	return parts[0], true
}

// stateValue is the OAuth state: the code and wallet, signed, expiring.
func (k *Cashier) stateValue(code, wallet string, now time.Time) string {
	e := strconv.FormatInt(now.Add(10*time.Minute).Unix(), 10)
	return e + "." + k.mac(12, "state", code, wallet, e)
}

func (k *Cashier) checkState(state, code, wallet string, now time.Time) bool {
	e, m, ok := strings.Cut(state, ".")
	exp, err := strconv.ParseInt(e, 10, 64)
	return ok && err == nil && now.Unix() < exp && hmac.Equal([]byte(m), []byte(k.mac(12, "state", code, wallet, e)))
}

// errCashierLimited: too many payments from one address or through one code.
var errCashierLimited = errors.New("gateway: cashier rate limited")

// countPay checks and counts an order creation against the per-address
// and per-code limits (docs/cashier.md, "What the payer sees").
func (s *Server) countPay(c *gin.Context, codeID string) error {
	if s.deps.CashierLimiter == nil {
		return nil
	}
	k := s.deps.Cashier
	perIP, perCode := k.PaysPerIP, k.PaysPerCode
	if perIP <= 0 {
		perIP = 20
	}
	if perCode <= 0 {
		perCode = 600
	}
	ok, err := s.deps.CashierLimiter.CashierPay(c.Request.Context(), c.ClientIP(), codeID,
		paygate.CashierLimits{PerClient: perIP, PerCode: perCode})
	if err != nil {
		return paygate.Errorf(paygate.EUNAVAILABLE, "rate limit state unavailable")
	}
	if !ok {
		return errCashierLimited
	}
	return nil
}

// confirmRef is the reference a sandbox wallet confirm page takes for an
// order's credential (docs/sandbox.md): the WeChat prepay_id, the Alipay
// trade_no, the UnionPay tn, the e-CNY payment reference.
func confirmRef(o *paygate.Order) string {
	var cred map[string]any
	_ = json.Unmarshal(o.Credential, &cred)
	str := func(k string) string {
		v, _ := cred[k].(string)
		return v
	}
	if p := str("package"); strings.HasPrefix(p, "prepay_id=") {
		return strings.TrimPrefix(p, "prepay_id=")
	}
	for _, k := range []string{"prepay_id", "trade_no", "tn", "pay_ref", "reference"} {
		if v := str(k); v != "" {
			return v
		}
	}
	return o.ChannelTradeNo
}

// sandboxConfirmURL is the simulator's wallet confirm page for an order,
// returning to the result page.
func (k *Cashier) sandboxConfirmURL(o *paygate.Order, resultURL string) string {
	return k.PublicURL + "/sandbox/" + o.Channel + "/confirm?ref=" + url.QueryEscape(confirmRef(o)) +
		"&return_url=" + url.QueryEscape(resultURL)
}

// cashierOrderNo names a cashier order after its form's nonce, so that a
// form sent twice finds the first order.
func (k *Cashier) cashierOrderNo(codeID, nonce string) string {
	return "SQR" + k.mac(14, "order", codeID, nonce)
}

// resultMAC binds a result page to the payer who made the order.
func (k *Cashier) resultMAC(code, orderID string, p payer) string {
	return k.mac(16, "result", code, orderID, p.wallet, p.id)
}

// resultPath is the path of an order's result page for its payer.
func (k *Cashier) resultPath(code, orderID string, p payer) string {
	return "/qr/" + code + "/result?order=" + url.QueryEscape(orderID) + "&t=" + k.resultMAC(code, orderID, p)
}
