package wechat

import (
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/paygate-cn/paygate"
	"github.com/paygate-cn/paygate/channels/sandbox"
)

// feeRate is the sandbox merchant's WeChat rate (the default, docs/routing.md).
var feeRate = decimal.RequireFromString("0.006")

var billHeader = []string{
	"交易时间", "公众账号ID", "商户号", "特约商户号", "设备号", "微信订单号", "商户订单号", "用户标识",
	"交易类型", "交易状态", "付款银行", "货币种类", "应结订单金额", "代金券金额", "微信退款单号",
	"商户退款单号", "退款金额", "充值券退款金额", "退款类型", "退款状态", "商品名称", "商户数据包",
	"手续费", "费率", "订单金额", "申请退款金额", "费率备注",
}

var billSummaryHeader = []string{
	"总交易单数", "应结订单总金额", "退款总金额", "充值券退款总金额", "手续费总金额", "订单总金额", "申请退款总金额",
}

// yuan formats fen as yuan with two decimals.
func yuan(fen int64) string {
	sign := ""
	if fen < 0 {
		sign, fen = "-", -fen
	}
	return fmt.Sprintf("%s%d.%02d", sign, fen/100, fen%100)
}

// billRow writes one line with every field prefixed by a backtick, as
// WeChat does so that spreadsheets keep long numbers as text.
func billRow(b *bytes.Buffer, fields []string) {
	for i, f := range fields {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('`')
		b.WriteString(strings.ReplaceAll(f, ",", "，"))
	}
	b.WriteString("\r\n")
}

// billLinesLocked lists the money movements of a Beijing day: payments
// that succeeded that day (REVOKED when reversed since) and refunds that
// succeeded that day, adjusted by the adjustments waiting for the day.
func (s *Server) billLinesLocked(day time.Time) []sandbox.BillLine {
	start, end := sandbox.DayRange(day)
	in := func(t time.Time) bool { return !t.IsZero() && !t.Before(start) && t.Before(end) }
	var lines []sandbox.BillLine
	for _, t := range s.trades {
		s.settleLocked(t) // the day is closed: due confirmations happen first
		if !in(t.successAt) {
			continue
		}
		status := sandbox.BillSucceeded
		switch t.state {
		case stateSuccess, stateRefund:
		case stateRevoked:
			status = sandbox.BillReversed
		default:
			continue
		}
		lines = append(lines, sandbox.BillLine{At: t.successAt, OutTradeNo: t.outTradeNo, Amount: t.total,
			Fee: paygate.Fee(t.total, feeRate, 0, 0), Status: status, Data: t})
	}
	for _, f := range s.refunds {
		if !in(f.successAt) {
			continue
		}
		lines = append(lines, sandbox.BillLine{At: f.successAt, Refund: true, OutTradeNo: f.trade.outTradeNo,
			OutRefundNo: f.outRefundNo, Amount: f.amount, Fee: s.refundFeeLocked(f),
			Status: sandbox.BillSucceeded, Data: f})
	}
	lines = s.adjust.Apply(day, lines, func() string { return "adj" + randomDigits(20) })
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].At.Before(lines[j].At) })
	return lines
}

// refundFeeLocked is the fee returned with f: the payment's fee in
// proportion to what has been refunded, after the refunds of the trade
// that succeeded before it (paygate.ReturnedFee, docs/reconciliation.md).
func (s *Server) refundFeeLocked(f *refund) int64 {
	var before int64
	for _, g := range s.refunds {
		if g.trade == f.trade && g != f && !g.successAt.IsZero() && sandbox.RefundedBefore(g.successAt, g.outRefundNo, f.successAt, f.outRefundNo) {
			before += g.amount
		}
	}
	return paygate.ReturnedFee(paygate.Fee(f.trade.total, feeRate, 0, 0), f.trade.total, before, f.amount)
}

// tradeBillLocked renders the ALL trade bill of a Beijing day in WeChat's
// format (docs/reconciliation.md): every value backticked, the summary
// after the rows. It returns nil when there was nothing.
func (s *Server) tradeBillLocked(day time.Time) []byte {
	lines := s.billLinesLocked(day)
	if len(lines) == 0 {
		return nil
	}
	var b bytes.Buffer
	b.WriteString(strings.Join(billHeader, ",") + "\r\n")
	var settled, refunded, fees, ordered, applied int64
	rows := 0
	for _, l := range lines {
		t, _ := l.Data.(*trade)
		f, _ := l.Data.(*refund)
		if f != nil {
			t = f.trade
		}
		if t == nil { // a trade added by an adjustment
			t = &trade{appid: s.opts.AppID, mchid: s.opts.MchID, transactionID: "4200" + randomDigits(24),
				outTradeNo: l.OutTradeNo, tradeType: "NATIVE", openid: "o" + randomString(27), description: "adjustment"}
		}
		if !l.Refund && l.Status == sandbox.BillFailed {
			continue // WeChat lists paid or revoked payments only
		}
		rows++
		if !l.Refund {
			state := stateSuccess
			if l.Status == sandbox.BillReversed {
				state = stateRevoked
			}
			settled += l.Amount
			ordered += l.Amount
			fees += l.Fee
			billRow(&b, []string{
				l.At.In(beijing).Format(time.DateTime), t.appid, t.mchid, "0", "", t.transactionID,
				t.outTradeNo, t.openid, t.tradeType, state, "OTHERS", "CNY", yuan(l.Amount), "0.00",
				"0", "0", "0.00", "0.00", "", "", t.description, t.attach, fee5(l.Fee), "0.60%", yuan(l.Amount), "0.00", "",
			})
			continue
		}
		status := "SUCCESS"
		if l.Status != sandbox.BillSucceeded {
			status = "ABNORMAL"
		}
		refundID := t.transactionID
		if f != nil {
			refundID = f.refundID
		}
		refunded += l.Amount
		applied += l.Amount
		fees -= l.Fee
		billRow(&b, []string{
			l.At.In(beijing).Format(time.DateTime), t.appid, t.mchid, "0", "", t.transactionID,
			t.outTradeNo, t.openid, t.tradeType, stateRefund, "OTHERS", "CNY", "0.00", "0.00",
			refundID, l.OutRefundNo, yuan(l.Amount), "0.00", "ORIGINAL", status, t.description, t.attach,
			fee5(-l.Fee), "0.60%", "0.00", yuan(l.Amount), "",
		})
	}
	b.WriteString(strings.Join(billSummaryHeader, ",") + "\r\n")
	billRow(&b, []string{fmt.Sprint(rows), yuan(settled), yuan(refunded), "0.00", fee5(fees), yuan(ordered), yuan(applied)})
	return b.Bytes()
}

// fee5 writes a fee as WeChat does: yuan with five decimals.
func fee5(fen int64) string { return yuan(fen) + "000" }

// AdjustBill queues an adjustment of the next bill of its day (tests and
// demos; also POST /bill_adjustments).
func (s *Server) AdjustBill(adj sandbox.BillAdjustment) error { return s.adjust.Add(adj) }

// tradeBill serves GET /v3/bill/tradebill?bill_date=&bill_type=.
func (s *Server) tradeBill(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	day, err := time.ParseInLocation(time.DateOnly, q.Get("bill_date"), beijing)
	if err != nil {
		s.reply(w, http.StatusBadRequest, errBody("PARAM_ERROR", "bill_date 格式错误"))
		return
	}
	if bt := q.Get("bill_type"); bt != "" && bt != "ALL" && bt != "SUCCESS" && bt != "REFUND" {
		s.reply(w, http.StatusBadRequest, errBody("PARAM_ERROR", "bill_type 无效"))
		return
	}
	if s.adjust.NotReady(day) {
		s.reply(w, http.StatusBadRequest, errBody("STATEMENT_CREATING", "账单生成中"))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	file := s.tradeBillLocked(day)
	if file == nil {
		s.reply(w, http.StatusBadRequest, errBody("NO_STATEMENT_EXIST", "账单文件不存在"))
		return
	}
	token := randomString(32)
	// The hash is the raw bill's; with tar_type=GZIP the file is served
	// compressed.
	sum := sha1.Sum(file)
	if q.Get("tar_type") == "GZIP" {
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		_, _ = zw.Write(file)
		_ = zw.Close()
		file = gz.Bytes()
	} else if tt := q.Get("tar_type"); tt != "" {
		s.reply(w, http.StatusBadRequest, errBody("PARAM_ERROR", "tar_type 无效"))
		return
	}
	s.bills[token] = file
	s.reply(w, http.StatusOK, map[string]string{
		"hash_type":  "SHA1",
		"hash_value": hex.EncodeToString(sum[:]),
		// WeChat always answers its own host; clients fetch the path from
		// the endpoint they are configured with.
		"download_url": "https://api.mch.weixin.qq.com/v3/billdownload/file?token=" + token,
	})
}

// billFile serves GET /v3/billdownload/file?token=.
func (s *Server) billFile(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	file, ok := s.bills[r.URL.Query().Get("token")]
	s.mu.Unlock()
	if !ok {
		s.reply(w, http.StatusNotFound, errBody("NO_STATEMENT_EXIST", "账单文件不存在"))
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(file)
}
