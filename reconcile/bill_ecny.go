package reconcile

import (
	"bytes"
	"io"
	"time"

	"github.com/paygate-cn/paygate/channels/ecny"
)

// e-CNY bill (docs/channels/ecny.md §8): a header line ECNYBILL|1.0|
// merchant|yyyyMMdd, the column line, one line per money movement and a
// TOTAL line, fields separated by '|'.

type ecnyCols struct {
	time, kind, outTradeNo, tradeNo, outRefundNo, refundNo, amount, fee, status int
}

type ecnyReader struct {
	l       *lines
	account string
	day     time.Time
	state   int // 0 header, 1 columns, 2 rows, 3 done
	n       int
	col     ecnyCols
	f       [][]byte
	acct    string
	days    dayCache
	sum     [5]int64 // pay count, pay amount, refund count, refund amount, fees
}

// NewECNYReader reads an e-CNY bill from r. account is the bank's
// merchant number, day (when not zero) the bill date.
func NewECNYReader(r io.Reader, file, account string, day time.Time) BillReader {
	return &ecnyReader{l: newLines(file, r), account: account, day: day}
}

func splitPipe(dst [][]byte, b []byte) [][]byte {
	dst = dst[:0]
	for {
		i := bytes.IndexByte(b, '|')
		if i < 0 {
			return append(dst, b)
		}
		dst = append(dst, b[:i])
		b = b[i+1:]
	}
}

var ecnyTotal = []byte(ecny.BillTotal)

func (e *ecnyReader) Next() (Line, error) {
	for {
		if e.state == 3 {
			return Line{}, io.EOF
		}
		b, err := e.l.next()
		if err == io.EOF {
			return Line{}, e.l.truncated("TOTAL line")
		}
		if err != nil {
			return Line{}, err
		}
		switch e.state {
		case 0:
			if err := e.header(b); err != nil {
				return Line{}, err
			}
			e.state = 1
		case 1:
			if err := e.columns(b); err != nil {
				return Line{}, err
			}
			e.state = 2
		case 2:
			e.f = splitPipe(e.f, b)
			if bytes.Equal(e.f[0], ecnyTotal) {
				return Line{}, e.total()
			}
			return e.row()
		}
	}
}

func (e *ecnyReader) header(b []byte) error {
	e.f = splitPipe(e.f, b)
	if len(e.f) != 4 || string(e.f[0]) != ecny.BillMagic {
		return e.l.fail(1, "not an e-CNY bill: the first line is not "+ecny.BillMagic+"|version|merchant|date")
	}
	if string(e.f[1]) != ecny.BillVersion {
		return e.l.fail(len(e.f[0])+2, "unknown e-CNY bill version "+string(e.f[1]))
	}
	e.acct = string(e.f[2])
	if e.account != "" && e.acct != e.account {
		return &ParseError{File: e.l.file, Line: 1, Column: len(e.f[0]) + len(e.f[1]) + 3,
			Msg: "foreign bill: merchant " + e.acct + " is not " + e.account, Err: ErrForeignBill}
	}
	d, err := time.ParseInLocation(ecny.BillDateLayout, string(e.f[3]), cst)
	if err != nil {
		return e.l.fail(len(b)-len(e.f[3])+1, "bill date is not yyyyMMdd")
	}
	if !e.day.IsZero() && !d.Equal(dayOf(e.day)) {
		return e.l.fail(len(b)-len(e.f[3])+1, "bill of another day: "+string(e.f[3]))
	}
	return nil
}

func (e *ecnyReader) columns(b []byte) error {
	e.f = splitPipe(e.f, b)
	e.n = len(e.f)
	idx := func(name string) int { return column(e.f, name) }
	e.col = ecnyCols{time: idx("trade_time"), kind: idx("trade_type"), outTradeNo: idx("out_trade_no"),
		tradeNo: idx("trade_no"), outRefundNo: idx("out_refund_no"), refundNo: idx("refund_no"),
		amount: idx("amount"), fee: idx("fee"), status: idx("status")}
	for _, i := range []int{e.col.time, e.col.kind, e.col.outTradeNo, e.col.tradeNo, e.col.outRefundNo,
		e.col.refundNo, e.col.amount, e.col.fee, e.col.status} {
		if i < 0 {
			return e.l.fail(0, "not an e-CNY bill: the column line lacks a column of "+ecny.BillColumns)
		}
	}
	return nil
}

func (e *ecnyReader) row() (Line, error) {
	if len(e.f) != e.n {
		return Line{}, e.l.fail(0, "line has "+itoa(int64(len(e.f)))+" fields, the column line "+itoa(int64(e.n)))
	}
	c := &e.col
	ln := Line{Account: e.acct, Pos: Position{File: e.l.file, Line: e.l.n}}
	t, ok := e.days.dateTime(e.f[c.time])
	if !ok {
		return Line{}, e.l.fail(c.time+1, "trade_time is not yyyy-MM-dd HH:mm:ss")
	}
	ln.Time = t
	amount, ok1 := parseFen(e.f[c.amount])
	fee, ok2 := parseFen(e.f[c.fee])
	if !ok1 {
		return Line{}, e.l.fail(c.amount+1, "amount is not fen")
	}
	if !ok2 {
		return Line{}, e.l.fail(c.fee+1, "fee is not fen")
	}
	ln.Amount, ln.Fee = amount, fee
	ln.OrderID, ln.ChannelTradeNo = string(e.f[c.outTradeNo]), string(e.f[c.tradeNo])
	if ln.OrderID == "" || ln.ChannelTradeNo == "" {
		return Line{}, e.l.fail(c.tradeNo+1, "missing out_trade_no or trade_no")
	}
	ln.Status = StatusSucceeded
	if string(e.f[c.status]) != "SUCCESS" {
		ln.Status = StatusFailed
	}
	switch string(e.f[c.kind]) {
	case ecny.BillPay:
		ln.Kind = LinePayment
		e.sum[0]++
		e.sum[1] += amount
	case ecny.BillRevoke:
		ln.Kind, ln.Status = LinePayment, StatusReversed
		e.sum[2]++
		e.sum[3] += amount
	case ecny.BillRefund:
		ln.Kind = LineRefund
		ln.RefundID, ln.ChannelRefundNo = string(e.f[c.outRefundNo]), string(e.f[c.refundNo])
		if ln.RefundID == "" || ln.ChannelRefundNo == "" {
			return Line{}, e.l.fail(c.outRefundNo+1, "REFUND line without out_refund_no or refund_no")
		}
		e.sum[2]++
		e.sum[3] += amount
	default:
		return Line{}, e.l.fail(c.kind+1, "unknown trade_type "+string(e.f[c.kind]))
	}
	e.sum[4] += fee
	return ln, nil
}

func (e *ecnyReader) total() error {
	if len(e.f) != 6 {
		return e.l.fail(0, "TOTAL line has "+itoa(int64(len(e.f)))+" fields, want 6")
	}
	names := [5]string{"pay_count", "pay_amount", "refund_count", "refund_amount", "fee_total"}
	col := len(e.f[0]) + 2
	for i := range 5 {
		v, ok := parseFen(e.f[i+1])
		if !ok {
			return e.l.fail(col, "TOTAL "+names[i]+" is not a number")
		}
		if v != e.sum[i] {
			return e.l.fail(col, "TOTAL "+names[i]+" is "+itoa(v)+" but the lines sum to "+itoa(e.sum[i]))
		}
		col += len(e.f[i+1]) + 1
	}
	for {
		b, err := e.l.next()
		if err == io.EOF {
			e.state = 3
			return io.EOF
		}
		if err != nil {
			return err
		}
		if len(bytes.TrimSpace(b)) > 0 {
			return e.l.fail(1, "text after the TOTAL line")
		}
	}
}
