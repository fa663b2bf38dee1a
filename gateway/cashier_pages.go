package gateway

import (
	"bytes"
	"context"
	"crypto/hmac"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/payments"
	qrcode "github.com/skip2/go-qrcode"
)

//go:embed cashier/pages.html
var cashierFS embed.FS

var cashierPages = template.Must(template.ParseFS(cashierFS, "cashier/pages.html"))

// Wallet names as payers know them.
var walletNames = map[string]string{
	paygate.KindWeChat:   "微信",
	paygate.KindAlipay:   "支付宝",
	paygate.KindUnionPay: "云闪付",
	paygate.KindECNY:     "数字人民币",
}

// statusTexts are the result page's words for an order status.
var statusTexts = map[string]string{
	string(paygate.OrderPending):           "等待付款",
	string(paygate.OrderSucceeded):         "支付成功",
	string(paygate.OrderFailed):            "支付失败",
	string(paygate.OrderClosed):            "订单已关闭",
	string(paygate.OrderReversed):          "订单已撤销",
	string(paygate.OrderPartiallyRefunded): "支付成功（部分退款）",
	string(paygate.OrderRefunded):          "已退款",
	string(paygate.OrderAuthorized):        "等待付款",
}

// cashierRoutes mounts the cashier: the payer's pages under /qr/{code}
// and the dynamic QR images (docs/cashier.md).
func (s *Server) cashierRoutes(e *gin.Engine) {
	e.GET("/qr/:code", s.cashierPage)
	e.GET("/qr/:code/code.png", s.cashierCodePNG)
	e.GET("/qr/:code/oauth", s.cashierOAuth)
	e.POST("/qr/:code/pay", s.cashierPay)
	e.GET("/qr/:code/result", s.cashierResult)
	e.GET("/qr/:code/status", s.cashierStatus)
	e.GET("/qr_png/:order/:file", s.orderPNG)
}

// page renders a cashier page: small, self-contained, never cached,
// loading nothing from elsewhere.
func (s *Server) page(c *gin.Context, status int, name string, data map[string]any) {
	if _, ok := data["Title"]; !ok {
		data["Title"] = "收银台"
	}
	if _, ok := data["Wallet"]; !ok {
		data["Wallet"] = ""
	}
	var b bytes.Buffer
	if err := cashierPages.ExecuteTemplate(&b, name, data); err != nil {
		s.log.Error("cashier page", "page", name, "err", err)
		c.String(http.StatusInternalServerError, "internal error")
		return
	}
	h := c.Writer.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; "+
		"script-src 'unsafe-inline'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	c.Data(status, "text/html; charset=utf-8", b.Bytes())
}

func (s *Server) gonePage(c *gin.Context, status int, msg, hint string) {
	s.page(c, status, "gone", map[string]any{"Message": msg, "Hint": hint})
}

// loadCode reads the code of the path; it answers the page itself when the
// code is unknown (404) or, unless inactiveOK, deactivated (410).
func (s *Server) loadCode(c *gin.Context, inactiveOK bool) (*paygate.QRCode, bool) {
	code := c.Param("code")
	if !codePattern.MatchString(code) {
		s.gonePage(c, http.StatusNotFound, "收款码不存在", "请确认扫描的是商户的收款码。")
		return nil, false
	}
	k := s.deps.Cashier
	// Pages may show a code read a moment ago; paying reads it afresh.
	cached := c.Request.Method == http.MethodGet
	q := (*paygate.QRCode)(nil)
	if cached {
		q = k.cache.get(code, s.now())
	}
	var err error
	if q == nil {
		q, err = k.Codes.QRCodeByCode(c.Request.Context(), code)
		if err == nil && cached {
			k.cache.put(q, s.now())
		}
	}
	if paygate.ErrorCode(err) == paygate.ENOTFOUND {
		s.gonePage(c, http.StatusNotFound, "收款码不存在", "请确认扫描的是商户的收款码。")
		return nil, false
	}
	if err != nil {
		s.log.Error("cashier: read code", "err", err)
		s.gonePage(c, http.StatusServiceUnavailable, "服务暂不可用", "请稍后再试。")
		return nil, false
	}
	if !q.Active && !inactiveOK {
		s.gonePage(c, http.StatusGone, "此收款码已停用", "商户已停用此收款码，请联系商户。")
		return nil, false
	}
	return q, true
}

// identify returns the payer in the wallet the page is open in. In the
// sandbox the payer is the sandbox_payer cookie (set on first visit);
// otherwise the signed session from the wallet's OAuth. ok=false: no
// payer known yet.
func (s *Server) identify(c *gin.Context, wallet string, create bool) (payer, bool) {
	k := s.deps.Cashier
	if k.Sandbox {
		v, err := c.Cookie(sandboxPayerCookie)
		if err != nil || !sandboxCookieRE.MatchString(v) {
			if !create {
				return payer{}, false
			}
			v = hexToken(16)
			http.SetCookie(c.Writer, &http.Cookie{Name: sandboxPayerCookie, Value: v, Path: "/",
				MaxAge: 365 * 24 * 3600, HttpOnly: true, SameSite: http.SameSiteLaxMode})
		}
		return payer{wallet: wallet, id: sandboxPayerID(wallet, v)}, true
	}
	v, err := c.Cookie(payerCookie)
	if err != nil {
		return payer{}, false
	}
	return k.parseSession(v, wallet, s.now())
}

func hexToken(n int) string {
	b, _ := base64.RawURLEncoding.DecodeString(randomToken(n))
	return hex.EncodeToString(b)
}

// codePNGDataURL is the code's image inline, for the page shown in other
// browsers.
func (k *Cashier) codePNGDataURL(q *paygate.QRCode) template.URL {
	png, err := k.cache.image("page:"+q.Code, func() ([]byte, error) {
		return qrcode.Encode(k.PublicURL+"/qr/"+q.Code, qrcode.Medium, 220)
	})
	if err != nil {
		return ""
	}
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png))
}

func (s *Server) cashierPage(c *gin.Context) {
	q, ok := s.loadCode(c, false)
	if !ok {
		return
	}
	k := s.deps.Cashier
	wallet := DetectWallet(c.GetHeader("User-Agent"), k.ecnyMarker())
	if wallet == "" {
		s.page(c, http.StatusOK, "other", map[string]any{"StoreName": q.StoreName,
			"Message": "请使用手机上的支付 App 扫码付款", "PNG": k.codePNGDataURL(q)})
		return
	}
	p, ok := s.identify(c, wallet, true)
	if !ok {
		auth := k.Auth[wallet]
		if auth == nil {
			s.page(c, http.StatusOK, "other", map[string]any{"StoreName": q.StoreName,
				"Message": walletNames[wallet] + "暂不能支付此收款码，请换用其他 App", "PNG": k.codePNGDataURL(q)})
			return
		}
		redirect := k.PublicURL + "/qr/" + q.Code + "/oauth"
		c.Redirect(http.StatusFound, auth.AuthorizeURL(redirect, k.stateValue(q.Code, wallet, s.now())))
		return
	}
	s.payPage(c, http.StatusOK, q, p, "", "", "")
}

// payPage renders the payer page, with a fresh form token.
func (s *Server) payPage(c *gin.Context, status int, q *paygate.QRCode, p payer, amount, remark, errText string) {
	k := s.deps.Cashier
	data := map[string]any{
		"Title": q.StoreName, "StoreName": q.StoreName, "Description": q.Description, "Wallet": p.wallet,
		"WalletName": walletNames[p.wallet], "Action": "/qr/" + q.Code + "/pay",
		"FormToken": k.formToken(q.Code, p, s.now()), "Amount": amount, "Remark": remark,
		"MaxRemark": maxRemark, "Error": errText, "Fixed": "",
	}
	if q.Amount != nil {
		data["Fixed"] = FormatYuan(*q.Amount)
	}
	s.page(c, status, "pay", data)
}

// cashierOAuth finishes a wallet's OAuth: the code becomes the payer's
// id, kept in a signed session cookie, and the payer goes back to the page.
func (s *Server) cashierOAuth(c *gin.Context) {
	q, ok := s.loadCode(c, false)
	if !ok {
		return
	}
	k := s.deps.Cashier
	wallet := DetectWallet(c.GetHeader("User-Agent"), k.ecnyMarker())
	auth := k.Auth[wallet]
	if wallet == "" || auth == nil || k.Sandbox {
		c.Redirect(http.StatusFound, "/qr/"+q.Code)
		return
	}
	code := c.Query(auth.CodeParam())
	if code == "" || len(code) > 512 || !k.checkState(c.Query("state"), q.Code, wallet, s.now()) {
		s.gonePage(c, http.StatusBadRequest, "授权未完成", "请重新扫码。")
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 10*time.Second)
	defer cancel()
	id, err := auth.PayerID(ctx, code)
	if err != nil || id == "" || len(id) > 128 {
		s.log.Warn("cashier: wallet authorisation failed", "wallet", wallet, "err", err)
		s.gonePage(c, http.StatusBadGateway, "授权失败", "请重新扫码。")
		return
	}
	secure := strings.HasPrefix(k.PublicURL, "https://")
	http.SetCookie(c.Writer, &http.Cookie{Name: payerCookie, Value: k.sessionValue(payer{wallet, id}, s.now().Add(payerSessionTTL)),
		Path: "/qr/", MaxAge: int(payerSessionTTL.Seconds()), HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode})
	c.Redirect(http.StatusFound, "/qr/"+q.Code)
}

// cashierPay creates the order of a pay form: a jsapi payment in the
// payer's wallet, marked as a static-QR payment; then the result page
// invokes the wallet.
func (s *Server) cashierPay(c *gin.Context) {
	q, ok := s.loadCode(c, false)
	if !ok {
		return
	}
	k := s.deps.Cashier
	wallet := DetectWallet(c.GetHeader("User-Agent"), k.ecnyMarker())
	p, ok := s.identify(c, wallet, false)
	if wallet == "" || !ok {
		s.gonePage(c, http.StatusForbidden, "请在支付 App 中打开收款码", "请重新扫码。")
		return
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, cashierFormBytes)
	if err := c.Request.ParseForm(); err != nil {
		s.gonePage(c, http.StatusBadRequest, "请求无效", "请重新扫码。")
		return
	}
	form := c.Request.PostForm
	for name, vs := range form {
		if (name != "amount" && name != "remark" && name != "form_token") || len(vs) != 1 {
			s.gonePage(c, http.StatusBadRequest, "请求无效", "请重新扫码。")
			return
		}
	}
	nonce, ok := k.checkFormToken(form.Get("form_token"), q.Code, p, s.now())
	if !ok {
		s.gonePage(c, http.StatusForbidden, "页面已过期", "请重新扫码付款。")
		return
	}
	amountText, remark := strings.TrimSpace(form.Get("amount")), strings.TrimSpace(form.Get("remark"))
	if len(amountText) > 16 {
		amountText = amountText[:16]
	}
	fail := func(status int, msg string) {
		if checkText("remark", remark, maxRemark) != nil {
			remark = ""
		}
		s.payPage(c, status, q, p, amountText, remark, msg)
	}
	if err := checkText("remark", remark, maxRemark); err != nil {
		fail(http.StatusBadRequest, "备注最多 32 个字，且不能含特殊控制字符")
		return
	}
	m, err := s.deps.Directory.Merchant(c.Request.Context(), q.MerchantID)
	if err != nil {
		fail(http.StatusServiceUnavailable, "商户暂不可收款，请稍后再试")
		return
	}
	amount, ok := ParseYuan(amountText)
	if q.Amount != nil {
		amount, ok = *q.Amount, true
	}
	switch {
	case !ok || amount <= 0:
		fail(http.StatusBadRequest, "请输入正确的金额，例如 12.34")
		return
	case amount > m.Limit():
		fail(http.StatusUnprocessableEntity, "金额超过单笔上限 "+FormatYuan(m.Limit())+" 元")
		return
	}
	orderNo := k.cashierOrderNo(q.ID, nonce)
	if o, err := s.deps.Orders.OrderByMerchantNo(c.Request.Context(), m.ID, orderNo); err == nil {
		// The same form sent again: show the first order.
		c.Redirect(http.StatusSeeOther, k.resultPath(q.Code, o.ID, p)+"&pay=1")
		return
	}
	if err := s.countPay(c, q.ID); err != nil {
		if err == errCashierLimited {
			fail(http.StatusTooManyRequests, "操作过于频繁，请稍后再试")
		} else {
			fail(http.StatusServiceUnavailable, "服务暂不可用，请稍后再试")
		}
		return
	}
	in := &OrderRequest{
		MerchantOrderNo: orderNo, Amount: &amount, Subject: q.StoreName,
		Method: string(paygate.MethodJSAPI), Channel: &wallet, TerminalID: q.TerminalID, PayerID: p.id,
		ClientIP: c.ClientIP(), start: payments.StartRequest{Source: paygate.SourceStaticQR, QRCodeID: q.ID},
	}
	if remark != "" {
		in.Metadata = map[string]string{"remark": remark}
	}
	if err := in.validate(m, s.deps.AuthCodes, false); err != nil {
		fail(StatusOf(paygate.ErrorCode(err)), "无法创建订单："+paygate.ErrorMessage(err))
		return
	}
	o, err := s.deps.Payments.Start(c.Request.Context(), m, &in.start)
	if paygate.ErrorCode(err) == paygate.EDUPORDERNO {
		// Sent twice at once: show the first order.
		o, err = s.deps.Orders.OrderByMerchantNo(c.Request.Context(), m.ID, in.MerchantOrderNo)
	}
	if err != nil {
		fail(StatusOf(paygate.ErrorCode(err)), declineText(err, k.staticQRLimit(m)))
		return
	}
	s.metrics.Order(o.Provider, o.Method)
	c.Redirect(http.StatusSeeOther, k.resultPath(q.Code, o.ID, p)+"&pay=1")
}

// declineText tells the payer why no order was made.
func declineText(err error, staticLimit int64) string {
	var rd *paygate.RiskDeclined
	if errors.As(err, &rd) {
		switch rd.Rule {
		case "static_qr_payer_daily":
			return "超出收款码限额：根据人民银行规定，同一付款人通过静态收款码每日累计付款不超过 " +
				FormatYuan(staticLimit) + " 元，请改用商家出示的动态收款码或其他方式付款"
		case "per_payer_daily":
			return "超出今日付款限额，请明天再试"
		case "split_payment":
			return "付款被风控拦截：短时间内多笔相近金额付款"
		}
		return "付款被风控拒绝"
	}
	switch paygate.ErrorCode(err) {
	case paygate.ENOROUTE, paygate.ECHANNELUNAVAILABLE, paygate.EUNSUPPORTED:
		return "此钱包暂不能支付该商户，请换用其他 App"
	case paygate.EAMOUNTTOOLARGE:
		return "金额超过上限"
	case paygate.ECHANNEL, paygate.ECHANNELTIMEOUT, paygate.EUNAVAILABLE, paygate.EINTERNAL:
		return "支付渠道暂不可用，请稍后再试"
	}
	return "无法创建订单：" + paygate.ErrorMessage(err)
}

// cashierOrder reads the order of the result page: it must have been made
// through this code by this payer (the page's t is the payer's MAC of the
// order: the channel may later report the payer's id in another form),
// else it is not found.
func (s *Server) cashierOrder(c *gin.Context, q *paygate.QRCode) (*paygate.Order, payer, bool) {
	k := s.deps.Cashier
	wallet := DetectWallet(c.GetHeader("User-Agent"), k.ecnyMarker())
	p, ok := s.identify(c, wallet, false)
	id := c.Query("order")
	if wallet == "" || !ok || !strings.HasPrefix(id, paygate.PrefixOrder) || len(id) > 64 {
		return nil, p, false
	}
	if !hmac.Equal([]byte(c.Query("t")), []byte(k.resultMAC(q.Code, id, p))) {
		return nil, p, false
	}
	o, err := s.deps.Orders.MerchantOrder(c.Request.Context(), q.MerchantID, id)
	if err != nil || o.QRCodeID != q.ID || o.Channel != wallet {
		return nil, p, false
	}
	return o, p, true
}

func (s *Server) cashierResult(c *gin.Context) {
	q, ok := s.loadCode(c, true)
	if !ok {
		return
	}
	o, p, ok := s.cashierOrder(c, q)
	if !ok {
		s.gonePage(c, http.StatusNotFound, "订单不存在", "请重新扫码付款。")
		return
	}
	k := s.deps.Cashier
	resultURL := k.PublicURL + k.resultPath(q.Code, o.ID, p)
	invoke := c.Query("pay") == "1" && o.Status == paygate.OrderPending
	confirm := ""
	if invoke && k.Sandbox {
		confirm = k.sandboxConfirmURL(o, resultURL)
	}
	var cred map[string]any
	if invoke {
		_ = json.Unmarshal(o.Credential, &cred)
	}
	hint := ""
	if o.Status == paygate.OrderPending {
		hint = "请在" + walletNames[p.wallet] + "中完成付款，本页会自动更新"
	}
	s.page(c, http.StatusOK, "result", map[string]any{
		"Title": q.StoreName, "StoreName": q.StoreName, "Wallet": p.wallet, "Status": string(o.Status),
		"StatusText": statusTexts[string(o.Status)], "AmountText": FormatYuan(o.Amount), "Remark": o.Metadata["remark"],
		"Hint": hint, "ConfirmURL": confirm, "BackURL": "/qr/" + q.Code, "ResultURL": resultURL,
		"StatusURL": "/qr/" + q.Code + "/status?order=" + url.QueryEscape(o.ID) + "&t=" + k.resultMAC(q.Code, o.ID, p), "Texts": statusTexts,
		"Invoke": invoke, "Credential": cred,
	})
}

// cashierStatus answers the result page's poll: the order's status.
func (s *Server) cashierStatus(c *gin.Context) {
	q, ok := s.loadCode(c, true)
	if !ok {
		return
	}
	o, _, ok := s.cashierOrder(c, q)
	c.Header("Cache-Control", "no-store")
	if !ok {
		c.JSON(http.StatusNotFound, gin.H{"status": nil})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": o.Status, "amount": o.Amount})
}

// cashierCodePNG serves a static code's printable image.
func (s *Server) cashierCodePNG(c *gin.Context) {
	q, ok := s.loadCode(c, false)
	if !ok {
		return
	}
	k := s.deps.Cashier
	png, err := k.cache.image("print:"+q.Code, func() ([]byte, error) {
		return qrcode.Encode(k.PublicURL+"/qr/"+q.Code, qrcode.Highest, 512)
	})
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.Header("Cache-Control", "private, max-age=3600")
	c.Data(http.StatusOK, "image/png", png)
}

// orderPNG serves a dynamic QR order's code as an image while the order can
// be paid; its URL is unguessable (OrderPNGURL), so it needs no signature.
func (s *Server) orderPNG(c *gin.Context) {
	k := s.deps.Cashier
	id, file := c.Param("order"), c.Param("file")
	notFound := func() { c.String(http.StatusNotFound, "not found") }
	if !strings.HasPrefix(id, paygate.PrefixOrder) || len(id) > 64 || !strings.HasSuffix(file, ".png") {
		notFound()
		return
	}
	o, err := s.deps.Orders.OrderByID(c.Request.Context(), id)
	if err != nil {
		if paygate.ErrorCode(err) != paygate.ENOTFOUND {
			c.String(http.StatusServiceUnavailable, "unavailable")
			return
		}
		notFound()
		return
	}
	u := k.OrderPNGURL(o, s.now())
	if u == nil || !strings.HasSuffix(*u, "/"+file) {
		notFound()
		return
	}
	png, err := qrcode.Encode(*o.QRCode, qrcode.Medium, 320)
	if err != nil {
		notFound()
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Data(http.StatusOK, "image/png", png)
}
