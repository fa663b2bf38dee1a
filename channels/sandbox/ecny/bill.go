package ecny

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm3"

	"github.com/paygate-cn/paygate"
	api "github.com/paygate-cn/paygate/channels/ecny"
	"github.com/paygate-cn/paygate/channels/sandbox"
)

// billLine is one money movement of the day.
type billLine struct {
	seq                                         int64
	typ, outTradeNo, tradeNo, outRefund, refund string
	walletType, walletID                        string
}

// Bill writes the bill file of day (its date at +08:00) from what the bank
// processed, in the format of docs/channels/ecny.md §8, adjusted by the
// adjustments waiting for the day (docs/reconciliation.md). A payment an
// adjustment marks reversed gets a REVOKE line; a failed line says FAIL.
func (s *Server) Bill(day time.Time) ([]byte, error) {
	date := dayOf(day)
	var lines []sandbox.BillLine
	s.mu.Lock()
	for _, t := range s.trades {
		s.settle(t)
		if !t.paidAt.IsZero() && dayOf(t.paidAt) == date {
			lines = append(lines, sandbox.BillLine{At: t.paidAt, OutTradeNo: t.OutTradeNo, Amount: t.Amount, Status: sandbox.BillSucceeded,
				Data: billLine{seq: t.seq, typ: api.BillPay, outTradeNo: t.OutTradeNo, tradeNo: t.TradeNo, walletType: t.WalletType, walletID: t.WalletID}})
		}
		if !t.revokedAt.IsZero() && dayOf(t.revokedAt) == date {
			lines = append(lines, sandbox.BillLine{At: t.revokedAt, OutTradeNo: t.OutTradeNo, Amount: t.Amount, Status: sandbox.BillReversed,
				Data: billLine{seq: t.seq, typ: api.BillRevoke, outTradeNo: t.OutTradeNo, tradeNo: t.TradeNo, walletType: t.WalletType, walletID: t.WalletID}})
		}
	}
	for _, rf := range s.refunds {
		if rf.RefundStatus == api.RefundSuccess && dayOf(rf.at) == date {
			lines = append(lines, sandbox.BillLine{At: rf.at, Refund: true, OutTradeNo: rf.OutTradeNo, OutRefundNo: rf.OutRefundNo,
				Amount: rf.RefundAmount, Status: sandbox.BillSucceeded,
				Data: billLine{seq: rf.seq, typ: api.BillRefund, outTradeNo: rf.OutTradeNo, tradeNo: rf.TradeNo, outRefund: rf.OutRefundNo,
					refund: rf.RefundNo, walletType: rf.t.WalletType, walletID: rf.t.WalletID}})
		}
	}
	s.seq++
	next := s.seq
	s.mu.Unlock()
	lines = s.adjust.Apply(day, lines, func() string { return fmt.Sprintf("adj%d", next) })
	sort.SliceStable(lines, func(i, j int) bool {
		a, b := lines[i], lines[j]
		if !a.At.Equal(b.At) {
			return a.At.Before(b.At)
		}
		x, _ := a.Data.(billLine)
		y, _ := b.Data.(billLine)
		if x.seq != y.seq {
			return x.seq < y.seq
		}
		return x.typ < y.typ
	})

	var b strings.Builder
	fmt.Fprintf(&b, "%s|%s|%s|%s\n", api.BillMagic, api.BillVersion, s.opts.MerchantNo, date)
	b.WriteString(api.BillColumns + "\n")
	var payCount, payAmount, refundCount, refundAmount, fees int64
	for _, l := range lines {
		d, ok := l.Data.(billLine)
		if !ok { // a trade added by an adjustment
			d = billLine{typ: api.BillPay, outTradeNo: l.OutTradeNo, tradeNo: fmt.Sprintf("E%s%08d", date, next), walletType: "SOFT", walletID: "0021000000005678"}
		}
		if d.typ == api.BillPay && l.Status == sandbox.BillReversed {
			d.typ = api.BillRevoke
		}
		status := "SUCCESS"
		if l.Status == sandbox.BillFailed {
			status = "FAIL"
		}
		fmt.Fprintf(&b, "%s|%s|%s|%s|%s|%s|%s|%s|%d|%d|%s\n",
			l.At.In(bankZone).Format(api.BillTimeLayout), d.typ, d.outTradeNo, d.tradeNo, d.outRefund, d.refund,
			d.walletType, paygate.MaskCode(d.walletID), l.Amount, l.Fee, status)
		if d.typ == api.BillPay {
			payCount++
			payAmount += l.Amount
		} else {
			refundCount++
			refundAmount += l.Amount
		}
		fees += l.Fee
	}
	fmt.Fprintf(&b, "%s|%d|%d|%d|%d|%d\n", api.BillTotal, payCount, payAmount, refundCount, refundAmount, fees)
	return []byte(b.String()), nil
}

// AdjustBill queues an adjustment of the next bill of its day (tests and
// demos; also POST /bill_adjustments).
func (s *Server) AdjustBill(adj sandbox.BillAdjustment) error { return s.adjust.Add(adj) }

func (s *Server) bill(body json.RawMessage) reply {
	var req api.BillRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return malformed("body is not a bill request")
	}
	day, err := time.ParseInLocation(api.BillDateLayout, req.BillDate, bankZone)
	if err != nil {
		return malformed("bill_date must be yyyyMMdd")
	}
	data, err := s.Bill(day)
	if err != nil {
		return fail(500, api.CodeSystemError, "bill not available")
	}
	sum := sm3.Sum(data)
	return ok(api.BillFile{BillDate: req.BillDate, Content: base64.StdEncoding.EncodeToString(data),
		Digest: hex.EncodeToString(sum[:])})
}
