package reconcile

import (
	"bytes"
	"errors"
	"io"
)

// WeChat Pay v3 trade bill (docs/reconciliation.md, "WeChat Pay"): a detail
// header, detail rows whose every value starts with a backtick, a summary
// header and one summary row. Columns are found by name: the ALL, SUCCESS
// and REFUND layouts and the legacy one (总金额, no 代金券金额) all read.

// wechatCols are the detail columns paygate reads; -1 when absent.
type wechatCols struct {
	time, mchid, subMchid, transactionID, outTradeNo, state int
	settle, orderAmount, total                              int // 应结订单金额, 订单金额, 总金额 (legacy)
	refundID, outRefundNo, refund, appliedRefund, refundSta int
	fee                                                     int
}

type wechatReader struct {
	l       *lines
	account string
	n       int // columns in the detail header
	col     wechatCols
	f       [][]byte
	acct    interned
	days    dayCache
	started bool
	done    bool

	// Sums of the rows, checked against the summary.
	rows, payments          int64
	settleAll, settlePay    int64
	orderAll, orderPay      int64
	refunded, applied, fees int64
}

// NewWeChatReader reads a WeChat trade bill (uncompressed) from r. file
// names it in errors; account is the merchant's 商户号 (or 特约商户号 for
// a sub-merchant): a row of another account is a foreign bill. An empty
// account skips that check.
func NewWeChatReader(r io.Reader, file, account string) BillReader {
	return &wechatReader{l: newLines(file, r), account: account}
}

func (w *wechatReader) Next() (Line, error) {
	if w.done {
		return Line{}, io.EOF
	}
	for {
		b, err := w.l.next()
		if err == io.EOF {
			if !w.started {
				return Line{}, w.l.truncated("detail header")
			}
			return Line{}, w.l.truncated("summary")
		}
		if err != nil {
			return Line{}, err
		}
		if !w.started {
			b = bytes.TrimPrefix(b, utf8BOM)
		}
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		if !w.started {
			if err := w.header(b); err != nil {
				return Line{}, err
			}
			w.started = true
			continue
		}
		if b[0] != '`' {
			// The only unquoted line after the header is the summary's.
			if err := w.summary(b); err != nil {
				return Line{}, err
			}
			w.done = true
			return Line{}, io.EOF
		}
		return w.row(b)
	}
}

func (w *wechatReader) header(b []byte) error {
	w.f = splitCSV(w.f, b)
	w.n = len(w.f)
	idx := func(names ...string) int { return column(w.f, names...) }
	w.col = wechatCols{
		time: idx("交易时间"), mchid: idx("商户号"), subMchid: idx("特约商户号", "子商户号"),
		transactionID: idx("微信订单号"), outTradeNo: idx("商户订单号"), state: idx("交易状态"),
		settle: idx("应结订单金额"), orderAmount: idx("订单金额"), total: idx("总金额"),
		refundID: idx("微信退款单号"), outRefundNo: idx("商户退款单号"), refund: idx("退款金额"),
		appliedRefund: idx("申请退款金额"), refundSta: idx("退款状态"), fee: idx("手续费"),
	}
	for _, c := range []struct {
		i    int
		name string
	}{
		{w.col.time, "交易时间"}, {w.col.mchid, "商户号"}, {w.col.transactionID, "微信订单号"},
		{w.col.outTradeNo, "商户订单号"}, {w.col.state, "交易状态"}, {w.col.fee, "手续费"},
	} {
		if c.i < 0 {
			return w.l.fail(0, "not a WeChat trade bill: no column "+c.name)
		}
	}
	if w.col.settle < 0 && w.col.orderAmount < 0 && w.col.total < 0 {
		return w.l.fail(0, "not a WeChat trade bill: no amount column (应结订单金额, 订单金额 or 总金额)")
	}
	return nil
}

// value is column i of the current row without its backtick ("" when the
// layout lacks it).
func (w *wechatReader) value(i int) []byte {
	if i < 0 {
		return nil
	}
	return trimField(bytes.TrimPrefix(w.f[i], []byte("`")))
}

func (w *wechatReader) amount(i int, name string) (int64, error) {
	if i < 0 {
		return 0, nil
	}
	v, ok := parseYuan(w.value(i))
	if !ok {
		return 0, w.l.fail(i+1, name+" is not an amount in yuan")
	}
	return v, nil
}

func (w *wechatReader) row(b []byte) (Line, error) {
	w.f = splitCSV(w.f, b)
	if len(w.f) != w.n {
		return Line{}, w.l.fail(0, "row has "+itoa(int64(len(w.f)))+" fields, the header "+itoa(int64(w.n)))
	}
	c := &w.col
	ln := Line{Pos: Position{File: w.l.file, Line: w.l.n}}
	t, ok := w.days.dateTime(w.value(c.time))
	if !ok {
		return Line{}, w.l.fail(c.time+1, "交易时间 is not yyyy-MM-dd HH:mm:ss")
	}
	ln.Time = t
	acct := w.value(c.mchid)
	if sub := w.value(c.subMchid); len(sub) > 0 && string(sub) != "0" {
		acct = sub
	}
	if w.account != "" && string(acct) != w.account && string(w.value(c.mchid)) != w.account {
		return Line{}, &ParseError{File: w.l.file, Line: w.l.n, Column: c.mchid + 1,
			Msg: "foreign bill: 商户号 " + string(acct) + " is not " + w.account, Err: ErrForeignBill}
	}
	ln.Account = w.acct.get(acct)
	ln.ChannelTradeNo = string(w.value(c.transactionID))
	ln.OrderID = string(w.value(c.outTradeNo))
	if ln.ChannelTradeNo == "" {
		return Line{}, w.l.fail(c.transactionID+1, "微信订单号 is empty")
	}

	settle, err := w.amount(c.settle, "应结订单金额")
	if err != nil {
		return Line{}, err
	}
	order, err := w.amount(c.orderAmount, "订单金额")
	if err != nil {
		return Line{}, err
	}
	total, err := w.amount(c.total, "总金额")
	if err != nil {
		return Line{}, err
	}
	fee, err := w.amount(c.fee, "手续费")
	if err != nil {
		return Line{}, err
	}
	refund, err := w.amount(c.refund, "退款金额")
	if err != nil {
		return Line{}, err
	}
	applied, err := w.amount(c.appliedRefund, "申请退款金额")
	if err != nil {
		return Line{}, err
	}
	ln.Fee = abs(fee)
	if c.settle < 0 { // legacy: 总金额 stands where 应结订单金额 is now
		settle = total
	}

	switch state := w.value(c.state); string(state) {
	case "SUCCESS", "REVOKED":
		ln.Kind, ln.Status = LinePayment, StatusSucceeded
		if state[0] == 'R' {
			ln.Status = StatusReversed
		}
		// The order's amount as the merchant asked it: 订单金额 (coupons
		// included), else the legacy 总金额, else 应结订单金额.
		switch {
		case c.orderAmount >= 0:
			ln.Amount = order
		case c.total >= 0:
			ln.Amount = total
		default:
			ln.Amount = settle
		}
		w.payments++
		w.settlePay += settle
		w.orderPay += order
	case "REFUND":
		ln.Kind = LineRefund
		ln.ChannelRefundNo = string(w.value(c.refundID))
		ln.RefundID = string(w.value(c.outRefundNo))
		if ln.ChannelRefundNo == "" && ln.RefundID == "" {
			return Line{}, w.l.fail(c.refundID+1, "refund row without 微信退款单号 or 商户退款单号")
		}
		ln.Amount = refund
		if applied > 0 {
			ln.Amount = applied
		}
		switch rs := w.value(c.refundSta); string(rs) {
		case "SUCCESS", "":
			ln.Status = StatusSucceeded
		default:
			ln.Status = StatusFailed
		}
	default:
		return Line{}, w.l.fail(c.state+1, "unknown 交易状态 "+string(state))
	}
	if ln.Amount < 0 {
		return Line{}, w.l.fail(0, "negative amount")
	}
	w.rows++
	w.settleAll += settle
	w.orderAll += order
	w.refunded += refund
	w.applied += applied
	w.fees += fee
	return ln, nil
}

// summary checks the summary header b and the row after it against the
// rows read. Names follow the current bill and the legacy one.
func (w *wechatReader) summary(b []byte) error {
	head := splitCSV(nil, b)
	names := make([]string, len(head))
	for i, h := range head {
		names[i] = string(trimField(bytes.TrimPrefix(h, []byte("`"))))
	}
	if len(names) == 0 || names[0] != "总交易单数" {
		return w.l.fail(1, "unexpected line: neither a backtick row nor the summary header")
	}
	headLine := w.l.n
	var row []byte
	for {
		r, err := w.l.next()
		if err == io.EOF {
			return w.l.truncated("summary row")
		}
		if err != nil {
			return err
		}
		if len(bytes.TrimSpace(r)) > 0 {
			row = r
			break
		}
	}
	w.f = splitCSV(w.f, row)
	if len(w.f) != len(names) {
		return w.l.fail(0, "summary row has "+itoa(int64(len(w.f)))+" fields, its header "+itoa(int64(len(names))))
	}
	for i, name := range names {
		v := w.value(i)
		var got int64
		var ok bool
		if name == "总交易单数" {
			got, ok = parseFen(v)
		} else {
			got, ok = parseYuan(v)
		}
		if !ok {
			return w.l.fail(i+1, name+" is not a number")
		}
		var want []int64
		switch name {
		case "总交易单数":
			want = []int64{w.rows}
		case "应结订单总金额", "总交易额":
			want = []int64{w.settleAll, w.settlePay}
		case "订单总金额":
			want = []int64{w.orderAll, w.orderPay}
		case "退款总金额", "总退款金额":
			want = []int64{w.refunded}
		case "申请退款总金额":
			want = []int64{w.applied}
		case "手续费总金额":
			want = []int64{w.fees}
		default:
			continue // 充值券退款总金额 and others paygate does not sum
		}
		if !contains(want, got) {
			return w.l.fail(i+1, "summary "+name+" is "+v2s(name, got)+" but the rows sum to "+v2s(name, want[0]))
		}
	}
	// Anything but blank lines after the summary row is not a WeChat bill.
	for {
		r, err := w.l.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if len(bytes.TrimSpace(r)) > 0 {
			return w.l.fail(1, "text after the summary (summary header at line "+itoa(int64(headLine))+")")
		}
	}
}

func contains(xs []int64, v int64) bool {
	for _, x := range xs {
		if x == v {
			return true
		}
	}
	return false
}

func v2s(name string, v int64) string {
	if name == "总交易单数" {
		return itoa(v)
	}
	return yuanText(v)
}

// ErrForeignBill is the cause of a *ParseError for a bill of another
// merchant account than the provider's.
var ErrForeignBill = errors.New("bill of another merchant account")
