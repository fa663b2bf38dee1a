package alipay

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/go-pay/gopay"
	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/paygate-cn/paygate"
)

// MaxBillBytes bounds a downloaded bill and each file inside it.
const MaxBillBytes = 64 << 20

// BillTimeout bounds the download of a bill file once its URL is known.
const BillTimeout = 5 * time.Minute

// FetchBill streams the day's trade bill to w: alipay.data.dataservice.bill.
// downloadurl.query (bill_type trade) for a URL that lives 30 seconds, then
// the {pid}0156_{yyyyMMdd}.csv.zip behind it, as it is. The bill is the
// calendar date of day in China time. Alipay's isp.bill_not_exist is
// paygate.ErrNoBill (docs/reconciliation.md).
func (c *Client) FetchBill(ctx context.Context, day time.Time, w io.Writer) (*paygate.BillInfo, error) {
	date := day.In(cst).Format("2006-01-02")
	biz := make(gopay.BodyMap)
	biz.Set("bill_type", "trade").Set("bill_date", date)
	raw, st, err := c.call(ctx, "bill", "alipay.data.dataservice.bill.downloadurl.query", biz)
	if err != nil {
		return nil, err
	}
	if st.Code != codeSuccess {
		ce := c.unexpected("bill", st)
		if st.SubCode == "isp.bill_not_exist" {
			ce.Err = paygate.ErrNoBill
		}
		return nil, ce
	}
	var r struct {
		status
		URL string `json:"bill_download_url"`
	}
	if err := decode("bill", c, raw, &r); err != nil {
		return nil, err
	}
	if r.URL == "" {
		return nil, &paygate.ChannelError{Provider: c.id, Op: "bill", Message: "no bill_download_url"}
	}
	ctx, cancel := context.WithTimeout(ctx, BillTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.URL, nil)
	if err != nil {
		return nil, &paygate.ChannelError{Provider: c.id, Op: "bill", Message: "bad bill_download_url", Err: err}
	}
	resp, err := c.billHTTP.Do(req)
	if err != nil {
		return nil, c.unknown("bill", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, &paygate.ChannelError{Provider: c.id, Op: "bill", Code: resp.Status, Message: "bill download failed"}
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return nil, c.unknown("bill", err)
	}
	return &paygate.BillInfo{Account: c.pid, Name: c.pid + "0156_" + day.In(cst).Format("20060102") + ".csv.zip"}, nil
}

// DownloadBill returns the day's bill archive in memory, at most
// MaxBillBytes (small bills and tests; reconciliation streams with
// FetchBill). Read it with ParseBill. A day without a bill is ENOTFOUND.
func (c *Client) DownloadBill(ctx context.Context, day time.Time) ([]byte, error) {
	var b limitedBuffer
	if _, err := c.FetchBill(ctx, day, &b); err != nil {
		if errors.Is(err, paygate.ErrNoBill) {
			return nil, paygate.Errorf(paygate.ENOTFOUND, "alipay has no bill for %s", day.In(cst).Format("2006-01-02"))
		}
		if errors.Is(err, errBillTooLarge) {
			return nil, &paygate.ChannelError{Provider: c.id, Op: "bill", Message: "bill exceeds the size limit"}
		}
		return nil, err
	}
	return b.Bytes(), nil
}

var errBillTooLarge = errors.New("bill exceeds MaxBillBytes")

// limitedBuffer refuses to grow past MaxBillBytes.
type limitedBuffer struct{ bytes.Buffer }

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > MaxBillBytes {
		return 0, errBillTooLarge
	}
	return b.Buffer.Write(p)
}

// BillType is the kind of a bill row (业务类型).
type BillType string

const (
	BillPayment BillType = "交易"
	BillRefund  BillType = "退款"
)

// BillRow is one line of Alipay's business detail (业务明细).
type BillRow struct {
	TradeNo      string   // 支付宝交易号
	OutTradeNo   string   // 商户订单号: our order id
	Type         BillType // 业务类型
	Subject      string   // 商品名称
	CreatedAt    time.Time
	FinishedAt   time.Time // 完成时间
	OrderAmount  int64     // 订单金额（元）, fen
	Amount       int64     // 商家实收（元）, fen; negative for a refund
	Fee          int64     // 服务费 charged, fen: the bill's column negated (a refund returns fee: negative)
	OutRequestNo string    // 退款批次号/请求号: our refund id on refund rows
}

// Column names of the detail file's header line.
const (
	colTradeNo    = "支付宝交易号"
	colOutTradeNo = "商户订单号"
	colType       = "业务类型"
	colSubject    = "商品名称"
	colCreated    = "创建时间"
	colFinished   = "完成时间"
	colOrderAmt   = "订单金额（元）"
	colReceived   = "商家实收（元）"
	colFee        = "服务费（元）"
	colRequestNo  = "退款批次号/请求号"
)

// BillColumns is the header of the detail file, in Alipay's order.
var BillColumns = []string{
	colTradeNo, colOutTradeNo, colType, colSubject, colCreated, colFinished,
	"门店编号", "门店名称", "操作员", "终端号", "对方账户", colOrderAmt, colReceived,
	"支付宝红包（元）", "集分宝（元）", "支付宝优惠（元）", "商家优惠（元）", "券核销金额（元）",
	"券名称", "商家红包消费金额（元）", "卡消费金额（元）", colRequestNo, colFee, "分润（元）", "备注",
}

const maxBillFiles = 16

// ParseBill reads an Alipay trade bill csv.zip: GBK CSV files whose
// header and footer lines start with '#'. The business detail file (the one
// whose header names 支付宝交易号) gives the rows; the summary is skipped.
// Fields carry trailing tabs (Alipay adds them to keep spreadsheets from
// reformatting numbers), which are trimmed. Returns EINVALID for anything
// that is not such a file.
func ParseBill(zipBytes []byte) ([]BillRow, error) {
	zr, err := zip.NewReader(bytes.NewReader(zipBytes), int64(len(zipBytes)))
	if err != nil {
		return nil, paygate.Errorf(paygate.EINVALID, "alipay bill is not a zip archive")
	}
	if len(zr.File) > maxBillFiles {
		return nil, paygate.Errorf(paygate.EINVALID, "alipay bill holds %d files", len(zr.File))
	}
	for _, f := range zr.File {
		if f.UncompressedSize64 > MaxBillBytes {
			return nil, paygate.Errorf(paygate.EINVALID, "alipay bill file exceeds the size limit")
		}
		rc, err := f.Open()
		if err != nil {
			return nil, paygate.Errorf(paygate.EINVALID, "alipay bill file unreadable")
		}
		raw, err := io.ReadAll(io.LimitReader(rc, MaxBillBytes+1))
		rc.Close()
		if err != nil || len(raw) > MaxBillBytes {
			return nil, paygate.Errorf(paygate.EINVALID, "alipay bill file unreadable")
		}
		text, err := simplifiedchinese.GB18030.NewDecoder().Bytes(raw)
		if err != nil {
			return nil, paygate.Errorf(paygate.EINVALID, "alipay bill is not GBK text")
		}
		rows, isDetail, err := parseDetail(string(text))
		if err != nil {
			return nil, err
		}
		if isDetail {
			return rows, nil
		}
	}
	return nil, paygate.Errorf(paygate.EINVALID, "alipay bill has no business detail file")
}

// parseDetail parses one CSV file of the bill; isDetail is false when its
// header is not the business detail's.
func parseDetail(text string) (rows []BillRow, isDetail bool, err error) {
	var body strings.Builder
	for line := range strings.Lines(text) {
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
			continue
		}
		body.WriteString(line)
	}
	r := csv.NewReader(strings.NewReader(body.String()))
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	header, err := r.Read()
	if err == io.EOF {
		return nil, false, nil
	} else if err != nil {
		return nil, false, paygate.Errorf(paygate.EINVALID, "alipay bill header: %v", err)
	}
	col := make(map[string]int, len(header))
	for i, h := range header {
		col[clean(h)] = i
	}
	if _, ok := col[colTradeNo]; !ok {
		return nil, false, nil
	}
	for _, name := range []string{colOutTradeNo, colType, colFinished, colOrderAmt, colReceived, colFee} {
		if _, ok := col[name]; !ok {
			return nil, true, paygate.Errorf(paygate.EINVALID, "alipay bill lacks column %s", name)
		}
	}
	for line := 2; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			return rows, true, nil
		} else if err != nil {
			return nil, true, paygate.Errorf(paygate.EINVALID, "alipay bill line %d: %v", line, err)
		}
		field := func(name string) string {
			i, ok := col[name]
			if !ok || i >= len(rec) {
				return ""
			}
			return clean(rec[i])
		}
		row := BillRow{
			TradeNo:      field(colTradeNo),
			OutTradeNo:   field(colOutTradeNo),
			Type:         BillType(field(colType)),
			Subject:      field(colSubject),
			OutRequestNo: field(colRequestNo),
		}
		if row.TradeNo == "" {
			return nil, true, paygate.Errorf(paygate.EINVALID, "alipay bill line %d has no trade number", line)
		}
		if row.FinishedAt, err = billTime(field(colFinished)); err != nil {
			return nil, true, paygate.Errorf(paygate.EINVALID, "alipay bill line %d: %s", line, colFinished)
		}
		if s := field(colCreated); s != "" {
			if row.CreatedAt, err = billTime(s); err != nil {
				return nil, true, paygate.Errorf(paygate.EINVALID, "alipay bill line %d: %s", line, colCreated)
			}
		}
		for _, a := range []struct {
			name string
			dst  *int64
		}{{colOrderAmt, &row.OrderAmount}, {colReceived, &row.Amount}, {colFee, &row.Fee}} {
			s := field(a.name)
			if s == "" {
				continue
			}
			if *a.dst, err = parseFen(s); err != nil {
				return nil, true, paygate.Errorf(paygate.EINVALID, "alipay bill line %d: %s is not an amount", line, a.name)
			}
		}
		row.Fee = -row.Fee
		rows = append(rows, row)
	}
}

func clean(s string) string { return strings.Trim(s, " \t\r\n\ufeff") }

func billTime(s string) (time.Time, error) {
	t, err := time.ParseInLocation(timeLayout, s, cst)
	if err != nil {
		return time.Time{}, fmt.Errorf("bad time %q", s)
	}
	return t, nil
}

// BillAccount is the merchant account the bills are for: the pid
// (credentials.seller_id; "" when not configured, and then not checked).
func (c *Client) BillAccount() string { return c.pid }
