package wechat

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-pay/gopay"
	v3 "github.com/go-pay/gopay/wechat/v3"

	"github.com/paygate-cn/paygate"
)

// beijing is the time zone of WeChat's bill days.
var beijing = time.FixedZone("CST", 8*3600)

// BillTimeout bounds a bill download: download_url lives 5 minutes.
const BillTimeout = 5 * time.Minute

// FetchBill streams the trade bill (bill_type ALL, tar_type GZIP) of a day,
// Beijing time, to w, gunzipped, in WeChat's CSV format. It asks
// /v3/bill/tradebill for the download_url and hash, then GETs the file with
// a signed request (the answer itself is unsigned) and checks the SHA1 of
// the gunzipped bill against hash_value (docs/reconciliation.md).
func (c *Client) FetchBill(ctx context.Context, day time.Time, w io.Writer) (*paygate.BillInfo, error) {
	date := day.In(beijing).Format(time.DateOnly)
	qctx, cancel := c.callCtx(ctx)
	rsp, err := c.wx.V3BillTradeBill(qctx, gopay.BodyMap{"bill_date": date, "bill_type": "ALL", "tar_type": "GZIP"})
	cancel()
	if err != nil {
		return nil, c.transportError(qctx, "bill", err)
	}
	if rsp.Code != v3.Success {
		ce := c.errorAnswer("bill", rsp.Code, rsp.ErrResponse, rsp.SignInfo)
		if c.signedAnswer(rsp.SignInfo) {
			switch rsp.ErrResponse.Code {
			case "NO_STATEMENT_EXIST":
				ce.Err = paygate.ErrNoBill
			case "STATEMENT_CREATING":
				ce.Err = paygate.ErrBillNotReady
			}
		}
		return nil, ce
	}
	if !strings.EqualFold(rsp.Response.HashType, "SHA1") {
		return nil, &paygate.ChannelError{Provider: c.id, Op: "bill", Message: "unsupported hash_type " + rsp.Response.HashType}
	}
	u, err := url.Parse(rsp.Response.DownloadUrl)
	if err != nil || u.Path == "" {
		return nil, &paygate.ChannelError{Provider: c.id, Op: "bill", Message: "bad download_url"}
	}
	// WeChat answers its own host; the file is fetched from the endpoint
	// this client is configured with, as every other call.
	uri := u.RequestURI()
	dctx, cancel := context.WithTimeout(ctx, BillTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(dctx, http.MethodGet, strings.TrimRight(c.wx.GetProxyHost(), "/")+uri, nil)
	if err != nil {
		return nil, &paygate.ChannelError{Provider: c.id, Op: "bill", Message: "bad download_url", Err: err}
	}
	auth, err := c.authorization(http.MethodGet, uri)
	if err != nil {
		return nil, &paygate.ChannelError{Provider: c.id, Op: "bill", Message: "cannot sign the download", Err: err}
	}
	req.Header.Set("Authorization", auth)
	req.Header.Set("Accept", "application/json")
	resp, err := c.billHTTP.Do(req)
	if err != nil {
		return nil, c.transportError(dctx, "bill", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, &paygate.ChannelError{Provider: c.id, Op: "bill", Code: strconv.Itoa(resp.StatusCode), Message: "bill download failed"}
	}
	gz, err := gzip.NewReader(resp.Body)
	if err != nil {
		return nil, &paygate.ChannelError{Provider: c.id, Op: "bill", Message: "the bill is not gzip", Err: err}
	}
	sum := sha1.New()
	if _, err := io.Copy(io.MultiWriter(w, sum), gz); err != nil {
		if dctx.Err() != nil {
			return nil, c.transportError(dctx, "bill", err)
		}
		return nil, &paygate.ChannelError{Provider: c.id, Op: "bill", Message: "bill download broken off", Err: err}
	}
	got := hex.EncodeToString(sum.Sum(nil))
	if !strings.EqualFold(got, rsp.Response.HashValue) {
		return nil, &paygate.ChannelError{Provider: c.id, Op: "bill", Err: paygate.ErrBillDigest,
			Message: fmt.Sprintf("bill SHA1 %s, hash_value %s", got, rsp.Response.HashValue)}
	}
	return &paygate.BillInfo{Account: c.mchid, Name: "tradebill_" + date + ".csv", Digest: got}, nil
}

// DownloadBill returns the day's trade bill in memory (small bills and
// tests; reconciliation streams with FetchBill). A day without trades is
// ENOTFOUND.
func (c *Client) DownloadBill(ctx context.Context, day time.Time) ([]byte, error) {
	var b bytes.Buffer
	if _, err := c.FetchBill(ctx, day, &b); err != nil {
		if errors.Is(err, paygate.ErrNoBill) {
			return nil, paygate.Errorf(paygate.ENOTFOUND, "wechat has no bill for %s", day.In(beijing).Format(time.DateOnly))
		}
		return nil, err
	}
	return b.Bytes(), nil
}

// authorization signs a request as WeChat Pay API v3 wants it
// (WECHATPAY2-SHA256-RSA2048 over "METHOD\nURI\ntimestamp\nnonce\nbody\n").
func (c *Client) authorization(method, uri string) (string, error) {
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	n := hex.EncodeToString(nonce)
	ts := strconv.FormatInt(c.now().Unix(), 10)
	digest := sha256.Sum256([]byte(method + "\n" + uri + "\n" + ts + "\n" + n + "\n\n"))
	sig, err := rsa.SignPKCS1v15(rand.Reader, c.key, crypto.SHA256, digest[:])
	if err != nil {
		return "", err
	}
	return `WECHATPAY2-SHA256-RSA2048 mchid="` + c.mchid + `",nonce_str="` + n + `",timestamp="` + ts +
		`",serial_no="` + c.serial + `",signature="` + base64.StdEncoding.EncodeToString(sig) + `"`, nil
}

// BillAccount is the merchant account the bills are for: the mchid.
func (c *Client) BillAccount() string { return c.mchid }
