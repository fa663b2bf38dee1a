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
)

// billLine is one money movement of the day.
type billLine struct {
	at                                          time.Time
	seq                                         int64
	typ, outTradeNo, tradeNo, outRefund, refund string
	walletType, walletID                        string
	amount                                      int64
}

// Bill writes the bill file of day (its date at +08:00) from what the bank
// processed, in the format of docs/channels/ecny.md §8.
func (s *Server) Bill(day time.Time) ([]byte, error) {
	date := dayOf(day)
	var lines []billLine
	s.mu.Lock()
	for _, t := range s.trades {
		s.settle(t)
		if !t.paidAt.IsZero() && dayOf(t.paidAt) == date {
			lines = append(lines, billLine{at: t.paidAt, seq: t.seq, typ: api.BillPay, outTradeNo: t.OutTradeNo,
				tradeNo: t.TradeNo, walletType: t.WalletType, walletID: t.WalletID, amount: t.Amount})
		}
		if !t.revokedAt.IsZero() && dayOf(t.revokedAt) == date {
			lines = append(lines, billLine{at: t.revokedAt, seq: t.seq, typ: api.BillRevoke, outTradeNo: t.OutTradeNo,
				tradeNo: t.TradeNo, walletType: t.WalletType, walletID: t.WalletID, amount: t.Amount})
		}
	}
	for _, rf := range s.refunds {
		if rf.RefundStatus == api.RefundSuccess && dayOf(rf.at) == date {
			lines = append(lines, billLine{at: rf.at, seq: rf.seq, typ: api.BillRefund, outTradeNo: rf.OutTradeNo,
				tradeNo: rf.TradeNo, outRefund: rf.OutRefundNo, refund: rf.RefundNo,
				walletType: rf.t.WalletType, walletID: rf.t.WalletID, amount: rf.RefundAmount})
		}
	}
	s.mu.Unlock()
	sort.Slice(lines, func(i, j int) bool {
		a, b := lines[i], lines[j]
		if !a.at.Equal(b.at) {
			return a.at.Before(b.at)
		}
		if a.seq != b.seq {
			return a.seq < b.seq
		}
		return a.typ < b.typ
	})

	var b strings.Builder
	fmt.Fprintf(&b, "%s|%s|%s|%s\n", api.BillMagic, api.BillVersion, s.opts.MerchantNo, date)
	b.WriteString(api.BillColumns + "\n")
	var payCount, payAmount, refundCount, refundAmount int64
	for _, l := range lines {
		fmt.Fprintf(&b, "%s|%s|%s|%s|%s|%s|%s|%s|%d|0|SUCCESS\n",
			l.at.In(bankZone).Format(api.BillTimeLayout), l.typ, l.outTradeNo, l.tradeNo, l.outRefund, l.refund,
			l.walletType, paygate.MaskCode(l.walletID), l.amount)
		if l.typ == api.BillPay {
			payCount++
			payAmount += l.amount
		} else {
			refundCount++
			refundAmount += l.amount
		}
	}
	fmt.Fprintf(&b, "%s|%d|%d|%d|%d|0\n", api.BillTotal, payCount, payAmount, refundCount, refundAmount)
	return []byte(b.String()), nil
}

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
