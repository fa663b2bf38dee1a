package wechat

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/paygate-cn/paygate"
)

// feeRate is the sandbox merchant's WeChat rate (DESIGN §5 default).
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

// tradeBillLocked renders the ALL trade bill of a Beijing day: payments
// that succeeded that day (SUCCESS) and refunds that succeeded that day
// (REFUND). It returns nil when there was nothing.
func (s *Server) tradeBillLocked(day time.Time) []byte {
	start := day
	end := start.AddDate(0, 0, 1)
	in := func(t time.Time) bool { return !t.IsZero() && !t.Before(start) && t.Before(end) }

	type line struct {
		at     time.Time
		fields []string
	}
	var lines []line
	var count int
	var settled, refunded, fees, ordered, applied int64
	for _, t := range s.trades {
		if !in(t.successAt) || (t.state != stateSuccess && t.state != stateRefund) {
			continue
		}
		fee := paygate.Fee(t.total, feeRate, 0, 0)
		count++
		settled += t.total
		ordered += t.total
		fees += fee
		lines = append(lines, line{t.successAt, []string{
			t.successAt.In(beijing).Format(time.DateTime), t.appid, t.mchid, "0", "", t.transactionID,
			t.outTradeNo, t.openid, t.tradeType, stateSuccess, "OTHERS", "CNY", yuan(t.total), "0.00",
			"0", "0", "0.00", "0.00", "", "", t.description, t.attach, yuan(fee), "0.60%", yuan(t.total), "0.00", "",
		}})
	}
	for _, f := range s.refunds {
		if !in(f.successAt) {
			continue
		}
		t := f.trade
		fee := paygate.Fee(f.amount, feeRate, 0, 0)
		count++
		refunded += f.amount
		applied += f.amount
		fees -= fee
		lines = append(lines, line{f.successAt, []string{
			f.successAt.In(beijing).Format(time.DateTime), t.appid, t.mchid, "0", "", t.transactionID,
			t.outTradeNo, t.openid, t.tradeType, stateRefund, "OTHERS", "CNY", "0.00", "0.00",
			f.refundID, f.outRefundNo, yuan(f.amount), "0.00", "ORIGINAL", "SUCCESS", t.description, t.attach,
			yuan(-fee), "0.60%", "0.00", yuan(f.amount), "",
		}})
	}
	if count == 0 {
		return nil
	}
	sort.Slice(lines, func(i, j int) bool { return lines[i].at.Before(lines[j].at) })
	var b bytes.Buffer
	b.WriteString(strings.Join(billHeader, ",") + "\r\n")
	for _, l := range lines {
		billRow(&b, l.fields)
	}
	b.WriteString(strings.Join(billSummaryHeader, ",") + "\r\n")
	billRow(&b, []string{fmt.Sprint(count), yuan(settled), yuan(refunded), "0.00", yuan(fees), yuan(ordered), yuan(applied)})
	return b.Bytes()
}

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
	s.mu.Lock()
	defer s.mu.Unlock()
	file := s.tradeBillLocked(day)
	if file == nil {
		s.reply(w, http.StatusBadRequest, errBody("NO_STATEMENT_EXIST", "账单文件不存在"))
		return
	}
	token := randomString(32)
	s.bills[token] = file
	sum := sha1.Sum(file)
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
