package alipay

import (
	"archive/zip"
	"bytes"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/channels/sandbox"
)

// feeRate is the service fee the simulated Alipay charges (the default rate, docs/routing.md).
var feeRate = decimal.RequireFromString("0.006")

// detailColumns is the header of Alipay's business detail file (业务明细).
var detailColumns = []string{
	"支付宝交易号", "商户订单号", "业务类型", "商品名称", "创建时间", "完成时间",
	"门店编号", "门店名称", "操作员", "终端号", "对方账户", "订单金额（元）", "商家实收（元）",
	"支付宝红包（元）", "集分宝（元）", "支付宝优惠（元）", "商家优惠（元）", "券核销金额（元）",
	"券名称", "商家红包消费金额（元）", "卡消费金额（元）", "退款批次号/请求号", "服务费（元）", "分润（元）", "备注",
}

// billLines lists the day's money movements (China time): payments paid
// that day, refunds made that day (a cancel of a paid trade is a refund
// without a request number), adjusted by the adjustments waiting for it.
func (s *Server) billLines(day time.Time) []sandbox.BillLine {
	start, end := sandbox.DayRange(day)
	in := func(t time.Time) bool { return !t.IsZero() && !t.Before(start) && t.Before(end) }
	var lines []sandbox.BillLine
	s.mu.Lock()
	for _, t := range s.trades {
		s.advance(t) // the day is closed: due confirmations happen first
		if in(t.Paid) {
			lines = append(lines, sandbox.BillLine{At: t.Paid, OutTradeNo: t.OutTradeNo, Amount: t.Amount,
				Fee: paygate.Fee(t.Amount, feeRate, 0, 0), Status: sandbox.BillSucceeded, Data: t})
		}
		// Refunds are made at once, in order: each returns the fee in
		// proportion after the ones before it (paygate.ReturnedFee).
		var before int64
		for _, rf := range t.Refunds {
			if in(rf.At) {
				lines = append(lines, sandbox.BillLine{At: rf.At, Refund: true, OutTradeNo: t.OutTradeNo,
					OutRefundNo: rf.OutRequestNo, Amount: rf.Amount,
					Fee:    paygate.ReturnedFee(paygate.Fee(t.Amount, feeRate, 0, 0), t.Amount, before, rf.Amount),
					Status: sandbox.BillSucceeded, Data: t})
			}
			before += rf.Amount
		}
	}
	s.mu.Unlock()
	lines = s.adjust.Apply(day, lines, func() string { return "adj" + randomDigits(20) })
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].At.Before(lines[j].At) })
	return lines
}

// Bill builds the trade bill of day (China time) as Alipay serves it: a zip
// of two GBK CSV files, the business detail and its summary, with '#'
// header and footer lines and a tab after every field
// (docs/reconciliation.md). A refund the adjustments mark failed is left
// out: Alipay lists only refunds that succeeded.
func (s *Server) Bill(day time.Time) ([]byte, error) {
	start, end := sandbox.DayRange(day)
	var payCount, refundCount int
	var payNet, refundNet, payFee, refundFee int64
	var rows [][]string
	for _, l := range s.billLines(day) {
		t, _ := l.Data.(*trade)
		if t == nil { // a trade added by an adjustment
			t = &trade{TradeNo: s.now().Format("20060102") + "2200" + randomDigits(16), OutTradeNo: l.OutTradeNo,
				Subject: "adjustment", Created: l.At, BuyerLogonID: "adj***@example.com"}
		}
		subject := strings.NewReplacer(",", "，", "\n", " ", "\r", " ").Replace(t.Subject)
		switch {
		case l.Status == sandbox.BillFailed:
			// Alipay lists what succeeded only.
		case !l.Refund:
			rows = append(rows, row(t, subject, "交易", l.At, l.Amount, l.Amount, "", -l.Fee))
			payCount++
			payNet += l.Amount
			payFee += l.Fee
			if l.Status == sandbox.BillReversed {
				// as alipay.trade.cancel of a paid trade: a refund of the
				// whole amount without a request number
				rows = append(rows, row(t, subject, "退款", l.At, l.Amount, -l.Amount, "", l.Fee))
				refundCount++
				refundNet -= l.Amount
				refundFee += l.Fee
			}
		case l.Status == sandbox.BillSucceeded:
			rows = append(rows, row(t, subject, "退款", l.At, t.Amount, -l.Amount, l.OutRefundNo, l.Fee))
			refundCount++
			refundNet -= l.Amount
			refundFee += l.Fee
		}
	}

	period := fmt.Sprintf("#起始日期：[%s]   终止日期：[%s]\n", start.Format("2006年01月02日 15:04:05"), end.Format("2006年01月02日 15:04:05"))
	exported := fmt.Sprintf("#导出时间：[%s]\n", s.now().Format("2006年01月02日 15:04:05"))

	var d strings.Builder
	d.WriteString("#支付宝业务明细查询\n")
	fmt.Fprintf(&d, "#账号：[%s0156]\n", s.sellerID)
	d.WriteString(period)
	d.WriteString("#-----------------------------------------业务明细列表----------------------------------------\n")
	d.WriteString(strings.Join(detailColumns, ",") + "\n")
	for _, f := range rows {
		d.WriteString(strings.Join(f, "\t,") + "\t\n")
	}
	d.WriteString("#-----------------------------------------业务明细列表结束------------------------------------\n")
	fmt.Fprintf(&d, "#交易合计：%d笔，商家实收：%s元，商家优惠：0.00元\n", payCount, yuanOf(payNet))
	fmt.Fprintf(&d, "#退款合计：%d笔，商家实收：%s元，商家优惠：0.00元\n", refundCount, yuanOf(refundNet))
	d.WriteString(exported)

	var sum strings.Builder
	sum.WriteString("#支付宝业务汇总查询\n")
	fmt.Fprintf(&sum, "#账号：[%s0156]\n", s.sellerID)
	sum.WriteString(period)
	sum.WriteString("#-----------------------------------------业务汇总列表----------------------------------------\n")
	sum.WriteString("门店编号,门店名称,交易订单总笔数,退款订单总笔数,订单金额（元）,商家实收（元）,支付宝优惠（元）,商家优惠（元）,卡消费金额（元）,服务费（元）,分润（元）,实收净额（元）\n")
	fmt.Fprintf(&sum, "合计\t,\t,%d\t,%d\t,%s\t,%s\t,0.00\t,0.00\t,0.00\t,%s\t,0.00\t,%s\t\n",
		payCount, refundCount, yuanOf(payNet), yuanOf(payNet+refundNet), yuanOf(refundFee-payFee),
		yuanOf(payNet+refundNet+refundFee-payFee))
	sum.WriteString("#-----------------------------------------业务汇总列表结束------------------------------------\n")
	sum.WriteString(exported)

	base := s.sellerID + "0156_" + start.Format("20060102")
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range []struct{ name, text string }{
		{base + "_业务明细.csv", d.String()},
		{base + "_业务明细(汇总).csv", sum.String()},
	} {
		name, err := simplifiedchinese.GBK.NewEncoder().String(f.name)
		if err != nil {
			return nil, err
		}
		// Characters GBK lacks (emoji in a subject) become '?' rather than fail the bill.
		text, err := encoding.ReplaceUnsupported(simplifiedchinese.GBK.NewEncoder()).String(f.text)
		if err != nil {
			return nil, fmt.Errorf("bill text is not GBK-encodable: %w", err)
		}
		// Alipay's archives carry GBK names without the UTF-8 flag.
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, NonUTF8: true, Modified: s.now()})
		if err != nil {
			return nil, err
		}
		if _, err := w.Write([]byte(text)); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// row is one detail line: amounts in yuan, the service fee negative when
// charged and positive when a refund returns it.
func row(t *trade, subject, kind string, at time.Time, orderAmt, received int64, reqNo string, fee int64) []string {
	f := make([]string, len(detailColumns))
	f[0], f[1], f[2], f[3] = t.TradeNo, t.OutTradeNo, kind, subject
	f[4], f[5] = t.Created.Format(timeLayout), at.Format(timeLayout)
	f[10] = t.BuyerLogonID
	f[11], f[12] = yuanOf(orderAmt), yuanOf(received)
	for _, i := range []int{13, 14, 15, 16, 17, 19, 20, 23} {
		f[i] = "0.00"
	}
	f[21], f[22] = reqNo, yuanOf(fee)
	return f
}

// AdjustBill queues an adjustment of the next bill of its day (tests and
// demos; also POST bill_adjustments).
func (s *Server) AdjustBill(adj sandbox.BillAdjustment) error { return s.adjust.Add(adj) }

// download serves bill/download?bill_date=yyyyMMdd.
func (s *Server) download(w http.ResponseWriter, r *http.Request) {
	day, err := time.ParseInLocation("20060102", r.URL.Query().Get("bill_date"), cst)
	if err != nil {
		http.Error(w, "bad bill_date", http.StatusBadRequest)
		return
	}
	b, err := s.Bill(day)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%s_%s.csv.zip", s.sellerID, day.Format("20060102")))
	_, _ = w.Write(b)
}
