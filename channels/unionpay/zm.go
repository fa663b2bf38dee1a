package unionpay

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The ZM file (INN{yyMMdd}88ZM_{merId}, 商户一般交易明细流水文件) lists a
// merchant's settled transactions of a day, one fixed-width line each, fields
// separated by one space, text in GBK (paygate writes ASCII only). The widths
// are those of 《全渠道平台接入接口规范 第3部分 文件接口》 §6.1.
var zmWidths = [...]int{
	3,  // 1 交易代码
	11, // 2 代理机构标识码 acqInsCode
	11, // 3 发送机构标识码
	6,  // 4 系统跟踪号 traceNo
	10, // 5 交易传输时间 MMDDhhmmss
	19, // 6 帐号 (masked)
	12, // 7 交易金额, fen, zero-padded
	4,  // 8 商户类别 merCatCode
	2,  // 9 终端类型
	21, // 10 查询流水号 queryId
	2,  // 11 支付方式（旧）
	32, // 12 商户订单号 orderId
	2,  // 13 支付卡类型
	6,  // 14 原始交易的系统跟踪号
	10, // 15 原始交易日期时间
	13, // 16 商户手续费 C/D + 12 digits
	13, // 17 结算金额 C/D + 12 digits
	4,  // 18 支付方式 payType
	15, // 19 集团商户代码
	2,  // 20 交易类型 txnType
	2,  // 21 交易子类 txnSubType
	6,  // 22 业务类型 bizType
	2,  // 23 帐号类型
	4,  // 24 账单类型
	32, // 25 账单号码
	1,  // 26 交互方式
	21, // 27 原交易查询流水号 origQryId
	15, // 28 商户代码 merId
	1,  // 29 分账入账方式
	15, // 30 二级商户代码
	32, // 31 二级商户简称
	13, // 32 二级商户分账入账金额
	13, // 33 清算净额
	8,  // 34 终端号 termId
	32, // 35 商户自定义域
	13, // 36 优惠金额
	13, // 37 发票金额
	12, // 38 分期付款附加手续费
	2,  // 39 分期付款期数
	1,  // 40 交易介质
	32, // 41 原始交易订单号
	98, // 42 保留使用
}

// Field indexes (0-based) of zmWidths that paygate reads or writes.
const (
	zmTxnCode = iota
	zmAcqIns
	zmSender
	zmTraceNo
	zmTime
	zmCardNo
	zmAmount
	zmMCC
	zmTermType
	zmQueryID
	zmOldPayType
	zmOrderID
	zmCardType
	zmOrigTrace
	zmOrigTime
	zmFee
	zmSettle
	zmPayType
	zmGroupMer
	zmTxnType
	zmTxnSubType
	zmBizType
	zmAccType
	zmBillType
	zmBillNo
	zmInteract
	zmOrigQryID
	zmMerID
	zmSplitMode
	zmSubMerID
	zmSubMerAbbr
	zmSubAmount
	zmNet
	zmTermID
	zmReserved
	zmDiscount
	zmInvoice
	zmInstFee
	zmInstCount
	zmMedium
	zmOrigOrderID
	zmSpare
)

// Transaction codes (交易代码) paygate writes.
const (
	ZMCodeConsume = "S22" // 消费
	ZMCodeUndo    = "S31" // 消费撤销
	ZMCodeRefund  = "S30" // 退货
)

// ZMRow is one line of a ZM file.
type ZMRow struct {
	TxnCode     string // 交易代码
	AcqInsCode  string
	TraceNo     string
	TransTime   string // MMDDhhmmss, Beijing time; see At
	CardNo      string // masked by the platform
	Amount      int64  // fen
	MCC         string
	QueryID     string
	OrderID     string // UnionPay orderId as sent (see FromOrderID)
	OrigTraceNo string
	OrigTime    string
	Fee         int64 // fen the merchant pays (negative: fee returned)
	Settle      int64 // fen credited to the merchant (negative: debited)
	TxnType     string
	TxnSubType  string
	BizType     string
	OrigQueryID string
	MerID       string
	Net         int64 // 清算净额, signed like Settle
	TermID      string
	OrigOrderID string
}

// At is the row's transmission time, taking the year from the settlement
// day it was listed under (a file of 2 January may hold 31 December).
func (r ZMRow) At(settleDay time.Time) (time.Time, error) {
	day := settleDay.In(shanghai)
	t, err := time.ParseInLocation("20060102150405", strconv.Itoa(day.Year())+r.TransTime, shanghai)
	if err != nil {
		return time.Time{}, fmt.Errorf("ZM transmission time %q: %w", r.TransTime, err)
	}
	if t.Sub(day) > 180*24*time.Hour {
		t = t.AddDate(-1, 0, 0)
	}
	return t, nil
}

// zmMinLine is the length of a line up to the end of field 41; the reserved
// field 42 may be cut short or padded.
var zmMinLine = func() int {
	n := 0
	for _, w := range zmWidths[:zmSpare] {
		n += w + 1
	}
	return n - 1
}()

// ParseZM reads a ZM file. Blank lines are skipped; any other line that does
// not fit the layout is an error naming its number.
func ParseZM(data []byte) ([]ZMRow, error) {
	var rows []ZMRow
	for i, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimRight(line, "\r")
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		r, err := parseZMLine(line)
		if err != nil {
			return nil, fmt.Errorf("ZM line %d: %w", i+1, err)
		}
		rows = append(rows, r)
	}
	return rows, nil
}

func parseZMLine(line []byte) (ZMRow, error) {
	if len(line) < zmMinLine {
		return ZMRow{}, fmt.Errorf("%d bytes, want at least %d", len(line), zmMinLine)
	}
	var f [len(zmWidths)]string
	pos := 0
	for i, w := range zmWidths {
		if pos >= len(line) {
			break
		}
		end := min(pos+w, len(line))
		f[i] = strings.TrimSpace(string(line[pos:end]))
		if end < len(line) && i < zmSpare && line[end] != ' ' {
			return ZMRow{}, fmt.Errorf("no separator after field %d", i+1)
		}
		pos = end + 1
	}
	r := ZMRow{
		TxnCode: f[zmTxnCode], AcqInsCode: f[zmAcqIns], TraceNo: f[zmTraceNo],
		TransTime: f[zmTime], CardNo: f[zmCardNo], MCC: f[zmMCC], QueryID: f[zmQueryID],
		OrderID: f[zmOrderID], OrigTraceNo: f[zmOrigTrace], OrigTime: f[zmOrigTime],
		TxnType: f[zmTxnType], TxnSubType: f[zmTxnSubType], BizType: f[zmBizType],
		OrigQueryID: f[zmOrigQryID], MerID: f[zmMerID], TermID: f[zmTermID],
		OrigOrderID: f[zmOrigOrderID],
	}
	var err error
	if r.Amount, err = zmDigits(f[zmAmount], 12); err != nil {
		return ZMRow{}, fmt.Errorf("交易金额: %w", err)
	}
	if r.Fee, err = zmSigned(f[zmFee], 'D'); err != nil {
		return ZMRow{}, fmt.Errorf("商户手续费: %w", err)
	}
	if r.Settle, err = zmSigned(f[zmSettle], 'C'); err != nil {
		return ZMRow{}, fmt.Errorf("结算金额: %w", err)
	}
	if f[zmNet] != "" {
		if r.Net, err = zmSigned(f[zmNet], 'C'); err != nil {
			return ZMRow{}, fmt.Errorf("清算净额: %w", err)
		}
	}
	if len(r.TransTime) != 10 || strings.Trim(r.TransTime, "0123456789") != "" {
		return ZMRow{}, fmt.Errorf("交易传输时间 %q is not MMDDhhmmss", r.TransTime)
	}
	if r.QueryID == "" || r.TxnType == "" {
		return ZMRow{}, fmt.Errorf("queryId or txnType missing")
	}
	return r, nil
}

func zmDigits(s string, n int) (int64, error) {
	if len(s) == 0 || len(s) > n || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("%q is not %d digits", s, n)
	}
	return strconv.ParseInt(s, 10, 64)
}

// zmSigned reads X+n12: 'C' (credit) or 'D' (debit) and 12 digits; the
// result is positive for the sign named positive.
func zmSigned(s string, positive byte) (int64, error) {
	if len(s) != 13 || (s[0] != 'C' && s[0] != 'D') {
		return 0, fmt.Errorf("%q is not C/D and 12 digits", s)
	}
	v, err := zmDigits(s[1:], 12)
	if err != nil {
		return 0, err
	}
	if s[0] != positive {
		v = -v
	}
	return v, nil
}

// AppendZM writes rows in the ZM layout (CRLF line ends), for the sandbox
// and for tests.
func AppendZM(dst []byte, rows []ZMRow) []byte {
	for _, r := range rows {
		var f [len(zmWidths)]string
		f[zmTxnCode], f[zmAcqIns], f[zmSender] = r.TxnCode, r.AcqInsCode, "00049992900"
		f[zmTraceNo], f[zmTime], f[zmCardNo] = r.TraceNo, r.TransTime, r.CardNo
		f[zmAmount] = fmt.Sprintf("%012d", r.Amount)
		f[zmMCC], f[zmTermType], f[zmQueryID] = r.MCC, "11", r.QueryID
		f[zmOrderID], f[zmOrigTrace], f[zmOrigTime] = r.OrderID, r.OrigTraceNo, r.OrigTime
		f[zmFee] = signed(r.Fee, 'D', 'C')
		f[zmSettle] = signed(r.Settle, 'C', 'D')
		f[zmTxnType], f[zmTxnSubType], f[zmBizType] = r.TxnType, r.TxnSubType, r.BizType
		f[zmOrigQryID], f[zmMerID], f[zmTermID] = r.OrigQueryID, r.MerID, r.TermID
		f[zmNet] = signed(r.Net, 'C', 'D')
		f[zmOrigOrderID] = r.OrigOrderID
		for i, w := range zmWidths {
			if i > 0 {
				dst = append(dst, ' ')
			}
			v := f[i]
			if len(v) > w {
				v = v[:w]
			}
			dst = append(dst, v...)
			for range w - len(v) {
				dst = append(dst, ' ')
			}
		}
		dst = append(dst, '\r', '\n')
	}
	return dst
}

func signed(v int64, pos, neg byte) string {
	s := pos
	if v < 0 {
		s, v = neg, -v
	}
	return fmt.Sprintf("%c%012d", s, v)
}
