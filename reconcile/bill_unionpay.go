package reconcile

import (
	"archive/zip"
	"bytes"
	"io"
	"strings"
	"time"

	"github.com/paygate-cn/paygate/channels/unionpay"
)

// UnionPay ZM and ZME files (docs/reconciliation.md, "UnionPay"): fixed
// width records, one space between fields, widths in GBK bytes. Fields are
// sliced by byte offset and only the ASCII ones paygate needs are read, so
// Chinese sub-merchant names never shift anything.

// zmField is a field's 0-based byte offset and width.
type zmField struct{ off, width int }

var (
	zmTxnCode     = zmField{0, 3}
	zmTransTime   = zmField{35, 10}
	zmAmount      = zmField{66, 12}
	zmQueryID     = zmField{87, 21}
	zmOrderID     = zmField{112, 32}
	zmFee         = zmField{166, 13}
	zmSettle      = zmField{180, 13}
	zmTxnType     = zmField{215, 2}
	zmOrigQueryID = zmField{271, 21}
	zmMerID       = zmField{293, 15}
	zmTermID      = zmField{388, 8}
	zmOrigOrderID = zmField{476, 32}
)

// zmSeparators are the offsets of the spaces between fields up to the end
// of 原始交易订单号; both record lengths share them.
var zmSeparators = []int{3, 15, 27, 34, 45, 65, 78, 83, 86, 108, 111, 144, 147, 154, 165, 179, 193, 198,
	214, 217, 220, 227, 230, 235, 268, 270, 292, 308, 310, 326, 359, 373, 387, 396, 429, 443, 457, 470, 473, 475}

// zmMinRecord is the length up to the end of 原始交易订单号. The older
// record is 607 bytes (98 reserved after it), the newer 608 (清算金额,
// 服务点输入方式码, 移动支付产品标志, 检索参考号, 67 reserved); a record cut
// inside its reserved tail is still accepted.
const zmMinRecord = 508

type zmReader struct {
	l         *lines
	account   string
	settleDay time.Time // the file's settlement date, CST midnight
	errFile   bool      // a ZME file
	acct      interned
}

// NewZMReader reads a UnionPay ZM (or, with errFile, ZME) file from r.
// settleDay is the file's settlement date: 交易传输时间 carries no year,
// which is taken from it (a January file may list December trades).
// account is the merId; a record of another one is a foreign bill.
func NewZMReader(r io.Reader, file, account string, settleDay time.Time, errFile bool) BillReader {
	return &zmReader{l: newLines(file, r), account: account, settleDay: dayOf(settleDay), errFile: errFile}
}

func zmText(b []byte, f zmField) []byte {
	return bytes.TrimSpace(b[f.off : f.off+f.width])
}

func (z *zmReader) Next() (Line, error) {
	for {
		b, err := z.l.next()
		if err != nil {
			return Line{}, err
		}
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		return z.record(b)
	}
}

func (z *zmReader) record(b []byte) (Line, error) {
	if len(b) < zmMinRecord {
		return Line{}, z.l.fail(len(b)+1, "record of "+itoa(int64(len(b)))+" bytes: truncated (at least "+itoa(zmMinRecord)+")")
	}
	for _, off := range zmSeparators {
		if b[off] != ' ' {
			return Line{}, z.l.fail(off+1, "no field separator at byte "+itoa(int64(off+1)))
		}
	}
	ln := Line{Pos: Position{File: z.l.file, Line: z.l.n}, Adjustment: z.errFile}
	mer := zmText(b, zmMerID)
	if z.account != "" && string(mer) != z.account {
		return Line{}, &ParseError{File: z.l.file, Line: z.l.n, Column: zmMerID.off + 1,
			Msg: "foreign bill: 商户代码 " + string(mer) + " is not " + z.account, Err: ErrForeignBill}
	}
	ln.Account = z.acct.get(mer)
	amount, ok := parseFen(zmText(b, zmAmount))
	if !ok {
		return Line{}, z.l.fail(zmAmount.off+1, "交易金额 is not 12 digits of fen")
	}
	ln.Amount = amount
	fee, ok := zmSigned(zmText(b, zmFee))
	if !ok {
		return Line{}, z.l.fail(zmFee.off+1, "商户手续费 is not D/C and 12 digits")
	}
	settle, ok := zmSigned(zmText(b, zmSettle))
	if !ok {
		return Line{}, z.l.fail(zmSettle.off+1, "结算金额 is not D/C and 12 digits")
	}
	if abs(settle) != amount-abs(fee) {
		return Line{}, z.l.fail(zmSettle.off+1, "结算金额 is not 交易金额 less 商户手续费")
	}
	ln.Fee = abs(fee)
	t, err := z.transTime(zmText(b, zmTransTime))
	if err != nil {
		return Line{}, err
	}
	ln.Time = t
	queryID := string(zmText(b, zmQueryID))
	orderID := zmText(b, zmOrderID)
	if queryID == "" {
		return Line{}, z.l.fail(zmQueryID.off+1, "查询流水号 is empty")
	}
	ln.Status = StatusSucceeded
	switch txnType := zmText(b, zmTxnType); string(txnType) {
	case unionpay.TxnConsume, "":
		if len(txnType) == 0 && string(zmText(b, zmTxnCode)) != unionpay.ZMCodeConsume {
			return Line{}, z.l.fail(zmTxnType.off+1, "交易类型 is empty")
		}
		ln.Kind = LinePayment
		ln.ChannelTradeNo, ln.OrderID = queryID, paygateID(orderID)
	case unionpay.TxnRefund:
		ln.Kind = LineRefund
		ln.ChannelRefundNo, ln.RefundID = queryID, paygateID(orderID)
		ln.ChannelTradeNo = string(zmText(b, zmOrigQueryID))
		ln.OrderID = paygateID(zmText(b, zmOrigOrderID))
	case unionpay.TxnUndo:
		// A consume undo returns the whole payment: the payment's line,
		// reversed, keyed by the payment's numbers.
		ln.Kind, ln.Status = LinePayment, StatusReversed
		ln.ChannelTradeNo = string(zmText(b, zmOrigQueryID))
		ln.OrderID = paygateID(zmText(b, zmOrigOrderID))
		ln.Ref = queryID
	default:
		return Line{}, z.l.fail(zmTxnType.off+1, "unknown 交易类型 "+string(txnType))
	}
	if ln.ChannelTradeNo == "" {
		return Line{}, z.l.fail(zmOrigQueryID.off+1, "原交易查询流水号 is empty")
	}
	return ln, nil
}

// paygateID maps a UnionPay orderId back to the paygate id it was made
// from (docs/channels/unionpay.md); other ids are kept as they are.
func paygateID(orderID []byte) string {
	if id, _, ok := unionpay.FromOrderID(string(orderID)); ok {
		return id
	}
	return string(orderID)
}

// transTime reads 交易传输时间 MMDDhhmmss in the year that puts it nearest
// the settlement date: December trades in a January file are last year's.
func (z *zmReader) transTime(b []byte) (time.Time, error) {
	bad := z.l.fail(zmTransTime.off+1, "交易传输时间 is not MMDDhhmmss")
	if len(b) != 10 {
		return time.Time{}, bad
	}
	month, ok1 := digitsAt(b, 0, 2)
	day, ok2 := digitsAt(b, 2, 2)
	hour, ok3 := digitsAt(b, 4, 2)
	minute, ok4 := digitsAt(b, 6, 2)
	sec, ok5 := digitsAt(b, 8, 2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5) {
		return time.Time{}, bad
	}
	year := z.settleDay.Year()
	if z.settleDay.IsZero() {
		year = time.Now().In(cst).Year()
	}
	switch sm := int(z.settleDay.Month()); {
	case month-sm > 6:
		year--
	case sm-month > 6:
		year++
	}
	if !validClock(year, month, day, hour, minute, sec) {
		return time.Time{}, bad
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, 0, cst), nil
}

// zmSigned reads D/C and 12 digits of fen; D is positive.
func zmSigned(b []byte) (int64, bool) {
	if len(b) != 13 || (b[0] != 'C' && b[0] != 'D') {
		return 0, false
	}
	v, ok := parseFen(b[1:])
	if b[0] == 'C' {
		v = -v
	}
	return v, ok
}

// zmNames are the file names of a day's archive: INN{yyMMdd}88ZM_{merId}
// and INN{yyMMdd}88ZME_{merId}.
func zmName(day time.Time, merID string, errFile bool) string {
	kind := "ZM_"
	if errFile {
		kind = "ZME_"
	}
	return "INN" + day.In(cst).Format("060102") + "88" + kind + merID
}

// parseZMName reads a ZM or ZME file name: its settlement day and merId.
func parseZMName(name string) (day time.Time, merID string, errFile, ok bool) {
	name = lastPathPart(name)
	if len(name) < 14 || !strings.HasPrefix(name, "INN") || name[9:11] != "88" {
		return time.Time{}, "", false, false
	}
	rest := name[11:]
	switch {
	case strings.HasPrefix(rest, "ZME_"):
		errFile, merID = true, rest[4:]
	case strings.HasPrefix(rest, "ZM_"):
		merID = rest[3:]
	default:
		return time.Time{}, "", false, false
	}
	d, err := time.ParseInLocation("060102", name[3:9], cst)
	if err != nil {
		return time.Time{}, "", false, false
	}
	return d, merID, errFile, true
}

// zmArchive reads the ZM file then the ZME file of a day's archive.
type zmArchive struct {
	readers []BillReader
	closers []io.Closer
}

func (a *zmArchive) Next() (Line, error) {
	for len(a.readers) > 0 {
		ln, err := a.readers[0].Next()
		if err != io.EOF {
			return ln, err
		}
		a.readers = a.readers[1:]
	}
	return Line{}, io.EOF
}

func (a *zmArchive) Close() error {
	for _, c := range a.closers {
		c.Close()
	}
	a.closers = nil
	return nil
}

// openZMZip opens the ZM and ZME files of a UnionPay file archive. The ZM
// file must be there; the ZME file may be absent (no errors that day).
func openZMZip(zr *zip.Reader, file, account string, day time.Time) (BillReader, io.Closer, error) {
	var zm, zme *zip.File
	var zmDay, zmeDay time.Time
	for _, f := range zr.File {
		d, mer, errFile, ok := parseZMName(f.Name)
		if !ok {
			continue
		}
		if account != "" && mer != account {
			return nil, nil, &ParseError{File: file + "!" + f.Name, Msg: "foreign bill: merId " + mer + " is not " + account, Err: ErrForeignBill}
		}
		if errFile {
			zme, zmeDay = f, d
		} else {
			zm, zmDay = f, d
		}
	}
	if zm == nil {
		return nil, nil, &ParseError{File: file, Msg: "not a UnionPay file archive: no INN…88ZM_ file"}
	}
	a := &zmArchive{}
	for _, e := range []struct {
		f       *zip.File
		d       time.Time
		errFile bool
	}{{zm, zmDay, false}, {zme, zmeDay, true}} {
		if e.f == nil {
			continue
		}
		name := file + "!" + e.f.Name
		if !day.IsZero() && !dayOf(day).Equal(e.d) {
			a.Close()
			return nil, nil, &ParseError{File: name, Msg: "bill of another day: settlement date " + e.d.Format("2006-01-02")}
		}
		rc, err := e.f.Open()
		if err != nil {
			a.Close()
			return nil, nil, &ParseError{File: name, Msg: "cannot open: " + err.Error()}
		}
		a.closers = append(a.closers, rc)
		a.readers = append(a.readers, NewZMReader(rc, name, account, e.d, e.errFile))
	}
	return a, a, nil
}
