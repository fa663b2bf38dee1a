package wechat

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"strings"
	"time"

	"github.com/go-pay/gopay"
	v3 "github.com/go-pay/gopay/wechat/v3"

	"github.com/paygate-cn/paygate"
)

// beijing is the time zone of WeChat's bill days.
var beijing = time.FixedZone("CST", 8*3600)

// DownloadBill fetches the trade bill (bill_type ALL) of a day, Beijing
// time, in WeChat's CSV format, and checks its SHA1 digest.
func (c *Client) DownloadBill(ctx context.Context, day time.Time) ([]byte, error) {
	ctx, cancel := c.callCtx(ctx)
	defer cancel()
	rsp, err := c.wx.V3BillTradeBill(ctx, gopay.BodyMap{
		"bill_date": day.In(beijing).Format(time.DateOnly),
		"bill_type": "ALL",
	})
	if err != nil {
		return nil, c.transportError(ctx, "bill", err)
	}
	if rsp.Code != v3.Success {
		if rsp.ErrResponse.Code == "NO_STATEMENT_EXIST" && c.signedAnswer(rsp.SignInfo) {
			return nil, paygate.Errorf(paygate.ENOTFOUND, "wechat has no bill for %s", day.In(beijing).Format(time.DateOnly))
		}
		return nil, c.errorAnswer("bill", rsp.Code, rsp.ErrResponse, rsp.SignInfo)
	}
	file, err := c.wx.V3BillDownLoadBill(ctx, rsp.Response.DownloadUrl)
	if err != nil {
		return nil, c.transportError(ctx, "bill", err)
	}
	if !strings.EqualFold(rsp.Response.HashType, "SHA1") {
		return nil, &paygate.ChannelError{Provider: c.id, Op: "bill", Message: "unsupported hash_type " + rsp.Response.HashType}
	}
	sum := sha1.Sum(file)
	if !strings.EqualFold(hex.EncodeToString(sum[:]), rsp.Response.HashValue) {
		return nil, &paygate.ChannelError{Provider: c.id, Op: "bill", Message: "bill file digest mismatch"}
	}
	return file, nil
}
