package reconcile

import (
	"bytes"
	"io"
	"os"
	"strings"
	"time"

	iso "github.com/paygate-cn/paygate/channels/acquirer"
)

// Acquirer settlement file (docs/channels/acquirer.md, "Settlement file"):
// UTF-8 CSV read by header name, one line per settled transaction, a TOTAL
// trailer. The 0510 totals of the day's batch settlement, when the source
// kept them beside the file, are checked against the file at its end.

type acquirerCols struct {
	acquirerID, merchant, terminal, batch, stan, rrn, origRRN, txnTime, dc, amount, fee, settle, settleDate int
}

type acquirerReader struct {
	l       *lines
	account string
	day     time.Time
	batch   *iso.Totals // the 0510's totals, when known
	state   int         // 0 header, 1 rows, 2 done
	n       int
	col     acquirerCols
	f       [][]byte
	acct    interned
	days    dayCache
	ref     []byte
	sum     struct{ debitCount, debit, creditCount, credit, fee, net int64 }
}

// NewAcquirerReader reads an acquirer settlement file from r. account is
// the acquirer institution code of the provider (acquirer_id; field 32) or
// a merchant no. (field 42); each line's Account is its merchant no.; day, when not zero, the settlement
// date; batch, when not nil, the 0510 totals the file must agree with.
func NewAcquirerReader(r io.Reader, file, account string, day time.Time, batch *iso.Totals) BillReader {
	return &acquirerReader{l: newLines(file, r), account: account, day: day, batch: batch}
}

var acquirerTotal = []byte("TOTAL")

func (a *acquirerReader) Next() (Line, error) {
	for {
		if a.state == 2 {
			return Line{}, io.EOF
		}
		b, err := a.l.next()
		if err == io.EOF {
			if a.state == 0 {
				return Line{}, a.l.truncated("header")
			}
			return Line{}, a.l.truncated("TOTAL line")
		}
		if err != nil {
			return Line{}, err
		}
		if a.l.n == 1 {
			b = bytes.TrimPrefix(b, utf8BOM)
		}
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		a.f = splitCSV(a.f, b)
		if a.state == 0 {
			if err := a.header(); err != nil {
				return Line{}, err
			}
			a.state = 1
			continue
		}
		if bytes.Equal(a.f[0], acquirerTotal) {
			return Line{}, a.total()
		}
		return a.row()
	}
}

func (a *acquirerReader) header() error {
	a.n = len(a.f)
	idx := func(name string) int { return column(a.f, name) }
	a.col = acquirerCols{acquirerID: idx("acquirer_id"), merchant: idx("merchant_no"), terminal: idx("terminal_id"), batch: idx("batch_no"),
		stan: idx("stan"), rrn: idx("rrn"), origRRN: idx("orig_rrn"), txnTime: idx("txn_time"), dc: idx("dc"),
		amount: idx("amount"), fee: idx("fee"), settle: idx("settle_amount"), settleDate: idx("settle_date")}
	for _, c := range []struct {
		i    int
		name string
	}{{a.col.acquirerID, "acquirer_id"}, {a.col.merchant, "merchant_no"}, {a.col.terminal, "terminal_id"}, {a.col.batch, "batch_no"},
		{a.col.stan, "stan"}, {a.col.rrn, "rrn"}, {a.col.origRRN, "orig_rrn"}, {a.col.txnTime, "txn_time"},
		{a.col.dc, "dc"}, {a.col.amount, "amount"}, {a.col.fee, "fee"}, {a.col.settle, "settle_amount"},
		{a.col.settleDate, "settle_date"}} {
		if c.i < 0 {
			return a.l.fail(0, "not an acquirer settlement file: no column "+c.name)
		}
	}
	return nil
}

func (a *acquirerReader) row() (Line, error) {
	if len(a.f) != a.n {
		return Line{}, a.l.fail(0, "row has "+itoa(int64(len(a.f)))+" fields, the header "+itoa(int64(a.n)))
	}
	c := &a.col
	v := func(i int) []byte { return trimField(a.f[i]) }
	ln := Line{Pos: Position{File: a.l.file, Line: a.l.n}, Status: StatusSucceeded}
	// The provider's account is the acquirer institution paygate is
	// signed on with (or, for a one-merchant contract, its merchant no.).
	mer, acq := v(c.merchant), v(c.acquirerID)
	if a.account != "" && string(acq) != a.account && string(mer) != a.account {
		return Line{}, &ParseError{File: a.l.file, Line: a.l.n, Column: c.acquirerID + 1,
			Msg: "foreign bill: acquirer_id " + string(acq) + " is not " + a.account, Err: ErrForeignBill}
	}
	ln.Account = a.acct.get(mer)
	t, ok := a.days.compact(v(c.txnTime))
	if !ok {
		return Line{}, a.l.fail(c.txnTime+1, "txn_time is not yyyyMMddHHmmss")
	}
	ln.Time = t
	settleDate := v(c.settleDate)
	if !a.day.IsZero() && string(settleDate) != a.day.In(cst).Format("20060102") {
		return Line{}, a.l.fail(c.settleDate+1, "settle_date "+string(settleDate)+" is not the bill's day")
	}
	amount, ok1 := parseFen(v(c.amount))
	fee, ok2 := parseFen(v(c.fee))
	settle, ok3 := parseYuanFen(v(c.settle))
	switch {
	case !ok1:
		return Line{}, a.l.fail(c.amount+1, "amount is not fen")
	case !ok2:
		return Line{}, a.l.fail(c.fee+1, "fee is not fen")
	case !ok3:
		return Line{}, a.l.fail(c.settle+1, "settle_amount is not fen")
	}
	ln.Amount, ln.Fee = amount, fee
	rrn := string(v(c.rrn))
	if rrn == "" {
		return Line{}, a.l.fail(c.rrn+1, "rrn is empty")
	}
	switch string(v(c.dc)) {
	case "D":
		ln.Kind, ln.ChannelTradeNo = LinePayment, rrn
		if settle != amount-fee {
			return Line{}, a.l.fail(c.settle+1, "settle_amount is not amount less fee")
		}
		a.sum.debitCount++
		a.sum.debit += amount
	case "C":
		ln.Kind, ln.ChannelRefundNo = LineRefund, rrn
		ln.ChannelTradeNo = string(v(c.origRRN))
		if ln.ChannelTradeNo == "" {
			return Line{}, a.l.fail(c.origRRN+1, "credit without orig_rrn")
		}
		if settle != -(amount - fee) {
			return Line{}, a.l.fail(c.settle+1, "settle_amount is not minus (amount less fee returned)")
		}
		a.sum.creditCount++
		a.sum.credit += amount
	default:
		return Line{}, a.l.fail(c.dc+1, "dc is neither D nor C")
	}
	a.sum.fee += fee
	a.sum.net += settle
	// Ref: terminal/batch/STAN/RRN/date, the acquirer's own key.
	a.ref = append(a.ref[:0], v(c.terminal)...)
	for _, i := range []int{c.batch, c.stan, c.rrn, c.settleDate} {
		a.ref = append(a.ref, '/')
		a.ref = append(a.ref, v(i)...)
	}
	ln.Ref = string(a.ref)
	return ln, nil
}

// parseYuanFen reads a signed integer of fen.
func parseYuanFen(b []byte) (int64, bool) {
	if len(b) > 0 && b[0] == '-' {
		v, ok := parseFen(b[1:])
		return -v, ok
	}
	return parseFen(b)
}

func (a *acquirerReader) total() error {
	names := [6]string{"debit_count", "debit_amount", "credit_count", "credit_amount", "fee_total", "net_amount"}
	if len(a.f) != 7 {
		return a.l.fail(0, "TOTAL line has "+itoa(int64(len(a.f)))+" fields, want 7")
	}
	want := [6]int64{a.sum.debitCount, a.sum.debit, a.sum.creditCount, a.sum.credit, a.sum.fee, a.sum.net}
	for i := range 6 {
		v, ok := parseYuanFen(trimField(a.f[i+1]))
		if !ok {
			return a.l.fail(i+2, "TOTAL "+names[i]+" is not a number")
		}
		if v != want[i] {
			return a.l.fail(i+2, "TOTAL "+names[i]+" is "+itoa(v)+" but the rows sum to "+itoa(want[i]))
		}
	}
	if t := a.batch; t != nil {
		got := [4]int64{t.DebitCount, t.DebitAmount, t.CreditCount, t.CreditAmount}
		if got != [4]int64{want[0], want[1], want[2], want[3]} {
			return a.l.fail(0, "the batch settlement (0510 field 48: "+itoa(got[0])+" debits "+itoa(got[1])+", "+
				itoa(got[2])+" credits "+itoa(got[3])+") does not match the settlement file")
		}
	}
	for {
		b, err := a.l.next()
		if err == io.EOF {
			a.state = 2
			return io.EOF
		}
		if err != nil {
			return err
		}
		if len(bytes.TrimSpace(b)) > 0 {
			return a.l.fail(1, "text after the TOTAL line")
		}
	}
}

// BatchTotalsSuffix names the file beside an acquirer settlement file that
// holds the 0510's field 48, as Fetch keeps it.
const BatchTotalsSuffix = ".0510"

// readBatchTotals reads the 0510 totals kept beside path; nil when none.
func readBatchTotals(path string) (*iso.Totals, error) {
	b, err := os.ReadFile(path + BatchTotalsSuffix)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, &ParseError{File: path + BatchTotalsSuffix, Msg: "cannot read: " + err.Error()}
	}
	t, err := iso.ParseTotals(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, &ParseError{File: path + BatchTotalsSuffix, Line: 1, Column: 1, Msg: err.Error()}
	}
	return &t, nil
}
