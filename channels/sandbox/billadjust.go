package sandbox

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// cst is China Standard Time: bills count their days in it.
var cst = time.FixedZone("CST", 8*3600)

// Bill line statuses, in paygate's terms (docs/reconciliation.md).
const (
	BillSucceeded = "succeeded"
	BillReversed  = "reversed"
	BillFailed    = "failed"
)

// BillAdjustment changes the next bill a simulator makes of a day, so that
// tests and demos can produce every reconciliation outcome
// (docs/reconciliation.md, "Sandbox bill adjustments").
type BillAdjustment struct {
	// Date is the bill's day, yyyy-MM-dd, China time.
	Date string `json:"date"`
	// Action: add (a trade paygate does not know), drop, amount, fee,
	// status, or not_ready (the next request for the day's bill is
	// answered "not made yet", where the channel has such an answer).
	Action string `json:"action"`
	// OutTradeNo names the payment: the merchant order no. the channel
	// knows (paygate's order id; the acquirer: the sale's RRN). For add,
	// the new trade's (generated when empty).
	OutTradeNo string `json:"out_trade_no,omitempty"`
	// Refund names a refund of that payment (paygate's refund id; the
	// acquirer: the refund's RRN): the refund's line is changed instead.
	Refund string `json:"refund,omitempty"`
	// Value: fen for amount, fee and add (default 100); succeeded,
	// reversed or failed for status.
	Value string `json:"value,omitempty"`
}

// BillLine is one line of a simulator's bill before it is written in the
// channel's format: what adjustments act on.
type BillLine struct {
	At          time.Time
	Refund      bool
	OutTradeNo  string
	OutRefundNo string
	Amount, Fee int64
	Status      string
	// Added marks a line an add adjustment made: the simulator gives it
	// channel numbers of its own.
	Added bool
	// Data is the simulator's own record behind the line.
	Data any
}

// BillAdjustments holds the adjustments waiting for their day's next bill.
// The zero value is ready to use.
type BillAdjustments struct {
	mu       sync.Mutex
	days     map[string][]BillAdjustment
	notReady map[string]int // bill requests of a day still to answer "not ready"
}

// NotReady reports whether this request for day's bill is to be answered
// "not made yet" (a not_ready adjustment), using the adjustment up.
func (a *BillAdjustments) NotReady(day time.Time) bool {
	date := day.In(cst).Format(time.DateOnly)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.notReady[date] == 0 {
		return false
	}
	a.notReady[date]--
	return true
}

// Add queues an adjustment for the next bill of its day.
func (a *BillAdjustments) Add(adj BillAdjustment) error {
	if _, err := time.ParseInLocation(time.DateOnly, adj.Date, cst); err != nil {
		return errors.New("date must be yyyy-MM-dd")
	}
	switch adj.Action {
	case "add":
		if adj.Refund != "" {
			return errors.New("add makes a payment: refund must be empty")
		}
		if adj.Value != "" {
			if v, err := strconv.ParseInt(adj.Value, 10, 64); err != nil || v <= 0 {
				return errors.New("value must be a positive amount in fen")
			}
		}
	case "drop":
	case "not_ready":
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.notReady == nil {
			a.notReady = map[string]int{}
		}
		a.notReady[adj.Date]++
		return nil
	case "amount", "fee":
		if v, err := strconv.ParseInt(adj.Value, 10, 64); err != nil || v < 0 {
			return errors.New("value must be an amount in fen")
		}
	case "status":
		if adj.Value != BillSucceeded && adj.Value != BillReversed && adj.Value != BillFailed {
			return errors.New("value must be succeeded, reversed or failed")
		}
	default:
		return errors.New("action must be add, drop, amount, fee, status or not_ready")
	}
	if adj.Action != "add" && adj.OutTradeNo == "" {
		return errors.New("out_trade_no is required")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.days == nil {
		a.days = map[string][]BillAdjustment{}
	}
	a.days[adj.Date] = append(a.days[adj.Date], adj)
	return nil
}

// Apply takes the adjustments waiting for day and applies them to lines
// (which it may reorder); later bills of the day are unadjusted. newNo
// numbers an added trade when the adjustment gave none.
func (a *BillAdjustments) Apply(day time.Time, lines []BillLine, newNo func() string) []BillLine {
	return a.apply(day, lines, newNo, true)
}

// Preview is Apply without taking the adjustments: what the next bill of
// day will say (the acquirer's 0510 totals agree with its next file).
func (a *BillAdjustments) Preview(day time.Time, lines []BillLine, newNo func() string) []BillLine {
	return a.apply(day, lines, newNo, false)
}

func (a *BillAdjustments) apply(day time.Time, lines []BillLine, newNo func() string, take bool) []BillLine {
	date := day.In(cst).Format(time.DateOnly)
	a.mu.Lock()
	adjs := a.days[date]
	if take {
		delete(a.days, date)
	}
	a.mu.Unlock()
	for _, adj := range adjs {
		if adj.Action == "add" {
			amount := int64(100)
			if adj.Value != "" {
				amount, _ = strconv.ParseInt(adj.Value, 10, 64)
			}
			no := adj.OutTradeNo
			if no == "" {
				no = newNo()
			}
			d := day.In(cst)
			at := time.Date(d.Year(), d.Month(), d.Day(), 12, 0, 0, 0, cst)
			lines = append(lines, BillLine{At: at, OutTradeNo: no, Amount: amount, Status: BillSucceeded, Added: true})
			continue
		}
		for i := range lines {
			l := &lines[i]
			if !sameID(l.OutTradeNo, adj.OutTradeNo) || l.Refund != (adj.Refund != "") ||
				(adj.Refund != "" && !sameID(l.OutRefundNo, adj.Refund)) {
				continue
			}
			switch adj.Action {
			case "drop":
				lines = append(lines[:i], lines[i+1:]...)
			case "amount":
				l.Amount, _ = strconv.ParseInt(adj.Value, 10, 64)
			case "fee":
				l.Fee, _ = strconv.ParseInt(adj.Value, 10, 64)
			case "status":
				l.Status = adj.Value
			}
			break
		}
	}
	return lines
}

// sameID compares a channel's number with the one asked, also in the form
// without its underscore (UnionPay's orderId of a paygate id).
func sameID(have, asked string) bool {
	return have == asked || have == strings.Replace(asked, "_", "", 1)
}

// ServeHTTP takes POST {"date", "action", "out_trade_no", "refund",
// "value"}: 204 when queued, 400 with {"error"} when not.
func (a *BillAdjustments) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	var adj BillAdjustment
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
	dec.DisallowUnknownFields()
	err := dec.Decode(&adj)
	if err == nil {
		err = a.Add(adj)
	}
	if err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// DayRange is the China-time calendar day of t: [start, end).
func DayRange(t time.Time) (start, end time.Time) {
	d := t.In(cst)
	start = time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, cst)
	return start, start.AddDate(0, 0, 1)
}
