package sandbox

import (
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// ConfirmInfo is what a wallet confirm page shows about a payment.
type ConfirmInfo struct {
	Subject string
	Amount  int64 // fen
	// ReturnURL, when not empty, is a return address the merchant signed
	// into its request (Alipay's return_url, UnionPay's frontUrl): it is
	// accepted as a redirect target whatever its origin.
	ReturnURL string
}

// ErrUnknownRef is what a Wallet answers for a reference it never issued.
var ErrUnknownRef = errors.New("unknown payment reference")

// Wallet is a simulator's side of its confirm page: the payments it can
// confirm, by the reference its credential carries.
type Wallet interface {
	// ConfirmInfo describes the payment ref; ErrUnknownRef when there is
	// none, another error (shown to the payer) when it cannot be paid.
	ConfirmInfo(ref string) (ConfirmInfo, error)
	// ConfirmPay pays ref as the payer's wallet would: the channel then
	// sends its callback exactly as it does for any payment.
	ConfirmPay(ref string) error
}

// LockedWallet makes a Wallet of a simulator's lookup: Find, called with
// Mu held, describes the payment ref and returns the function that pays it
// (called with Mu still held).
type LockedWallet struct {
	Mu   sync.Locker
	Find func(ref string) (ConfirmInfo, func(), error)
}

// ConfirmInfo implements Wallet.
func (w LockedWallet) ConfirmInfo(ref string) (ConfirmInfo, error) {
	w.Mu.Lock()
	defer w.Mu.Unlock()
	info, _, err := w.Find(ref)
	return info, err
}

// ConfirmPay implements Wallet.
func (w LockedWallet) ConfirmPay(ref string) error {
	w.Mu.Lock()
	defer w.Mu.Unlock()
	_, pay, err := w.Find(ref)
	if err != nil {
		return err
	}
	pay()
	return nil
}

// ConfirmPage serves a simulated wallet's confirm page (docs/sandbox.md):
//
//	GET  ?ref=<ref>&return_url=<url>   the page: amount, button#confirm, button#cancel
//	POST ref, return_url, action       confirm pays, cancel does not; both
//	                                   answer 303 to return_url (or a small
//	                                   result page when there is none)
//
// Redirects go only to http(s) URLs that AllowReturn accepts or that the
// merchant signed into its request (ConfirmInfo.ReturnURL).
type ConfirmPage struct {
	Wallet Wallet
	Title  string // the wallet's name on the page, e.g. "微信支付"
	// AllowReturn decides whether a return_url may be redirected to;
	// nil means LoopbackOrOrigins().
	AllowReturn func(*url.URL) bool
	// Action is where the page's form posts, relative to the page;
	// default "confirm" (pages served at the simulator's root).
	Action string
}

// LoopbackOrOrigins accepts http(s) URLs on a loopback host or on one of
// origins (scheme://host[:port]), the rule for a sandbox's return URLs.
func LoopbackOrOrigins(origins ...string) func(*url.URL) bool {
	allowed := map[string]bool{}
	for _, o := range origins {
		if u, err := url.Parse(o); err == nil && u.Host != "" {
			allowed[strings.ToLower(u.Scheme+"://"+u.Host)] = true
		}
	}
	return func(u *url.URL) bool {
		if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.User != nil {
			return false
		}
		if allowed[strings.ToLower(u.Scheme+"://"+u.Host)] {
			return true
		}
		host := u.Hostname()
		if strings.EqualFold(host, "localhost") {
			return true
		}
		ip := net.ParseIP(host)
		return ip != nil && ip.IsLoopback()
	}
}

// Origin is scheme://host of a URL ("" when it has none).
func Origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

func (p *ConfirmPage) allowed(raw string, info ConfirmInfo) (string, bool) {
	if raw == "" {
		return "", true
	}
	u, err := url.Parse(raw)
	if err != nil || len(raw) > 2048 {
		return "", false
	}
	if info.ReturnURL != "" && raw == info.ReturnURL && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
		return raw, true
	}
	allow := p.AllowReturn
	if allow == nil {
		allow = LoopbackOrOrigins()
	}
	if !allow(u) {
		return "", false
	}
	return u.String(), true
}

// ServeHTTP serves the page (GET) and the payer's choice (POST).
func (p *ConfirmPage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		q := r.URL.Query()
		ret := q.Get("return_url")
		if ret == "" {
			ret = q.Get("redirect_url") // WeChat h5's name for it
		}
		p.Render(w, q.Get("ref"), ret)
	case http.MethodPost:
		r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
		if err := r.ParseForm(); err != nil {
			p.page(w, http.StatusBadRequest, "请求无效", "", "")
			return
		}
		p.Decide(w, r, r.PostForm.Get("ref"), r.PostForm.Get("return_url"), r.PostForm.Get("action"))
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// Render writes the confirm page of ref (also used by cashiers that make
// the payment first, such as Alipay's page pay).
func (p *ConfirmPage) Render(w http.ResponseWriter, ref, returnURL string) {
	info, err := p.Wallet.ConfirmInfo(ref)
	switch {
	case errors.Is(err, ErrUnknownRef):
		p.page(w, http.StatusNotFound, "订单不存在", "", "")
		return
	case err != nil:
		p.page(w, http.StatusConflict, "无法支付："+err.Error(), "", "")
		return
	}
	ret, ok := p.allowed(returnURL, info)
	if !ok {
		p.page(w, http.StatusBadRequest, "return_url 无效：仅允许本网关或本机地址", "", "")
		return
	}
	action := p.Action
	if action == "" {
		action = "confirm"
	}
	body := fmt.Sprintf(`<p class=s>%s</p><p class=a id=amount data-amount="%d">¥%s</p>`+
		`<form method=post action="%s"><input type=hidden name=ref value="%s"><input type=hidden name=return_url value="%s">`+
		`<button id=confirm name=action value=confirm>确认支付</button><button id=cancel name=action value=cancel class=c>取消</button></form>`,
		html.EscapeString(info.Subject), info.Amount, Yuan(info.Amount), html.EscapeString(action), html.EscapeString(ref), html.EscapeString(ret))
	p.page(w, http.StatusOK, "", body, "")
}

// Decide applies the payer's choice and redirects.
func (p *ConfirmPage) Decide(w http.ResponseWriter, r *http.Request, ref, returnURL, action string) {
	info, err := p.Wallet.ConfirmInfo(ref)
	if errors.Is(err, ErrUnknownRef) {
		p.page(w, http.StatusNotFound, "订单不存在", "", "")
		return
	}
	ret, ok := p.allowed(returnURL, info)
	if !ok {
		p.page(w, http.StatusBadRequest, "return_url 无效：仅允许本网关或本机地址", "", "")
		return
	}
	status := "cancelled"
	switch action {
	case "confirm":
		if err != nil {
			p.page(w, http.StatusConflict, "无法支付："+err.Error(), "", "failed")
			return
		}
		if err := p.Wallet.ConfirmPay(ref); err != nil {
			p.page(w, http.StatusConflict, "支付失败："+err.Error(), "", "failed")
			return
		}
		status = "paid"
	case "cancel":
	default:
		p.page(w, http.StatusBadRequest, "action 无效", "", "")
		return
	}
	if ret != "" {
		http.Redirect(w, r, ret, http.StatusSeeOther)
		return
	}
	msg := "已取消支付"
	if status == "paid" {
		msg = "支付成功"
	}
	p.page(w, http.StatusOK, "", "<p class=s>"+msg+"</p>", status)
}

// page writes the small self-contained HTML page.
func (p *ConfirmPage) page(w http.ResponseWriter, code int, errMsg, body, status string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action *")
	w.WriteHeader(code)
	if errMsg != "" {
		body = `<p class=e id=error>` + html.EscapeString(errMsg) + `</p>`
	}
	attr := ""
	if status != "" {
		attr = ` id=result data-status="` + status + `"`
	}
	fmt.Fprintf(w, `<!doctype html><html lang=zh-CN><head><meta charset=utf-8>`+
		`<meta name=viewport content="width=device-width,initial-scale=1"><title>%s · 沙箱</title><style>`+
		`body{font-family:sans-serif;max-width:26em;margin:2em auto;padding:0 1em;text-align:center}`+
		`.a{font-size:2.2em;margin:.4em 0}.s{color:#555}.e{color:#c00}`+
		`button{display:block;width:100%%;padding:.8em;margin:.6em 0;font-size:1.1em;border:0;border-radius:.4em;background:#1a7f37;color:#fff}`+
		`button.c{background:#ddd;color:#333}</style></head><body><h1>%s</h1><p class=s>沙箱模拟钱包，不会产生真实扣款</p><main%s>%s</main></body></html>`,
		html.EscapeString(p.Title), html.EscapeString(p.Title), attr, body)
}

// Yuan formats fen as yuan with two decimals.
func Yuan(fen int64) string {
	sign := ""
	if fen < 0 {
		sign, fen = "-", -fen
	}
	return fmt.Sprintf("%s%d.%02d", sign, fen/100, fen%100)
}
