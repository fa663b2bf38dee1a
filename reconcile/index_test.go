package reconcile

import (
	"fmt"
	"testing"
	"time"

	"github.com/paygate-cn/paygate"
)

// TestIndexKeys fills the index past several doublings of its key table
// and finds every transaction by each of its keys; a key given twice
// stays with its first transaction, and a refund is found by its own
// numbers only.
func TestIndexKeys(t *testing.T) {
	x := newIndex()
	const n = 20000
	at := time.Date(2026, 11, 20, 9, 0, 0, 0, paygate.ChinaStandardTime)
	for i := range n {
		x.add(&paygate.ReconTxn{MerchantID: "m_1", OrderID: fmt.Sprintf("ord_%06d", i), ChannelTradeNo: fmt.Sprintf("42%08d", i),
			ChannelRef: fmt.Sprintf("T/1/%06d", i), Status: "succeeded", Amount: int64(i), At: at})
	}
	// A refund of the first payment, and a second payment reusing a trade
	// number (the first keeps it).
	x.add(&paygate.ReconTxn{Refund: true, MerchantID: "m_1", OrderID: "ord_000000", RefundID: "ref_1",
		ChannelTradeNo: "4200000000", ChannelRefundNo: "50ref1", Status: "succeeded", Amount: 1, At: at})
	x.add(&paygate.ReconTxn{MerchantID: "m_1", OrderID: "ord_dup", ChannelTradeNo: "4200000007", Status: "succeeded", At: at})
	if len(x.keys) < 4*n || x.nkeys*4 > len(x.keys)*3 {
		t.Fatalf("%d keys in a table of %d", x.nkeys, len(x.keys))
	}
	for i := range n {
		for _, l := range []Line{
			{Kind: LinePayment, ChannelTradeNo: fmt.Sprintf("42%08d", i)},
			{Kind: LinePayment, OrderID: fmt.Sprintf("ord_%06d", i)},
			{Kind: LinePayment, Ref: fmt.Sprintf("T/1/%06d", i)},
		} {
			if j, ok := x.findLine(&l); !ok || j != uint32(i) {
				t.Fatalf("%+v: entry %d %v, want %d", l, j, ok, i)
			}
		}
	}
	if j, ok := x.findLine(&Line{Kind: LinePayment, ChannelTradeNo: "4200000007"}); !ok || j != 7 {
		t.Errorf("a repeated trade number found entry %d %v, want the first (7)", j, ok)
	}
	if j, ok := x.findLine(&Line{Kind: LinePayment, OrderID: "ord_dup"}); !ok || j != n+1 {
		t.Errorf("ord_dup: entry %d %v", j, ok)
	}
	for _, l := range []Line{{Kind: LineRefund, RefundID: "ref_1"}, {Kind: LineRefund, ChannelRefundNo: "50ref1"}} {
		if j, ok := x.findLine(&l); !ok || j != n {
			t.Errorf("refund %+v: entry %d %v", l, j, ok)
		}
	}
	for _, l := range []Line{
		{Kind: LineRefund, ChannelTradeNo: "4200000000"}, // never by the payment's number
		{Kind: LinePayment, ChannelTradeNo: "4299999999"},
		{Kind: LinePayment, OrderID: "ord_nope"},
		{Kind: LinePayment},
	} {
		if j, ok := x.findLine(&l); ok {
			t.Errorf("%+v found entry %d", l, j)
		}
	}
}
