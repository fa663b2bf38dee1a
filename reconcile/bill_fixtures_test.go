package reconcile

import (
	"archive/zip"
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"
)

// The binary fixtures (Alipay archives with GBK entry names, UnionPay ZM
// records by byte offset) are built here from the format descriptions in
// docs/reconciliation.md. `go test -run TestBinaryFixtures -update ./reconcile`
// rewrites them; otherwise the test checks the committed files are what
// these descriptions build.
var update = flag.Bool("update", false, "rewrite the generated bill fixtures in testdata")

const (
	alipayPID  = "2088921123456789"
	unionMerID = "777290058110097"
)

func gbk(t testing.TB, s string) []byte {
	b, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// alipayDetail is the business detail of the Alipay fixture day: two
// payments, one refunded partly and one in two refunds (the request
// numbers tell them apart; the trade number is the payment's).
func alipayDetail(trailers bool) string {
	var b strings.Builder
	b.WriteString("#支付宝业务明细查询\n#账号：[" + alipayPID + "0156]\n")
	b.WriteString("#起始日期：[2026年11月21日 00:00:00]   终止日期：[2026年11月22日 00:00:00]\n")
	b.WriteString("#-----------------------------------------业务明细列表----------------------------------------\n")
	b.WriteString("支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注\n")
	row := func(tradeNo, out, kind, created, done, order, received, reqNo, fee string) {
		f := []string{tradeNo, out, kind, "咖啡", created, done, "", "", "", "", "buy***@example.com", order, received,
			"0.00", "0.00", "0.00", "0.00", "0.00", "", "0.00", "0.00", reqNo, fee, "0.00", ""}
		b.WriteString(strings.Join(f, "\t,") + "\t\n")
	}
	row("2026112122001400001000000001", "ord_01", "交易", "2026-11-21 10:00:00", "2026-11-21 10:00:05", "6.00", "6.00", "", "-0.04")
	row("2026112122001400001000000001", "ord_01", "退款", "2026-11-21 10:00:00", "2026-11-21 11:00:00", "6.00", "-2.00", "ref_01", "0.01")
	row("2026112122001400001000000002", "ord_02", "交易", "2026-11-21 12:00:00", "2026-11-21 12:00:01", "100.00", "100.00", "", "-0.60")
	row("2026112122001400001000000002", "ord_02", "退款", "2026-11-21 12:00:00", "2026-11-21 13:00:00", "100.00", "-30.00", "ref_02", "0.18")
	row("2026112122001400001000000002", "ord_02", "退款", "2026-11-21 12:00:00", "2026-11-21 23:59:59", "100.00", "-70.00", "ref_03", "0.42")
	b.WriteString("#-----------------------------------------业务明细列表结束------------------------------------\n")
	if trailers {
		b.WriteString("#交易合计：2笔，商家实收：106.00元，商家优惠：0.00元\n")
		b.WriteString("#退款合计：3笔，商家实收：-102.00元，商家优惠：0.00元\n")
		b.WriteString("#导出时间：[2026年11月22日 09:00:00]\n")
	}
	return b.String()
}

// alipayCancel is a detail with a paid trade cancelled (alipay.trade.cancel
// refunds it whole, without a request number).
func alipayCancel() string {
	d := alipayDetail(false)
	i := strings.Index(d, "2026112122001400001000000001")
	j := strings.Index(d, "#-----------------------------------------业务明细列表结束")
	rows := "2026112122001400001000000009\t,ord_09\t,交易\t,咖啡\t,2026-11-21 14:00:00\t,2026-11-21 14:00:01\t,\t,\t,\t,\t,buy***@example.com\t,5.00\t,5.00\t,0.00\t,0.00\t,0.00\t,0.00\t,0.00\t,\t,0.00\t,0.00\t,\t,-0.03\t,0.00\t,\t\n" +
		"2026112122001400001000000009\t,ord_09\t,退款\t,咖啡\t,2026-11-21 14:00:00\t,2026-11-21 14:00:09\t,\t,\t,\t,\t,buy***@example.com\t,5.00\t,-5.00\t,0.00\t,0.00\t,0.00\t,0.00\t,0.00\t,\t,0.00\t,0.00\t,\t,0.03\t,0.00\t,\t\n"
	return d[:i] + rows + d[j:] + "#交易合计：1笔，商家实收：5.00元，商家优惠：0.00元\n#退款合计：1笔，商家实收：-5.00元，商家优惠：0.00元\n"
}

func alipaySummary(fee string) string {
	return "#支付宝业务汇总查询\n#账号：[" + alipayPID + "0156]\n" +
		"#起始日期：[2026年11月21日 00:00:00]   终止日期：[2026年11月22日 00:00:00]\n" +
		"#-----------------------------------------业务汇总列表----------------------------------------\n" +
		"门店编号,门店名称,交易订单总笔数,退款订单总笔数,订单金额（元）,商家实收（元）,支付宝优惠（元）,商家优惠（元）,卡消费金额（元）,服务费（元）,分润（元）,实收净额（元）\n" +
		"合计\t,\t,2\t,3\t,106.00\t,4.00\t,0.00\t,0.00\t,0.00\t," + fee + "\t,0.00\t,3.97\t\n" +
		"#-----------------------------------------业务汇总列表结束------------------------------------\n" +
		"#导出时间：[2026年11月22日 09:00:00]\n"
}

// alipayZip packs files as Alipay does: GBK names without the UTF-8 flag.
func alipayZip(t testing.TB, files [][2]string) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: string(gbk(t, f[0])), Method: zip.Deflate, NonUTF8: true})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(gbk(t, f[1]))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// zmRecord lays fields out by their GBK byte offsets; newer adds the
// fields after 原始交易订单号 (608 bytes), otherwise the older 607.
func zmRecord(t testing.TB, fields map[int]string, newer bool) string {
	n := 607
	if newer {
		n = 608
	}
	b := bytes.Repeat([]byte(" "), n)
	for off, v := range fields {
		copy(b[off:], gbk(t, v))
	}
	return string(b)
}

type zmRow struct {
	code, trace, when, amount, queryID, orderID, fee, settle, txnType, origQueryID, origOrderID, merID string
}

func (r zmRow) record(t testing.TB, newer bool) string {
	mer := r.merID
	if mer == "" {
		mer = unionMerID
	}
	f := map[int]string{
		0: r.code, 4: "48020000", 16: "00049992900", 28: r.trace, 35: r.when, 46: "6216***********0018",
		66: r.amount, 79: "5812", 84: "11", 87: r.queryID, 112: r.orderID, 166: r.fee, 180: r.settle,
		194: "0001", 215: r.txnType, 218: "07", 221: "000000", 271: r.origQueryID, 293: mer,
		327: "张记小吃", 374: r.settle, 388: "T0001", 476: r.origOrderID,
	}
	if newer {
		f[509], f[523], f[526], f[528] = r.settle, "07", "0", "632510000001"
	}
	return zmRecord(t, f, newer)
}

var (
	zmConsume = zmRow{code: "S22", trace: "000001", when: "1121100005", amount: "000000001234", queryID: "261121100005000000001",
		orderID: "ord01kf0n4r6g8h3m5q7s9t1v2w", fee: "D000000000005", settle: "C000000001229", txnType: "01"}
	zmRefund = zmRow{code: "S30", trace: "000002", when: "1121110000", amount: "000000000500", queryID: "261121110000000000002",
		orderID: "ref01kf0n4r6g8h3m5q7s9t1v2w", fee: "C000000000002", settle: "D000000000498", txnType: "04",
		origQueryID: "261121100005000000001", origOrderID: "ord01kf0n4r6g8h3m5q7s9t1v2w"}
	zmUndo = zmRow{code: "S31", trace: "000003", when: "1121120000", amount: "000000000300", queryID: "261121120000000000003",
		orderID: "rev02kf0n4r6g8h3m5q7s9t1v2w", fee: "C000000000001", settle: "D000000000299", txnType: "31",
		origQueryID: "261121115900000000004", origOrderID: "ord02kf0n4r6g8h3m5q7s9t1v2w"}
	zmNewYear = zmRow{code: "S22", trace: "000009", when: "1231235958", amount: "000000010000", queryID: "261231235958000000009",
		orderID: "ord09kf0n4r6g8h3m5q7s9t1v2w", fee: "D000000000038", settle: "C000000009962", txnType: "01"}
	zmNewYear2 = zmRow{code: "S22", trace: "000010", when: "0101000001", amount: "000000000100", queryID: "270101000001000000010",
		orderID: "ord10kf0n4r6g8h3m5q7s9t1v2w", fee: "D000000000000", settle: "C000000000100", txnType: "01"}
	// A 差错 of the error file: a consume the platform adjusted.
	zmError = zmRow{code: "E22", trace: "000011", when: "1121130000", amount: "000000000800", queryID: "261121130000000000011",
		orderID: "ord11kf0n4r6g8h3m5q7s9t1v2w", fee: "D000000000003", settle: "C000000000797", txnType: "01"}
)

func zmFile(t testing.TB, newer bool, rows ...zmRow) string {
	var b strings.Builder
	for _, r := range rows {
		b.WriteString(r.record(t, newer) + "\r\n")
	}
	return b.String()
}

// binaryFixtures are the generated fixtures, by file name.
func binaryFixtures(t testing.TB) map[string][]byte {
	detail := "20889211234567890156_20261121_业务明细.csv"
	summary := "20889211234567890156_20261121_业务明细(汇总).csv"
	zm := "INN26112188ZM_" + unionMerID
	zme := "INN26112188ZME_" + unionMerID
	var zbuf bytes.Buffer
	zw := zip.NewWriter(&zbuf)
	for _, f := range [][2]string{{zm, zmFile(t, false, zmConsume, zmRefund, zmUndo)}, {zme, zmFile(t, false, zmError)}} {
		w, _ := zw.Create(f[0])
		w.Write([]byte(f[1]))
	}
	zw.Close()
	return map[string][]byte{
		"20889211234567890156_20261121.csv.zip": alipayZip(t, [][2]string{{detail, alipayDetail(true)}, {summary, alipaySummary("-0.03")}}),
		"alipay_truncated.csv.zip":              alipayZip(t, [][2]string{{detail, alipayDetail(false)}, {summary, alipaySummary("-0.03")}}),
		"alipay_bad_summary.csv.zip":            alipayZip(t, [][2]string{{detail, alipayDetail(true)}, {summary, alipaySummary("-0.04")}}),
		"alipay_detail.csv":                     gbk(t, alipayDetail(true)),
		"alipay_detail_utf8.csv":                []byte(alipayDetail(true)),
		"alipay_cancel.csv":                     gbk(t, alipayCancel()),
		"unionpay_20261121.zip":                 zbuf.Bytes(),
		zm:                                      []byte(zmFile(t, false, zmConsume, zmRefund, zmUndo)),
		zme:                                     []byte(zmFile(t, false, zmError)),
		"INN26112288ZM_" + unionMerID:           []byte(zmFile(t, true, zmConsume, zmRefund)),
		"INN27010188ZM_" + unionMerID:           []byte(zmFile(t, true, zmNewYear, zmNewYear2)),
		"INN26112388ZM_" + unionMerID:           []byte(zmFile(t, false, zmConsume)[:400] + "\r\n"),
	}
}

func TestBinaryFixtures(t *testing.T) {
	for name, want := range binaryFixtures(t) {
		path := filepath.Join("testdata", name)
		if *update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%s: %v (run with -update)", name, err)
		}
		// Zip archives carry times; compare what they hold.
		if strings.HasSuffix(name, ".zip") {
			if a, b := zipContents(t, got), zipContents(t, want); a != b {
				t.Errorf("%s differs from its description (run with -update)", name)
			}
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from its description (run with -update)", name)
		}
	}
}

func zipContents(t testing.TB, b []byte) string {
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	var s strings.Builder
	for _, f := range zr.File {
		rc, _ := f.Open()
		var c bytes.Buffer
		c.ReadFrom(rc)
		rc.Close()
		s.WriteString(f.Name + "\x00" + c.String() + "\x00")
	}
	return s.String()
}
