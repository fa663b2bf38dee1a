package reconcile

import (
	"archive/zip"
	"bytes"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/transform"
)

// Alipay trade bill (docs/reconciliation.md, "Alipay"): a zip of GBK CSV
// files, the business detail (业务明细) and its summary (业务明细(汇总)).
// The detail has '#' comment lines, a marker line 业务明细列表, the header,
// the rows, a marker 业务明细列表结束 and the #交易合计 / #退款合计 trailers.

type alipayCols struct {
	tradeNo, outTradeNo, kind, finished, orderAmount, received, requestNo, fee int
}

// alipayTotals are what a trailer or the summary states, or the rows sum to.
type alipayTotals struct {
	payCount, refundCount int64
	payReceived           int64 // Σ 商家实收 of payments
	refundReceived        int64 // Σ 商家实收 of refunds (negative)
	fee                   int64 // Σ 服务费 as written (signed)
}

type alipayReader struct {
	l           *lines
	account     string // the pid; the file's 账号 is pid or pid+"0156"
	day         time.Time
	summary     *alipayTotals // from the 汇总 file; nil when the bill came without it
	summaryFile string

	pay, refund []byte // 交易, 退款 as the file encodes them
	utf8        bool   // the detail was converted to UTF-8

	state   int
	n       int
	col     alipayCols
	f       [][]byte
	acct    string
	days    dayCache
	sum     alipayTotals
	trailer struct {
		pay, refund *alipayTotals
	}
}

const (
	alipayPreamble = iota // comment lines before the marker
	alipayHeader          // the line after the marker
	alipayRows
	alipayTrailer
	alipayDone
)

// NewAlipayDetailReader reads the business detail CSV of an Alipay trade
// bill from r, GBK as Alipay writes it. account is the merchant's pid
// (checked against the file's 账号); day, when not zero, is checked
// against its 起始日期.
func NewAlipayDetailReader(r io.Reader, file, account string, day time.Time) BillReader {
	return newAlipayReader(r, file, account, day)
}

// The detail is read as raw bytes: GBK's multi-byte characters never
// contain ',', TAB or a line end, and every field paygate keeps is ASCII, so
// only comments, markers and the header are decoded; 业务类型 is compared
// in its encoded form. A detail already converted to UTF-8 reads too.
func newAlipayReader(r io.Reader, file, account string, day time.Time) *alipayReader {
	return &alipayReader{l: newLines(file, r), account: account, day: day,
		pay: gbkBytes("交易"), refund: gbkBytes("退款")}
}

func gbkBytes(s string) []byte {
	b, _ := simplifiedchinese.GB18030.NewEncoder().Bytes([]byte(s))
	return b
}

// text decodes a non-row line (comment, marker, header) to UTF-8.
func (a *alipayReader) text(b []byte) []byte {
	if a.utf8 || utf8.Valid(b) {
		return b
	}
	d, err := simplifiedchinese.GB18030.NewDecoder().Bytes(b)
	if err != nil {
		return b
	}
	return d
}

// alipayMarker, alipayEnd: the marker lines around the detail rows.
var (
	alipayMarker = []byte("业务明细列表")
	alipayEnd    = []byte("业务明细列表结束")
)

func (a *alipayReader) Next() (Line, error) {
	for {
		if a.state == alipayDone {
			return Line{}, io.EOF
		}
		b, err := a.l.next()
		if err == io.EOF {
			return Line{}, a.end()
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
		if a.state == alipayHeader && utf8.Valid(b) && bytes.Contains(b, []byte("支付宝交易号")) {
			// A detail someone saved as UTF-8: rows compare in UTF-8.
			a.utf8, a.pay, a.refund = true, []byte("交易"), []byte("退款")
		}
		if a.state != alipayRows || b[0] == '#' {
			b = a.text(b)
		}
		switch a.state {
		case alipayPreamble:
			if b[0] != '#' {
				return Line{}, a.l.fail(1, "not an Alipay bill: a line before the 业务明细列表 marker is not a # comment")
			}
			if bytes.Contains(b, alipayMarker) {
				if a.acct == "" && a.account != "" {
					return Line{}, a.l.fail(0, "no #账号 line before the detail")
				}
				a.state = alipayHeader
				continue
			}
			if err := a.comment(b); err != nil {
				return Line{}, err
			}
		case alipayHeader:
			if err := a.header(b); err != nil {
				return Line{}, err
			}
			a.state = alipayRows
		case alipayRows:
			if b[0] == '#' {
				if !bytes.Contains(b, alipayEnd) {
					return Line{}, a.l.fail(1, "comment line inside the detail rows")
				}
				a.state = alipayTrailer
				continue
			}
			return a.row(b)
		case alipayTrailer:
			if b[0] != '#' {
				return Line{}, a.l.fail(1, "text after the 业务明细列表结束 marker")
			}
			if err := a.trailerLine(b); err != nil {
				return Line{}, err
			}
		}
	}
}

// comment reads the preamble's 账号 and 起始日期.
func (a *alipayReader) comment(b []byte) error {
	s := string(b)
	if i := strings.Index(s, "账号："); i >= 0 {
		v := bracketed(s[i:])
		acct := strings.TrimSuffix(v, "0156")
		if a.account != "" && v != a.account && acct != a.account {
			return &ParseError{File: a.l.file, Line: a.l.n, Column: utf8.RuneCountInString(s[:i]) + 1,
				Msg: "foreign bill: 账号 " + v + " is not " + a.account, Err: ErrForeignBill}
		}
		a.acct = acct
		if a.acct == "" {
			a.acct = v
		}
	}
	if i := strings.Index(s, "起始日期："); i >= 0 && !a.day.IsZero() {
		v := bracketed(s[i:])
		want := a.day.In(cst).Format("2006年01月02日")
		if !strings.HasPrefix(v, want) {
			return a.l.fail(utf8.RuneCountInString(s[:i])+1, "bill of another day: 起始日期 "+v+", want "+want)
		}
	}
	return nil
}

// bracketed is the text inside the first [...] of s.
func bracketed(s string) string {
	i := strings.IndexByte(s, '[')
	j := strings.IndexByte(s, ']')
	if i < 0 || j < i {
		return ""
	}
	return strings.TrimSpace(s[i+1 : j])
}

func (a *alipayReader) header(b []byte) error {
	a.f = splitCSV(a.f, b)
	a.n = len(a.f)
	idx := func(name string) int { return column(a.f, name) }
	a.col = alipayCols{
		tradeNo: idx("支付宝交易号"), outTradeNo: idx("商户订单号"), kind: idx("业务类型"),
		finished: idx("完成时间"), orderAmount: idx("订单金额（元）"), received: idx("商家实收（元）"),
		requestNo: idx("退款批次号/请求号"), fee: idx("服务费（元）"),
	}
	for _, c := range []struct {
		i    int
		name string
	}{
		{a.col.tradeNo, "支付宝交易号"}, {a.col.outTradeNo, "商户订单号"}, {a.col.kind, "业务类型"},
		{a.col.finished, "完成时间"}, {a.col.orderAmount, "订单金额（元）"}, {a.col.received, "商家实收（元）"},
		{a.col.requestNo, "退款批次号/请求号"}, {a.col.fee, "服务费（元）"},
	} {
		if c.i < 0 {
			return a.l.fail(0, "not an Alipay business detail: no column "+c.name)
		}
	}
	return nil
}

func (a *alipayReader) value(i int) []byte { return trimField(a.f[i]) }

func (a *alipayReader) amount(i int, name string) (int64, error) {
	v := a.value(i)
	if len(v) == 0 {
		return 0, nil
	}
	fen, ok := parseYuan(v)
	if !ok {
		return 0, a.l.fail(i+1, name+" is not an amount in yuan")
	}
	return fen, nil
}

func (a *alipayReader) row(b []byte) (Line, error) {
	a.f = splitCSV(a.f, b)
	if len(a.f) != a.n {
		return Line{}, a.l.fail(0, "row has "+itoa(int64(len(a.f)))+" fields, the header "+itoa(int64(a.n)))
	}
	c := &a.col
	ln := Line{Account: a.acct, Pos: Position{File: a.l.file, Line: a.l.n}}
	t, ok := a.days.dateTime(a.value(c.finished))
	if !ok {
		return Line{}, a.l.fail(c.finished+1, "完成时间 is not yyyy-MM-dd HH:mm:ss")
	}
	ln.Time = t
	ln.ChannelTradeNo = string(a.value(c.tradeNo))
	ln.OrderID = string(a.value(c.outTradeNo))
	if ln.ChannelTradeNo == "" {
		return Line{}, a.l.fail(c.tradeNo+1, "支付宝交易号 is empty")
	}
	order, err := a.amount(c.orderAmount, "订单金额（元）")
	if err != nil {
		return Line{}, err
	}
	received, err := a.amount(c.received, "商家实收（元）")
	if err != nil {
		return Line{}, err
	}
	fee, err := a.amount(c.fee, "服务费（元）")
	if err != nil {
		return Line{}, err
	}
	// The sign of 服务费 differs between payments and refunds and is not
	// documented: paygate takes its size (docs/reconciliation.md).
	ln.Fee = abs(fee)
	ln.Status = StatusSucceeded
	switch kind := a.value(c.kind); {
	case bytes.Equal(kind, a.pay):
		ln.Kind, ln.Amount = LinePayment, order
		if order < 0 {
			return Line{}, a.l.fail(c.orderAmount+1, "negative 订单金额 on a payment")
		}
		a.sum.payCount++
		a.sum.payReceived += received
	case bytes.Equal(kind, a.refund):
		ln.Kind, ln.Amount = LineRefund, abs(received)
		ln.RefundID = string(a.value(c.requestNo))
		if ln.RefundID == "" {
			// alipay.trade.cancel of a paid trade returns it whole as a
			// refund without a request number: the payment, reversed.
			ln.Kind, ln.Status = LinePayment, StatusReversed
		}
		a.sum.refundCount++
		a.sum.refundReceived += received
	default:
		return Line{}, a.l.fail(c.kind+1, "unknown 业务类型 "+string(a.text(kind)))
	}
	a.sum.fee += fee
	return ln, nil
}

// trailerLine reads #交易合计：N笔，商家实收：X元，... and #退款合计：...
func (a *alipayReader) trailerLine(b []byte) error {
	s := string(b)
	var dst **alipayTotals
	switch {
	case strings.HasPrefix(s, "#交易合计"):
		dst = &a.trailer.pay
	case strings.HasPrefix(s, "#退款合计"):
		dst = &a.trailer.refund
	default:
		return nil // #导出时间 and other comments
	}
	count, ok1 := numberAfter(s, "：", "笔", false)
	received, ok2 := numberAfter(s, "商家实收：", "元", true)
	if !ok1 || !ok2 {
		return a.l.fail(1, "trailer is not N笔，商家实收：X元")
	}
	*dst = &alipayTotals{payCount: count, payReceived: received}
	return nil
}

// numberAfter reads the number between the first key and the next unit.
func numberAfter(s, key, unit string, yuan bool) (int64, bool) {
	i := strings.Index(s, key)
	if i < 0 {
		return 0, false
	}
	s = s[i+len(key):]
	j := strings.Index(s, unit)
	if j < 0 {
		return 0, false
	}
	v := []byte(strings.TrimSpace(s[:j]))
	if yuan {
		return parseYuan(v)
	}
	return parseFen(v)
}

// end checks, at the end of the file, that the bill was complete and that
// its trailers and summary agree with the rows.
func (a *alipayReader) end() error {
	switch a.state {
	case alipayPreamble, alipayHeader:
		return a.l.truncated("业务明细列表 and its rows")
	case alipayRows:
		return a.l.truncated("业务明细列表结束 marker")
	}
	a.state = alipayDone
	p, r := a.trailer.pay, a.trailer.refund
	if p == nil {
		return a.l.truncated("#交易合计 trailer")
	}
	if r == nil {
		return a.l.truncated("#退款合计 trailer")
	}
	if p.payCount != a.sum.payCount || p.payReceived != a.sum.payReceived {
		return a.l.errf(a.l.n, 0, "#交易合计 "+itoa(p.payCount)+"笔 "+yuanText(p.payReceived)+
			" but the rows hold "+itoa(a.sum.payCount)+"笔 "+yuanText(a.sum.payReceived))
	}
	if r.payCount != a.sum.refundCount || r.payReceived != a.sum.refundReceived {
		return a.l.errf(a.l.n, 0, "#退款合计 "+itoa(r.payCount)+"笔 "+yuanText(r.payReceived)+
			" but the rows hold "+itoa(a.sum.refundCount)+"笔 "+yuanText(a.sum.refundReceived))
	}
	if s := a.summary; s != nil {
		if s.payCount != a.sum.payCount || s.refundCount != a.sum.refundCount ||
			s.payReceived != a.sum.payReceived+a.sum.refundReceived || s.fee != a.sum.fee {
			return &ParseError{File: a.summaryFile, Msg: "summary 合计 (" + itoa(s.payCount) + "/" + itoa(s.refundCount) +
				"笔, 商家实收 " + yuanText(s.payReceived) + ", 服务费 " + yuanText(s.fee) + ") does not match the detail (" +
				itoa(a.sum.payCount) + "/" + itoa(a.sum.refundCount) + "笔, " + yuanText(a.sum.payReceived+a.sum.refundReceived) +
				", " + yuanText(a.sum.fee) + ")"}
		}
	}
	return io.EOF
}

// readAlipaySummary reads the 合计 row of the summary file (small: one
// row per store). Its payReceived holds the net 商家实收 of the day.
func readAlipaySummary(r io.Reader, file string) (*alipayTotals, error) {
	l := newLines(file, transform.NewReader(io.LimitReader(r, 4<<20), simplifiedchinese.GB18030.NewDecoder()))
	var col struct{ pay, refund, received, fee int }
	var f [][]byte
	header := false
	for {
		b, err := l.next()
		if err == io.EOF {
			return nil, l.truncated("合计 row of the summary")
		}
		if err != nil {
			return nil, err
		}
		b = bytes.TrimPrefix(b, utf8BOM)
		if len(bytes.TrimSpace(b)) == 0 || b[0] == '#' {
			continue
		}
		f = splitCSV(f, b)
		if !header {
			idx := func(name string) int { return column(f, name) }
			col.pay, col.refund = idx("交易订单总笔数"), idx("退款订单总笔数")
			col.received, col.fee = idx("商家实收（元）"), idx("服务费（元）")
			if col.pay < 0 || col.refund < 0 || col.received < 0 || col.fee < 0 {
				return nil, l.fail(0, "not an Alipay summary: 交易订单总笔数, 退款订单总笔数, 商家实收（元） or 服务费（元） missing")
			}
			header = true
			continue
		}
		total := false
		for _, v := range f[:min(2, len(f))] {
			if string(trimField(v)) == "合计" {
				total = true
			}
		}
		if !total {
			continue // a store's row
		}
		if len(f) <= max(col.pay, col.refund, col.received, col.fee) {
			return nil, l.fail(0, "合计 row too short")
		}
		var t alipayTotals
		var ok [4]bool
		t.payCount, ok[0] = parseFen(trimField(f[col.pay]))
		t.refundCount, ok[1] = parseFen(trimField(f[col.refund]))
		t.payReceived, ok[2] = parseYuan(trimField(f[col.received]))
		t.fee, ok[3] = parseYuan(trimField(f[col.fee]))
		if ok != [4]bool{true, true, true, true} {
			return nil, l.fail(0, "合计 row holds a value that is not a number")
		}
		return &t, nil
	}
}

// alipayEntryName decodes a zip entry name: GBK without the UTF-8 flag,
// as Alipay writes them, or UTF-8 when valid.
func alipayEntryName(f *zip.File) string {
	if utf8.ValidString(f.Name) {
		return f.Name
	}
	s, err := simplifiedchinese.GB18030.NewDecoder().String(f.Name)
	if err != nil {
		return f.Name
	}
	return s
}

// openAlipayZip opens the detail of an Alipay bill archive, with its
// summary's totals when the archive has one.
func openAlipayZip(zr *zip.Reader, file, account string, day time.Time) (BillReader, io.Closer, error) {
	if len(zr.File) > 16 {
		return nil, nil, &ParseError{File: file, Msg: "not an Alipay bill: " + itoa(int64(len(zr.File))) + " files in the archive"}
	}
	var detail, summary *zip.File
	var detailName, summaryName string
	for _, f := range zr.File {
		name := alipayEntryName(f)
		switch {
		case strings.Contains(name, "汇总"):
			summary, summaryName = f, name
		case strings.Contains(name, "业务明细"):
			detail, detailName = f, name
		}
	}
	if detail == nil {
		return nil, nil, &ParseError{File: file, Msg: "not an Alipay bill: no 业务明细 file in the archive"}
	}
	if account != "" && !strings.HasPrefix(lastPathPart(detailName), account) {
		return nil, nil, &ParseError{File: file + "!" + detailName, Msg: "foreign bill: the file is not named after pid " + account, Err: ErrForeignBill}
	}
	var totals *alipayTotals
	if summary != nil {
		rc, err := summary.Open()
		if err != nil {
			return nil, nil, &ParseError{File: file + "!" + summaryName, Msg: "cannot open: " + err.Error()}
		}
		totals, err = readAlipaySummary(rc, file+"!"+summaryName)
		rc.Close()
		if err != nil {
			return nil, nil, err
		}
	}
	rc, err := detail.Open()
	if err != nil {
		return nil, nil, &ParseError{File: file + "!" + detailName, Msg: "cannot open: " + err.Error()}
	}
	r := newAlipayReader(rc, file+"!"+detailName, account, day)
	r.summary, r.summaryFile = totals, file+"!"+summaryName
	return r, rc, nil
}

func lastPathPart(name string) string {
	if i := strings.LastIndexAny(name, "/\\"); i >= 0 {
		return name[i+1:]
	}
	return name
}
