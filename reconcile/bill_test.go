package reconcile

import (
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paygate-cn/paygate"
)

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, cst) }

func at(y int, m time.Month, d, hh, mm, ss int) time.Time {
	return time.Date(y, m, d, hh, mm, ss, 0, cst)
}

// want is a line's essentials in a test table.
type want struct {
	kind          LineKind
	status        LineStatus
	tradeNo, oid  string
	refundNo, rid string
	amount, fee   int64
	time          time.Time
}

func readAll(t *testing.T, r BillReader) ([]Line, error) {
	t.Helper()
	var out []Line
	for {
		ln, err := r.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, ln)
		if len(out) > 1000 {
			t.Fatal("runaway reader")
		}
	}
}

func TestOpenBill(t *testing.T) {
	const mch = "1900000109"
	tests := []struct {
		name, kind, file, account string
		day                       time.Time
		want                      []want
		wantAccount               string
	}{
		{name: "wechat ALL", kind: paygate.KindWeChat, file: "wechat_all.csv", account: mch, wantAccount: mch, want: []want{
			{LinePayment, StatusSucceeded, "4200001234202611210000000001", "ord_01", "", "", 600, 4, at(2026, 11, 21, 10, 0, 1)},
			{LineRefund, StatusSucceeded, "4200001234202611210000000001", "ord_01", "50300000012026112100000000001", "ref_01", 200, 1, at(2026, 11, 21, 11, 0, 0)},
			{LinePayment, StatusReversed, "4200001234202611210000000002", "ord_02", "", "", 300, 0, at(2026, 11, 21, 12, 0, 0)},
			// A coupon: 订单金额 10.00 is the order's amount, 应结订单金额 9.00 is not.
			{LinePayment, StatusSucceeded, "4200001234202611210000000003", "ord_03", "", "", 1000, 5, at(2026, 11, 21, 23, 59, 59)},
		}},
		{name: "wechat SUCCESS", kind: paygate.KindWeChat, file: "wechat_success.csv", account: mch, want: []want{
			{LinePayment, StatusSucceeded, "4200001234202611210000000001", "ord_01", "", "", 600, 4, at(2026, 11, 21, 10, 0, 1)},
			{LinePayment, StatusSucceeded, "4200001234202611210000000003", "ord_03", "", "", 1000, 5, at(2026, 11, 21, 23, 59, 59)},
		}},
		{name: "wechat REFUND", kind: paygate.KindWeChat, file: "wechat_refund.csv", account: mch, want: []want{
			{LineRefund, StatusSucceeded, "4200001234202611210000000001", "ord_01", "50300000012026112100000000001", "ref_01", 200, 1, at(2026, 11, 21, 11, 0, 0)},
			{LineRefund, StatusSucceeded, "4200001234202611200000000009", "ord_09", "50300000012026112100000000002", "ref_09", 1500, 9, at(2026, 11, 20, 18, 30, 0)},
		}},
		{name: "wechat legacy", kind: paygate.KindWeChat, file: "wechat_legacy.csv", account: mch, want: []want{
			{LinePayment, StatusSucceeded, "4006672001201605045553555555", "ord_l1", "", "", 600, 4, at(2016, 5, 4, 9, 12, 30)},
			{LineRefund, StatusSucceeded, "4006672001201605045553555555", "ord_l1", "2006672001201605040101234567", "ref_l1", 200, 1, at(2016, 5, 4, 10, 0, 0)},
		}},
		{name: "wechat empty", kind: paygate.KindWeChat, file: "wechat_empty.csv", account: mch},
		{name: "alipay zip with GBK names", kind: paygate.KindAlipay, file: "20889211234567890156_20261121.csv.zip", account: alipayPID,
			day: day(2026, 11, 21), wantAccount: alipayPID, want: alipayWant},
		{name: "alipay detail alone", kind: paygate.KindAlipay, file: "alipay_detail.csv", account: alipayPID, day: day(2026, 11, 21), want: alipayWant},
		{name: "alipay detail saved as UTF-8", kind: paygate.KindAlipay, file: "alipay_detail_utf8.csv", account: alipayPID, want: alipayWant},
		{name: "alipay cancel of a paid trade", kind: paygate.KindAlipay, file: "alipay_cancel.csv", account: alipayPID, want: []want{
			{LinePayment, StatusSucceeded, "2026112122001400001000000009", "ord_09", "", "", 500, 3, at(2026, 11, 21, 14, 0, 1)},
			{LinePayment, StatusReversed, "2026112122001400001000000009", "ord_09", "", "", 500, 3, at(2026, 11, 21, 14, 0, 9)},
		}},
		{name: "unionpay archive ZM+ZME", kind: paygate.KindUnionPay, file: "unionpay_20261121.zip", account: unionMerID, day: day(2026, 11, 21),
			wantAccount: unionMerID, want: append(zmWant(), want{LinePayment, StatusSucceeded, "261121130000000000011", "ord_11kf0n4r6g8h3m5q7s9t1v2w", "", "", 800, 3, at(2026, 11, 21, 13, 0, 0)})},
		{name: "unionpay ZM older record", kind: paygate.KindUnionPay, file: "INN26112188ZM_" + unionMerID, account: unionMerID, want: zmWant()},
		{name: "unionpay ZM newer record", kind: paygate.KindUnionPay, file: "INN26112288ZM_" + unionMerID, account: unionMerID, day: day(2026, 11, 22),
			want: zmWant()[:2]},
		{name: "unionpay ZM across New Year", kind: paygate.KindUnionPay, file: "INN27010188ZM_" + unionMerID, account: unionMerID, want: []want{
			{LinePayment, StatusSucceeded, "261231235958000000009", "ord_09kf0n4r6g8h3m5q7s9t1v2w", "", "", 10000, 38, at(2026, 12, 31, 23, 59, 58)},
			{LinePayment, StatusSucceeded, "270101000001000000010", "ord_10kf0n4r6g8h3m5q7s9t1v2w", "", "", 100, 0, at(2027, 1, 1, 0, 0, 1)},
		}},
		{name: "unionpay ZME", kind: paygate.KindUnionPay, file: "INN26112188ZME_" + unionMerID, account: unionMerID, want: []want{
			{LinePayment, StatusSucceeded, "261121130000000000011", "ord_11kf0n4r6g8h3m5q7s9t1v2w", "", "", 800, 3, at(2026, 11, 21, 13, 0, 0)},
		}},
		{name: "ecny", kind: paygate.KindECNY, file: "ecny_20261121.txt", account: "898310000000001", day: day(2026, 11, 21), wantAccount: "898310000000001", want: []want{
			{LinePayment, StatusSucceeded, "E2026112100000001", "ord_01", "", "", 1234, 0, at(2026, 11, 21, 15, 30, 0)},
			{LineRefund, StatusSucceeded, "E2026112100000001", "ord_01", "R2026112100000001", "ref_01", 200, 0, at(2026, 11, 21, 16, 2, 11)},
			{LinePayment, StatusSucceeded, "E2026112100000002", "ord_02", "", "", 500, 0, at(2026, 11, 21, 16, 39, 58)},
			{LinePayment, StatusReversed, "E2026112100000002", "ord_02", "", "", 500, 0, at(2026, 11, 21, 16, 40, 0)},
		}},
		{name: "ecny empty", kind: paygate.KindECNY, file: "ecny_empty.txt", account: "898310000000001", day: day(2026, 11, 22)},
		{name: "acquirer with 0510 totals", kind: paygate.KindAcquirer, file: "acquirer_20261121.csv", account: "48020000", day: day(2026, 11, 21),
			wantAccount: "898310058125812", want: []want{
				{LinePayment, StatusSucceeded, "632510000001", "", "", "", 1234, 7, at(2026, 11, 21, 10, 30, 5)},
				{LinePayment, StatusSucceeded, "632510000002", "", "", "", 50000, 300, at(2026, 11, 21, 11, 0, 0)},
				{LineRefund, StatusSucceeded, "632510000001", "", "632510000003", "", 234, 0, at(2026, 11, 21, 12, 0, 0)},
				{LinePayment, StatusSucceeded, "632510000004", "", "", "", 100, 1, at(2026, 11, 21, 23, 59, 59)},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := OpenBill(tt.kind, filepath.Join("testdata", tt.file), tt.account, tt.day)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			got, err := readAll(t, r)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("%d lines, want %d: %+v", len(got), len(tt.want), got)
			}
			for i, w := range tt.want {
				g := got[i]
				gw := want{g.Kind, g.Status, g.ChannelTradeNo, g.OrderID, g.ChannelRefundNo, g.RefundID, g.Amount, g.Fee, g.Time}
				if !gw.time.Equal(w.time) {
					t.Errorf("line %d time %v, want %v", i, gw.time, w.time)
				}
				gw.time = w.time
				if gw != w {
					t.Errorf("line %d:\n got %+v\nwant %+v", i, gw, w)
				}
				if tt.wantAccount != "" && g.Account != tt.wantAccount {
					t.Errorf("line %d account %q", i, g.Account)
				}
				if g.Pos.Line == 0 || g.Pos.File == "" {
					t.Errorf("line %d has no position", i)
				}
			}
			if _, err := r.Next(); err != io.EOF {
				t.Errorf("Next after the end: %v", err)
			}
		})
	}
}

var alipayWant = []want{
	{LinePayment, StatusSucceeded, "2026112122001400001000000001", "ord_01", "", "", 600, 4, at(2026, 11, 21, 10, 0, 5)},
	{LineRefund, StatusSucceeded, "2026112122001400001000000001", "ord_01", "", "ref_01", 200, 1, at(2026, 11, 21, 11, 0, 0)},
	{LinePayment, StatusSucceeded, "2026112122001400001000000002", "ord_02", "", "", 10000, 60, at(2026, 11, 21, 12, 0, 1)},
	{LineRefund, StatusSucceeded, "2026112122001400001000000002", "ord_02", "", "ref_02", 3000, 18, at(2026, 11, 21, 13, 0, 0)},
	{LineRefund, StatusSucceeded, "2026112122001400001000000002", "ord_02", "", "ref_03", 7000, 42, at(2026, 11, 21, 23, 59, 59)},
}

func zmWant() []want {
	return []want{
		{LinePayment, StatusSucceeded, "261121100005000000001", "ord_01kf0n4r6g8h3m5q7s9t1v2w", "", "", 1234, 5, at(2026, 11, 21, 10, 0, 5)},
		{LineRefund, StatusSucceeded, "261121100005000000001", "ord_01kf0n4r6g8h3m5q7s9t1v2w", "261121110000000000002", "ref_01kf0n4r6g8h3m5q7s9t1v2w", 500, 2, at(2026, 11, 21, 11, 0, 0)},
		{LinePayment, StatusReversed, "261121115900000000004", "ord_02kf0n4r6g8h3m5q7s9t1v2w", "", "", 300, 1, at(2026, 11, 21, 12, 0, 0)},
	}
}

// TestOpenBillRejects: malformed, truncated, foreign and inconsistent files
// fail with a *ParseError naming file, line and column.
func TestOpenBillRejects(t *testing.T) {
	tests := []struct {
		name, kind, file, account string
		day                       time.Time
		line, col                 int // 0: not checked
		msg                       string
		foreign                   bool
	}{
		{name: "wechat truncated", kind: paygate.KindWeChat, file: "wechat_all_truncated.csv", line: 5, msg: "truncated"},
		{name: "wechat summary off", kind: paygate.KindWeChat, file: "wechat_all_bad_summary.csv", line: 7, col: 5, msg: "手续费总金额"},
		{name: "wechat malformed amount", kind: paygate.KindWeChat, file: "wechat_all_malformed.csv", line: 4, col: 13, msg: "应结订单金额"},
		{name: "wechat foreign", kind: paygate.KindWeChat, file: "wechat_all.csv", account: "1900000999", line: 2, col: 3, foreign: true},
		{name: "wechat given an Alipay file", kind: paygate.KindWeChat, file: "alipay_detail.csv", line: 1, msg: "not a WeChat trade bill"},
		{name: "alipay truncated", kind: paygate.KindAlipay, file: "alipay_truncated.csv.zip", msg: "#交易合计"},
		{name: "alipay summary off", kind: paygate.KindAlipay, file: "alipay_bad_summary.csv.zip", msg: "summary 合计"},
		{name: "alipay foreign", kind: paygate.KindAlipay, file: "20889211234567890156_20261121.csv.zip", account: "2088000000000001", foreign: true},
		{name: "alipay foreign detail", kind: paygate.KindAlipay, file: "alipay_detail.csv", account: "2088000000000001", line: 2, foreign: true},
		{name: "alipay other day", kind: paygate.KindAlipay, file: "alipay_detail.csv", day: day(2026, 11, 22), line: 3, msg: "another day"},
		{name: "unionpay record cut short", kind: paygate.KindUnionPay, file: "INN26112388ZM_" + unionMerID, line: 1, col: 401, msg: "truncated"},
		{name: "unionpay foreign", kind: paygate.KindUnionPay, file: "unionpay_20261121.zip", account: "777290058110001", foreign: true},
		{name: "unionpay other day", kind: paygate.KindUnionPay, file: "unionpay_20261121.zip", day: day(2026, 11, 22), msg: "another day"},
		{name: "ecny truncated", kind: paygate.KindECNY, file: "ecny_truncated.txt", line: 5, msg: "TOTAL"},
		{name: "ecny total off", kind: paygate.KindECNY, file: "ecny_bad_total.txt", line: 7, col: 16, msg: "refund_amount"},
		{name: "ecny foreign", kind: paygate.KindECNY, file: "ecny_20261121.txt", account: "898310000000002", line: 1, col: 14, foreign: true},
		{name: "acquirer truncated", kind: paygate.KindAcquirer, file: "acquirer_truncated.csv", line: 6, msg: "TOTAL"},
		{name: "acquirer total off", kind: paygate.KindAcquirer, file: "acquirer_bad_total.csv", line: 6, col: 3, msg: "debit_amount"},
		{name: "acquirer 0510 differs", kind: paygate.KindAcquirer, file: "acquirer_batch_mismatch.csv", line: 6, msg: "batch settlement"},
		{name: "acquirer foreign", kind: paygate.KindAcquirer, file: "acquirer_20261121.csv", account: "48020001", line: 2, col: 1, foreign: true},
		{name: "acquirer other day", kind: paygate.KindAcquirer, file: "acquirer_20261121.csv", day: day(2026, 11, 20), line: 2, col: 18, msg: "settle_date"},
		{name: "unknown kind", kind: "paypal", file: "ecny_20261121.txt", msg: "no bill reader"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join("testdata", tt.file)
			r, err := OpenBill(tt.kind, path, tt.account, tt.day)
			if err == nil {
				defer r.Close()
				_, err = readAll(t, r)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v, want a *ParseError", err)
			}
			if !strings.HasPrefix(pe.File, path) {
				t.Errorf("file %q, want %q", pe.File, path)
			}
			if tt.line != 0 && pe.Line != tt.line {
				t.Errorf("line %d, want %d (%v)", pe.Line, tt.line, pe)
			}
			if tt.col != 0 && pe.Column != tt.col {
				t.Errorf("column %d, want %d (%v)", pe.Column, tt.col, pe)
			}
			if !strings.Contains(pe.Msg, tt.msg) {
				t.Errorf("message %q, want it to say %q", pe.Msg, tt.msg)
			}
			if tt.foreign != errors.Is(err, ErrForeignBill) {
				t.Errorf("foreign: errors.Is = %v, want %v (%v)", !tt.foreign, tt.foreign, err)
			}
		})
	}
}

func TestParseYuan(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"6.00", 600, true}, {"-0.04000", -4, true}, {"0.03600", 4, true}, {"7", 700, true}, {"0.5", 50, true},
		{"+1.25", 125, true}, {"", 0, false}, {"1.", 0, false}, {".5", 0, false}, {"1,000.00", 0, false},
		{"3.0O", 0, false}, {"1234567890123456.00", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseYuan([]byte(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseYuan(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// TestOpenBillGzip: a WeChat bill kept as the channel sent it (GZIP)
// reads as the raw one.
func TestOpenBillGzip(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "wechat_all.csv"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tradebill.csv.gz")
	if err := os.WriteFile(path, gzipped(t, raw), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := OpenBill(paygate.KindWeChat, path, "1900000109", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	lines, err := readAll(t, r)
	if err != nil || len(lines) != 4 {
		t.Fatalf("%d lines, %v", len(lines), err)
	}
}

// TestOpenBillFile: a run's bill from a file carries the raw file's SHA-1
// and reads like OpenBill's; a missing file is an error before any read.
func TestOpenBillFile(t *testing.T) {
	path := filepath.Join("testdata", "acquirer_20261121.csv")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := sha1.Sum(raw)
	b, err := OpenBillFile(paygate.KindAcquirer, path, "", day(2026, 11, 21))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.SHA1 != hex.EncodeToString(want[:]) {
		t.Fatalf("SHA1 = %s, want %x", b.SHA1, want)
	}
	n := 0
	for {
		_, err := b.Reader.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n == 0 {
		t.Fatal("no lines read")
	}
	if _, err := OpenBillFile(paygate.KindAcquirer, filepath.Join("testdata", "no-such-file"), "", day(2026, 11, 21)); err == nil {
		t.Fatal("a missing file opened")
	}
}
