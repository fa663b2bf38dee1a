package acquirer

import (
	"bytes"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/moov-io/iso8583"
	"github.com/shopspring/decimal"

	"github.com/paygate-cn/paygate"
	iso "github.com/paygate-cn/paygate/channels/acquirer"
	"github.com/paygate-cn/paygate/channels/sandbox"
)

// cst is the zone of the host's business days and of its files.
var cst = time.FixedZone("CST", 8*3600)

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

// sameDay: the host's business days are China time calendar days.
func sameDay(t, day time.Time) bool {
	return t.In(cst).Format("20060102") == day.In(cst).Format("20060102")
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
	now := h.now().In(cst)
	day, err := time.ParseInLocation("20060102", fmt.Sprintf("%04d%s", now.Year(), mmdd), cst)
	if err != nil {
		return reply(m, mti, iso.RCFormatError)
	}
	if day.After(now.AddDate(0, 0, 1)) {
		day = day.AddDate(-1, 0, 0)
	}
	t := h.adjustedTotals(day)
	r := reply(m, mti, iso.RCApproved)
	_ = r.Field(iso.FieldAdditional, iso.FormatTotals(t))
	return r
}

// debitBINs are the BINs the host knows as debit cards (the issuers'
// tables an acquirer holds); every other card pays the credit rate.
var debitBINs = map[string]bool{"622202": true, "621700": true, "622848": true, "621483": true}

// Fee is what the host charges the merchant on a settled sale or
// completion: the standard card rate (debit 0.55% capped at 20.00, credit
// 0.60%, docs/routing.md). A refund returns no fee.
func Fee(t *Transaction) int64 {
	if len(t.MaskedPAN) >= 6 && debitBINs[t.MaskedPAN[:6]] {
		return paygate.Fee(t.Amount, rateDebit, 0, 2000)
	}
	return paygate.Fee(t.Amount, rateCredit, 0, 0)
}

var (
	rateDebit  = decimal.RequireFromString("0.0055")
	rateCredit = decimal.RequireFromString("0.006")
)

// SettlementColumns is the header of the settlement file.
const SettlementColumns = "acquirer_id,merchant_no,terminal_id,batch_no,stan,rrn,orig_rrn,auth_code,txn_time,txn_type,dc,pan,card_type,issuer,amount,fee,settle_amount,settle_date"

// SettlementFile is the day's settlement file (docs/channels/acquirer.md,
// "Settlement file"): UTF-8 CSV, a header, one line per settled
// transaction (approved sales and completions as D, approved refunds as C;
// reversed, voided, declined and unanswered ones are left out), and a
// TOTAL line. The adjustments waiting for the day are applied first
// (docs/reconciliation.md); a line one marks reversed or failed is left
// out, as the host would not settle it.
func (h *Host) SettlementFile(day time.Time) ([]byte, error) {
	lines := h.adjust.Apply(day, h.billLines(day), func() string {
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.nextRRN(day)
	})
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].At.Before(lines[j].At) })

	d := day.In(cst)
	var b bytes.Buffer
	b.WriteString(SettlementColumns + "\n")
	var dc, dAmt, cc, cAmt, fees, net int64
	for _, l := range lines {
		if l.Status != sandbox.BillSucceeded {
			continue
		}
		x, _ := l.Data.(*Transaction)
		if x == nil { // a sale added by an adjustment
			x = &Transaction{Kind: KindSale, STAN: "999999", RRN: l.OutTradeNo, AuthCode: "999999", TerminalID: "T0001   ",
				MerchantNo: "898310058125812", MaskedPAN: "625965******0000"}
		}
		kind, sign, orig := strings.ToUpper(x.Kind), "D", ""
		settle := l.Amount - l.Fee
		if l.Refund {
			sign, settle = "C", -settle
			if x.original != nil {
				orig = x.original.RRN
			}
			cc++
			cAmt += l.Amount
		} else {
			dc++
			dAmt += l.Amount
		}
		fees += l.Fee
		net += settle
		cardType := "CREDIT"
		if len(x.MaskedPAN) >= 6 && debitBINs[x.MaskedPAN[:6]] {
			cardType = "DEBIT"
		}
		fmt.Fprintf(&b, "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,,%d,%d,%d,%s\n",
			h.opts.AcquirerID, x.MerchantNo, strings.TrimSpace(x.TerminalID), d.Format("060102"), x.STAN, x.RRN, orig,
			x.AuthCode, l.At.In(cst).Format("20060102150405"), kind, sign, x.MaskedPAN, cardType,
			l.Amount, l.Fee, settle, d.Format("20060102"))
	}
	fmt.Fprintf(&b, "TOTAL,%d,%d,%d,%d,%d,%d\n", dc, dAmt, cc, cAmt, fees, net)
	return b.Bytes(), nil
}

// adjustedTotals are the day's 0510 totals as its next settlement file
// will state them, the adjustments waiting for the day included.
func (h *Host) adjustedTotals(day time.Time) iso.Totals {
	t := iso.Totals{Day: day}
	for _, l := range h.adjust.Preview(day, h.billLines(day), func() string { return "" }) {
		switch {
		case l.Status != sandbox.BillSucceeded:
		case l.Refund:
			t.CreditCount++
			t.CreditAmount += l.Amount
		default:
			t.DebitCount++
			t.DebitAmount += l.Amount
		}
	}
	return t
}

// billLines are the day's settled transactions as bill lines.
func (h *Host) billLines(day time.Time) []sandbox.BillLine {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, txns := h.totals(day)
	var lines []sandbox.BillLine
	for _, x := range txns {
		l := sandbox.BillLine{At: x.At, OutTradeNo: x.RRN, Amount: x.Amount, Status: sandbox.BillSucceeded, Data: x}
		if settled(x) < 0 {
			l.Refund, l.OutRefundNo = true, x.RRN
			if x.original != nil {
				l.OutTradeNo = x.original.RRN
			}
		} else {
			l.Fee = Fee(x)
		}
		lines = append(lines, l)
	}
	return lines
}

// AdjustBill queues an adjustment of the next settlement file of its day
// (tests and demos): out_trade_no names a sale by its RRN, refund a refund
// by its RRN. The 0510 totals are not adjusted, so a changed file also
// shows as a batch that does not balance.
func (h *Host) AdjustBill(adj sandbox.BillAdjustment) error { return h.adjust.Add(adj) }

// Handler serves the settlement file over HTTP, as acquirers deliver it
// (GET /settlement?date=yyyyMMdd), and POST /bill_adjustments.
func (h *Host) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /settlement", func(w http.ResponseWriter, r *http.Request) {
		day, err := time.ParseInLocation("20060102", r.URL.Query().Get("date"), cst)
		if err != nil {
			http.Error(w, "date must be yyyyMMdd", http.StatusBadRequest)
			return
		}
		if h.adjust.NotReady(day) {
			http.Error(w, "the settlement file is not made yet", http.StatusNotFound)
			return
		}
		b, err := h.SettlementFile(day)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		_, _ = w.Write(b)
	})
	mux.Handle("POST /bill_adjustments", &h.adjust)
	return mux
}
