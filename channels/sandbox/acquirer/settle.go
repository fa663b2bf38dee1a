package acquirer

import (
	"bytes"
	"fmt"
	"time"

	"github.com/moov-io/iso8583"

	iso "github.com/paygate-cn/paygate/channels/acquirer"
)

// settled reports whether t moves money in the settlement and which way:
// +1 debit (sale or completion), -1 credit (refund), 0 nothing.
func settled(t *Transaction) int {
	switch {
	case t.Kind == KindSale && t.Status == StatusApproved:
		return 1
	case t.Kind == KindCompletion && t.Status == StatusApproved:
		return 1
	case t.Kind == KindRefund && t.Status == StatusApproved:
		return -1
	}
	return 0
}

func sameDay(t, day time.Time) bool {
	return t.In(day.Location()).Format("20060102") == day.Format("20060102")
}

// totals sums the day's settled transactions. Callers hold h.mu.
func (h *Host) totals(day time.Time) (iso.Totals, []*Transaction) {
	t := iso.Totals{Day: day}
	var rows []*Transaction
	for _, x := range h.txns {
		if !sameDay(x.At, day) {
			continue
		}
		switch settled(x) {
		case 1:
			t.DebitCount++
			t.DebitAmount += x.Amount
		case -1:
			t.CreditCount++
			t.CreditAmount += x.Amount
		default:
			continue
		}
		rows = append(rows, x)
	}
	return t, rows
}

// Totals returns the day's settlement totals as a 0510 would carry them.
func (h *Host) Totals(day time.Time) iso.Totals {
	h.mu.Lock()
	defer h.mu.Unlock()
	t, _ := h.totals(day)
	return t
}

// settle answers a 0500: field 15 (MMDD) names the day, in the year that
// puts it no later than tomorrow on the host's clock.
func (h *Host) settle(m *iso8583.Message, mti string) *iso8583.Message {
	mmdd, _ := m.GetString(iso.FieldSettlementDate)
	now := h.opts.Now()
	day, err := time.ParseInLocation("20060102", fmt.Sprintf("%04d%s", now.Year(), mmdd), now.Location())
	if err != nil {
		return reply(m, mti, iso.RCFormatError)
	}
	if day.After(now.AddDate(0, 0, 1)) {
		day = day.AddDate(-1, 0, 0)
	}
	h.mu.Lock()
	t, _ := h.totals(day)
	h.mu.Unlock()
	r := reply(m, mti, iso.RCApproved)
	_ = r.Field(iso.FieldAdditional, iso.FormatTotals(t))
	return r
}

// SettlementFile is the day's settlement file: UTF-8 CSV, one header line,
// one line per settled transaction (approved sales and completions as D,
// approved refunds as C; reversed, voided, declined and unanswered ones
// are left out), and a trailer line:
//
//	settle_date,txn_time,dc,kind,mti,stan,rrn,auth_code,terminal_id,merchant_no,mcc,pan,entry_mode,amount
//	20261121,103005,D,sale,0200,000123,325000000001,000001,T0001   ,898310058125812,5812,622202******1234,071,1234
//	TOTAL,<debit count>,<debit amount>,<credit count>,<credit amount>,<net amount>
//
// Amounts are fen; pan is masked (first 6, last 4); terminal_id keeps
// field 41's 8 characters.
func (h *Host) SettlementFile(day time.Time) ([]byte, error) {
	h.mu.Lock()
	t, rows := h.totals(day)
	h.mu.Unlock()
	var b bytes.Buffer
	b.WriteString("settle_date,txn_time,dc,kind,mti,stan,rrn,auth_code,terminal_id,merchant_no,mcc,pan,entry_mode,amount\n")
	for _, x := range rows {
		dc := "D"
		if settled(x) < 0 {
			dc = "C"
		}
		fmt.Fprintf(&b, "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%d\n",
			day.Format("20060102"), x.At.In(day.Location()).Format("150405"), dc, x.Kind, x.MTI, x.STAN,
			x.RRN, x.AuthCode, x.TerminalID, x.MerchantNo, x.MCC, x.MaskedPAN, x.EntryMode, x.Amount)
	}
	fmt.Fprintf(&b, "TOTAL,%d,%d,%d,%d,%d\n", t.DebitCount, t.DebitAmount, t.CreditCount, t.CreditAmount, t.Net())
	return b.Bytes(), nil
}
