package ecny

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm3"

	"github.com/paygate-cn/paygate"
)

// Bill file vocabulary (docs §8).
const (
	BillMagic   = "ECNYBILL"
	BillVersion = "1.0"
	BillColumns = "trade_time|trade_type|out_trade_no|trade_no|out_refund_no|refund_no|wallet_type|wallet_id|amount|fee|status"
	BillTotal   = "TOTAL"
	// BillTimeLayout is trade_time's layout, at +08:00.
	BillTimeLayout = "2006-01-02 15:04:05"
	// BillDateLayout is the bill date's layout.
	BillDateLayout = "20060102"

	BillPay    = "PAY"
	BillRefund = "REFUND"
	BillRevoke = "REVOKE"
)

// BillRow is one money movement of a bill.
type BillRow struct {
	Time        time.Time
	Type        string // PAY, REFUND or REVOKE
	OutTradeNo  string // paygate's order id
	TradeNo     string
	OutRefundNo string // paygate's refund id (REFUND only)
	RefundNo    string
	WalletType  string
	WalletID    string // masked
	Amount      int64
	Fee         int64
	Status      string
}

// FetchBill writes the bill of day (its date at +08:00) to w as the bank
// wrote it, after checking its SM3 digest. The bank's answer is one signed
// JSON envelope of at most 32 MiB (docs/channels/ecny.md §8), verified
// whole before anything is written. The bank always answers a bill, empty
// or not (docs/reconciliation.md).
func (c *Client) FetchBill(ctx context.Context, day time.Time, w io.Writer) (*paygate.BillInfo, error) {
	data, digest, err := c.bill(ctx, day)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(data); err != nil {
		return nil, &paygate.ChannelError{Provider: c.id, Op: "bill", Message: "cannot write the bill", Err: err}
	}
	return &paygate.BillInfo{Account: c.merchantNo, Name: "ecny_" + day.In(bankZone).Format(BillDateLayout) + ".txt", Digest: digest}, nil
}

// DownloadBill fetches the bill of day (its date at +08:00), checks its SM3
// digest and returns the file as the bank wrote it; ParseBill reads it.
func (c *Client) DownloadBill(ctx context.Context, day time.Time) ([]byte, error) {
	data, _, err := c.bill(ctx, day)
	return data, err
}

func (c *Client) bill(ctx context.Context, day time.Time) ([]byte, string, error) {
	date := day.In(bankZone).Format(BillDateLayout)
	a, err := c.call(ctx, "bill", PathBillDownload, BillRequest{BillDate: date}, maxBillBody)
	if err != nil {
		return nil, "", err
	}
	if a.head.Code != CodeOK {
		return nil, "", c.unexpected("bill", a)
	}
	var f BillFile
	if err := json.Unmarshal(a.body, &f); err != nil {
		return nil, "", &paygate.ChannelError{Provider: c.id, Op: "bill", Message: "malformed bill answer", Err: err}
	}
	data, err := base64.StdEncoding.DecodeString(f.Content)
	if err != nil {
		return nil, "", &paygate.ChannelError{Provider: c.id, Op: "bill", Message: "bill content is not base64", Err: err}
	}
	sum := sm3.Sum(data)
	digest := hex.EncodeToString(sum[:])
	if f.BillDate != date {
		return nil, "", &paygate.ChannelError{Provider: c.id, Op: "bill", Message: "bill date does not match"}
	}
	if !strings.EqualFold(f.Digest, digest) {
		return nil, "", &paygate.ChannelError{Provider: c.id, Op: "bill", Message: "bill SM3 digest does not match", Err: paygate.ErrBillDigest}
	}
	return data, digest, nil
}

// ParseBill reads a bill file. It returns EINVALID, naming the line, for a
// file that does not follow the format or whose TOTAL line does not add up.
func ParseBill(data []byte) ([]BillRow, error) {
	bad := func(line int, format string, args ...any) error {
		return paygate.Errorf(paygate.EINVALID, "e-CNY bill line %d: "+format, append([]any{line}, args...)...)
	}
	text := string(data)
	if !strings.HasSuffix(text, "\n") {
		return nil, bad(0, "file does not end with a line break")
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 3 {
		return nil, bad(len(lines), "file too short")
	}
	head := strings.Split(lines[0], "|")
	if len(head) != 4 || head[0] != BillMagic || head[1] != BillVersion || head[2] == "" {
		return nil, bad(1, "not an %s %s header", BillMagic, BillVersion)
	}
	if _, err := time.Parse(BillDateLayout, head[3]); err != nil {
		return nil, bad(1, "bad bill date %q", head[3])
	}
	if lines[1] != BillColumns {
		return nil, bad(2, "unexpected column line")
	}
	var rows []BillRow
	var payCount, payAmount, refundCount, refundAmount, feeTotal int64
	for i, line := range lines[2 : len(lines)-1] {
		n := i + 3
		f := strings.Split(line, "|")
		if len(f) != 11 {
			return nil, bad(n, "%d fields, want 11", len(f))
		}
		at, err := time.ParseInLocation(BillTimeLayout, f[0], bankZone)
		if err != nil {
			return nil, bad(n, "bad trade_time %q", f[0])
		}
		amount, err1 := parseFen(f[8])
		fee, err2 := parseFen(f[9])
		if err1 != nil || err2 != nil {
			return nil, bad(n, "bad amount or fee")
		}
		r := BillRow{Time: at, Type: f[1], OutTradeNo: f[2], TradeNo: f[3], OutRefundNo: f[4],
			RefundNo: f[5], WalletType: f[6], WalletID: f[7], Amount: amount, Fee: fee, Status: f[10]}
		if r.OutTradeNo == "" || r.TradeNo == "" {
			return nil, bad(n, "missing trade number")
		}
		switch r.Type {
		case BillPay:
			payCount++
			payAmount += amount
		case BillRefund:
			if r.OutRefundNo == "" || r.RefundNo == "" {
				return nil, bad(n, "refund without refund numbers")
			}
			refundCount++
			refundAmount += amount
		case BillRevoke:
			refundCount++
			refundAmount += amount
		default:
			return nil, bad(n, "unknown trade_type %q", r.Type)
		}
		feeTotal += fee
		rows = append(rows, r)
	}
	n := len(lines)
	t := strings.Split(lines[n-1], "|")
	if len(t) != 6 || t[0] != BillTotal {
		return nil, bad(n, "not a TOTAL line")
	}
	var totals [5]int64
	for i := range totals {
		v, err := parseFen(t[i+1])
		if err != nil {
			return nil, bad(n, "bad total %q", t[i+1])
		}
		totals[i] = v
	}
	if totals != [5]int64{payCount, payAmount, refundCount, refundAmount, feeTotal} {
		return nil, bad(n, "totals %v do not match the lines (%d %d %d %d %d)", totals,
			payCount, payAmount, refundCount, refundAmount, feeTotal)
	}
	return rows, nil
}

// parseFen reads a non-negative amount of fen, digits only, at most 15 digits
// so that sums cannot overflow.
func parseFen(s string) (int64, error) {
	if s == "" || len(s) > 15 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, strconv.ErrSyntax
	}
	return strconv.ParseInt(s, 10, 64)
}

// BillAccount is the merchant account the bills are for: the bank's
// merchant number.
func (c *Client) BillAccount() string { return c.merchantNo }
