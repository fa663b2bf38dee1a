package reconcile

import (
	"archive/zip"
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"sort"
	"strconv"
	"unicode"
	"unicode/utf8"

	"github.com/paygate-cn/paygate"
	"github.com/xuri/excelize/v2"
)

// Statement formats.
const (
	FormatCSV  = "csv"
	FormatXLSX = "xlsx"
	FormatJSON = "json"
)

// ContentType returns the media type of a statement format.
func ContentType(format string) string {
	switch format {
	case FormatCSV:
		return "text/csv; charset=utf-8"
	case FormatXLSX:
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	}
	return "application/json"
}

// StatementTotals count lines and sum their amounts, fees and net amounts
// (fen; refunds negative).
type StatementTotals struct {
	Count     int64 `json:"count"`
	Amount    int64 `json:"amount"`
	Fee       int64 `json:"fee"`
	NetAmount int64 `json:"net_amount"`
}

func (t *StatementTotals) add(l *paygate.StatementLine) {
	t.Count++
	t.Amount += l.Amount
	t.Fee += l.Fee
	t.NetAmount += l.NetAmount
}

// statementSums are a statement's totals, kept while lines stream by.
type statementSums struct {
	total     StatementTotals
	byChannel map[string]*StatementTotals
	savings   int64
}

func (s *statementSums) add(l *paygate.StatementLine) {
	s.total.add(l)
	t := s.byChannel[l.Channel]
	if t == nil {
		t = &StatementTotals{}
		s.byChannel[l.Channel] = t
	}
	t.add(l)
	if !l.Refund && l.MaxFee > l.Fee {
		s.savings += l.MaxFee - l.Fee
	}
}

func (s *statementSums) channels() []string {
	names := make([]string, 0, len(s.byChannel))
	for c := range s.byChannel {
		names = append(names, c)
	}
	sort.Strings(names)
	return names
}

// lineWriter writes one format: a line at a time, then the totals.
type lineWriter interface {
	line(l *paygate.StatementLine) error
	finish(s *statementSums) error
}

// WriteStatement streams a merchant's statement for day (YYYY-MM-DD, China
// Standard Time) to w in format: every payment and refund that succeeded
// that day with its reconciliation outcome in the latest run of its
// provider and day, totals per channel and overall, and the routing
// savings. Lines go to w as the database hands them over; only the totals
// are kept (docs/reconciliation.md, "Statements").
// Returns EPARAMINVALID for a bad day or format.
func WriteStatement(ctx context.Context, st paygate.ReconciliationStore, w io.Writer, merchantID, day, format string) error {
	start, err := paygate.ParseDay(day)
	if err != nil {
		return err
	}
	var lw lineWriter
	switch format {
	case FormatCSV:
		lw = newCSVStatement(w)
	case FormatJSON:
		lw = newJSONStatement(w, merchantID, day)
	case FormatXLSX:
		x, err := newXLSXStatement(w)
		if err != nil {
			return err
		}
		defer x.close()
		lw = x
	default:
		return paygate.ParamErrorf(paygate.EPARAMINVALID, "format", "format must be csv, xlsx or json")
	}
	latest, err := st.LatestReconciliations(ctx, day)
	if err != nil {
		return err
	}
	runs := make(map[string]string, len(latest))
	for p, r := range latest {
		runs[p] = r.ID
	}
	sums := &statementSums{byChannel: map[string]*StatementTotals{}}
	err = st.StatementLines(ctx, merchantID, start, start.AddDate(0, 0, 1), runs, func(l *paygate.StatementLine) error {
		if l.Refund && KeepsFees(l.Channel) {
			l.Fee, l.NetAmount = 0, l.Amount // the channel returned no fee
		}
		sums.add(l)
		return lw.line(l)
	})
	if err != nil {
		return err
	}
	return lw.finish(sums)
}

// Yuan formats fen as yuan with two decimals: 1234 → "12.34", -5 → "-0.05".
func Yuan(fen int64) string {
	return string(appendYuan(nil, fen))
}

// appendYuan appends fen formatted as Yuan does.
func appendYuan(dst []byte, fen int64) []byte {
	u := uint64(fen)
	if fen < 0 {
		dst, u = append(dst, '-'), -u
	}
	dst = strconv.AppendUint(dst, u/100, 10)
	c := u % 100
	return append(dst, '.', byte('0'+c/10), byte('0'+c%10))
}

const timeLayout = "2006-01-02 15:04:05"

// Column headings of the CSV and XLSX statements.
var statementHeader = []string{"类型", "时间", "商户订单号", "渠道交易号", "支付方式", "渠道", "服务商", "路由规则",
	"终端号", "金额(元)", "手续费(元)", "净额(元)", "对账结果", "订单号", "退款单号"}

func lineType(l *paygate.StatementLine) string {
	if l.Refund {
		return "退款"
	}
	return "支付"
}

func outcomeText(o paygate.ReconOutcome) string {
	if o == "" {
		return "未对账"
	}
	return string(o)
}

// csvStatement writes the CSV statement. Lines are formatted into one
// reused buffer (RFC 4180 quoting, as encoding/csv writes it): no
// allocation per line beyond what the database driver makes
// (docs/performance.md).
type csvStatement struct {
	buf *bufio.Writer
	rec []byte
}

func newCSVStatement(w io.Writer) *csvStatement {
	buf := bufio.NewWriterSize(w, 64<<10)
	buf.WriteString("\uFEFF") // spreadsheets read the file as UTF-8 only after a BOM
	c := &csvStatement{buf: buf, rec: make([]byte, 0, 512)}
	c.record(statementHeader...)
	return c
}

// record writes one record of plain fields.
func (c *csvStatement) record(fields ...string) {
	b := c.rec[:0]
	for i, f := range fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendCSVField(b, f)
	}
	c.rec = append(b, '\n')
	c.buf.Write(c.rec)
}

// appendCSVField appends a field quoted as encoding/csv's Writer quotes it
// (comma separator, LF line ends).
func appendCSVField(b []byte, f string) []byte {
	if !csvNeedsQuotes(f) {
		return append(b, f...)
	}
	b = append(b, '"')
	for i := 0; i < len(f); i++ {
		if f[i] == '"' {
			b = append(b, '"')
		}
		b = append(b, f[i])
	}
	return append(b, '"')
}

func csvNeedsQuotes(f string) bool {
	if f == "" {
		return false
	}
	if f == `\.` {
		return true
	}
	for i := 0; i < len(f); i++ {
		switch f[i] {
		case '\n', '\r', '"', ',':
			return true
		}
	}
	r, _ := utf8.DecodeRuneInString(f)
	return unicode.IsSpace(r)
}

func (c *csvStatement) line(l *paygate.StatementLine) error {
	b := append(c.rec[:0], lineType(l)...)
	b = append(b, ',')
	b = l.Time.In(paygate.ChinaStandardTime).AppendFormat(b, timeLayout)
	for _, f := range [...]string{l.MerchantOrderNo, l.ChannelTradeNo, l.Method, l.Channel, l.Provider, l.Rule, l.TerminalID} {
		b = appendCSVField(append(b, ','), f)
	}
	b = appendYuan(append(b, ','), l.Amount)
	b = appendYuan(append(b, ','), l.Fee)
	b = appendYuan(append(b, ','), l.NetAmount)
	b = appendCSVField(append(b, ','), outcomeText(l.Outcome))
	b = appendCSVField(append(b, ','), l.OrderID)
	b = appendCSVField(append(b, ','), l.RefundID)
	c.rec = append(b, '\n')
	_, err := c.buf.Write(c.rec)
	return err
}

func (c *csvStatement) finish(s *statementSums) error {
	row := func(kind, channel string, t StatementTotals) {
		c.record(kind, "", "", "", "", channel, "", "", strconv.FormatInt(t.Count, 10)+"笔",
			Yuan(t.Amount), Yuan(t.Fee), Yuan(t.NetAmount), "", "", "")
	}
	for _, ch := range s.channels() {
		row("渠道合计", ch, *s.byChannel[ch])
	}
	row("总计", "", s.total)
	c.record("路由节省", "", "", "", "", "", "", "", "", Yuan(s.savings), "", "", "", "", "")
	return c.buf.Flush()
}

type jsonStatement struct {
	w     *bufio.Writer
	first bool
}

// jsonLine is a statement line of the JSON statement.
type jsonLine struct {
	Type            string  `json:"type"`
	OrderID         string  `json:"order_id"`
	RefundID        *string `json:"refund_id"`
	MerchantOrderNo string  `json:"merchant_order_no"`
	ChannelTradeNo  string  `json:"channel_trade_no"`
	Channel         string  `json:"channel"`
	Provider        string  `json:"provider"`
	Method          string  `json:"method"`
	Rule            string  `json:"rule"`
	TerminalID      *string `json:"terminal_id"`
	Time            string  `json:"time"`
	Amount          int64   `json:"amount"`
	Fee             int64   `json:"fee"`
	NetAmount       int64   `json:"net_amount"`
	Reconciliation  *string `json:"reconciliation"`
}

func newJSONStatement(w io.Writer, merchantID, day string) *jsonStatement {
	j := &jsonStatement{w: bufio.NewWriterSize(w, 64<<10), first: true}
	head, _ := json.Marshal(map[string]string{"merchant_id": merchantID, "date": day})
	// {"object":"statement","date":...,"merchant_id":...,"lines":[
	j.w.WriteString(`{"object":"statement",`)
	j.w.Write(head[1 : len(head)-1])
	j.w.WriteString(`,"lines":[`)
	return j
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (j *jsonStatement) line(l *paygate.StatementLine) error {
	out := jsonLine{Type: string(LinePayment), OrderID: l.OrderID, MerchantOrderNo: l.MerchantOrderNo,
		ChannelTradeNo: l.ChannelTradeNo, Channel: l.Channel, Provider: l.Provider, Method: l.Method, Rule: l.Rule,
		TerminalID: optional(l.TerminalID), Time: l.Time.UTC().Format("2006-01-02T15:04:05.999999Z07:00"),
		Amount: l.Amount, Fee: l.Fee, NetAmount: l.NetAmount, Reconciliation: optional(string(l.Outcome))}
	if l.Refund {
		out.Type, out.RefundID = string(LineRefund), &l.RefundID
	}
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	if !j.first {
		j.w.WriteByte(',')
	}
	j.first = false
	_, err = j.w.Write(b)
	return err
}

func (j *jsonStatement) finish(s *statementSums) error {
	by := make(map[string]StatementTotals, len(s.byChannel))
	for c, t := range s.byChannel {
		by[c] = *t
	}
	tail, err := json.Marshal(struct {
		Totals         StatementTotals            `json:"totals"`
		ByChannel      map[string]StatementTotals `json:"by_channel"`
		RoutingSavings int64                      `json:"routing_savings"`
	}{s.total, by, s.savings})
	if err != nil {
		return err
	}
	j.w.WriteString("],")
	j.w.Write(tail[1:])
	return j.w.Flush()
}

// xlsxStatement writes the lines sheet through excelize's StreamWriter
// and a totals sheet at the end. Memory stays flat whatever the day's size
// (docs/performance.md): the stream writer keeps at most 16 MiB of rows in
// memory and spools the rest to a file in a directory of the statement's
// own, removed when it ends; strings are written inline (no shared-strings
// table grows with the lines); and the archive is written straight to the
// output as it is made, never assembled in memory (excelize's WriteTo
// builds the whole file in a buffer first).
type xlsxStatement struct {
	out   io.Writer
	tmp   string
	f     *excelize.File
	sw    *excelize.StreamWriter
	row   int
	money int
	vals  []any
}

const (
	sheetLines  = "明细"
	sheetTotals = "汇总"
)

func newXLSXStatement(w io.Writer) (x *xlsxStatement, err error) {
	tmp, err := os.MkdirTemp("", "paygate-statement-")
	if err != nil {
		return nil, err
	}
	f := excelize.NewFile(excelize.Options{TmpDir: tmp})
	defer func() {
		if err != nil {
			f.Close()
			os.RemoveAll(tmp)
		}
	}()
	// WriteTo hands its in-memory buffer to this function and copies the
	// buffer to the output afterwards: writing the archive to the output
	// instead leaves that buffer empty. Entries above 4 GiB (about ten
	// million lines) would need excelize's ZIP64 header fix-up, which
	// works on the buffer; a statement is a day of one merchant, far below.
	f.SetZipWriter(func(io.Writer) excelize.ZipWriter { return zip.NewWriter(w) })
	if err := f.SetSheetName("Sheet1", sheetLines); err != nil {
		return nil, err
	}
	money, err := f.NewStyle(&excelize.Style{NumFmt: 4}) // #,##0.00
	if err != nil {
		return nil, err
	}
	sw, err := f.NewStreamWriter(sheetLines)
	if err != nil {
		return nil, err
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return nil, err
	}
	sw.SetColWidth(2, 4, 22)
	header := make([]any, len(statementHeader))
	for i, h := range statementHeader {
		header[i] = h
	}
	if err := sw.SetRow("A1", header); err != nil {
		return nil, err
	}
	return &xlsxStatement{out: w, tmp: tmp, f: f, sw: sw, row: 1, money: money, vals: make([]any, len(statementHeader))}, nil
}

// close releases the spool, whether or not the statement was finished.
func (x *xlsxStatement) close() {
	x.f.Close()
	os.RemoveAll(x.tmp)
}

func (x *xlsxStatement) cellMoney(fen int64) excelize.Cell {
	return excelize.Cell{StyleID: x.money, Value: float64(fen) / 100}
}

func (x *xlsxStatement) line(l *paygate.StatementLine) error {
	x.row++
	v := x.vals
	v[0], v[1], v[2], v[3] = lineType(l), l.Time.In(paygate.ChinaStandardTime).Format(timeLayout), l.MerchantOrderNo, l.ChannelTradeNo
	v[4], v[5], v[6], v[7], v[8] = l.Method, l.Channel, l.Provider, l.Rule, l.TerminalID
	v[9], v[10], v[11] = x.cellMoney(l.Amount), x.cellMoney(l.Fee), x.cellMoney(l.NetAmount)
	v[12], v[13], v[14] = outcomeText(l.Outcome), l.OrderID, l.RefundID
	cell, _ := excelize.CoordinatesToCellName(1, x.row)
	return x.sw.SetRow(cell, v)
}

func (x *xlsxStatement) finish(s *statementSums) error {
	if err := x.sw.Flush(); err != nil {
		return err
	}
	if _, err := x.f.NewSheet(sheetTotals); err != nil {
		return err
	}
	tw, err := x.f.NewStreamWriter(sheetTotals)
	if err != nil {
		return err
	}
	row := 1
	put := func(vals ...any) error {
		cell, _ := excelize.CoordinatesToCellName(1, row)
		row++
		return tw.SetRow(cell, vals)
	}
	if err := put("渠道", "笔数", "金额(元)", "手续费(元)", "净额(元)"); err != nil {
		return err
	}
	for _, ch := range s.channels() {
		t := s.byChannel[ch]
		if err := put(ch, t.Count, x.cellMoney(t.Amount), x.cellMoney(t.Fee), x.cellMoney(t.NetAmount)); err != nil {
			return err
		}
	}
	if err := put("总计", s.total.Count, x.cellMoney(s.total.Amount), x.cellMoney(s.total.Fee), x.cellMoney(s.total.NetAmount)); err != nil {
		return err
	}
	if err := put("路由节省", nil, x.cellMoney(s.savings)); err != nil {
		return err
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// The archive goes to x.out through the zip writer set up in
	// newXLSXStatement; what WriteTo copies afterwards is empty.
	_, err = x.f.WriteTo(io.Discard)
	return err
}
