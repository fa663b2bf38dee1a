package reconcile

import (
	"bytes"
	"encoding/csv"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/paygate-cn/paygate"
)

// TestCSVStatementLineQuoting checks that the statement's own CSV line
// writer writes what encoding/csv writes for the same record, for fields
// that need quoting and for amounts at the edges.
func TestCSVStatementLineQuoting(t *testing.T) {
	at := time.Date(2026, 11, 20, 16, 0, 1, 0, time.UTC)
	lines := []paygate.StatementLine{
		{OrderID: "ord_1", MerchantOrderNo: "M-1", ChannelTradeNo: "4200", Method: "qr", Channel: "wechat", Provider: "wechat",
			Rule: "wechat.default", Time: at, Amount: 1234, Fee: 7, NetAmount: 1227, Outcome: paygate.ReconMatched},
		{Refund: true, OrderID: "ord_2", RefundID: "re_1", MerchantOrderNo: `a,"b"`, ChannelTradeNo: "x\ny", Method: " lead",
			Channel: "\tTab", Provider: `\.`, Rule: "r\rs", TerminalID: "终端 1", Time: at, Amount: -5, Fee: 0, NetAmount: -5},
		{OrderID: "ord_3", MerchantOrderNo: "\u3000全角", Time: at, Amount: math.MaxInt64, Fee: math.MinInt64 + 1, NetAmount: -100},
	}
	var got bytes.Buffer
	c := newCSVStatement(&got)
	var want bytes.Buffer
	want.WriteString("\uFEFF")
	w := csv.NewWriter(&want)
	w.Write(statementHeader)
	for i := range lines {
		l := &lines[i]
		if err := c.line(l); err != nil {
			t.Fatal(err)
		}
		w.Write([]string{lineType(l), l.Time.In(paygate.ChinaStandardTime).Format(timeLayout), l.MerchantOrderNo, l.ChannelTradeNo,
			l.Method, l.Channel, l.Provider, l.Rule, l.TerminalID, oldYuan(l.Amount), oldYuan(l.Fee), oldYuan(l.NetAmount),
			outcomeText(l.Outcome), l.OrderID, l.RefundID})
	}
	c.buf.Flush()
	w.Flush()
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Errorf("CSV lines differ:\n got %q\nwant %q", got.Bytes(), want.Bytes())
	}
}

// oldYuan is Yuan written the obvious way, to check the fast one.
func oldYuan(fen int64) string {
	sign := ""
	u := uint64(fen)
	if fen < 0 {
		sign, u = "-", -u
	}
	return sign + strconv.FormatUint(u/100, 10) + "." + strconv.FormatUint(u%100/10, 10) + strconv.FormatUint(u%10, 10)
}
